"""What call analysis computes per segment, in worker processes: its features and, for diarisation, its voice
embedding. A module of its own so that the workers import the feature code only (not the model, scikit-learn or
pandas): less memory per worker."""

from __future__ import annotations

from typing import Any

import numpy as np

from ser.features import voice_encoder
from ser.features.extractor import FeatureConfig, extract


def segment_outputs(signal: np.ndarray, sr: int, config: FeatureConfig, embed: bool) -> tuple[np.ndarray, Any]:
    """A segment's feature vector and, for diarisation, its voice embedding (None when not asked for)."""
    return extract(signal, sr, config), voice_encoder.embedding(signal, sr) if embed else None
