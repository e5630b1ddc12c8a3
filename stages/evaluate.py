"""DVC stage: evaluate the model artifact on the held-out test speakers (the only reader of the test split)."""

from typing import Any

import numpy as np
import pandas as pd

from ser import stage
from ser.artifact import ModelArtifact
from ser.dataset import join
from ser.emodb import EMOTIONS
from ser.paths import (
    CONFUSION_FILE,
    FEATURES_FILE,
    METRICS_FILE,
    MODEL_DIR,
    PER_CLASS_FILE,
    SPEAKER_NORM_METRICS,
    SPEAKER_NORM_MODEL_DIR,
    TEST_MANIFEST,
    TIMING_FILE,
)
from ser.speaker_norm import VARIANT, standardise_per_speaker
from ser.split import assert_speaker_disjoint, read_manifest
from ser.training import evaluate


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


def main(params: dict[str, Any]) -> None:
    artifact = ModelArtifact.load(MODEL_DIR)
    test = read_manifest(TEST_MANIFEST)
    _check_disjoint(artifact, test)
    x, y, speakers = join(test, pd.read_parquet(FEATURES_FILE))
    metrics, timing, predictions = evaluate(artifact, x, y)
    metrics["test_speakers"] = sorted(set(test["speaker"]))
    stage.write_json(METRICS_FILE, metrics)
    stage.write_json(TIMING_FILE, timing)
    CONFUSION_FILE.parent.mkdir(parents=True, exist_ok=True)
    names = list(EMOTIONS.values())
    pd.DataFrame({"actual": [names[i] for i in y], "predicted": [names[i] for i in predictions]}).to_csv(
        CONFUSION_FILE, index=False
    )
    per_class = [{"emotion": name, "f1": values["f1"]} for name, values in metrics["per_class"].items()]
    pd.DataFrame(per_class).to_csv(PER_CLASS_FILE, index=False)
    stage.log.info("test accuracy %.3f, UAR %.3f on %d recordings", metrics["accuracy"], metrics["uar"], len(y))
    _evaluate_speaker_norm(test, x, y, speakers)


if __name__ == "__main__":
    stage.run(main)
