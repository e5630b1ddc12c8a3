"""DVC stage: the voice encoder's embeddings of the training recordings heard through one channel condition
(``channels.conditions.<name>``, one of ``diarisation.conditions``), for the speaker space (``voice_space``)."""

import sys
from typing import Any

from ser.audio.channels import conditions_from_params
from ser.data.split import read_manifest
from ser.features.dataset import BabblePool
from ser.models import voice_space
from ser.pipeline import stage
from ser.pipeline.paths import TRAIN_MANIFEST, WAV_DIR, voice_embeddings_file


def main(params: dict[str, Any]) -> None:
    name = sys.argv[1]
    paths = [WAV_DIR / f"{recording}.wav" for recording in read_manifest(TRAIN_MANIFEST)["id"]]
    (condition,) = conditions_from_params(params["channels"], [name], BabblePool(paths))
    embedded = voice_space.embeddings(paths, [condition], int(params["resources"]["workers"]))
    stage.write_npy(voice_embeddings_file(name), embedded)


if __name__ == "__main__":
    stage.run(main)
