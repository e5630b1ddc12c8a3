"""The evaluate stage's figures: the test speakers on clean audio, through each evaluation condition, and the
labelled speaker-normalised variant. Only ``stages/evaluate.py`` calls these (the only reader of the test split)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ser.audio.channels import CLEAN
from ser.data.emodb import EMOTIONS
from ser.data.split import assert_speaker_disjoint
from ser.models.artifact import ModelArtifact
from ser.models.conditioned import condition_features, join
from ser.models.speaker_norm import VARIANT, standardise_per_speaker
from ser.models.training import evaluate


def check_disjoint(artifact: ModelArtifact, test: pd.DataFrame) -> None:
    """Refuse a model that was trained on any of the test speakers."""
    train_speakers = pd.DataFrame({"speaker": artifact.metadata["train_speakers"], "id": ""})
    assert_speaker_disjoint(train_speakers, test)


def clean_test_set(test: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels and speakers of the test recordings as they are."""
    return join(test, condition_features(CLEAN))


def speaker_norm_metrics(artifact: ModelArtifact, test: pd.DataFrame) -> dict[str, Any]:
    """The labelled variant: each test speaker standardised with its own (unlabelled) recordings."""
    check_disjoint(artifact, test)
    x, y, speakers = clean_test_set(test)
    normalised = standardise_per_speaker(x, speakers, int(artifact.metadata["min_recordings"]))
    metrics, _, _ = evaluate(artifact, normalised, y)
    metrics.update(variant=VARIANT, test_speakers=sorted(set(test["speaker"])))
    return metrics


def condition_metrics(
    artifact: ModelArtifact, test: pd.DataFrame, conditions: list[str]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, dict[str, float]]]:
    """Accuracy and UAR of the test recordings clean and through each condition: the summary for
    ``reports/conditions.json``, confusion counts per condition (rows actual, columns predicted; benchmarks pool
    them over several splits) and the scores per condition."""
    scores, confusions = {}, {}
    for name in (CLEAN, *conditions):
        x, y, _ = join(test, condition_features(name))
        metrics, _, predictions = evaluate(artifact, x, y, timing_repeats=0)
        confusion = np.zeros((len(EMOTIONS), len(EMOTIONS)), dtype=int)
        np.add.at(confusion, (y, predictions), 1)
        scores[name] = {"accuracy": metrics["accuracy"], "uar": metrics["uar"]}
        confusions[name] = confusion.tolist()
    channel_scores = [scores[name] for name in conditions] or [scores[CLEAN]]
    summary = {
        "conditions": scores,
        "all_conditions": {
            metric: {
                "mean": round(float(np.mean([s[metric] for s in scores.values()])), 6),
                "min": round(float(min(s[metric] for s in scores.values())), 6),
            }
            for metric in ("accuracy", "uar")
        },
        "channel_conditions_mean_accuracy": round(float(np.mean([s["accuracy"] for s in channel_scores])), 6),
    }
    return summary, {"labels": list(EMOTIONS.values()), "confusion": confusions}, scores
