"""Leave-one-speaker-out cross-validation of candidate models."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.metrics import accuracy_score, f1_score, make_scorer, precision_score, recall_score
from sklearn.model_selection import LeaveOneGroupOut
from tqdm import tqdm

from ser.audio.channels import CLEAN
from ser.errors import DataMissing, ParamsError
from ser.models.families import build_estimator, resolve_spec
from ser.models.metrics import SELECTION_METRICS

log = logging.getLogger(__name__)

SCORING = {
    "accuracy": make_scorer(accuracy_score),
    "uar": make_scorer(recall_score, average="macro", zero_division=0),
    "macro_precision": make_scorer(precision_score, average="macro", zero_division=0),
    "macro_f1": make_scorer(f1_score, average="macro", zero_division=0),
}


@dataclass(frozen=True)
class ConditionedData:
    """Feature rows of the same recordings, clean and through channel conditions, with labels and speakers.

    ``x[name]`` holds one row per recording in the order of ``y`` and ``speakers``. Models learn from the copies
    in ``train_conditions`` and a held-out speaker is scored on each of ``score_conditions``; every copy stays
    with its recording's speaker, so no copy of a held-out speaker is ever in a training fold.
    """

    x: dict[str, np.ndarray]
    y: np.ndarray
    speakers: np.ndarray
    train_conditions: tuple[str, ...] = (CLEAN,)
    score_conditions: tuple[str, ...] = (CLEAN,)

    def __post_init__(self) -> None:
        missing = sorted({*self.train_conditions, *self.score_conditions} - set(self.x))
        if missing:
            raise DataMissing(f"no features for conditions {missing}")
        if any(len(rows) != len(self.y) for rows in self.x.values()):
            raise ValueError("every condition needs one row per recording")

    def training_rows(self, rows: np.ndarray | slice = slice(None)) -> tuple[np.ndarray, np.ndarray]:
        """The training copies of ``rows``, stacked condition after condition, and their labels."""
        x = np.vstack([self.x[name][rows] for name in self.train_conditions])
        return x, np.tile(self.y[rows], len(self.train_conditions))


def _fit_and_score(
    spec: dict[str, Any], data: ConditionedData, train: np.ndarray, test: np.ndarray
) -> tuple[dict[str, dict[str, float]], float]:
    """Fit ``spec`` on one fold's training copies; its scores on the held-out speaker per condition, fit time."""
    estimator = build_estimator(spec)
    x, y = data.training_rows(train)
    started = time.perf_counter()
    estimator.fit(x, y)
    fit_seconds = time.perf_counter() - started
    scores = {
        condition: {
            name: float(scorer(estimator, data.x[condition][test], data.y[test])) for name, scorer in SCORING.items()
        }
        for condition in data.score_conditions
    }
    return scores, fit_seconds


def loso_scores(
    candidates: dict[str, dict[str, Any]], data: ConditionedData, seed: int, n_jobs: int = 1
) -> pd.DataFrame:
    """Each candidate's leave-one-speaker-out scores: per condition, and over all conditions, plus fit time.

    ``<metric>_mean`` / ``_std`` are over folds of the metric averaged over the score conditions (the selection
    figure); ``<metric>_<condition>`` are per condition, mean over folds. Scaling is part of each candidate's
    pipeline, so it is fitted inside every fold. All (candidate, fold) fits go to one worker pool; every fit is
    seeded, so the scores do not depend on ``n_jobs`` or on the order the fits run in.
    """
    speakers = data.speakers
    if len(set(speakers)) < 2:
        raise ParamsError("leave-one-speaker-out needs at least two speakers")
    specs = {}
    for name, spec in candidates.items():
        try:
            resolve_spec({"seed": seed, **spec}, strict=True)
        except ValueError as error:
            raise ParamsError(f"CV candidate {name!r}: {error}") from None
        specs[name] = {"seed": seed, **spec}
    folds = list(LeaveOneGroupOut().split(data.y, data.y, groups=speakers))
    for train, test in folds:
        if set(speakers[train]) & set(speakers[test]):
            raise AssertionError("a LOSO fold shares speakers between training and validation")
    tasks = [(name, fold) for name in specs for fold in range(len(folds))]
    jobs = (delayed(_fit_and_score)(specs[name], data, *folds[fold]) for name, fold in tasks)
    runner = Parallel(n_jobs=n_jobs, return_as="generator")
    outcomes = list(tqdm(runner(jobs), total=len(tasks), desc="LOSO CV", unit="fit"))
    rows = []
    for name, spec in candidates.items():
        results = [outcome for (task_name, _), outcome in zip(tasks, outcomes, strict=True) if task_name == name]
        row: dict[str, Any] = {"candidate": name, "family": spec["family"]}
        for metric in SCORING:
            per_fold = np.array([[s[c][metric] for c in data.score_conditions] for s, _ in results])
            row[f"{metric}_mean"] = round(float(per_fold.mean()), 6)
            row[f"{metric}_std"] = round(float(per_fold.mean(axis=1).std()), 6)
            if metric in ("accuracy", "uar"):
                for index, condition in enumerate(data.score_conditions):
                    row[f"{metric}_{condition}"] = round(float(per_fold[:, index].mean()), 6)
        row["fit_seconds"] = round(float(np.mean([seconds for _, seconds in results])), 3)
        log.info("%s: UAR %.3f over conditions, %.3f clean", name, row["uar_mean"], row.get("uar_clean", np.nan))
        rows.append(row)
    return pd.DataFrame(rows)


def best_candidate(results: pd.DataFrame, metric: str) -> str:
    """Name of the candidate with the highest mean ``metric`` (ties: the earlier candidate)."""
    if metric not in SELECTION_METRICS:
        raise ParamsError(f"unknown selection metric {metric!r}; choose from {list(SELECTION_METRICS)}")
    return str(results.loc[results[f"{metric}_mean"].idxmax(), "candidate"])
