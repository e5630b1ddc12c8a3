"""DVC stage: features of every recording heard through one channel condition (``channels.conditions.<name>``).

Babble noise is mixed from the training speakers' recordings only, never from the recording's own speaker.
"""

import sys
from typing import Any

from ser import stage
from ser.channels import conditions_from_params
from ser.dataset import BabblePool, feature_table
from ser.features import FeatureConfig
from ser.paths import TRAIN_MANIFEST, WAV_DIR, channel_features_file
from ser.split import read_manifest


def main(params: dict[str, Any]) -> None:
    name = sys.argv[1]
    babble = BabblePool([WAV_DIR / f"{recording}.wav" for recording in read_manifest(TRAIN_MANIFEST)["id"]])
    (condition,) = conditions_from_params(params["channels"], [name], babble)
    config = FeatureConfig.from_params(params["features"])
    table = feature_table(WAV_DIR, config, workers=int(params["resources"]["workers"]), condition=condition)
    stage.write_parquet(channel_features_file(name), table)


if __name__ == "__main__":
    stage.run(main)
