"""Who speaks when in a mono call: the segments' speaker embeddings clustered into the call's two voices.

Embeddings come from the pretrained speaker-verification voice encoder (``ser.features.voice_encoder.embedding``,
Resemblyzer's GE2E model). Segments are clustered by agglomerative clustering on cosine distance (average
linkage) into two speakers; when the two clusters are as alike as two stretches of one voice, the call has one
speaker. Speaker 0 is whoever speaks first. Error rates on synthetic two-speaker calls are in BENCHMARKS.md.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import AgglomerativeClustering

# Two clusters whose mean embeddings are at least this similar (cosine) are one voice. Chosen on calls built from
# the *training* speakers (benchmarks/diarisation.py --speakers train): the same speaker's segments score 0.80-0.95
# against each other, two different EmoDB speakers 0.45-0.75.
SAME_SPEAKER_SIMILARITY = 0.8


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / (np.linalg.norm(vectors, axis=-1, keepdims=True) + 1e-9)


def assign_speakers(embeddings: np.ndarray, durations: np.ndarray) -> list[int]:
    """Speaker number (0 or 1) of each segment, in order; 0 for the first segment's speaker.

    ``durations`` weight each segment in the clusters' mean embeddings (a long segment is a surer sample of its voice).
    """
    if len(embeddings) < 2:
        return [0] * len(embeddings)
    labels = AgglomerativeClustering(n_clusters=2, metric="cosine", linkage="average").fit_predict(embeddings)
    centroids = [_unit(np.average(embeddings[labels == k], axis=0, weights=durations[labels == k])) for k in (0, 1)]
    if float(centroids[0] @ centroids[1]) >= SAME_SPEAKER_SIMILARITY:
        return [0] * len(embeddings)
    first = labels[0]
    return [0 if label == first else 1 for label in labels]


Turn = tuple[float, float, int]  # start_s, end_s, speaker


def diarisation_error_rate(reference: list[Turn], hypothesis: list[Turn], collar_s: float = 0.25) -> float:
    """NIST-style diarisation error rate: (missed speech + false alarm + speaker confusion) / reference speech,
    on 10 ms frames, with hypothesis speakers mapped to reference speakers one-to-one to minimise the error and
    ``collar_s`` around every reference boundary not scored (the NIST default). Speakers do not overlap here."""
    step = 0.01
    end = max([e for _, e, _ in reference + hypothesis] + [0.0])
    frames = int(np.ceil(end / step)) + 1

    def labels(turns: list[Turn]) -> np.ndarray:
        track = np.full(frames, -1)
        for start, stop, speaker in turns:
            track[round(start / step) : round(stop / step)] = speaker
        return track

    truth, guess = labels(reference), labels(hypothesis)
    scored = np.ones(frames, dtype=bool)
    for start, stop, _ in reference:
        for boundary in (start, stop):
            scored[max(0, int((boundary - collar_s) / step)) : int((boundary + collar_s) / step) + 1] = False
    truth, guess = truth[scored], guess[scored]
    speech = int((truth >= 0).sum())
    if speech == 0:
        return 0.0
    missed = int(((truth >= 0) & (guess < 0)).sum())
    false_alarm = int(((truth < 0) & (guess >= 0)).sum())
    both = (truth >= 0) & (guess >= 0)
    refs, hyps = np.unique(truth[both]), np.unique(guess[both])
    agreement = np.array([[np.sum((truth[both] == r) & (guess[both] == h)) for h in hyps] for r in refs])
    rows, cols = linear_sum_assignment(-agreement) if agreement.size else ([], [])
    confusion = int(both.sum()) - int(agreement[rows, cols].sum() if agreement.size else 0)
    return (missed + false_alarm + confusion) / speech
