"""Mains hum on a recording's line: found in the stationary spectrum at 50 or 60 Hz and their harmonics, only where it
stands out and lifts the floor; notched block by block with the filter's state carried on; left alone elsewhere."""

import numpy as np
import pytest

from ser.inference.hum import mains_hum
from ser.inference.line import cleaned_signal, line_faults

pytestmark = pytest.mark.unit

SR = 16_000


def hum(seconds: float, hz: float, rms: float, harmonics: tuple[int, ...] = (1, 3, 5)) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    wave = sum(np.sin(2 * np.pi * k * hz * t + k) / k for k in harmonics)
    return (wave / np.sqrt(np.mean(np.square(wave))) * rms).astype(np.float32)


def speech_like_over_noise(seconds: float = 30.0, seed: int = 0) -> np.ndarray:
    """Bursts of a voice holding 150 Hz (a multiple of 50 Hz) with its harmonics, half of the time, over line noise
    at -54 dBFS: the voice must not pass for hum."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    voice = sum(0.2 / k * np.sin(2 * np.pi * 150 * k * t) for k in range(1, 8))
    on = (np.floor(t / 1.5) % 2) == 0
    return (np.where(on, voice, 0.0) + rng.standard_normal(t.size) * 0.002).astype(np.float32)


def windows(signal: np.ndarray, count: int = 48) -> list[np.ndarray]:
    starts = np.linspace(0, len(signal) - SR, count).astype(int)
    return [signal[start : start + SR] for start in starts]


@pytest.mark.parametrize("hz", [50.0, 60.0])
@pytest.mark.parametrize("level_db", [-50.0, -30.0])
def test_hum_is_found_at_its_mains_frequency_and_harmonics(hz, level_db):
    signal = speech_like_over_noise() + hum(30.0, hz, 10 ** (level_db / 20))
    found = mains_hum(windows(signal), SR)
    assert found is not None and abs(found.mains_hz - hz) < 0.05
    assert sorted(round(f / hz, 2) for f in found.harmonics_hz) == [1, 3, 5]


def test_a_voice_that_holds_a_multiple_of_the_mains_frequency_all_along_is_not_hum():
    """Its harmonics fall on every second (100 Hz) or third (150 Hz) harmonic of 50 Hz, and on every fifth of 60 Hz:
    hum has harmonics whose numbers share no factor."""
    t = np.arange(30 * SR) / SR
    noise = np.random.default_rng(3).standard_normal(t.size) * 0.002
    for pitch in (100.0, 150.0):
        voice = sum(0.2 / k * np.sin(2 * np.pi * pitch * k * t) for k in range(1, 12))
        assert mains_hum(windows((voice + noise).astype(np.float32)), SR) is None


def test_the_notches_follow_a_mains_frequency_that_drifts():
    line = speech_like_over_noise()
    found = mains_hum(windows(line + hum(30.0, 50.4, 10 ** (-35 / 20))), SR)
    assert found is not None and abs(found.mains_hz - 50.4) < 0.05
    assert all(abs(f / round(f / 50.4) - 50.4) < 0.05 for f in found.harmonics_hz) and len(found.harmonics_hz) == 3


def test_a_steady_voice_tones_and_weak_hum_are_not_hum():
    line = speech_like_over_noise()
    assert mains_hum(windows(line), SR) is None
    tone = 0.05 * np.sin(2 * np.pi * 425 * np.arange(len(line)) / SR)  # a dial tone all along: one line, no family
    assert mains_hum(windows(line + tone.astype(np.float32)), SR) is None
    weak = hum(30.0, 50.0, 10 ** (-70 / 20))  # 16 dB under the line's noise: taking it out would change nothing
    assert mains_hum(windows(line + weak), SR) is None
    assert mains_hum([line[: 5 * SR] + hum(5.0, 50.0, 0.03)], SR) is None  # a few seconds: too few frames to tell


def test_hum_is_notched_block_by_block_as_in_one_pass():
    rng = np.random.default_rng(1)
    noise = (rng.standard_normal((20 * SR, 2)) * 0.002).astype(np.float32)
    hummed = noise + hum(20.0, 60.0, 0.03)[:, None] * np.array([1.0, 0.0], np.float32)  # the first channel only
    faults = line_faults([hummed[s : s + SR] for s in range(0, len(hummed), SR)], SR)
    assert faults.hums[1] is None and faults.hums[0] is not None and abs(faults.hums[0].mains_hz - 60.0) < 0.05
    whole = faults.cleaner(SR)(hummed)
    cleaner = faults.cleaner(SR)
    blocks = np.concatenate([cleaner(hummed[s : s + 4000]) for s in range(0, len(hummed), 4000)])
    np.testing.assert_allclose(blocks, whole, atol=1e-6)
    settled = slice(faults.preroll(SR), None)
    residual = whole[settled, 0] - noise[settled, 0]
    assert 10 * np.log10(np.mean(np.square(residual)) / 0.03**2) < -30  # the hum 30 dB down or more
    np.testing.assert_array_equal(whole[:, 1], hummed[:, 1])  # the clean channel untouched


def test_a_recording_without_faults_is_read_exactly_as_it_is():
    line = speech_like_over_noise()
    assert cleaned_signal(line, SR) is line
    faults = line_faults(windows(line[:, None]), SR)
    assert not faults.hummed and not np.any(faults.offsets)
    block = line[:, None]
    assert faults.cleaner(SR)(block) is block and faults.preroll(SR) == 0


def test_an_upload_is_cleaned_of_hum_to_both_ends():
    noise = (np.random.default_rng(2).standard_normal(12 * SR) * 0.002).astype(np.float32)
    cleaned = cleaned_signal(noise + hum(12.0, 50.0, 0.03), SR)
    for edge in (slice(0, SR // 2), slice(-SR // 2, None)):  # forwards and backwards: no ring at either end
        residual = cleaned[edge] - noise[edge]
        assert 10 * np.log10(np.mean(np.square(residual)) / 0.03**2) < -20
