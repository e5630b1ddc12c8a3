"""Fit the final model and evaluate it."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from ser.features.extractor import FeatureConfig
from ser.models.artifact import ModelArtifact
from ser.models.families import build_estimator, resolve_spec
from ser.models.metrics import classification_metrics

log = logging.getLogger(__name__)


def choose_spec(model_params: dict[str, Any], cv_summary: dict[str, Any]) -> dict[str, Any]:
    """The spec to train: ``model:`` params, or the CV winner's spec when ``model.family`` is ``auto``."""
    seed = int(model_params.get("seed", 0))
    if model_params.get("family") == "auto":
        winner = cv_summary["best_spec"]
        log.info("model.family is auto: training CV winner %s", cv_summary["best_candidate"])
        return resolve_spec({**winner, "seed": seed}, strict=True)
    spec = resolve_spec(model_params, strict=False)
    unused = sorted(set(model_params) - set(spec))
    if unused:
        log.info("model.family is %s: it does not use model.%s", spec["family"], ", model.".join(unused))
    return spec


def train(
    spec: dict[str, Any],
    feature_config: FeatureConfig,
    x: np.ndarray,
    y: np.ndarray,
    params: dict[str, Any],
    workers: int = 1,
) -> ModelArtifact:
    """Fit ``spec`` on all training rows and wrap it as an artifact with training figures.

    ``workers`` processes train an MLP's member networks side by side; the model is the same whatever their number.
    """
    estimator = build_estimator(spec)
    started = time.perf_counter()
    estimator.fit(x, y, **({"classify__n_jobs": workers} if spec["family"] == "mlp" else {}))
    seconds = time.perf_counter() - started
    train_accuracy = float(np.mean(estimator.predict(x) == y))
    log.info("trained %s in %.2f s, train accuracy %.3f", spec["family"], seconds, train_accuracy)
    metadata = {
        "spec": spec,
        "params": params,
        "n_train": len(y),
        "train_accuracy": round(train_accuracy, 6),
        "train_seconds": round(seconds, 3),
    }
    return ModelArtifact(estimator, feature_config, metadata)


def evaluate(
    artifact: ModelArtifact, x: np.ndarray, y: np.ndarray, timing_repeats: int = 5
) -> tuple[dict[str, Any], dict[str, float], np.ndarray]:
    """Quality metrics, timing figures and predictions of ``artifact`` on (x, y).

    Timing (inference samples/s, best of ``timing_repeats``) is kept apart from the deterministic metrics.
    """
    predictions = np.argmax(artifact.predict_proba(x), axis=1)
    metrics = classification_metrics(y, predictions)
    metrics["train_accuracy"] = artifact.metadata["train_accuracy"]
    metrics["model_version"] = artifact.version
    best = float("inf")
    for _ in range(timing_repeats):
        started = time.perf_counter()
        artifact.predict_proba(x)
        best = min(best, time.perf_counter() - started)
    timing = {
        "train_seconds": artifact.metadata["train_seconds"],
        "inference_samples_per_s": round(len(x) / max(best, 1e-9), 1),
    }
    return metrics, timing, predictions
