"""Call analysis on calls the tests build (espeak-ng voices, hold music, ITU tones, DTMF, noise): speech detection,
roles by channel and by diarisation, per-segment emotions, the summary; the CLI (one call and batches, resumable,
on Dask) and /analyze."""

import dataclasses
import io
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from ser import cli
from ser.audio.channels import Condition
from ser.audio.decoding import AudioError, AudioTooLong
from ser.errors import ParamsError, SerError
from ser.inference import cold_start, ordered_pool
from ser.inference.analysis_config import AnalysisConfig
from ser.inference.batch import analyse_batch
from ser.inference.calls import analyze, analyze_legs
from ser.inference.cold_start import analyze_cold
from ser.inference.diarisation import diarisation_error_rate
from ser.inference.report import CALL_COLUMNS
from ser.inference.speech import segment
from serve.app import create_app
from tests.audio_samples import headerless
from tests.project_copy import ROOT
from tests.speech import (
    SENTENCES,
    SR,
    VOICES,
    build_call,
    build_exchange,
    busy,
    dtmf,
    gain_controlled,
    leaking,
    melody,
    needs_espeak,
    pink_noise,
    say,
    wav_bytes,
)
from tests.synthetic import synthetic_ids, synthetic_signal

pytestmark = [pytest.mark.system, needs_espeak]


@pytest.fixture(scope="module")
def mono_call():
    return build_call()


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def assert_one_segment_per_turn(timeline, call):
    segments = [(item["start_s"], item["end_s"]) for item in timeline]
    for start, end, _ in call.turns:
        matching = [s for s in segments if _overlap(s, (start, end)) > 0]
        assert len(matching) == 1, (start, end, matching)
        assert abs(matching[0][0] - start) <= 0.3 and abs(matching[0][1] - end) <= 0.3, (start, end, matching)
    for interval in call.other:
        assert not any(_overlap(s, interval) > 0.05 for s in segments), ("segment in music/tones/noise", interval)


def test_speech_is_found_and_music_tones_dtmf_and_noise_are_not(predictor, mono_call):
    result = analyze(wav_bytes(mono_call.signal), predictor, AnalysisConfig())
    assert len(result["timeline"]) == len(mono_call.turns)
    assert_one_segment_per_turn(result["timeline"], mono_call)


def test_mono_voices_are_told_apart_and_whoever_speaks_first_is_the_agent(predictor, mono_call):
    result = analyze(wav_bytes(mono_call.signal), predictor, AnalysisConfig())
    assert result["separation"] == "diarisation" and result["first_speaker"] == "agent"
    assert result["summary"]["warnings"] == []  # wide-band, clean: nothing to say about the roles
    assert not any(role["audio"]["narrow_band"] for role in result["summary"]["roles"].values())
    assert [item["role"] for item in result["timeline"]] == [
        "agent" if v == 0 else "customer" for *_, v in mono_call.turns
    ]
    reference = [(start, end, voice) for start, end, voice in mono_call.turns]
    hypothesis = [(item["start_s"], item["end_s"], item["speaker"]) for item in result["timeline"]]
    assert diarisation_error_rate(reference, hypothesis) < 0.1
    flipped = analyze(wav_bytes(mono_call.signal), predictor, AnalysisConfig(first_speaker="customer"))
    assert flipped["timeline"][0]["role"] == "customer"


def test_one_leg_of_a_call_is_one_role_with_the_emotions_of_the_diarised_call(predictor, mono_call):
    """A mono file of one side of the call (``leg``) is not diarised: every segment is that role's, the segments and
    their emotions are those of the same file diarised, and a stereo call read by channel is refused."""
    data = wav_bytes(mono_call.signal)
    diarised = analyze(data, predictor, AnalysisConfig())
    leg = analyze(data, predictor, AnalysisConfig(leg="customer"))
    assert leg["separation"] == "leg" and leg["leg"] == "customer" and leg["first_speaker"] is None
    assert {item["role"] for item in leg["timeline"]} == {"customer"} and {i["speaker"] for i in leg["timeline"]} == {0}
    keys = ("start_s", "end_s", "emotion", "probabilities")
    assert [{k: i[k] for k in keys} for i in leg["timeline"]] == [{k: i[k] for k in keys} for i in diarised["timeline"]]
    assert leg["summary"]["talk_time_s"]["agent"] == 0.0 and leg["summary"]["roles"]["agent"] is None
    assert leg["summary"]["talk_time_s"]["customer"] == pytest.approx(sum(diarised["summary"]["talk_time_s"].values()))
    agent_only = analyze(data, predictor, AnalysisConfig(leg="agent"))
    assert agent_only["satisfaction"] is None and agent_only["summary"]["roles"]["customer"] is None
    stereo = wav_bytes(build_call(stereo=True).signal)
    with pytest.raises(AudioError, match="leg 'customer' is for a mono recording of one side of a call"):
        analyze(stereo, predictor, AnalysisConfig(leg="customer"))
    mixed = analyze(stereo, predictor, AnalysisConfig(leg="customer"), per_channel=False)
    assert mixed["separation"] == "leg" and {item["role"] for item in mixed["timeline"]} == {"customer"}
    with pytest.raises(ParamsError, match=r"analysis\.leg must be null"):
        AnalysisConfig(leg="caller")


def test_a_call_in_two_files_is_analysed_as_its_stereo_recording(predictor, tmp_path):
    """The customer's and the agent's legs in two files give the timeline of the stereo call they came from (roles,
    segments, emotions); a shorter leg is padded, not the call cut; a leg at 8 kHz μ-law is joined too."""
    import librosa

    call = build_call(stereo=True)
    agent, customer = tmp_path / "agent.wav", tmp_path / "customer.wav"  # voice 0 (channel 0) speaks first
    agent.write_bytes(wav_bytes(call.signal[:, 0]))
    customer.write_bytes(wav_bytes(call.signal[:, 1]))
    stereo = analyze(wav_bytes(call.signal), predictor, AnalysisConfig(customer_channel=1))
    legs = analyze_legs(customer, agent, predictor, AnalysisConfig(customer_channel=1, leg="agent"))
    assert legs["separation"] == "legs" and legs["customer_channel"] is None and legs["channels"] == 2
    keys = ("start_s", "end_s", "role", "emotion", "probabilities")
    assert [{k: i[k] for k in keys} for i in legs["timeline"]] == [{k: i[k] for k in keys} for i in stereo["timeline"]]
    assert legs["summary"] == stereo["summary"] and len(legs["timeline"]) == len(call.turns)
    last_agent_turn = max(end for _, end, voice in call.turns if voice == 0)
    agent.write_bytes(wav_bytes(call.signal[: int((last_agent_turn + 0.5) * SR), 0]))
    shorter = analyze_legs(customer, agent, predictor, AnalysisConfig())
    assert shorter["duration_s"] == legs["duration_s"] and shorter["timeline"] == legs["timeline"]
    narrow = librosa.resample(call.signal[:, 0], orig_sr=SR, target_sr=8000)
    agent.write_bytes(wav_bytes(narrow, 8000, "ULAW"))
    phone = analyze_legs(customer, agent, predictor, AnalysisConfig())
    assert [i["role"] for i in phone["timeline"]] == ["agent" if v == 0 else "customer" for *_, v in call.turns]
    assert_one_segment_per_turn(phone["timeline"], call)
    agent.write_bytes(b"not audio")
    with pytest.raises(AudioError, match="the agent's leg: cannot decode audio"):
        analyze_legs(customer, agent, predictor, AnalysisConfig())
    agent.write_bytes(wav_bytes(np.zeros(0, np.float32)))
    with pytest.raises(AudioError, match="the agent's leg holds no audio"):
        analyze_legs(customer, agent, predictor, AnalysisConfig())
    with pytest.raises(AudioTooLong, match="the customer's leg: audio lasts"):
        analyze_legs(customer, agent, predictor, AnalysisConfig(), max_seconds=5)


