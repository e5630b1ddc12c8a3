"""Stationary spectral gating of a line's noise (what the voice encoder hears in a mono call), and where a call's
noise alone is found."""

import librosa
import numpy as np
import pytest

from ser.features import voice_encoder
from ser.inference import vad
from ser.inference.denoise import N_FFT, NoiseProfile, gated
from tests.test_channels import SR, speech_like

pytestmark = pytest.mark.unit


def white(seconds: float, level: float, seed: int) -> np.ndarray:
    return (level * np.random.default_rng(seed).standard_normal(int(SR * seconds))).astype(np.float32)


def power_db(signal: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(signal, dtype=np.float64)) + 1e-20))


def test_the_noise_is_gated_out_and_the_voice_kept():
    voice, noise = speech_like(2.0), white(4.0, 0.03, 1)
    pause = np.zeros(SR, np.float32)
    noisy = np.concatenate([voice, pause]) + noise[: voice.size + pause.size]
    out = gated(noisy, SR, NoiseProfile.of(white(3.0, 0.03, 2), SR))  # another stretch of the same noise
    assert out.shape == noisy.shape and out.dtype == np.float32
    in_pause = slice(voice.size + N_FFT, None)  # the smoothed mask reaches a little past the voice
    assert power_db(out[in_pause]) < power_db(noisy[in_pause]) - 20
    heard = {name: voice_encoder.embedding(x[: voice.size], SR) for name, x in (("noisy", noisy), ("gated", out))}
    clean = voice_encoder.embedding(voice, SR)
    # what the speaker embedding hears: nearer the clean voice's
    assert 1 - heard["gated"] @ clean < (1 - heard["noisy"] @ clean) / 2, (
        heard["noisy"] @ clean,
        heard["gated"] @ clean,
    )
    assert power_db(out[: voice.size]) > power_db(out[in_pause]) + 20


def test_a_line_without_noise_changes_nothing():
    voice = speech_like(1.5)
    silence = NoiseProfile.of(np.zeros(SR, np.float32), SR)
    assert np.allclose(gated(voice, SR, silence), voice, atol=1e-4)


def test_as_noisereduce_computes_it_above_its_faded_edge():
    noisereduce = pytest.importorskip("noisereduce")  # a dev dependency: it imports torch
    noisy = speech_like(2.0) + white(2.0, 0.03, 3)
    noise = white(2.0, 0.03, 4)
    reference = noisereduce.reduce_noise(y=noisy, sr=SR, y_noise=noise, stationary=True, prop_decrease=1.0)
    ours = gated(noisy, SR, NoiseProfile.of(noise, SR))
    above_500_hz = [librosa.stft(x, n_fft=N_FFT)[40:-40] for x in (reference, ours)]
    assert np.corrcoef(*(np.log1p(np.abs(s)).ravel() for s in above_500_hz))[0, 1] > 0.99


def test_a_profile_needs_a_frame_of_noise_and_the_signal_its_rate():
    assert NoiseProfile.of(np.zeros(N_FFT - 1, np.float32), SR) is None
    profile = NoiseProfile.of(white(1.0, 0.01, 5), SR)
    with pytest.raises(ValueError, match="16000 Hz"):
        gated(white(1.0, 0.01, 6), 8000, profile)


def test_noise_chunks_are_those_near_the_floor_first_in_time():
    energy = np.array([-60.0, -20, -61, np.nan, -59, -20, -62, -58, -30])
    assert vad.noise_chunks(energy, margin_db=3.0, most=10).tolist() == [0, 2, 4, 6]
    assert vad.noise_chunks(energy, margin_db=3.0, most=2).tolist() == [0, 2]
    assert vad.noise_chunks(np.full(4, np.nan), margin_db=3.0, most=2).size == 0
