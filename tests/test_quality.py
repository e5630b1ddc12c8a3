"""How well a call's audio lets emotions be heard: the SNR and decay measures and the warnings they raise."""

import librosa
import numpy as np
import pytest

from ser.audio.channels import Condition
from ser.inference.quality import (
    MAX_SNR_DB,
    MIN_HIGH_BAND_DB,
    NARROW_BAND_BELOW_DB,
    NOISY_BELOW_DB,
    REVERBERANT_BELOW_DB_PER_S,
    SegmentAudio,
    measure,
    role_audio,
    warning_lines,
)
from ser.inference.summary import call_summary

pytestmark = pytest.mark.unit

SR = 16_000


def syllables(seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    """Speech-like bursts: harmonic syllables of 120-250 ms that stop within a few ms, 60-200 ms apart, with a
    pause of 0.4-0.6 s after every fourth (a phrase)."""
    rng = np.random.default_rng(seed)
    out, t = [], 0.0
    while t < seconds:
        phrase_end = len(out) % 8 == 6
        n = int(rng.uniform(0.12, 0.25) * SR)
        f0 = rng.uniform(100, 220)
        k = np.arange(n) / SR
        burst = sum(np.sin(2 * np.pi * f0 * h * k) / h for h in range(1, 12))
        burst *= np.minimum(1, np.minimum(k, k[::-1]) / 0.004) * rng.uniform(0.3, 1.0)
        gap = np.zeros(int(rng.uniform(0.4, 0.6) * SR if phrase_end else rng.uniform(0.06, 0.2) * SR))
        out += [burst, gap]
        t += (n + gap.size) / SR
    return (0.3 * np.concatenate(out) / 6).astype(np.float32)


def through(signal: np.ndarray, steps: list[dict]) -> np.ndarray:
    heard, sr = Condition("test", steps, seed=1).apply(signal, SR, "x")
    assert sr == SR
    return heard


def test_dry_speech_is_neither_noisy_nor_reverberant_and_a_room_or_noise_is_told():
    dry = measure(syllables(), SR)
    assert (
        dry.snr_db == MAX_SNR_DB
    )  # digital silence between the syllables and dry.decay_db_per_s > REVERBERANT_BELOW_DB_PER_S * 1.3
    room = measure(through(syllables(), [{"reverb": {"rt60_s": 0.5, "direct_ratio": 1}}]), SR)
    assert room.snr_db > NOISY_BELOW_DB and room.decay_db_per_s < REVERBERANT_BELOW_DB_PER_S * 0.8
    noisy = measure(through(syllables(), [{"noise": {"kind": "white", "snr_db": 10}}]), SR)
    assert noisy.snr_db < NOISY_BELOW_DB


def test_the_measures_do_not_depend_on_the_level():
    signal = through(syllables(seed=3), [{"noise": {"kind": "pink", "snr_db": 30}}])
    loud, quiet = measure(signal, SR), measure(signal * np.float32(10 ** (-30 / 20)), SR)
    assert quiet.snr_db == pytest.approx(loud.snr_db, abs=0.01)
    assert quiet.decay_db_per_s == pytest.approx(loud.decay_db_per_s, rel=1e-3)


@pytest.mark.parametrize("signal", [np.zeros(SR, np.float32), np.ones(100, np.float32)])
def test_silence_or_a_blip_is_not_measured(signal):
    assert measure(signal, SR) is None


def test_a_role_takes_the_duration_weighted_median_and_reports_both_warnings_or_none():
    clean, reverberant = SegmentAudio(35, 500, -15), SegmentAudio(30, 150, -90)
    noisy, drowned = SegmentAudio(12, 400, -12), SegmentAudio(8, None, -10)
    assert role_audio([(clean, 5.0), (reverberant, 1.0), (None, 9.0)]) == {
        "snr_db": 35.0,
        "decay_db_per_s": 500,
        "narrow_band": False,
        "warnings": [],
    }
    assert role_audio([(clean, 1.0), (reverberant, 5.0)])["narrow_band"] is True
    assert role_audio([(clean, 1.0), (reverberant, 5.0)])["warnings"] == ["reverberant"]
    assert role_audio([(noisy, 5.0), (reverberant, 1.0)])["warnings"] == ["noisy"]
    assert role_audio([(noisy, 1.0), (SegmentAudio(12, 150, -15), 5.0)])["warnings"] == ["noisy", "reverberant"]
    assert role_audio([(drowned, 5.0), (clean, 1.0)]) == {
        "snr_db": 8.0,
        "decay_db_per_s": 500,
        "narrow_band": False,
        "warnings": ["noisy"],
    }
    assert role_audio([(drowned, 5.0)])["decay_db_per_s"] is None  # the noise hides every fall
    assert role_audio([(None, 3.0)]) is None and role_audio([]) is None


def test_telephone_band_audio_is_told_at_any_rate_it_is_stored_at():
    """Wide-band sound has energy above 4 kHz; the same sound through an 8 kHz line has next to none, whether it is
    read at 8 kHz or resampled to 16 kHz, and at any level."""
    hiss = through(syllables(seed=2), [{"noise": {"kind": "white", "snr_db": 15}}])
    wide = measure(hiss, SR).high_band_db
    assert NARROW_BAND_BELOW_DB < wide < 0
    line, rate = Condition("line", [{"resample": 8000}, {"codec": "ulaw"}], seed=1).apply(hiss, SR, "x")
    assert rate == 8000 and measure(line, rate).high_band_db == MIN_HIGH_BAND_DB
    upsampled = librosa.resample(line, orig_sr=rate, target_sr=SR)
    assert measure(upsampled, SR).high_band_db < NARROW_BAND_BELOW_DB - 10
    assert measure(hiss * np.float32(0.01), SR).high_band_db == pytest.approx(wide, abs=0.01)


def test_noise_does_not_pass_for_reverberation():
    """A fall is measured only from frames well over the noise: a noisy dry voice keeps its fast decay."""
    for kind in ("white", "pink"):
        noisy = measure(through(syllables(seed=5), [{"noise": {"kind": kind, "snr_db": 10}}]), SR)
        assert noisy.decay_db_per_s is None or noisy.decay_db_per_s > REVERBERANT_BELOW_DB_PER_S, kind
    both = through(syllables(seed=5), [{"reverb": {"rt60_s": 0.5, "direct_ratio": 1}}])
    both = through(both, [{"noise": {"kind": "white", "snr_db": 20}}])
    assert measure(both, SR).decay_db_per_s < REVERBERANT_BELOW_DB_PER_S


def test_warnings_name_the_role_and_a_diarised_call_warns_about_its_roles():
    noisy = {"snr_db": 12.4, "decay_db_per_s": 150, "warnings": ["noisy"]}
    assert warning_lines("customer", noisy) == [
        "customer: noisy line (speech about 12 dB over the noise): emotions are less reliable"
    ]
    probabilities = {"anger": 0.9, "neutral": 0.1}
    timeline = [{"start_s": 0, "end_s": 2, "role": "customer", "emotion": "anger", "probabilities": probabilities}]
    timeline[0]["satisfaction"] = -0.9
    fine = {"snr_db": 35, "decay_db_per_s": 500, "narrow_band": False, "warnings": []}
    assert call_summary(timeline, 5, {"customer": fine}, diarised=True)["warnings"] == []
    phone = {**fine, "narrow_band": True}  # no warning for the emotions; one for the roles of a diarised call
    assert call_summary(timeline, 5, {"customer": phone}, diarised=False)["warnings"] == []
    (roles_warning,) = call_summary(timeline, 5, {"customer": phone}, diarised=True)["warnings"]
    assert "telephone-band" in roles_warning and "same sex" in roles_warning
    summary = call_summary(timeline, 5, {"customer": noisy, "agent": fine}, diarised=True)
    assert summary["roles"]["customer"]["audio"] == noisy and summary["roles"]["agent"] is None
    assert len(summary["warnings"]) == 2 and "told apart by voice" in summary["warnings"][1]
    assert call_summary(timeline, 5, {"customer": noisy}, diarised=False)["warnings"] == warning_lines(
        "customer", noisy
    )