def test_a_quick_answer_is_a_turn_of_its_own(predictor):
    """Each voice answers within 0.1-0.25 s, under ``min_gap_s``: the segments are cut at such gaps, diarised piece
    by piece and joined again where the voice stays, so every turn is one segment with its voice. Without the cut,
    answers merge with what they answer."""
    call = build_exchange()
    result = analyze(wav_bytes(call.signal), predictor, AnalysisConfig())
    segments = [(item["start_s"], item["end_s"]) for item in result["timeline"]]
    assert len(segments) == len(call.turns)
    for (start, end), (turn_start, turn_end, _) in zip(segments, call.turns, strict=True):
        # cut in the middle of the gap, which may begin in the inaudible end of espeak's sentence (line noise)
        assert abs(start - turn_start) <= 0.3 and abs(end - turn_end) <= 0.3, (start, end, turn_start, turn_end)
    assert [item["speaker"] for item in result["timeline"]] == [voice for *_, voice in call.turns]
    uncut = analyze(wav_bytes(call.signal), predictor, AnalysisConfig(turn_gap_s=None, voice_change_window_s=0))
    assert len(uncut["timeline"]) < len(call.turns)
    # the windows' voices alone find the changes too (they are what cuts an interruption, which has no gap)
    by_voice = analyze(wav_bytes(call.signal), predictor, AnalysisConfig(turn_gap_s=None))
    assert [item["speaker"] for item in by_voice["timeline"]] == [voice for *_, voice in call.turns]


def test_cutting_for_turns_changes_nothing_where_the_voice_stays(predictor, mono_call):
    """Pieces of one voice are joined again and classified from their own audio: a call whose turns are far apart
    gets the timeline, emotions and probabilities it gets without the cut (pooling the pieces' probabilities
    instead cost 03 + 08 five points of segment accuracy, BENCHMARKS.md "Quick answers")."""
    from ser.inference.turns import pieces

    split = AnalysisConfig().turn_split
    cut = [pieces(mono_call.signal[int(a * SR) : int(b * SR)], SR, split) for a, b, _ in mono_call.turns]
    assert any(len(ranges) > 1 for ranges in cut)  # some sentences are cut at a pause inside them
    data = wav_bytes(mono_call.signal)
    assert analyze(data, predictor, AnalysisConfig()) == analyze(data, predictor, AnalysisConfig(turn_gap_s=None))


def test_telephone_mulaw_8k_call_is_segmented_and_diarised_the_same(predictor, mono_call):
    import librosa

    narrow = librosa.resample(mono_call.signal, orig_sr=SR, target_sr=8000)
    result = analyze(wav_bytes(narrow, 8000, "ULAW"), predictor, AnalysisConfig())
    assert_one_segment_per_turn(result["timeline"], mono_call)
    assert [item["speaker"] for item in result["timeline"]] == [v for *_, v in mono_call.turns]
    # Right here, but two voices of the same sex are often confused through a telephone line: the summary says so.
    assert all(role["audio"]["narrow_band"] for role in result["summary"]["roles"].values())
    (warning,) = result["summary"]["warnings"]
    assert "telephone-band" in warning and "roles are less reliable" in warning


def test_stereo_roles_follow_the_customer_channel_and_ignore_crosstalk(predictor):
    call = build_call(stereo=True)
    leaky = call.signal.copy()
    leaky[:, 0] += 10 ** (-30 / 20) * call.signal[:, 1]  # the other voice leaks in 30 dB down (echo, crosstalk)
    for customer_channel in (0, 1):
        config = AnalysisConfig(customer_channel=customer_channel)
        result = analyze(wav_bytes(leaky), predictor, config)
        assert result["separation"] == "channels" and result["customer_channel"] == customer_channel
        assert_one_segment_per_turn(result["timeline"], call)
        expected = ["customer" if v == customer_channel else "agent" for *_, v in call.turns]
        assert [item["role"] for item in result["timeline"]] == expected
    assert analyze(wav_bytes(leaky), predictor, config, workers=2) == result  # a thread per channel: the same


def test_customer_channel_auto_finds_the_customer_on_whichever_channel_speaks_second(predictor):
    """Recorders differ in where they put the caller: with ``auto`` the first voice is ``first_speaker``'s on either
    channel order, with the hold music and tones on the customer's line as they are."""
    call = build_call(stereo=True)  # voice 0 (channel 0) speaks first; music and tones on channel 1
    for order, first_channel in (([0, 1], 0), ([1, 0], 1)):
        result = analyze(wav_bytes(call.signal[:, order]), predictor, AnalysisConfig(customer_channel="auto"))
        assert result["customer_channel"] == 1 - first_channel and result["customer_channel_from"] == "first speaker"
        assert result["first_speaker"] == "agent"
        assert_one_segment_per_turn(result["timeline"], call)
        expected = ["agent" if voice == 0 else "customer" for *_, voice in call.turns]
        assert [item["role"] for item in result["timeline"]] == expected
    flipped = analyze(
        wav_bytes(call.signal), predictor, AnalysisConfig(customer_channel="auto", first_speaker="customer")
    )
    assert flipped["customer_channel"] == 0 and flipped["timeline"][0]["role"] == "customer"
    fixed = analyze(wav_bytes(call.signal), predictor, AnalysisConfig(customer_channel=0))
    assert fixed["customer_channel_from"] == "configured" and fixed["first_speaker"] is None
    silent = analyze(wav_bytes(np.zeros((SR, 2), np.float32)), predictor, AnalysisConfig(customer_channel="auto"))
    assert silent["timeline"] == [] and silent["customer_channel"] is None
    three = np.concatenate([call.signal, call.signal[:, :1]], axis=1)
    with pytest.raises(AudioError, match="tells two channels apart; this call has 3"):
        analyze(wav_bytes(three), predictor, AnalysisConfig(customer_channel="auto"))
    with pytest.raises(ParamsError, match="channel number"):
        AnalysisConfig(customer_channel="left")


