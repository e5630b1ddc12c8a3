"""What call analysis computes per segment (in the threads or forked workers of one call's analysis), from the
feature code only (not the model, scikit-learn or pandas): for diarisation, the voice embeddings of its pieces
(``voice_pieces``); for the emotions, its features and its audio's noise, reverberation and band
(``segment_features``)."""

from __future__ import annotations

import numpy as np

from ser.features import voice_encoder
from ser.features.extractor import FeatureConfig, extract
from ser.inference.denoise import NoiseProfile, gated
from ser.inference.quality import SegmentAudio, measure
from ser.inference.turns import TurnSplit, pieces


def segment_features(signal: np.ndarray, sr: int, config: FeatureConfig) -> tuple[np.ndarray, SegmentAudio | None]:
    """A segment's feature vector and its audio (``ser.inference.quality``)."""
    return extract(signal, sr, config), measure(signal, sr)


def voice_pieces(
    signal: np.ndarray, sr: int, line_noise: NoiseProfile | None, turn_split: TurnSplit | None
) -> list[tuple[int, int, np.ndarray]]:
    """A segment's window in pieces (one unless ``turn_split`` cuts it where the voice may change,
    ``ser.inference.turns``), each with its sample range and the voice embedding of the piece with ``line_noise``
    gated out when given."""
    ranges = pieces(signal, sr, turn_split) if turn_split is not None else [(0, signal.size)]
    return [(start, end, _embedding(signal[start:end], sr, line_noise)) for start, end in ranges]


def _embedding(signal: np.ndarray, sr: int, line_noise: NoiseProfile | None) -> np.ndarray:
    return voice_encoder.embedding(signal if line_noise is None else gated(signal, sr, line_noise), sr)
