"""Stationary spectral gating: what stays of a signal once a line's steady noise is gated out.

The algorithm and settings are those of ``noisereduce``'s stationary mode (Sainburg et al.; ``tests`` compare the two):
the noise's mean and spread in dB per frequency, from a stretch of noise alone, set a threshold; time-frequency bins
of the signal under it are removed, through a mask smoothed over 500 Hz and 50 ms. One change: the smoothing is
normalised at the spectrum's edge, where noisereduce's fades the lowest 250 Hz (a male voice's pitch) even on a line
without noise. Written here on scipy because importing ``noisereduce`` imports torch (about 190 MB more per API
worker, which does not load torch otherwise).

Used on the copies the voice encoder hears in a mono call (``ser.inference.calls``): in white noise, k-means split
the segments by loudness (the noise masks a calm voice more than a loud one) instead of by voice (BENCHMARKS.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import convolve1d
from scipy.signal import istft, stft

N_FFT = 1024
HOP = N_FFT // 4
THRESHOLD_STD = 1.5  # the threshold: mean + this many standard deviations of the noise's dB, per frequency
FREQUENCY_SMOOTHING_HZ = 500.0
TIME_SMOOTHING_MS = 50.0
TOP_DB = 80.0  # a bin's dB are floored at this much under its loudest frame


def _spectrum(signal: np.ndarray) -> np.ndarray:
    return stft(signal.astype(np.float64), nfft=N_FFT, nperseg=N_FFT, noverlap=N_FFT - HOP, padded=False)[2]


def _decibels(spectrum: np.ndarray) -> np.ndarray:
    db = 20 * np.log10(np.abs(spectrum) + np.finfo(np.float64).eps)
    return np.maximum(db, db.max(axis=-1, keepdims=True) - TOP_DB)


def _triangle(n: int) -> np.ndarray:
    return np.concatenate([np.linspace(0, 1, n + 1, endpoint=False), np.linspace(1, 0, n + 2)])[1:-1]


def _smoothed(mask: np.ndarray, across_frequency: np.ndarray, across_time: np.ndarray) -> np.ndarray:
    """``mask`` convolved with the separable kernel outer(across_frequency, across_time) (both odd and symmetric),
    normalised by the kernel's part inside the spectrogram: bins near 0 Hz keep their weight."""
    smoothed = convolve1d(
        convolve1d(mask, across_frequency, axis=0, mode="constant"), across_time, axis=1, mode="constant"
    )
    inside = np.outer(
        convolve1d(np.ones(mask.shape[0]), across_frequency, mode="constant"),
        convolve1d(np.ones(mask.shape[1]), across_time, mode="constant"),
    )
    return smoothed / inside


@dataclass(frozen=True)
class NoiseProfile:
    """A line's steady noise: the dB threshold per frequency bin of an ``N_FFT`` STFT at ``sample_rate``."""

    threshold_db: np.ndarray
    sample_rate: int

    @classmethod
    def of(cls, noise: np.ndarray, sample_rate: int) -> NoiseProfile | None:
        """The profile of ``noise`` (a stretch without speech); None when it is shorter than one STFT frame."""
        if noise.size < N_FFT:
            return None
        db = _decibels(_spectrum(noise))
        return cls(db.mean(axis=1) + THRESHOLD_STD * db.std(axis=1), sample_rate)


def gated(signal: np.ndarray, sr: int, profile: NoiseProfile) -> np.ndarray:
    """``signal`` (float32) with the bins under ``profile``'s threshold removed; the same length."""
    if sr != profile.sample_rate:
        raise ValueError(f"the noise profile is of {profile.sample_rate} Hz audio, the signal of {sr} Hz")
    padded = np.pad(signal.astype(np.float64), N_FFT)
    spectrum = _spectrum(padded)
    mask = (_decibels(spectrum) > profile.threshold_db[:, None]).astype(np.float64)
    frequency_bins = int(FREQUENCY_SMOOTHING_HZ / (sr / (N_FFT / 2)))
    time_frames = int(TIME_SMOOTHING_MS / (HOP / sr * 1000))
    if frequency_bins > 1 or time_frames > 1:
        mask = _smoothed(mask, _triangle(max(frequency_bins, 1)), _triangle(max(time_frames, 1)))
    restored = istft(spectrum * mask, nfft=N_FFT, nperseg=N_FFT, noverlap=N_FFT - HOP)[1]
    out = np.zeros(padded.size)
    out[: min(out.size, restored.size)] = restored[: out.size]
    return out[N_FFT : N_FFT + signal.size].astype(np.float32)