@pytest.mark.parametrize(("leak_db", "delay_s"), [(-10.0, 0.0), (-6.0, 0.1)])
def test_a_voice_leaking_into_the_other_channel_louder_than_crosstalk_is_not_a_second_speaker(
    predictor, leak_db, delay_s
):
    """Line echo or acoustic coupling 6-10 dB down (a recorder that taps the line before the echo canceller): each
    channel's regions that follow the other channel's energy, quieter, are dropped; without the rule every
    utterance was found twice, once on each channel."""
    call = build_call(stereo=True)
    leaky = wav_bytes(leaking(call.signal, leak_db, delay_s))
    result = analyze(leaky, predictor, AnalysisConfig())
    assert_one_segment_per_turn(result["timeline"], call)
    assert [item["speaker"] for item in result["timeline"]] == [v for *_, v in call.turns]
    assert len(analyze(leaky, predictor, AnalysisConfig(leak_correlation=0.0))["timeline"]) >= 2 * len(call.turns) - 1


def test_two_voices_talking_at_once_on_their_channels_are_both_kept(predictor):
    call = build_call(stereo=True)
    early = np.concatenate([call.signal[SR:, 1], np.zeros(SR, np.float32)])  # the second voice talks over the first
    overlapping = wav_bytes(np.stack([call.signal[:, 0], early], axis=1))
    with_rule = analyze(overlapping, predictor, AnalysisConfig())
    assert with_rule == analyze(overlapping, predictor, AnalysisConfig(leak_correlation=0.0))
    mixed = analyze(wav_bytes(call.signal), predictor, AnalysisConfig(), per_channel=False)
    assert mixed["separation"] == "diarisation" and len(mixed["timeline"]) == len(call.turns)
    with pytest.raises(ValueError, match="customer_channel 3 does not exist"):
        analyze(wav_bytes(call.signal), predictor, AnalysisConfig(customer_channel=3))


def test_a_quieter_or_louder_call_gives_the_same_segments_and_emotions(predictor, mono_call):
    """The detector hears every stream at one active level, and the features set their own: a caller 30 dB quieter
    (or 10 dB louder) is the same call."""
    reference = analyze(wav_bytes(mono_call.signal, subtype="FLOAT"), predictor, AnalysisConfig())
    for gain_db in (-30.0, 10.0):
        scaled = mono_call.signal * np.float32(10 ** (gain_db / 20))
        result = analyze(wav_bytes(scaled, subtype="FLOAT"), predictor, AnalysisConfig())
        assert [(i["start_s"], i["end_s"], i["role"], i["emotion"]) for i in result["timeline"]] == [
            (i["start_s"], i["end_s"], i["role"], i["emotion"]) for i in reference["timeline"]
        ], gain_db


def assert_read_as_without_the_fault(result: dict, reference: dict, call) -> None:
    """A call with a line fault taken out: one segment per turn, the roles, emotions and warnings (no noisy line) of
    the call without it, and its edges within 3 chunks."""
    assert_one_segment_per_turn(result["timeline"], call)
    assert [(i["role"], i["emotion"]) for i in result["timeline"]] == [
        (i["role"], i["emotion"]) for i in reference["timeline"]
    ]
    edges = np.array([(i["start_s"], i["end_s"]) for i in result["timeline"]])
    assert np.abs(edges - [(i["start_s"], i["end_s"]) for i in reference["timeline"]]).max() <= 0.1
    assert result["summary"]["warnings"] == reference["summary"]["warnings"]


@pytest.mark.parametrize("stereo", [True, False])
def test_a_call_with_a_dc_offset_gives_the_same_segments_and_emotions(predictor, stereo):
    """A handset's or sound card's DC offset (here 0.1 and -0.05 of full scale, one per channel) would be the noise
    floor of every pause, 34 dB over this line's noise: it is measured on the quiet chunks and taken out."""
    call = build_call(stereo=stereo)
    offsets = np.array([0.1, -0.05], np.float32) if stereo else np.float32(0.1)
    reference = analyze(wav_bytes(call.signal, subtype="FLOAT"), predictor, AnalysisConfig())
    result = analyze(wav_bytes(call.signal + offsets, subtype="FLOAT"), predictor, AnalysisConfig())
    assert_read_as_without_the_fault(result, reference, call)


@pytest.mark.parametrize("stereo", [True, False])
def test_a_call_with_mains_hum_gives_the_same_segments_and_emotions(predictor, stereo):
    """A ground loop's hum (60 Hz with its 3rd and 5th harmonics, -30 dBFS: 24 dB over this line's noise) would be
    the floor of every pause and a noisy line: it is found in the line's stationary spectrum and notched."""
    call = build_call(stereo=stereo)
    t = np.arange(len(call.signal)) / SR
    hum = sum(np.sin(2 * np.pi * 60 * k * t + k) / k for k in (1, 3, 5))
    hum = (hum / np.sqrt(np.mean(np.square(hum))) * 10 ** (-30 / 20)).astype(np.float32)
    reference = analyze(wav_bytes(call.signal), predictor, AnalysisConfig())
    result = analyze(wav_bytes(call.signal + (hum[:, None] if stereo else hum)), predictor, AnalysisConfig())
    assert_read_as_without_the_fault(result, reference, call)


