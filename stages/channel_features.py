"""DVC stage: features of every recording heard through one channel condition (``channels.conditions.<name>``).

Babble noise is mixed from the training speakers' recordings only, never from the recording's own speaker; a joined
copy (``join``) adds another recording of the recording's own speaker in its emotion.
"""

import sys
from typing import Any

from ser.audio.channels import conditions_from_params
from ser.data.split import read_manifest
from ser.features.dataset import BabblePool, SameVoicePool, feature_table
from ser.features.extractor import FeatureConfig
from ser.pipeline import stage
from ser.pipeline.paths import TRAIN_MANIFEST, WAV_DIR, channel_features_file


def main(params: dict[str, Any]) -> None:
    name = sys.argv[1]
    babble = BabblePool([WAV_DIR / f"{recording}.wav" for recording in read_manifest(TRAIN_MANIFEST)["id"]])
    partners = SameVoicePool(sorted(WAV_DIR.glob("*.wav")))
    (condition,) = conditions_from_params(params["channels"], [name], babble, partners)
    config = FeatureConfig.from_params(params["features"])
    table = feature_table(WAV_DIR, config, workers=int(params["resources"]["workers"]), condition=condition)
    stage.write_parquet(channel_features_file(name), table)


if __name__ == "__main__":
    stage.run(main)
