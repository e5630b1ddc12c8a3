"""Where the voice changes inside a piece of a mono call that has no quiet gap to cut: two people talking at once.

``ser.inference.turns`` cuts a segment where it falls quiet, but a caller who interrupts starts before the other
voice stops, and the two utterances become one piece that k-means gives a single voice. So each piece at least
``2 * window_s`` long is also heard in windows of ``window_s`` every half window (voice embeddings, like the
piece's), once the call's two voices are known (the k-means centroids in the speaker space): where at least
``min_windows`` windows in a row sit nearer the other voice's centroid than the piece's own, the piece is cut
between the two runs, half-way between the middles of the last window of one and the first of the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class VoiceChange:
    window_s: float  # each window's length (the voice encoder's partial utterances are 1.6 s)
    min_windows: int  # windows in a row nearer the other voice before a change is believed


def window_ranges(n_samples: int, sr: int, change: VoiceChange) -> list[tuple[int, int]]:
    """Sample ranges of the windows of a piece of ``n_samples`` (none for a piece under two windows)."""
    window = round(change.window_s * sr)
    if n_samples < 2 * window:
        return []
    step = window // 2
    return [(start, start + window) for start in range(0, n_samples - window + 1, step)]


def centroids(points: np.ndarray, labels: list[int], weights: np.ndarray) -> np.ndarray:
    """Unit-length weighted mean of each voice's points (voices 0 and 1; rows of zeros for a voice with none)."""
    means = np.zeros((2, points.shape[1]))
    for voice in (0, 1):
        chosen = np.asarray(labels) == voice
        if chosen.any():
            mean = weights[chosen] @ points[chosen]
            means[voice] = mean / (np.linalg.norm(mean) + 1e-9)
    return means


def runs(window_points: np.ndarray, voice: int, voices: np.ndarray, min_windows: int) -> list[tuple[int, int]]:
    """A piece given ``voice`` as runs (first window, voice) of its windows: a new run starts where at least
    ``min_windows`` windows in a row are nearer the other voice's centroid (``voices``: both centroids) than the
    current one's. One run when nothing changes (the other voice's alone when every window is nearer it: the caller
    keeps the piece's own voice then, as only a change inside a piece is looked for)."""
    nearer = np.argmax(window_points @ voices.T, axis=1)
    result = [(0, voice)]
    index = 0
    while index < len(nearer):
        current = result[-1][1]
        if nearer[index] == current:
            index += 1
            continue
        length = 1
        while index + length < len(nearer) and nearer[index + length] != current:
            length += 1
        if length >= min_windows:
            result = [(0, 1 - current)] if index == 0 else [*result, (index, 1 - current)]
        index += length
    return result


def cuts(ranges: list[tuple[int, int]], piece_runs: list[tuple[int, int]]) -> list[int]:
    """Sample offsets (within the piece) where its voice changes: between the middles of the last window of each
    run and the first window of the next."""
    middles = [(start + end) / 2 for start, end in ranges]
    return [round((middles[first - 1] + middles[first]) / 2) for first, _ in piece_runs[1:]]
