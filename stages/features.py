"""DVC stage: extract utterance features of every recording into one table keyed by id."""

from typing import Any

from ser.features.dataset import feature_table
from ser.features.extractor import FeatureConfig
from ser.pipeline import stage
from ser.pipeline.paths import FEATURES_FILE, WAV_DIR


def main(params: dict[str, Any]) -> None:
    config = FeatureConfig.from_params(params["features"])
    table = feature_table(WAV_DIR, config, workers=int(params["resources"]["workers"]))
    FEATURES_FILE.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(FEATURES_FILE)


if __name__ == "__main__":
    stage.run(main)
