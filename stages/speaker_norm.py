"""DVC stage: the labelled per-speaker-normalisation variant (training speakers only): LOSO CV, then the model."""

from typing import Any

from ser.audio.channels import CLEAN
from ser.data.split import read_manifest
from ser.features.extractor import FeatureConfig
from ser.models.conditioned import condition_features, join
from ser.models.families import resolve_spec
from ser.models.speaker_norm import VARIANT, loso_summary, standardise_per_speaker
from ser.models.training import train
from ser.pipeline import stage
from ser.pipeline.paths import SPEAKER_NORM_CV, SPEAKER_NORM_MODEL_DIR, TRAIN_MANIFEST


def main(params: dict[str, Any]) -> None:
    min_recordings = int(params["speaker_norm"]["min_recordings"])
    manifest = read_manifest(TRAIN_MANIFEST)
    x, y, speakers = join(manifest, condition_features(CLEAN))
    spec = resolve_spec(params["speaker_norm"]["model"], strict=True)
    normalised = standardise_per_speaker(x, speakers, min_recordings)
    stage.write_json(SPEAKER_NORM_CV, loso_summary(spec, normalised, y, speakers, int(params["resources"]["workers"])))
    used = {"speaker_norm": params["speaker_norm"], "features": params["features"], "split": params["split"]}
    artifact = train(spec, FeatureConfig.from_params(params["features"]), normalised, y, used)
    artifact.metadata.update(variant=VARIANT, min_recordings=min_recordings)
    artifact.metadata["train_speakers"] = sorted(set(manifest["speaker"]))
    artifact.save(SPEAKER_NORM_MODEL_DIR)


if __name__ == "__main__":
    stage.run(main)
