"""The speech detector's gate: after a long quiet it stops, forgets its state, and wakes on the next loud chunk."""

import numpy as np
import pytest

from ser.inference.vad import CHUNK, CHUNK_S, DetectorGate, GatedVoiceActivity, VoiceActivity, _chunk_energy_db
from tests.speech import SENTENCES, needs_espeak, say

pytestmark = [pytest.mark.unit, needs_espeak]

FLOOR_DB = -60.0  # the line noise below


def _stream(*pieces: tuple[str, float]) -> np.ndarray:
    """Line noise (-60 dBFS) with speech: each piece is (what is said, seconds of quiet before it)."""
    rng = np.random.default_rng(0)
    parts = []
    for index, (text, quiet_s) in enumerate(pieces):
        parts += [np.zeros(int(quiet_s * 16_000), np.float32), say(text, ("de", "de+f3")[index % 2])]
    parts.append(np.zeros(16_000, np.float32))
    signal = np.concatenate(parts)
    signal += rng.standard_normal(len(signal)).astype(np.float32) * 10 ** (FLOOR_DB / 20)
    return signal[: len(signal) // CHUNK * CHUNK]


def _gated(signal: np.ndarray, gate: DetectorGate, block_chunks: int) -> np.ndarray:
    detector = GatedVoiceActivity(FLOOR_DB, gate)
    chunks = signal.reshape(-1, CHUNK)
    for first in range(0, len(chunks), block_chunks):
        block = chunks[first : first + block_chunks]
        detector.feed(block, _chunk_energy_db(block.reshape(-1), len(block)))
    return detector.probabilities()


def _plain(signal: np.ndarray) -> np.ndarray:
    detector = VoiceActivity()
    detector.feed(signal)
    return detector.probabilities()


def test_a_gate_that_never_resets_hears_what_the_plain_detector_hears():
    signal = _stream((SENTENCES[0], 1.0), (SENTENCES[1], 6.0))
    np.testing.assert_array_equal(_gated(signal, DetectorGate(reset_s=0.0), 50), _plain(signal))


def test_after_a_long_quiet_the_detector_starts_afresh_just_before_the_speech():
    gate = DetectorGate(reset_s=2.0, lead_s=0.5, margin_db=6.0)
    signal = _stream((SENTENCES[0], 1.0), (SENTENCES[1], 8.0))
    gated = _gated(signal, gate, 64)
    assert len(gated) == len(signal) // CHUNK
    loud = np.flatnonzero(_chunk_energy_db(signal, len(signal) // CHUNK) >= FLOOR_DB + gate.margin_db)
    second = loud[np.argmax(np.diff(loud) > 4 / CHUNK_S) + 1]  # the first loud chunk of the second sentence
    woken = second - round(gate.lead_s / CHUNK_S)
    # unheard: from `reset_s` after the first sentence until the lead of the second
    assert np.all(gated[woken - 100 : woken] == 0)
    # then as a detector that starts there, with nothing heard before
    np.testing.assert_allclose(gated[woken:], _plain(signal[woken * CHUNK :]), atol=1e-6)
    # and the plain detector, which heard the whole quiet, is another state: its answers differ there
    assert not np.allclose(_plain(signal)[woken:], gated[woken:], atol=1e-3)


def test_the_gate_gives_the_same_answers_whatever_the_blocks():
    gate = DetectorGate(reset_s=1.0, lead_s=0.5, margin_db=6.0)
    signal = _stream((SENTENCES[2], 0.3), (SENTENCES[3], 3.0), (SENTENCES[4], 0.8))
    whole = _gated(signal, gate, 10**6)
    for block_chunks in (1, 7, 100):
        np.testing.assert_array_equal(_gated(signal, gate, block_chunks), whole)


def test_pauses_shorter_than_the_reset_leave_the_detector_listening():
    gate = DetectorGate(reset_s=2.0, lead_s=0.5, margin_db=6.0)
    signal = _stream((SENTENCES[2], 0.2), (SENTENCES[3], 1.2), (SENTENCES[5], 1.5))
    np.testing.assert_array_equal(_gated(signal, gate, 64), _plain(signal))


def test_a_channel_muted_to_exact_zeros_still_has_a_noise_floor_to_wake_above():
    import io

    import soundfile as sf

    from ser.inference.vad import stream_levels
    from tests.speech import wav_bytes

    speech = _stream((SENTENCES[0], 0.5), (SENTENCES[1], 1.0))
    muted = np.concatenate([speech, np.zeros(len(speech) * 3, np.float32)])  # 75 % digital silence
    with sf.SoundFile(io.BytesIO(wav_bytes(muted, subtype="FLOAT"))) as audio:
        (level,) = stream_levels(audio, per_channel=False)
    assert FLOOR_DB - 3 < level.floor_db < FLOOR_DB + 3  # the line noise, not -inf
    assert level.active_db > level.floor_db + 20


LIFTED_DB = 12.0  # line noise that gain control lifts in the pauses: over the gate's margin, under its idle margin


def _lifted_pause(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(int(seconds * 16_000)) * 10 ** ((FLOOR_DB + LIFTED_DB) / 20)).astype(np.float32)


def _with_lifted_pause(first: str, second: str, pause_s: float) -> np.ndarray:
    """Speech, a pause of line noise ``LIFTED_DB`` over the floor (which the gate hears as loud), speech."""
    before, after = _stream((first, 0.5)), _stream((second, 0.0))
    signal = np.concatenate([before, _lifted_pause(pause_s, 1), after])
    return signal[: len(signal) // CHUNK * CHUNK]


IDLE_GATE = DetectorGate(reset_s=2.0, lead_s=0.5, margin_db=6.0, idle_probability=0.1, idle_margin_db=20.0)


def test_lifted_noise_the_gate_hears_as_loud_clears_the_detector_after_it_idles_for_the_reset():
    signal = _with_lifted_pause(SENTENCES[0], SENTENCES[1], 6.0)
    plain = _plain(signal)
    energy = _chunk_energy_db(signal, len(signal) // CHUNK)
    idle = (plain < IDLE_GATE.idle_probability) & (energy < FLOOR_DB + IDLE_GATE.idle_margin_db)
    reset, lead = round(IDLE_GATE.reset_s / CHUNK_S), round(IDLE_GATE.lead_s / CHUNK_S)
    runs = np.convolve(idle.astype(int), np.ones(reset, int), mode="full")[: len(idle)]
    cleared = int(np.flatnonzero(runs >= reset)[0])  # the first chunk that ends `reset` idle chunks in a row
    assert energy[cleared] >= FLOOR_DB + IDLE_GATE.margin_db  # in the lifted noise, where the gate listens
    gated = _gated(signal, IDLE_GATE, 64)
    # up to there what the plain detector hears; then a detector that starts afresh, warmed up on the lead
    np.testing.assert_array_equal(gated[: cleared + 1], plain[: cleared + 1])
    fresh = _plain(signal[(cleared + 1 - lead) * CHUNK :])[lead:]
    np.testing.assert_allclose(gated[cleared + 1 : cleared + reset], fresh[: reset - 1], atol=1e-6)
    assert not np.allclose(plain[cleared + 1 :], gated[cleared + 1 :], atol=1e-3)


def test_without_the_idle_rule_lifted_noise_keeps_one_state_and_the_gate_never_stops():
    signal = _with_lifted_pause(SENTENCES[0], SENTENCES[1], 6.0)
    np.testing.assert_array_equal(
        _gated(signal, DetectorGate(reset_s=2.0, lead_s=0.5, margin_db=6.0), 64), _plain(signal)
    )


def test_music_as_loud_as_speech_does_not_clear_the_detector():
    """After a cleared state heard music at the voice's level it hears the next onset late; the idle rule leaves
    chunks ``idle_margin_db`` over the floor alone."""
    t = np.arange(int(4.0 * 16_000)) / 16_000
    melody = sum(np.sin(2 * np.pi * f * t) for f in (440.0, 554.4, 659.3)).astype(np.float32) * np.float32(0.05)
    before, after = _stream((SENTENCES[2], 0.5)), _stream((SENTENCES[3], 0.8))
    signal = np.concatenate([before, melody, after])
    signal = signal[: len(signal) // CHUNK * CHUNK]
    np.testing.assert_array_equal(_gated(signal, IDLE_GATE, 64), _plain(signal))


def test_the_idle_rule_gives_the_same_answers_whatever_the_blocks():
    signal = _with_lifted_pause(SENTENCES[4], SENTENCES[5], 5.0)
    whole = _gated(signal, IDLE_GATE, 10**6)
    for block_chunks in (1, 7, 100):
        np.testing.assert_array_equal(_gated(signal, IDLE_GATE, block_chunks), whole)


def test_the_idle_rule_is_read_from_the_analysis_params_and_checked():
    from ser.errors import ParamsError
    from ser.inference.analysis_config import AnalysisConfig

    gate = AnalysisConfig(detector_idle_probability=0.05, detector_idle_margin_db=15.0).detector_gate
    assert (gate.idle_probability, gate.idle_margin_db) == (0.05, 15.0)
    assert AnalysisConfig(detector_idle_probability=0.0).detector_gate.idle_probability == 0.0  # off
    for bad in (-0.1, 0.35, 0.9):  # at or over vad_release (0.35) it would clear the state during speech
        with pytest.raises(ParamsError, match="detector_idle_probability"):
            AnalysisConfig(detector_idle_probability=bad)
