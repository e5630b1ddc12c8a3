"""DVC stage: evaluate the model artifact on the held-out test speakers (the only reader of the test split)."""

from typing import Any

import numpy as np
import pandas as pd

from ser.audio.channels import CLEAN
from ser.data.emodb import EMOTIONS
from ser.data.split import assert_speaker_disjoint, read_manifest
from ser.models.artifact import ModelArtifact
from ser.models.conditioned import condition_features, join
from ser.models.plots import CONFUSION_PLOT, plot_conditions, plot_confusion, plot_per_class
from ser.models.speaker_norm import VARIANT, standardise_per_speaker
from ser.models.training import evaluate
from ser.pipeline import stage
from ser.pipeline.paths import (
    CONDITIONS_CONFUSION,
    CONDITIONS_METRICS,
    METRICS_FILE,
    MODEL_DIR,
    SPEAKER_NORM_METRICS,
    SPEAKER_NORM_MODEL_DIR,
    TEST_MANIFEST,
    TIMING_FILE,
)


def _check_disjoint(artifact: ModelArtifact, test: pd.DataFrame) -> None:
    train_speakers = pd.DataFrame({"speaker": artifact.metadata["train_speakers"], "id": ""})
    assert_speaker_disjoint(train_speakers, test)


def _evaluate_speaker_norm(test: pd.DataFrame, x: np.ndarray, y: np.ndarray, speakers: np.ndarray) -> None:
    """The labelled variant: each test speaker standardised with its own (unlabelled) recordings."""
    artifact = ModelArtifact.load(SPEAKER_NORM_MODEL_DIR, variant=VARIANT)
    _check_disjoint(artifact, test)
    normalised = standardise_per_speaker(x, speakers, int(artifact.metadata["min_recordings"]))
    metrics, _, _ = evaluate(artifact, normalised, y)
    metrics.update(variant=VARIANT, test_speakers=sorted(set(test["speaker"])))
    stage.write_json(SPEAKER_NORM_METRICS, metrics)
    stage.log.info("speaker-normalised variant: accuracy %.3f, UAR %.3f", metrics["accuracy"], metrics["uar"])


def _evaluate_conditions(artifact: ModelArtifact, test: pd.DataFrame, conditions: list[str]) -> None:
    """Accuracy and UAR of the test speakers' recordings through each evaluation condition."""
    scores, confusions = {}, {}
    for name in (CLEAN, *conditions):
        x, y, _ = join(test, condition_features(name))
        metrics, _, predictions = evaluate(artifact, x, y, timing_repeats=0)
        confusion = np.zeros((len(EMOTIONS), len(EMOTIONS)), dtype=int)
        np.add.at(confusion, (y, predictions), 1)
        scores[name] = {"accuracy": metrics["accuracy"], "uar": metrics["uar"]}
        confusions[name] = confusion.tolist()
        stage.log.info("%-14s accuracy %.3f, UAR %.3f", name, metrics["accuracy"], metrics["uar"])
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
    stage.write_json(CONDITIONS_METRICS, summary)
    # Confusion counts per condition (rows: actual label, columns: predicted) let benchmarks pool several splits.
    stage.write_json(CONDITIONS_CONFUSION, {"labels": list(EMOTIONS.values()), "confusion": confusions})
    plot_conditions(scores)


def main(params: dict[str, Any]) -> None:
    artifact = ModelArtifact.load(MODEL_DIR)
    test = read_manifest(TEST_MANIFEST)
    _check_disjoint(artifact, test)
    x, y, speakers = join(test, condition_features(CLEAN))
    metrics, timing, predictions = evaluate(artifact, x, y)
    metrics["test_speakers"] = sorted(set(test["speaker"]))
    stage.write_json(METRICS_FILE, metrics)
    stage.write_json(TIMING_FILE, timing)
    names = list(EMOTIONS.values())
    plot_confusion([names[i] for i in y], [names[i] for i in predictions], names, CONFUSION_PLOT)
    plot_per_class({name: values["f1"] for name, values in metrics["per_class"].items()})
    stage.log.info("test accuracy %.3f, UAR %.3f on %d recordings", metrics["accuracy"], metrics["uar"], len(y))
    _evaluate_conditions(artifact, test, list(params["channels"].get("eval") or []))
    _evaluate_speaker_norm(test, x, y, speakers)


if __name__ == "__main__":
    stage.run(main)
