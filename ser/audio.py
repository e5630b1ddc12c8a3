"""Audio decoding and resampling: the single I/O step before ``features.extract``."""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

log = logging.getLogger(__name__)

UNDECODABLE = "cannot decode audio: unsupported format or damaged file"


class AudioError(ValueError):
    """Audio that cannot be used: undecodable, empty, silent or not finite."""


class AudioTooLong(AudioError):
    """Audio longer than the caller allows."""


def decode(source: str | Path | bytes, target_sr: int, max_seconds: float = float("inf")) -> tuple[np.ndarray, float]:
    """Decode a file path or encoded bytes to mono float32 at ``target_sr``; return (signal, duration_s).

    Stereo is downmixed by averaging channels; any sample rate is resampled with soxr. The duration in the
    header is checked against ``max_seconds`` before any sample is decoded, so a long file costs no memory.
    """
    handle = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    try:
        with sf.SoundFile(handle) as audio_file:
            sr = audio_file.samplerate
            if audio_file.frames / sr > max_seconds:
                raise AudioTooLong(
                    f"audio lasts {audio_file.frames / sr:.1f} s, more than the {max_seconds:g} s allowed"
                )
            data = audio_file.read(dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        # libsndfile's own wording depends on the bytes (random data may read as "not a regular file").
        log.info("libsndfile could not decode audio: %s", re.sub(r"^Error opening .*?: ", "", str(error)))
        raise AudioError(UNDECODABLE) from None
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
