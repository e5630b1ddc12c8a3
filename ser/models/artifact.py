"""The model artifact: a directory with the fitted pipeline and its metadata, written atomically.

Layout::

    model.joblib      fitted scikit-learn pipeline (scaler + classifier)
    voice_space.npy   (optional) the speaker space for diarising mono calls (ser.models.voice_space)
    metadata.json     classes, feature config, params, training figures, library versions,
                      sha256 of the files and the model version derived from them
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.pipeline import Pipeline

from ser.data import emodb
from ser.errors import SerError
from ser.features.extractor import FeatureConfig

log = logging.getLogger(__name__)

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
VOICE_SPACE_FILE = "voice_space.npy"
FORMAT_VERSION = 2
TRACKED_LIBRARIES = ("ser", "numpy", "scikit-learn", "librosa", "torch", "xgboost-cpu", "xgboost", "soundfile")


class ArtifactError(SerError, RuntimeError):
    """The artifact is missing, partial, corrupt or of an unknown format."""


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries a model depends on."""
    versions = {}
    for name in TRACKED_LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class ModelArtifact:
    """A fitted pipeline with everything needed to serve it."""

    pipeline: Pipeline
    feature_config: FeatureConfig
    metadata: dict[str, Any]
    # The speaker space for diarising mono calls (ser.models.voice_space); None in artifacts made before it.
    voice_space: np.ndarray | None = None

    @property
    def version(self) -> str:
        return str(self.metadata["model_version"])

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities (n, 7) in label order for a (n, n_features) matrix."""
        probabilities = self.pipeline.predict_proba(np.asarray(features, dtype=np.float32))
        full = np.zeros((probabilities.shape[0], len(emodb.CODES)))
        full[:, self.pipeline.classes_.astype(int)] = probabilities
        return full

    def save(self, directory: Path) -> None:
        """Write to a temporary sibling directory, then swap it into ``directory``."""
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.new.", dir=directory.parent))
        try:
            joblib.dump(self.pipeline, staging / MODEL_FILE)
            self.metadata.pop("voice_space_sha256", None)
            if self.voice_space is not None:
                np.save(staging / VOICE_SPACE_FILE, self.voice_space)
                self.metadata["voice_space_sha256"] = _sha256(staging / VOICE_SPACE_FILE)
            digest = _sha256(staging / MODEL_FILE)
            self.metadata.update(
                format_version=FORMAT_VERSION,
                model_sha256=digest,
                model_version=model_version(digest, self.feature_config, self.metadata.get("voice_space_sha256")),
                feature_config=self.feature_config.to_dict(),
                classes=[emodb.class_info(label) for label in range(len(emodb.CODES))],
                libraries=library_versions(),
            )
            (staging / METADATA_FILE).write_text(json.dumps(self.metadata, indent=2, sort_keys=True) + "\n")
            _swap_into_place(staging, directory)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        log.info("saved model %s to %s", self.version, directory)

    @classmethod
    def load(cls, directory: Path, variant: str | None = None) -> ModelArtifact:
        """Load and verify an artifact; raise ArtifactError if it is missing, partial or corrupt.

        ``variant`` must match the artifact's own (``None`` for the headline model), so a model trained on
        differently prepared features (``ser.models.speaker_norm``) is never served as the utterance model by mistake.
        """
        meta_path, model_path = directory / METADATA_FILE, directory / MODEL_FILE
        try:
            metadata = json.loads(meta_path.read_text())
        except FileNotFoundError:
            raise ArtifactError(f"no model artifact at {directory} (run `dvc repro`)") from None
        except (OSError, json.JSONDecodeError) as error:
            raise ArtifactError(f"unreadable {meta_path}: {error}") from None
        if metadata.get("format_version") != FORMAT_VERSION:
            raise ArtifactError(f"unsupported artifact format {metadata.get('format_version')!r}")
        if metadata.get("variant") != variant:
            found = metadata.get("variant") or "the utterance model"
            raise ArtifactError(f"{directory} holds {found}, not {variant or 'the utterance model'}")
        if not model_path.is_file() or _sha256(model_path) != metadata.get("model_sha256"):
            raise ArtifactError(f"{model_path} is missing or does not match its metadata checksum")
        pipeline = joblib.load(model_path)
        return cls(
            pipeline, FeatureConfig.from_stored(metadata["feature_config"]), metadata, _voice_space(directory, metadata)
        )


def _voice_space(directory: Path, metadata: dict[str, Any]) -> np.ndarray | None:
    expected = metadata.get("voice_space_sha256")
    if expected is None:
        return None
    path = directory / VOICE_SPACE_FILE
    if not path.is_file() or _sha256(path) != expected:
        raise ArtifactError(f"{path} is missing or does not match its metadata checksum")
    return np.load(path)


def model_version(model_sha256: str, feature_config: FeatureConfig, voice_space_sha256: str | None = None) -> str:
    """Content hash naming a model: its fitted bytes together with the features it expects (and its speaker
    space, when it has one)."""
    content = model_sha256 + json.dumps(feature_config.to_dict(), sort_keys=True) + (voice_space_sha256 or "")
    return hashlib.sha256(content.encode()).hexdigest()[:12]


def _swap_into_place(staging: Path, directory: Path) -> None:
    """Replace ``directory`` by ``staging`` with renames only, so no reader sees a half-written artifact."""
    retired = None
    if directory.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old.", dir=directory.parent))
        retired.rmdir()
        directory.rename(retired)
    staging.rename(directory)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)


def read_version(directory: Path) -> str | None:
    """The version named by an artifact's metadata, or None when there is no readable metadata."""
    try:
        return str(json.loads((directory / METADATA_FILE).read_text())["model_version"])
    except (OSError, ValueError, KeyError):
        return None
