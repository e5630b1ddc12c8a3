"""DVC stage: evaluate the model artifact on the held-out test speakers (the only reader of the test split)."""

from typing import Any

from ser.data.emodb import EMOTIONS
from ser.data.split import read_manifest
from ser.models.artifact import ModelArtifact
from ser.models.evaluation import check_disjoint, clean_test_set, condition_metrics, speaker_norm_metrics
from ser.models.plots import CONFUSION_PLOT, plot_conditions, plot_confusion, plot_per_class
from ser.models.speaker_norm import VARIANT
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


def main(params: dict[str, Any]) -> None:
    artifact = ModelArtifact.load(MODEL_DIR)
    test = read_manifest(TEST_MANIFEST)
    check_disjoint(artifact, test)
    x, y, _ = clean_test_set(test)
    metrics, timing, predictions = evaluate(artifact, x, y)
    metrics["test_speakers"] = sorted(set(test["speaker"]))
    stage.write_json(METRICS_FILE, metrics)
    stage.write_json(TIMING_FILE, timing)
    names = list(EMOTIONS.values())
    plot_confusion([names[i] for i in y], [names[i] for i in predictions], names, CONFUSION_PLOT)
    plot_per_class({name: values["f1"] for name, values in metrics["per_class"].items()})
    stage.log.info("test accuracy %.3f, UAR %.3f on %d recordings", metrics["accuracy"], metrics["uar"], len(y))

    summary, confusions, scores = condition_metrics(artifact, test, list(params["channels"].get("eval") or []))
    for name, score in scores.items():
        stage.log.info("%-14s accuracy %.3f, UAR %.3f", name, score["accuracy"], score["uar"])
    stage.write_json(CONDITIONS_METRICS, summary)
    stage.write_json(CONDITIONS_CONFUSION, confusions)
    plot_conditions(scores)

    variant = speaker_norm_metrics(ModelArtifact.load(SPEAKER_NORM_MODEL_DIR, variant=VARIANT), test)
    stage.write_json(SPEAKER_NORM_METRICS, variant)
    stage.log.info("speaker-normalised variant: accuracy %.3f, UAR %.3f", variant["accuracy"], variant["uar"])


if __name__ == "__main__":
    stage.run(main)
