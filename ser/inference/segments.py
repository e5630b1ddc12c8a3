"""What call analysis computes per segment (in the threads of one call's analysis): its features, its audio's
noise and reverberation and, for diarisation, its voice embedding, from the feature code only (not the model,
scikit-learn or pandas)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ser.features import voice_encoder
from ser.features.extractor import FeatureConfig, extract
from ser.inference.denoise import NoiseProfile, gated
from ser.inference.quality import SegmentAudio, measure


def segment_outputs(
    signal: np.ndarray, sr: int, config: FeatureConfig, embed: bool, line_noise: NoiseProfile | None = None
) -> tuple[np.ndarray, Any, SegmentAudio | None]:
    """A segment's feature vector, for diarisation its voice embedding (None when not asked for) of the segment
    with ``line_noise`` gated out when given (the features always hear the segment as it is), and its audio
    (``ser.inference.quality``)."""
    audio = measure(signal, sr)
    if not embed:
        return extract(signal, sr, config), None, audio
    voice = signal if line_noise is None else gated(signal, sr, line_noise)
    return extract(signal, sr, config), voice_encoder.embedding(voice, sr), audio
