"""Audio decoding and resampling: the single I/O step before ``features.extract``."""

from __future__ import annotations

import io
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf


class AudioError(ValueError):
    """Audio that cannot be used: undecodable, empty, silent or not finite."""


class AudioTooLong(AudioError):
    """Audio longer than the caller allows."""


def decode(source: str | Path | bytes, target_sr: int) -> tuple[np.ndarray, float]:
    """Decode a file path or encoded bytes to mono float32 at ``target_sr``; return (signal, duration_s).

    Stereo is downmixed by averaging channels; any sample rate is resampled with soxr.
    """
    handle = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    try:
        data, sr = sf.read(handle, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        raise AudioError(f"cannot decode audio: {error}") from None
    if data.shape[0] == 0:
        raise AudioError("audio contains no samples")
    signal = data.mean(axis=1)
    if not np.all(np.isfinite(signal)):
        raise AudioError("audio contains NaN or infinite samples")
    duration = signal.size / sr
    if sr != target_sr:
        signal = librosa.resample(signal, orig_sr=sr, target_sr=target_sr, res_type="soxr_hq")
    return np.ascontiguousarray(signal, dtype=np.float32), duration


def check_usable(signal: np.ndarray, min_samples: int, silence_peak: float = 1e-4) -> None:
    """Raise AudioError when a decoded signal is too short or silent for features."""
    if signal.size < min_samples:
        raise AudioError(f"audio too short: {signal.size} samples after resampling, need at least {min_samples}")
    if float(np.max(np.abs(signal))) < silence_peak:
        raise AudioError("audio is silent")
