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
from ser.inference.turns import TurnSplit, pieces

Piece = tuple[int, int, np.ndarray | None, Any, SegmentAudio | None]  # samples, features, embedding, audio


def segment_outputs(
    signal: np.ndarray,
    sr: int,
    config: FeatureConfig,
    embed: bool,
    line_noise: NoiseProfile | None = None,
    turn_split: TurnSplit | None = None,
    classify: bool = True,
) -> list[Piece]:
    """A segment's window in pieces (one unless ``turn_split`` cuts it where the voice may change,
    ``ser.inference.turns``), each with its sample range, feature vector and audio (``ser.inference.quality``; both
    None unless ``classify``) and, for diarisation, its voice embedding (None when not asked for) of the piece with
    ``line_noise`` gated out when given (the features always hear it as it is)."""
    ranges = pieces(signal, sr, turn_split) if turn_split is not None else [(0, signal.size)]
    return [
        (start, end, *_piece_outputs(signal[start:end], sr, config, embed, line_noise, classify))
        for start, end in ranges
    ]


def _piece_outputs(
    signal: np.ndarray, sr: int, config: FeatureConfig, embed: bool, line_noise: NoiseProfile | None, classify: bool
) -> tuple[np.ndarray | None, Any, SegmentAudio | None]:
    vector, audio = (extract(signal, sr, config), measure(signal, sr)) if classify else (None, None)
    if not embed:
        return vector, None, audio
    voice = signal if line_noise is None else gated(signal, sr, line_noise)
    return vector, voice_encoder.embedding(voice, sr), audio
