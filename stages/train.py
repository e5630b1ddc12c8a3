"""DVC stage: fit the final model on all training speakers and write the model artifact."""

import json
from typing import Any

import pandas as pd

from ser import stage
from ser.dataset import join
from ser.features import FeatureConfig
from ser.paths import CV_SUMMARY, FEATURES_FILE, MODEL_DIR, TRAIN_MANIFEST
from ser.split import read_manifest
from ser.training import choose_spec, train


def main(params: dict[str, Any]) -> None:
    manifest = read_manifest(TRAIN_MANIFEST)
    x, y, _ = join(manifest, pd.read_parquet(FEATURES_FILE))
    spec = choose_spec(params["model"], json.loads(CV_SUMMARY.read_text()))
    used = {"model": params["model"], "features": params["features"], "split": params["split"]}
    artifact = train(spec, FeatureConfig.from_params(params["features"]), x, y, used)
    artifact.metadata["train_speakers"] = sorted(set(manifest["speaker"]))
    artifact.save(MODEL_DIR)


if __name__ == "__main__":
    stage.run(main)
