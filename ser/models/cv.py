"""Leave-one-speaker-out cross-validation of candidate models."""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score
from sklearn.model_selection import LeaveOneGroupOut
from sklearn.pipeline import Pipeline
from tqdm import tqdm

from ser.audio.channels import CLEAN
from ser.errors import DataMissing, ParamsError
from ser.models.families import build_estimator, resolve_spec
from ser.models.metrics import SELECTION_METRICS

log = logging.getLogger(__name__)

# Each metric from one fold's predictions (the same functions and arguments as scikit-learn's scorers).
METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "accuracy": accuracy_score,
    "uar": partial(recall_score, average="macro", zero_division=0),
    "macro_precision": partial(precision_score, average="macro", zero_division=0),
    "macro_f1": partial(f1_score, average="macro", zero_division=0),
}

# Families whose model of n parts is exactly the first n parts of a larger one fitted with the same spec and seed
# (a random forest draws its trees' seeds in order; boosting adds trees in order; an MLP seed ensemble draws its
# members' seeds in order): candidates that differ only in that count share one fit of the largest and are scored
# on its prefixes (tested to give the same predictions). The parameter that counts the parts, per family:
NESTED_FAMILIES = {"rf": "n_estimators", "xgb": "n_estimators", "mlp": "members"}


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


def fit_groups(specs: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Candidates that one fit scores: those of a nested family that differ only in n_estimators, else one each."""
    groups: dict[str, list[str]] = {}
    for name, spec in specs.items():
        resolved = resolve_spec(spec, strict=True)
        if resolved["family"] in NESTED_FAMILIES:
            count = NESTED_FAMILIES[resolved["family"]]
            key = json.dumps({k: v for k, v in resolved.items() if k != count}, sort_keys=True)
        else:
            key = f"single:{name}"
        groups.setdefault(key, []).append(name)
    return list(groups.values())


def _parts(spec: dict[str, Any]) -> int:
    """How many trees or member networks a candidate of a nested family has."""
    resolved = resolve_spec(spec, strict=True)
    return int(resolved[NESTED_FAMILIES[resolved["family"]]])


def _predictor(estimator: Pipeline, family: str, n_parts: int) -> Callable[[np.ndarray], np.ndarray]:
    """Predictions of the fitted ``estimator`` cut to its first ``n_parts`` trees or networks (nested families)."""
    scale, ensemble = estimator[:-1], estimator[-1]
    if family == "xgb":
        return lambda x: ensemble.predict(scale.transform(x), iteration_range=(0, n_parts))
    prefix = copy.copy(ensemble)
    if family == "rf":
        prefix.estimators_, prefix.n_estimators = ensemble.estimators_[:n_parts], n_parts
    else:
        prefix.networks_, prefix.members = ensemble.networks_[:n_parts], n_parts
    return lambda x: prefix.predict(scale.transform(x))


def _fit_and_score(
    group: dict[str, dict[str, Any]], data: ConditionedData, train: np.ndarray, test: np.ndarray
) -> dict[str, tuple[dict[str, dict[str, float]], float]]:
    """Fit one fold for a group of candidates; each candidate's scores on the held-out speaker per condition.

    A group of more than one candidate (see ``fit_groups``) is fitted once with the most trees (or member
    networks); each candidate is scored on that fit's first n, and reports the shared fit's time.
    """
    largest = max(group, key=lambda name: _parts(group[name])) if len(group) > 1 else next(iter(group))
    estimator = build_estimator(group[largest])
    x, y = data.training_rows(train)
    started = time.perf_counter()
    estimator.fit(x, y)
    fit_seconds = time.perf_counter() - started
    outcome = {}
    for name, spec in group.items():
        predict = estimator.predict if len(group) == 1 else _predictor(estimator, spec["family"], _parts(spec))
        scores = {}
        for condition in data.score_conditions:
            truth, predicted = data.y[test], predict(data.x[condition][test])
            scores[condition] = {metric: float(score(truth, predicted)) for metric, score in METRICS.items()}
        outcome[name] = (scores, fit_seconds)
    return outcome


def loso_scores(
    candidates: dict[str, dict[str, Any]], data: ConditionedData, seed: int, n_jobs: int = 1
) -> pd.DataFrame:
    """Each candidate's leave-one-speaker-out scores: per condition, and over all conditions, plus fit time.

    ``<metric>_mean`` / ``_std`` are over folds of the metric averaged over the score conditions (the selection
    figure); ``<metric>_<condition>`` are per condition, mean over folds. Scaling is part of each candidate's
    pipeline, so it is fitted inside every fold. All (candidate group, fold) fits go to one worker pool; every fit
    is seeded, so the scores do not depend on ``n_jobs`` or on the order the fits run in. ``fit_seconds`` is the
    mean time of the fits a candidate was scored on (shared within a ``fit_groups`` group).
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
    groups = fit_groups(specs)
    tasks = [(group, fold) for group in groups for fold in range(len(folds))]
    jobs = (delayed(_fit_and_score)({n: specs[n] for n in group}, data, *folds[fold]) for group, fold in tasks)
    runner = Parallel(n_jobs=n_jobs, return_as="generator")
    outcomes = list(tqdm(runner(jobs), total=len(tasks), desc="LOSO CV", unit="fit"))
    per_candidate: dict[str, list[tuple[dict[str, dict[str, float]], float]]] = {name: [] for name in specs}
    for outcome in outcomes:  # in task order: group by group, fold by fold
        for name, result in outcome.items():
            per_candidate[name].append(result)
    rows = []
    for name, spec in candidates.items():
        results = per_candidate[name]
        row: dict[str, Any] = {"candidate": name, "family": spec["family"]}
        for metric in METRICS:
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
