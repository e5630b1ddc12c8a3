"""What call analysis computes per segment (in the threads or forked workers of one call's analysis), from the
feature code only (not the model, scikit-learn or pandas): for diarisation, the voice embeddings of its pieces
(``voice_pieces``); for the emotions, its features and its audio's noise, reverberation and band
(``segment_features``)."""

from __future__ import annotations

import numpy as np

from ser.features import voice_encoder
from ser.features.extractor import FeatureConfig, extract
from ser.inference.denoise import NoiseProfile, gated
from ser.inference.quality import SegmentAudio, measure, reverberant
from ser.inference.turns import TurnSplit, pieces
from ser.inference.voice_changes import VoiceChange, window_ranges


def segment_features(signal: np.ndarray, sr: int, config: FeatureConfig) -> tuple[np.ndarray, SegmentAudio | None]:
    """A segment's feature vector and its audio (``ser.inference.quality``)."""
    return extract(signal, sr, config), measure(signal, sr)


def voice_pieces(
    signal: np.ndarray,
    sr: int,
    line_noise: NoiseProfile | None,
    turn_split: TurnSplit | None,
    change: VoiceChange | None = None,
) -> list[tuple[int, int, np.ndarray, np.ndarray]]:
    """A segment's window in pieces (one unless ``turn_split`` cuts it where the voice may change,
    ``ser.inference.turns``), each with its sample range, the voice embedding of the piece with ``line_noise``
    gated out when given, and the embeddings of its windows (``ser.inference.voice_changes``; none without
    ``change``, in a short piece, or in a reverberant one, whose windows' voices are not reliable)."""
    ranges = pieces(signal, sr, turn_split) if turn_split is not None else [(0, signal.size)]
    result = []
    for start, end in ranges:
        heard = signal[start:end] if line_noise is None else gated(signal[start:end], sr, line_noise)
        windows = window_ranges(end - start, sr, change) if change is not None else []
        if windows and reverberant(signal[start:end], sr):  # a room's voice flips between windows (LOG, session 39)
            windows = []
        embedded = [voice_encoder.embedding(heard[first:last], sr) for first, last in windows]
        stacked = np.array(embedded).reshape(len(windows), voice_encoder.HIDDEN)
        result.append((start, end, voice_encoder.embedding(heard, sr), stacked))
    return result