@pytest.mark.parametrize("stereo", [True, False])
def test_a_call_on_a_line_that_crackles_keeps_one_segment_per_turn(predictor, stereo):
    """Three clicks a second (1-4 ms bursts up to a third of full scale) break the quiet of every pause between turns:
    on such a line they do not end a pause, so turns are not merged with their neighbours."""
    call = build_call(stereo=stereo)
    rng = np.random.default_rng(4)
    line = np.zeros(len(call.signal), np.float32)
    for start in rng.integers(0, len(line) - 64, 3 * len(line) // SR):
        length = int(rng.integers(16, 64))
        line[start : start + length] += rng.uniform(0.1, 0.3) * np.exp(-np.arange(length) / (length / 3))
    result = analyze(wav_bytes(call.signal + (line[:, None] if stereo else line)), predictor, AnalysisConfig())
    assert_one_segment_per_turn(result["timeline"], call)


@pytest.mark.parametrize("stereo", [True, False])
def test_digital_silence_before_a_call_or_in_its_pauses_keeps_its_segments(predictor, stereo):
    """A recorder that writes exact zeros for a minute before the call connects: the call's own line noise is still
    its floor (the zeros made the floor -120 dB, and no pause was quiet against it). VoIP silence suppression, zeros
    in every 20 ms frame where the voice is under -45 dBFS: the zeros are the floor."""
    call = build_call(stereo=stereo)
    reference = analyze(wav_bytes(call.signal), predictor, AnalysisConfig())
    lead = np.zeros((60 * SR, *call.signal.shape[1:]), np.float32)
    late = analyze(wav_bytes(np.concatenate([lead, call.signal])), predictor, AnalysisConfig())
    assert [(i["role"], i["emotion"]) for i in late["timeline"]] == [
        (i["role"], i["emotion"]) for i in reference["timeline"]
    ]
    edges = np.array([(i["start_s"], i["end_s"]) for i in late["timeline"]]) - 60.0
    assert np.abs(edges - [(i["start_s"], i["end_s"]) for i in reference["timeline"]]).max() <= 0.1  # the levels are
    # read from windows spread over the recording, a minute of it silent: within 3 chunks
    frames = call.signal[: len(call.signal) // 320 * 320].reshape(-1, 320, *call.signal.shape[1:])
    quiet = np.sqrt(np.mean(np.square(frames), axis=1, keepdims=True)) < 10 ** (-45 / 20)
    suppressed = np.where(quiet, np.float32(0.0), frames).reshape(-1, *call.signal.shape[1:])
    assert_one_segment_per_turn(analyze(wav_bytes(suppressed), predictor, AnalysisConfig())["timeline"], call)


@pytest.mark.parametrize("stereo", [True, False])
def test_a_call_through_gain_control_that_lifts_the_line_noise_in_its_pauses_keeps_its_segments(predictor, stereo):
    """A handset's gain control lifts the line noise by up to 12 dB in every pause and lowers it when speech returns:
    the floor then spreads as babble's does, and the lifted noise stands over the floor the quiet after speech sets.
    Each turn is still one segment within 0.3 s, and music, tones and noise give none."""
    call = build_call(stereo=stereo)
    if stereo:
        lifted = np.stack([gain_controlled(call.signal[:, channel], 12.0, 1.0) for channel in (0, 1)], axis=1)
    else:
        lifted = gain_controlled(call.signal, 12.0, 1.0)
    result = analyze(wav_bytes(lifted), predictor, AnalysisConfig())
    assert_one_segment_per_turn(result["timeline"], call)


def test_a_hands_free_call_through_gain_control_keeps_its_segments(predictor):
    """A hands-free caller (a reverberant room) whose handset's gain control lifts the line noise in every pause, on
    an 8 kHz A-law line: the lifted noise keeps the detector's gate open through the other party's turns, and only
    clearing its state where it hears no speech for a while lets it hear the next reverberant onset."""
    call = build_call(stereo=True)
    room = Condition("room", [{"reverb": {"rt60_s": 0.5, "direct_ratio": 1}}], 7)
    line = Condition("line", [{"resample": 8000}, {"codec": "alaw"}], 7)
    channels = []
    for channel in (0, 1):
        reverberant, _ = room.apply(call.signal[:, channel], 16_000, f"leg{channel}")
        heard, _ = line.apply(gain_controlled(reverberant, 12.0, 1.0), 16_000, f"leg{channel}")
        channels.append(heard)
    result = analyze(wav_bytes(np.stack(channels, axis=1), sr=8000), predictor, AnalysisConfig())
    assert_one_segment_per_turn(result["timeline"], call)


@pytest.mark.parametrize(("stereo", "seed"), [(True, 0), (False, 2)])
def test_a_hands_free_caller_in_a_reverberant_room_keeps_their_segments(predictor, stereo, seed):
    """A room with RT60 0.8 s on an 8 kHz A-law line: the detector hears reverberant speech weakly and lost one
    utterance of each of these calls; it now hears such a stream with its late reverberation suppressed."""
    call = build_call(stereo=stereo, seed=seed)
    room = Condition("room", [{"reverb": {"rt60_s": 0.8, "direct_ratio": 1}}], 7)
    line = Condition("line", [{"resample": 8000}, {"codec": "alaw"}], 7)
    lanes = [call.signal[:, channel] for channel in (0, 1)] if stereo else [call.signal]
    heard = [line.apply(room.apply(lane, 16_000, f"t{i}")[0], 16_000, f"t{i}")[0] for i, lane in enumerate(lanes)]
    signal = np.stack(heard, axis=1) if stereo else heard[0]
    result = analyze(wav_bytes(signal, sr=8000), predictor, AnalysisConfig())
    assert_one_segment_per_turn(result["timeline"], call)


def test_a_mono_call_keeps_a_party_30_db_quieter_than_the_other():
    """Regions far under a stream's speech level are voices behind a caller on a stereo channel (one voice each),
    but in a mono call they may be the quieter party: every turn of a voice 30 dB under the other is still found."""
    call = build_call(stereo=True, line_noise=0.0002)
    channels = call.signal * np.array([1.0, 10 ** (-30 / 20)], dtype=np.float32)
    speech = segment(wav_bytes(channels.sum(axis=1)), False, AnalysisConfig())
    for start, end, voice in call.turns:
        assert any(_overlap((s.start_s, s.end_s), (start, end)) > 0.5 * (end - start) for s in speech.segments), voice
    by_channel = segment(wav_bytes(channels), True, AnalysisConfig())
    assert len(by_channel.segments) == len(call.turns)  # each voice alone on its channel: nothing is quiet there


def test_a_stereo_file_whose_channels_carry_one_signal_is_analysed_as_mono(predictor, mono_call):
    """Dual mono (the mix written to both channels) and stereo through a codec that merged the channels (Opus at
    12 kb/s): by channel, every utterance would be found twice, once as the customer's and once as the agent's."""
    dual = np.stack([mono_call.signal, 0.5 * mono_call.signal], axis=1)
    result = analyze(wav_bytes(dual), predictor, AnalysisConfig())
    assert result["identical_channels"] and result["separation"] == "diarisation" and result["channels"] == 2
    assert_one_segment_per_turn(result["timeline"], mono_call)
    expected = ["agent" if v == 0 else "customer" for *_, v in mono_call.turns]
    assert [item["role"] for item in result["timeline"]] == expected
    # one leg of the line wired inverted: the plain average of the channels is silence
    inverted = analyze(wav_bytes(np.stack([mono_call.signal, -mono_call.signal], axis=1)), predictor, AnalysisConfig())
    assert inverted == analyze(wav_bytes(np.stack([mono_call.signal] * 2, axis=1)), predictor, AnalysisConfig())
    assert_one_segment_per_turn(inverted["timeline"], mono_call)
    stereo = build_call(stereo=True)
    encoded = io.BytesIO()
    sf.write(encoded, stereo.signal, SR, format="OGG", subtype="OPUS", compression_level=1.0)
    merged = analyze(encoded.getvalue(), predictor, AnalysisConfig())
    assert merged["identical_channels"] and len(merged["timeline"]) == len(stereo.turns)
    separate = analyze(wav_bytes(stereo.signal), predictor, AnalysisConfig())
    assert not separate["identical_channels"] and separate["separation"] == "channels"


def test_each_segment_gets_the_emotion_of_its_utterance_alone(predictor, mono_call):
    result = analyze(wav_bytes(mono_call.signal), predictor, AnalysisConfig())
    for item, (start, end, _) in zip(result["timeline"], mono_call.turns, strict=True):
        alone = mono_call.signal[int(start * SR) : int(end * SR)]
        assert item["emotion"] == predictor.predict_audio(wav_bytes(alone))["class"]["emotion"]
        assert -1 <= item["satisfaction"] <= 1 and sum(item["probabilities"].values()) == pytest.approx(1, abs=1e-4)
    summary = result["summary"]
    customer = summary["roles"]["customer"]
    assert summary["satisfaction"] == customer["satisfaction"] == result["satisfaction"]
    assert sum(customer["emotion_shares"].values()) == pytest.approx(1, abs=1e-3)
    talk = sum(item["end_s"] - item["start_s"] for item in result["timeline"] if item["role"] == "customer")
    assert summary["talk_time_s"]["customer"] == pytest.approx(talk, abs=1e-3)


@pytest.mark.parametrize("processes", [True, False], ids=["forked-workers", "threads"])
def test_several_workers_give_the_same_analysis_as_one(predictor, mono_call, monkeypatch, processes):
    data = wav_bytes(mono_call.signal)
    alone = analyze(data, predictor, AnalysisConfig())
    monkeypatch.setattr(ordered_pool, "forks_safely", lambda: processes)
    assert analyze(data, predictor, AnalysisConfig(), workers=2, progress=True) == alone


@pytest.mark.parametrize("level", [0.0, 1e-5])
def test_silence_gives_a_valid_result_without_segments(predictor, level):
    result = analyze(wav_bytes(np.full(SR * 5, level, np.float32), subtype="FLOAT"), predictor, AnalysisConfig())
    assert result["timeline"] == [] and result["satisfaction"] is None
    assert result["summary"]["roles"] == {"customer": None, "agent": None}
    assert result["duration_s"] == pytest.approx(5.0)


@pytest.mark.parametrize("frames", [0, 160])
def test_a_call_shorter_than_one_detector_chunk_is_refused_clearly(predictor, frames):
    with pytest.raises(ValueError, match="audio is too short to analyse"):
        analyze(wav_bytes(np.full((frames, 2), 0.01, np.float32), subtype="FLOAT"), predictor, AnalysisConfig())


def test_long_segments_are_split_and_the_duration_limit_is_read_from_the_header(predictor):
    speech = np.concatenate([say("Eins zwei drei vier fünf sechs sieben acht neun zehn.", "de")] * 4)
    segments = segment(wav_bytes(speech), False, AnalysisConfig(max_segment_s=3.0, min_gap_s=2.0)).segments
    assert len(segments) >= 2 and all(s.end_s - s.start_s <= 3.01 for s in segments)
    with pytest.raises(ValueError, match="more than the 2 s allowed"):
        analyze(wav_bytes(speech), predictor, AnalysisConfig(), max_seconds=2)


def test_cli_analyses_one_call_with_roles(served, tmp_path, capsys, mono_call):
    call_file = tmp_path / "call.wav"
    call_file.write_bytes(wav_bytes(mono_call.signal))
    model = ["--model", str(served.model_dir)]
    assert cli.main([*model, "analyze", str(call_file), "--json", "--first-speaker", "customer"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["timeline"][0]["role"] == "customer" and len(result["timeline"]) == len(mono_call.turns)
    assert cli.main([*model, "analyze", str(call_file)]) == 0
    out = capsys.readouterr().out
    assert "customer satisfaction (-1 unsatisfied .. +1 satisfied)" in out and "agent:" in out
    assert cli.main([*model, "analyze", str(call_file), "--json", "--leg", "agent"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["separation"] == "leg" and {item["role"] for item in result["timeline"]} == {"agent"}
    agent_leg = tmp_path / "agent.wav"
    agent_leg.write_bytes(wav_bytes(np.zeros(SR, np.float32)))
    assert cli.main([*model, "analyze", str(call_file), str(agent_leg), "--legs", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["separation"] == "legs" and {item["role"] for item in result["timeline"]} == {"customer"}
    one_utterance = tmp_path / "one.wav"
    pause = np.zeros(SR // 2, np.float32)
    one_utterance.write_bytes(wav_bytes(np.concatenate([pause, say(SENTENCES[0], VOICES[0]), pause])))
    assert cli.main([*model, "analyze", str(one_utterance), "--leg", "customer"]) == 0
    assert " s in 1 segment, mostly " in capsys.readouterr().out
    stereo_file = tmp_path / "stereo.wav"
    stereo_file.write_bytes(wav_bytes(build_call(stereo=True).signal[:, ::-1]))  # the agent (first voice) on the right
    assert cli.main([*model, "analyze", str(stereo_file), "--customer-channel", "auto"]) == 0
    assert "customer on channel 0 (it spoke second: --customer-channel auto)" in capsys.readouterr().out


def test_cli_analyses_one_call_without_pandas_and_as_with_one_thread(served, tmp_path, mono_call):
    """One call reads and writes no table: the process keeps pandas out (as the API workers do, about 65 MB), and
    its threads answer exactly as one thread does."""
    call_file = tmp_path / "call.wav"
    call_file.write_bytes(wav_bytes(mono_call.signal))
    script = (
        "import json, sys\nfrom ser import cli\n"
        "code = cli.main(sys.argv[1:])\nprint(json.dumps({'code': code, 'pandas': 'pandas' in sys.modules}))"
    )
    answers = []
    for workers in ("1", "2"):
        argv = ["--model", str(served.model_dir), "analyze", str(call_file), "--json", "--workers", workers]
        result = subprocess.run(
            [sys.executable, "-c", script, *argv], cwd=ROOT, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stderr[-2000:]
        analysis, status = result.stdout.rsplit("\n", 2)[0], json.loads(result.stdout.strip().splitlines()[-1])
        assert status == {"code": 0, "pandas": False}
        answers.append(json.loads(analysis))
    assert answers[0] == answers[1] and len(answers[0]["timeline"]) == len(mono_call.turns)


def test_a_fresh_process_analyses_a_call_as_a_loaded_predictor_does(
    served, predictor, tmp_path, mono_call, monkeypatch
):
    """``ser analyze`` of one call finds the speech in a forked process while the model loads (``cold_start``): the
    same analysis, whether the detector listens on one thread or on two (long calls), and the detector's errors and
    the model's reach the caller."""
    call_file, agent_leg = tmp_path / "call.wav", tmp_path / "agent.wav"
    call_file.write_bytes(wav_bytes(mono_call.signal))
    agent_leg.write_bytes(wav_bytes(0.5 * mono_call.signal[::-1]))
    config = AnalysisConfig()
    monkeypatch.setattr(cold_start, "forks_safely", lambda: True)  # the test process runs threads; the CLI does not
    fresh = analyze_cold(call_file, served.model_dir, config, workers=2)
    assert fresh == analyze(call_file, predictor, config, workers=2) and len(fresh["timeline"]) == len(mono_call.turns)
    legs = analyze_cold((call_file, agent_leg), served.model_dir, config, workers=2)
    assert legs == analyze_legs(call_file, agent_leg, predictor, config) and legs["separation"] == "legs"
    monkeypatch.setattr(cold_start, "ONE_THREAD_UP_TO_S", 0.0)  # every call long: the detector gets both workers
    assert analyze_cold((call_file, agent_leg), served.model_dir, config, workers=2) == legs
    (tmp_path / "blip.wav").write_bytes(wav_bytes(np.zeros(100, np.float32)))
    with pytest.raises(AudioError, match="too short to analyse"):  # raised in the forked detector
        analyze_cold(tmp_path / "blip.wav", served.model_dir, config, workers=2)
    with pytest.raises(SerError, match="no model artifact at"):
        analyze_cold(call_file, tmp_path / "no-model", config, workers=2)
    monkeypatch.setattr(cold_start, "listening", lambda *args: os._exit(3))  # the detector's process dies
    with pytest.raises(AudioError, match=r"speech detection stopped unexpectedly \(exit code 3\)"):
        analyze_cold(call_file, served.model_dir, config, workers=2)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["predict", "missing.wav"], "error: no such file: missing.wav"),
        (["analyze", "missing.wav"], "error: no such file or folder: missing.wav"),
        (["predict", "{garbage}"], "error: {garbage}: cannot decode audio: unsupported format or damaged file"),
        (["analyze", "{garbage}"], "error: cannot decode audio: unsupported format or damaged file"),
        (["predict", "{silence}"], "error: {silence}: audio is silent"),
        (["analyze", "{folder}/*.mp3"], "error: no file matches {folder}/*.mp3"),
        (["analyze", "{silence}", "--scheduler", "tcp://127.0.0.1:9"], "error: cannot reach the Dask scheduler at"),
        (["analyze", "{silence}", "--legs"], "error: --legs takes two files, the customer's leg then the agent's"),
        (["analyze", "{silence}", "{silence}", "--legs", "--mix"], "error: --legs analyses calls from their two files"),
        (["analyze", "{silence}", "missing.wav", "--legs"], "error: no such file: missing.wav"),
    ],
)
def test_cli_errors_are_one_line(served, tmp_path, capsys, argv, message):
    garbage, silence = tmp_path / "garbage.wav", tmp_path / "silence.wav"
    garbage.write_bytes(b"not audio at all")
    silence.write_bytes(wav_bytes(np.zeros(SR, np.float32)))
    names = {"garbage": garbage, "silence": silence, "folder": tmp_path}
    argv = [a.format(**names) for a in argv]
    assert cli.main(["--model", str(served.model_dir), *argv]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(message.format(**names)) and "\n" not in err


def test_cli_predict_reports_a_bad_file_and_answers_the_others(served, tmp_path, capsys):
    good, garbage = tmp_path / "good.wav", tmp_path / "garbage.wav"
    sf.write(good, synthetic_signal(synthetic_ids(1)[0], 1.5), SR)
    garbage.write_bytes(b"not audio at all")
    argv = ["--model", str(served.model_dir), "predict", str(garbage), str(good), "missing.wav"]
    assert cli.main(argv) == 1
    out, err = capsys.readouterr()
    assert out.startswith(f"{good}: ") and out.count("\n") == 1
    assert err.splitlines() == [
        f"error: {garbage}: cannot decode audio: unsupported format or damaged file",
        "error: no such file: missing.wav",
    ]
    assert cli.main([*argv, "--json"]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert [row["file"] for row in rows] == [str(garbage), str(good), "missing.wav"]
    assert "error" in rows[0] and rows[1]["class"]["emotion"] and rows[2]["error"] == "no such file: missing.wav"


def test_cli_predict_takes_folders_and_list_files(served, tmp_path, capsys):
    """A folder gives its audio files (recursively, as a batch of calls), a list file the files it names; a missing
    one and a folder without audio keep their place with an error, and the others are answered."""
    clips, empty = tmp_path / "clips", tmp_path / "empty"
    (clips / "sub").mkdir(parents=True)
    empty.mkdir()
    good = (clips / "sub" / "good.wav").resolve()
    sf.write(good, synthetic_signal(synthetic_ids(1)[0], 1.5), SR)
    (clips / "notes.md").write_text("not audio")
    listing = tmp_path / "todo.txt"
    listing.write_text("clips/sub/good.wav\nmissing.wav\n")
    argv = ["--model", str(served.model_dir), "predict", str(clips), str(listing), str(empty), "--json"]
    assert cli.main(argv) == 1
    rows = json.loads(capsys.readouterr().out)
    missing = (tmp_path / "missing.wav").resolve()
    assert [row["file"] for row in rows] == [str(good), str(good), str(missing), str(empty)]
    assert rows[0]["class"]["emotion"] and rows[0]["probabilities"] == rows[1]["probabilities"]
    assert rows[2]["error"] == f"no such file: {missing}" and rows[3]["error"] == f"{empty}: no audio files in it"


def test_an_upload_says_whether_speech_was_heard_and_a_blip_is_refused(served, tmp_path, capsys):
    client = create_app(served).test_client()
    speech = np.concatenate(
        [np.zeros(SR // 2, np.float32), say(SENTENCES[0], VOICES[1]), np.zeros(SR // 2, np.float32)]
    )
    heard = client.post("/pred", data=wav_bytes(speech), content_type="audio/wav")
    assert heard.status_code == 200 and heard.json["speech_heard"] is True and "warning" not in heard.json
    for sound in (melody(4.0, 5), busy(3.0), dtmf("159#0"), pink_noise(3.0, 0.05, 2)):
        answer = client.post("/pred", data=wav_bytes(sound), content_type="audio/wav")
        assert answer.status_code == 200 and answer.json["speech_heard"] is False
        assert "no speech" in answer.json["warning"] and answer.json["class"]["emotion"]
    blip = np.zeros(SR, np.float32)
    blip[SR // 2 : SR // 2 + SR // 20] = speech[SR : SR + SR // 20]  # 50 ms of a voice in a second of silence
    refused = client.post("/pred", data=wav_bytes(blip), content_type="audio/wav")
    assert refused.status_code == 422 and refused.json["error"].startswith("utterance too short: 0.0")
    music = tmp_path / "hold.wav"
    music.write_bytes(wav_bytes(melody(4.0, 5)))
    assert cli.main(["--model", str(served.model_dir), "predict", str(music)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("(no speech heard: music, a tone or noise?)")


def test_an_upload_in_a_room_or_in_noise_is_said_to_be_less_reliable(served, tmp_path, capsys):
    client = create_app(served).test_client()
    pause = np.zeros(SR // 2, np.float32)
    speech = np.concatenate([pause, say(SENTENCES[0], VOICES[1]), pause, say(SENTENCES[1], VOICES[1]), pause])
    room = Condition("room", [{"reverb": {"rt60_s": 0.6, "direct_ratio": 1}}], seed=1).apply(speech, SR, "u")[0]
    noisy = Condition("noise", [{"noise": {"kind": "pink", "snr_db": 10}}], seed=1).apply(speech, SR, "u")[0]
    for audio, warnings in ((speech, []), (room, ["reverberant"]), (noisy, ["noisy"])):
        answer = client.post("/pred", data=wav_bytes(audio, subtype="FLOAT"), content_type="audio/wav").json
        assert answer["audio"]["warnings"] == warnings, answer["audio"]
    line = np.random.default_rng(3).standard_normal(speech.size).astype(np.float32) * np.float32(0.002)
    plain = client.post("/pred", data=wav_bytes(speech + line, subtype="FLOAT"), content_type="audio/wav").json
    offset = client.post("/pred", data=wav_bytes(speech + line + 0.05, subtype="FLOAT"), content_type="audio/wav").json
    assert offset["audio"]["warnings"] == plain["audio"]["warnings"] == []  # a DC offset is not a noisy line
    assert [u["emotion"] for u in offset["utterances"]] == [u["emotion"] for u in plain["utterances"]]
    by_id = client.post("/pred", json={"id": "03a01Fa"})
    assert by_id.status_code in (200, 404) and "audio" not in (by_id.json or {})  # nothing decoded, nothing measured
    upload = tmp_path / "hands-free.wav"
    upload.write_bytes(wav_bytes(room, subtype="FLOAT"))
    assert cli.main(["--model", str(served.model_dir), "predict", str(upload)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("(reverberant: less reliable)")


def test_cli_predict_classifies_the_channel_asked_for(served, tmp_path, capsys):
    voice = say(SENTENCES[1], VOICES[0])
    music = melody(len(voice) / SR, 5)[: len(voice)]
    stereo = tmp_path / "stereo.wav"
    sf.write(stereo, np.stack([music, voice], axis=1), SR)
    argv = ["--model", str(served.model_dir), "predict", "--json", str(stereo)]
    for channel, heard in (("0", False), ("1", True)):
        assert cli.main([*argv, "--channel", channel]) == 0
        answer = json.loads(capsys.readouterr().out)
        assert answer["channel"] == int(channel) and answer["speech_heard"] is heard
    assert cli.main([*argv, "--channel", "2"]) == 1
    assert capsys.readouterr().err == f"error: {stereo}: channel 2 does not exist: the audio has 2 (0 = left)\n"


def test_cli_without_model_is_one_line(tmp_path, capsys):
    assert cli.main(["--model", str(tmp_path / "none"), "predict", "x.wav"]) == 1
    assert capsys.readouterr().err.startswith("error: no model artifact at")


def _calls_folder(folder, count):
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        sf.write(folder / f"call{index}.wav", build_call(seed=index).signal, SR)
    (folder / "broken.wav").write_bytes(b"RIFF not really a wav")
    return folder


def test_batch_of_calls_into_tables_and_an_offline_report(served, tmp_path, capsys):
    import pandas as pd

    folder = _calls_folder(tmp_path / "calls", 2)
    listing = tmp_path / "more.txt"
    listing.write_text("calls/call0.wav\n# a comment\n")
    out = tmp_path / "out"
    argv = ["--model", str(served.model_dir), "analyze", str(folder), str(listing), "--out", str(out), "--workers", "2"]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "2 calls analysed, 0 already done, 1 failed" in printed and "broken.wav" in printed
    calls, segments = pd.read_parquet(out / "calls.parquet"), pd.read_parquet(out / "segments.parquet")
    assert len(calls) == 2 and set(segments["role"]) == {"customer", "agent"}
    assert list(calls.columns) == CALL_COLUMNS and calls["satisfaction"].notna().all()
    assert calls["customer_channel"].isna().all()  # mono calls: diarised, not told apart by channel
    assert len(pd.read_csv(out / "failed.csv")) == 1 and len(pd.read_csv(out / "calls.csv")) == 2
    page = (out / "report.html").read_text()
    assert "Calls that need attention" in page and "data:image/png;base64," in page
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert cli.main(argv) == 0
    assert "0 calls analysed, 2 already done, 1 failed" in capsys.readouterr().out


def test_a_batch_of_calls_in_two_files_reports_each_by_its_legs_and_resumes(served, tmp_path, capsys):
    import pandas as pd

    call = build_call(stereo=True)
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "in/1.wav").write_bytes(wav_bytes(call.signal[:, 1]))
    (tmp_path / "out/1.wav").write_bytes(wav_bytes(call.signal[:, 0]))
    listing = tmp_path / "pairs.csv"
    listing.write_text("customer,agent\nin/1.wav,out/1.wav\nin/2.wav,out/1.wav\n")
    results = tmp_path / "results"
    argv = ["--model", str(served.model_dir), "analyze", str(listing), "--legs", "--out", str(results)]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "1 calls analysed, 0 already done, 1 failed" in printed and "in/2.wav + " in printed
    calls = pd.read_csv(results / "calls.csv")
    assert list(calls["separation"]) == ["legs"] and calls["agent_file"][0] == str(tmp_path / "out/1.wav")
    segments = pd.read_csv(results / "segments.csv")
    assert list(segments["role"]) == ["agent" if voice == 0 else "customer" for *_, voice in call.turns]
    assert cli.main(argv) == 0
    assert "0 calls analysed, 1 already done, 1 failed" in capsys.readouterr().out
    assert cli.main([*argv, "--mix"]) == 1
    assert "does not combine with --mix" in capsys.readouterr().err


def test_a_killed_batch_loses_nothing_and_a_rerun_finishes_the_rest(served, tmp_path):
    folder = _calls_folder(tmp_path / "calls", 4)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "ser.cli", "--model", str(served.model_dir), "analyze", str(folder)]
    process = subprocess.Popen([*command, "--out", str(out), "--workers", "1"], cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not list((out / "calls").glob("*.json")) and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    finished = len(list((out / "calls").glob("*.json")))
    assert 1 <= finished < 4, "the batch should be killed halfway"
    report = analyse_batch([str(folder)], out, served.model_dir, AnalysisConfig(), progress=False)
    assert (report.reused, report.analysed, len(report.failed)) == (finished, 4 - finished, 1)
    assert not list((out / "calls").glob(".*.tmp")), "no half-written result is left"


def test_batch_runs_on_a_dask_cluster_with_the_same_results(served, tmp_path):
    from dask.distributed import LocalCluster

    folder = _calls_folder(tmp_path / "calls", 2)
    local = analyse_batch([str(folder)], tmp_path / "local", served.model_dir, AnalysisConfig(), progress=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = analyse_batch(
            [str(folder)], tmp_path / "dask", served.model_dir, AnalysisConfig(), scheduler=cluster.scheduler_address
        )
    assert (remote.analysed, len(remote.failed)) == (local.analysed, len(local.failed)) == (2, 1)
    for name in ("call0", "call1"):
        digest = __import__("hashlib").sha256((folder / f"{name}.wav").read_bytes()).hexdigest()
        assert (tmp_path / "dask/calls" / f"{digest}.json").read_text() == (
            tmp_path / "local/calls" / f"{digest}.json"
        ).read_text()


def test_analyze_endpoint_roles_limits_and_errors(served, mono_call):
    client = create_app(dataclasses.replace(served, max_call_seconds=60, max_call_bytes=4_000_000)).test_client()
    data = wav_bytes(mono_call.signal)
    response = client.post("/analyze", data={"file": (io.BytesIO(data), "call.wav")})
    assert response.status_code == 200, response.json
    assert [item["role"] for item in response.json["timeline"]][:2] == ["agent", "customer"]
    raw = client.post("/analyze?first_speaker=customer", data=data, content_type="audio/wav")
    assert raw.status_code == 200 and raw.json["timeline"][0]["role"] == "customer"
    leg = client.post("/analyze?leg=customer", data=data, content_type="audio/wav")
    assert leg.status_code == 200 and {item["role"] for item in leg.json["timeline"]} == {"customer"}
    stereo = wav_bytes(build_call(stereo=True).signal)
    refused = client.post("/analyze?leg=agent", data=stereo, content_type="audio/wav")
    assert refused.status_code == 422 and "is for a mono recording" in refused.json["error"]
    silence = wav_bytes(np.zeros(SR, np.float32))
    legs = {"customer": (io.BytesIO(data), "c.wav"), "agent": (io.BytesIO(silence), "a.wav")}
    joined = client.post("/analyze", data=legs)
    assert joined.status_code == 200 and joined.json["separation"] == "legs", joined.json
    assert {item["role"] for item in joined.json["timeline"]} == {"customer"}
    half = client.post("/analyze", data={"customer": (io.BytesIO(data), "c.wav")})
    assert half.status_code == 400 and '"customer" and "agent"' in half.json["error"]
    legs = {"customer": (io.BytesIO(data), "c.wav"), "agent": (io.BytesIO(silence), "a.wav")}
    assert client.post("/analyze?leg=agent", data=legs).status_code == 400
    legs = {"customer": (io.BytesIO(data), "c.wav"), "agent": (io.BytesIO(b""), "a.wav")}
    empty = client.post("/analyze", data=legs)
    assert empty.status_code == 422 and "empty" in empty.json["error"]
    split = client.post("/analyze?customer_channel=1", data=stereo, content_type="audio/wav").json
    assert split["separation"] == "channels" and split["timeline"][0]["role"] == "agent"
    auto = client.post("/analyze?customer_channel=auto", data=stereo, content_type="audio/wav").json
    assert auto["customer_channel"] == 1 and auto["customer_channel_from"] == "first speaker", auto
    too_long = wav_bytes(np.tile(mono_call.signal, 2))  # 70 s > 60 s
    assert client.post("/analyze", data=too_long, content_type="audio/wav").status_code == 413
    too_big = client.post("/analyze", data=b"\0" * 4_100_000, content_type="audio/wav")
    assert too_big.status_code == 413 and "limit 3 MB" in too_big.json["error"]
    assert client.post("/analyze", data=b"junk", content_type="audio/wav").status_code == 422
    assert client.post("/analyze", json={"id": "03a01Fa"}).status_code == 415
    for query in ("channels=left", "customer_channel=x", "customer_channel=9", "first_speaker=boss", "leg=both"):
        assert client.post(f"/analyze?{query}", data=data, content_type="audio/wav").status_code == 400, query
    assert client.post("/analyze?customer_channel=5", data=stereo, content_type="audio/wav").status_code == 422


def test_web_page_is_served(served):
    response = create_app(served).test_client().get("/")
    assert response.status_code == 200 and b'<form id="upload"' in response.data


def test_a_call_in_a_format_that_cannot_seek_is_analysed_like_its_wav(tmp_path):
    """GSM 06.10 WAV (libsndfile reads it front to back only) gives the timeline of the same call as PCM WAV."""
    from ser.audio.decoding import seekable

    call = np.concatenate([np.zeros(4000), 0.5 * np.sin(2 * np.pi * 200 * np.arange(8000) / 8000), np.zeros(4000)])
    gsm = tmp_path / "call.wav"
    sf.write(gsm, call, 8000, subtype="GSM610")
    with seekable(gsm) as readable:
        assert readable != gsm
        with sf.SoundFile(readable) as audio_file:
            assert audio_file.seekable() and audio_file.samplerate == 8000
            assert audio_file.frames == pytest.approx(16000, abs=400)
    pcm = tmp_path / "pcm.wav"
    sf.write(pcm, call, 8000)
    with seekable(pcm) as readable:
        assert readable == pcm


def test_analysis_defaults_are_the_params_file_values():
    """One place for every default: the dataclass's defaults equal params.yaml's analysis block."""
    assert AnalysisConfig() == AnalysisConfig.from_params_file(ROOT / "params.yaml")


def test_a_reverberant_or_noisy_side_of_a_call_gets_a_warning(predictor, served, tmp_path, capsys):
    """The model is least accurate on hands-free callers and noisy lines and does not know it: the role whose audio
    is reverberant or noisy is named in the summary's warnings (and by the CLI, the batch table and its report),
    the other role is not."""
    import pandas as pd

    call = build_call(stereo=True)
    room = Condition("room", [{"reverb": {"rt60_s": 0.6, "direct_ratio": 1}}], seed=1)
    noise = Condition("noise", [{"noise": {"kind": "white", "snr_db": 10}}], seed=1)
    for condition, warned in ((room, "reverberant"), (noise, "noisy")):
        lanes = call.signal.copy()
        lanes[:, 1] = condition.apply(call.signal[:, 1], SR, "agent")[0][: len(lanes)]
        result = analyze(wav_bytes(lanes, subtype="FLOAT"), predictor, AnalysisConfig(customer_channel=0))
        roles = result["summary"]["roles"]
        assert roles["customer"]["audio"]["warnings"] == [], roles["customer"]["audio"]
        assert roles["agent"]["audio"]["warnings"] == [warned], roles["agent"]["audio"]
        assert len(result["summary"]["warnings"]) == 1 and result["summary"]["warnings"][0].startswith("agent: ")
    clean = analyze(wav_bytes(call.signal), predictor, AnalysisConfig())
    assert clean["summary"]["warnings"] == []
    (tmp_path / "calls").mkdir()
    (tmp_path / "calls" / "noisy-agent.wav").write_bytes(wav_bytes(lanes, subtype="FLOAT"))
    model = ["--model", str(served.model_dir)]
    assert cli.main([*model, "analyze", str(tmp_path / "calls" / "noisy-agent.wav")]) == 0
    assert "\nwarning: agent: noisy line (speech about " in capsys.readouterr().out
    assert cli.main([*model, "analyze", str(tmp_path / "calls"), "--out", str(tmp_path / "out")]) == 0
    row = pd.read_csv(tmp_path / "out" / "calls.csv").iloc[0]
    assert row["warnings"].startswith("agent: noisy line") and row["customer_snr_db"] > 20
    assert "agent: noisy line" in (tmp_path / "out" / "report.html").read_text()


def test_a_headerless_gsm_call_from_a_pbx_is_analysed_like_its_wav(served, predictor, mono_call, tmp_path):
    """Asterisk writes raw GSM 06.10 (`.gsm`): the CLI, a folder batch and /analyze read it by its suffix."""
    import librosa

    narrow = librosa.resample(mono_call.signal, orig_sr=SR, target_sr=8000)
    (tmp_path / "pbx").mkdir()
    raw = tmp_path / "pbx/call.gsm"
    raw.write_bytes(headerless(narrow, ".gsm"))
    as_wav = analyze(wav_bytes(narrow, 8000, "GSM610"), predictor, AnalysisConfig())
    as_raw = analyze(raw, predictor, AnalysisConfig())
    assert as_raw["timeline"] == as_wav["timeline"]
    assert_one_segment_per_turn(as_raw["timeline"], mono_call)
    folder = str(tmp_path / "pbx")
    report = analyse_batch([folder], tmp_path / "out", served.model_dir, AnalysisConfig(), progress=False)
    assert (report.analysed, len(report.failed)) == (1, 0)
    client = create_app(served).test_client()
    response = client.post("/analyze", data={"file": (io.BytesIO(raw.read_bytes()), "call.GSM")})
    assert response.status_code == 200, response.json
    assert response.json["timeline"] == as_raw["timeline"]
    body = client.post("/analyze", data=raw.read_bytes(), content_type="audio/gsm")
    assert body.status_code == 200 and body.json["timeline"] == as_raw["timeline"]
