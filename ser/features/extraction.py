"""From encoded audio to a feature vector: decode, check, extract. Shared by the pipeline and the `Predictor`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ser.audio import decoding as audio
from ser.features.extractor import FeatureConfig, extract


def decoded_utterance(
    source: bytes | Path, config: FeatureConfig, max_seconds: float = float("inf"), channel: int | None = None
) -> tuple[np.ndarray, float]:
    """A file or encoded bytes as the mono signal the features read (its channels mixed, or ``channel`` alone), and
    the audio's duration in seconds.

    Raises AudioTooLong beyond ``max_seconds`` and AudioError for undecodable, short or silent audio, or a channel
    the audio does not have.
    """
    signal, duration = audio.decode(source, config.sample_rate, max_seconds, channel)
    audio.check_usable(signal, config.min_samples)
    return signal, duration


def features_of_audio(
    source: bytes | Path, config: FeatureConfig, max_seconds: float = float("inf")
) -> tuple[np.ndarray, float]:
    """Features of a file or encoded bytes, and the audio's duration in seconds (errors: ``decoded_utterance``)."""
    signal, duration = decoded_utterance(source, config, max_seconds)
    return extract(signal, config.sample_rate, config), duration


def features_of_file(path: Path, config: FeatureConfig) -> np.ndarray:
    """Feature vector of one audio file."""
    return features_of_audio(path, config)[0]
