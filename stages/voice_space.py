"""DVC stage: the speaker space for diarising mono calls (``ser.models.voice_space``), fitted on the training
speakers' recordings, clean and through ``diarisation.conditions``; ``train`` ships it inside the model artifact."""

from typing import Any

from ser.audio.channels import conditions_from_params
from ser.data.split import read_manifest
from ser.errors import ParamsError
from ser.features.dataset import BabblePool
from ser.models import voice_space
from ser.pipeline import stage
from ser.pipeline.paths import TRAIN_MANIFEST, VOICE_SPACE_FILE, WAV_DIR


def main(params: dict[str, Any]) -> None:
    settings = params["diarisation"]
    paths = [WAV_DIR / f"{recording}.wav" for recording in read_manifest(TRAIN_MANIFEST)["id"]]
    names = settings.get("conditions") or []
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ParamsError("diarisation.conditions is a list of channel conditions (channels.conditions)")
    conditions = [None, *conditions_from_params(params["channels"], names, BabblePool(paths))]
    transform = voice_space.fit(
        paths, conditions, float(settings["regularisation"]), int(params["resources"]["workers"])
    )
    stage.write_npy(VOICE_SPACE_FILE, transform)


if __name__ == "__main__":
    stage.run(main)
