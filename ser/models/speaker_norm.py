"""The per-speaker normalisation variant: a labelled second model, never the headline figures.

Each speaker's features are standardised with that speaker's own mean and standard deviation over all of its
recordings (no labels). This removes much of what makes voices differ, but it needs many recordings of the same
speaker with a mix of emotions before a prediction can be made: it fits a call centre's caller history, not a
single upload. The headline model (``models/model``) predicts from one utterance alone; this variant
(``models/speaker_norm``) is trained and measured beside it, with its own metrics under ``reports/speaker_norm/``.

Because the statistics of a speaker come from that speaker alone, standardising the whole training table once is
the same as standardising inside every leave-one-speaker-out fold: no fold sees another speaker's statistics.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from ser.errors import ParamsError
from ser.models.cv import CLEAN, ConditionedData, loso_scores

log = logging.getLogger(__name__)

VARIANT = "speaker_norm"


def standardise_per_speaker(x: np.ndarray, speakers: np.ndarray, min_recordings: int) -> np.ndarray:
    """``x`` with every column standardised within each speaker (a constant column becomes 0).

    Raises ``ValueError`` when a speaker has fewer than ``min_recordings`` rows: its statistics would be noise.
    """
    if len(x) != len(speakers):
        raise ValueError(f"{len(x)} feature rows but {len(speakers)} speaker ids")
    out = np.empty(x.shape, dtype=np.float32)
    for speaker in np.unique(speakers):
        rows = speakers == speaker
        count = int(rows.sum())
        if count < min_recordings:
            raise ParamsError(
                f"speaker {speaker} has {count} recordings; per-speaker normalisation needs at least {min_recordings}"
            )
        block = x[rows].astype(np.float64)
        std = block.std(axis=0)
        out[rows] = (block - block.mean(axis=0)) / np.where(std > 1e-12, std, 1.0)
    return out


def loso_summary(
    spec: dict[str, Any], normalised: np.ndarray, y: np.ndarray, speakers: np.ndarray, n_jobs: int
) -> dict[str, Any]:
    """Leave-one-speaker-out scores (mean and std over folds) of ``spec`` on features already standardised per
    speaker (``standardise_per_speaker``)."""
    candidate = {k: v for k, v in spec.items() if k != "seed"}
    data = ConditionedData({CLEAN: normalised}, y, speakers)
    results: pd.DataFrame = loso_scores({VARIANT: candidate}, data, seed=int(spec["seed"]), n_jobs=n_jobs)
    row = results.iloc[0]
    summary: dict[str, Any] = {"variant": VARIANT, "spec": spec, "speakers": sorted(set(speakers))}
    summary.update({name: float(row[name]) for name in results.columns if name.endswith(("_mean", "_std"))})
    log.info("speaker-normalised LOSO CV: UAR %.3f, accuracy %.3f", row["uar_mean"], row["accuracy_mean"])
    return summary
