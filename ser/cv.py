"""Leave-one-speaker-out cross-validation of candidate models."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, make_scorer, precision_score, recall_score
from sklearn.model_selection import LeaveOneGroupOut, cross_validate
from tqdm import tqdm

from ser.metrics import SELECTION_METRICS
from ser.models import build_estimator, resolve_spec

log = logging.getLogger(__name__)

SCORING = {
    "accuracy": make_scorer(accuracy_score),
    "uar": make_scorer(recall_score, average="macro", zero_division=0),
    "macro_precision": make_scorer(precision_score, average="macro", zero_division=0),
    "macro_f1": make_scorer(f1_score, average="macro", zero_division=0),
}


def loso_scores(
    candidates: dict[str, dict[str, Any]],
    x: np.ndarray,
    y: np.ndarray,
    speakers: np.ndarray,
    seed: int,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """Mean and std over leave-one-speaker-out folds of each candidate's scores, plus its mean fit time.

    Scaling is part of each candidate's pipeline, so it is fitted inside every fold.
    """
    if len(set(speakers)) < 2:
        raise ValueError("leave-one-speaker-out needs at least two speakers")
    for name, spec in candidates.items():
        try:
            resolve_spec({"seed": seed, **spec}, strict=True)
        except ValueError as error:
            raise ValueError(f"CV candidate {name!r}: {error}") from None
    rows = []
    for name, spec in tqdm(candidates.items(), desc="LOSO CV", unit="candidate"):
        estimator = build_estimator({"seed": seed, **spec})
        result = cross_validate(
            estimator,
            x,
            y,
            groups=speakers,
            cv=LeaveOneGroupOut(),
            scoring=SCORING,
            n_jobs=n_jobs,
            error_score="raise",
        )
        row: dict[str, Any] = {"candidate": name, "family": spec["family"]}
        for metric in SCORING:
            scores = result[f"test_{metric}"]
            row[f"{metric}_mean"] = round(float(scores.mean()), 6)
            row[f"{metric}_std"] = round(float(scores.std()), 6)
        row["fit_seconds"] = round(float(result["fit_time"].mean()), 3)
        log.info("%s: UAR %.3f accuracy %.3f", name, row["uar_mean"], row["accuracy_mean"])
        rows.append(row)
    return pd.DataFrame(rows)


def best_candidate(results: pd.DataFrame, metric: str) -> str:
    """Name of the candidate with the highest mean ``metric`` (ties: the earlier candidate)."""
    if metric not in SELECTION_METRICS:
        raise ValueError(f"unknown selection metric {metric!r}; choose from {list(SELECTION_METRICS)}")
    return str(results.loc[results[f"{metric}_mean"].idxmax(), "candidate"])
