"""Who speaks when in a mono call: the segments' speaker embeddings clustered into the call's two voices.

Embeddings come from the pretrained speaker-verification voice encoder (``ser.features.voice_encoder.embedding``,
Resemblyzer's GE2E model), projected into the speaker space the pipeline learnt on the training speakers
(fitted by ``ser.models.voice_space``: whitened against how one voice varies across emotions and channels). Segments are
clustered into two speakers by k-means on the unit sphere, each weighted by its duration; speaker 0 is whoever
speaks first. A call is taken to have two voices: a monologue is split in two (telling one voice from two was not
reliable on EmoDB: the centroid similarities of one speaker's two clusters and of two speakers' overlap; see
BENCHMARKS.md). Diarisation error rates on synthetic two-speaker calls are in BENCHMARKS.md.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def project(embeddings_: np.ndarray, transform: np.ndarray | None) -> np.ndarray:
    """Embeddings in the speaker space, unit length (as they are when there is no transform)."""
    projected = embeddings_ if transform is None else embeddings_ @ transform
    return projected / (np.linalg.norm(projected, axis=-1, keepdims=True) + 1e-9)


def assign_speakers(embeddings: np.ndarray, durations: np.ndarray, voice_space: np.ndarray | None) -> list[int]:
    """Speaker number (0 or 1) of each segment, in order; 0 for the first segment's speaker."""
    if len(embeddings) < 2:
        return [0] * len(embeddings)
    # Imported here: scikit-learn's clustering package costs API workers memory for mono calls only.
    from sklearn.cluster import KMeans

    points = project(embeddings, voice_space)
    labels = KMeans(n_clusters=2, n_init=10, random_state=0).fit_predict(points, sample_weight=durations)
    return [0 if label == labels[0] else 1 for label in labels]


Turn = tuple[float, float, int]  # start_s, end_s, speaker


def diarisation_error_rate(reference: list[Turn], hypothesis: list[Turn], collar_s: float = 0.25) -> float:
    """NIST-style diarisation error rate: (missed speech + false alarm + speaker confusion) / reference speech,
    on 10 ms frames, with hypothesis speakers mapped to reference speakers one-to-one to minimise the error and
    ``collar_s`` around every reference boundary not scored (the NIST default). Where voices overlap, each frame
    counts max(reference speakers, hypothesis speakers) minus the mapped pairs that speak in it as errors, over the
    reference speakers in it (so one voice heard where two speak misses the other)."""
    step = 0.01
    end = max([e for _, e, _ in reference + hypothesis] + [0.0])
    frames = int(np.ceil(end / step)) + 1

    def activity(turns: list[Turn]) -> np.ndarray:  # speakers x frames: who speaks in each frame
        speakers = sorted({speaker for _, _, speaker in turns})
        track = np.zeros((len(speakers), frames), dtype=bool)
        for start, stop, speaker in turns:
            track[speakers.index(speaker), round(start / step) : round(stop / step)] = True
        return track

    truth, guess = activity(reference), activity(hypothesis)
    scored = np.ones(frames, dtype=bool)
    for start, stop, _ in reference:
        for boundary in (start, stop):
            scored[max(0, int((boundary - collar_s) / step)) : int((boundary + collar_s) / step) + 1] = False
    truth, guess = truth[:, scored], guess[:, scored]
    speech = int(truth.sum())
    if speech == 0:
        return 0.0
    agreement = truth.astype(np.int64) @ guess.T.astype(np.int64)  # frames each pair speaks together
    rows, cols = linear_sum_assignment(-agreement) if agreement.size else ([], [])
    correct = int(agreement[rows, cols].sum()) if agreement.size else 0
    return (int(np.maximum(truth.sum(axis=0), guess.sum(axis=0)).sum()) - correct) / speech
