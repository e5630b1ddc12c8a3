"""Leave-one-speaker-out cross-validation of candidate models."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.metrics import accuracy_score, f1_score, make_scorer, precision_score, recall_score
from sklearn.model_selection import LeaveOneGroupOut
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


def _fit_and_score(
    spec: dict[str, Any], x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray
) -> tuple[dict[str, float], float]:
    """Fit ``spec`` on one fold's training rows; its scores on the held-out speaker and its fit time."""
    estimator = build_estimator(spec)
    started = time.perf_counter()
    estimator.fit(x[train], y[train])
    fit_seconds = time.perf_counter() - started
    return {name: float(scorer(estimator, x[test], y[test])) for name, scorer in SCORING.items()}, fit_seconds


def loso_scores(
    candidates: dict[str, dict[str, Any]],
    x: np.ndarray,
    y: np.ndarray,
    speakers: np.ndarray,
    seed: int,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """Mean and std over leave-one-speaker-out folds of each candidate's scores, plus its mean fit time.

    Scaling is part of each candidate's pipeline, so it is fitted inside every fold. All (candidate, fold) fits
    go to one worker pool, so no worker waits for another candidate's slowest fold; every fit is seeded, so the
    scores do not depend on ``n_jobs`` or on the order the fits run in.
    """
    if len(set(speakers)) < 2:
        raise ValueError("leave-one-speaker-out needs at least two speakers")
    specs = {}
    for name, spec in candidates.items():
        try:
            resolve_spec({"seed": seed, **spec}, strict=True)
        except ValueError as error:
            raise ValueError(f"CV candidate {name!r}: {error}") from None
        specs[name] = {"seed": seed, **spec}
    folds = list(LeaveOneGroupOut().split(x, y, groups=speakers))
    for train, test in folds:
        if set(speakers[train]) & set(speakers[test]):
            raise AssertionError("a LOSO fold shares speakers between training and validation")
    tasks = [(name, fold) for name in specs for fold in range(len(folds))]
    jobs = (delayed(_fit_and_score)(specs[name], x, y, *folds[fold]) for name, fold in tasks)
    runner = Parallel(n_jobs=n_jobs, return_as="generator")
    outcomes = list(tqdm(runner(jobs), total=len(tasks), desc="LOSO CV", unit="fit"))
    rows = []
    for name, spec in candidates.items():
        results = [outcome for (task_name, _), outcome in zip(tasks, outcomes, strict=True) if task_name == name]
        row: dict[str, Any] = {"candidate": name, "family": spec["family"]}
        for metric in SCORING:
            scores = np.array([fold_scores[metric] for fold_scores, _ in results])
            row[f"{metric}_mean"] = round(float(scores.mean()), 6)
            row[f"{metric}_std"] = round(float(scores.std()), 6)
        row["fit_seconds"] = round(float(np.mean([seconds for _, seconds in results])), 3)
        log.info("%s: UAR %.3f accuracy %.3f", name, row["uar_mean"], row["accuracy_mean"])
        rows.append(row)
    return pd.DataFrame(rows)


def best_candidate(results: pd.DataFrame, metric: str) -> str:
    """Name of the candidate with the highest mean ``metric`` (ties: the earlier candidate)."""
    if metric not in SELECTION_METRICS:
        raise ValueError(f"unknown selection metric {metric!r}; choose from {list(SELECTION_METRICS)}")
    return str(results.loc[results[f"{metric}_mean"].idxmax(), "candidate"])
