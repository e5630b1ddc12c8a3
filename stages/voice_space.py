"""DVC stage: the speaker space for diarising mono calls (``ser.models.voice_space``), fitted on the training
speakers' recordings, clean and through ``diarisation.conditions`` (their embeddings from the ``voice_embeddings``
stages); ``train`` ships it inside the model artifact."""

from typing import Any

from ser.data.split import read_manifest
from ser.errors import DataMissing, ParamsError
from ser.models import voice_space
from ser.pipeline import stage
from ser.pipeline.paths import TRAIN_MANIFEST, VOICE_SPACE_FILE, WAV_DIR, voice_embeddings_file


def main(params: dict[str, Any]) -> None:
    settings = params["diarisation"]
    paths = [WAV_DIR / f"{recording}.wav" for recording in read_manifest(TRAIN_MANIFEST)["id"]]
    names = settings.get("conditions") or []
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ParamsError("diarisation.conditions is a list of channel conditions (channels.conditions)")
    missing = [name for name in names if not voice_embeddings_file(name).is_file()]
    if missing:
        raise DataMissing(f"no voice embeddings for {missing[0]}: run `dvc repro voice_embeddings@{missing[0]}`")
    clean = voice_space.embeddings(paths, [None], int(params["resources"]["workers"]))
    embedded = [clean, *(stage.read_npy(voice_embeddings_file(name)) for name in names)]
    stage.write_npy(VOICE_SPACE_FILE, voice_space.fit(paths, embedded, float(settings["regularisation"])))


if __name__ == "__main__":
    stage.run(main)
