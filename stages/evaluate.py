"""DVC stage: evaluate the model artifact on the held-out test speakers (the only reader of the test split)."""

from typing import Any

import pandas as pd

from ser import stage
from ser.artifact import ModelArtifact
from ser.dataset import join
from ser.emodb import EMOTIONS
from ser.paths import CONFUSION_FILE, FEATURES_FILE, METRICS_FILE, MODEL_DIR, PER_CLASS_FILE, TEST_MANIFEST, TIMING_FILE
from ser.split import assert_speaker_disjoint, read_manifest
from ser.training import evaluate


def main(params: dict[str, Any]) -> None:
    artifact = ModelArtifact.load(MODEL_DIR)
    test = read_manifest(TEST_MANIFEST)
    train_speakers = pd.DataFrame({"speaker": artifact.metadata["train_speakers"], "id": ""})
    assert_speaker_disjoint(train_speakers, test)
    x, y, _ = join(test, pd.read_parquet(FEATURES_FILE))
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


if __name__ == "__main__":
    stage.run(main)
