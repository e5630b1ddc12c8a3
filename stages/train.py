"""DVC stage: fit the final model on all training speakers, clean and through ``channels.train``, and write it."""

import json
from typing import Any

from ser.audio.channels import CLEAN
from ser.data.split import read_manifest
from ser.features.extractor import FeatureConfig
from ser.models.conditioned import conditioned_data
from ser.models.training import choose_spec, train
from ser.pipeline import stage
from ser.pipeline.paths import CV_SUMMARY, MODEL_DIR, TRAIN_MANIFEST, VOICE_SPACE_FILE


def main(params: dict[str, Any]) -> None:
    manifest = read_manifest(TRAIN_MANIFEST)
    train_conditions = (CLEAN, *(params["channels"].get("train") or []))
    x, y = conditioned_data(manifest, train_conditions, (CLEAN,)).training_rows()
    spec = choose_spec(params["model"], json.loads(CV_SUMMARY.read_text()))
    used = {
        "model": params["model"],
        "features": params["features"],
        "split": params["split"],
        "channels": {"train": list(train_conditions[1:])},
    }
    workers = int(params["resources"]["workers"])
    artifact = train(spec, FeatureConfig.from_params(params["features"]), x, y, used, workers)
    artifact.metadata["train_speakers"] = sorted(set(manifest["speaker"]))
    artifact.metadata["train_conditions"] = list(train_conditions)
    artifact.voice_space = stage.read_npy(VOICE_SPACE_FILE)
    artifact.save(MODEL_DIR)


if __name__ == "__main__":
    stage.run(main)
