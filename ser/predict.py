"""Turning audio or EmoDB ids into predictions with a model artifact (shared by the API and the CLI)."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from ser import emodb
from ser.artifact import ModelArtifact
from ser.errors import SerError
from ser.extraction import features_of_file
from ser.features import FeatureConfig


class UnknownRecording(SerError, LookupError):
    """A well-formed EmoDB id with no recording on disk."""


def describe(artifact: ModelArtifact, probabilities: np.ndarray) -> dict[str, Any]:
    """The prediction for one probability row: class, all 7 probabilities and the model version."""
    label = int(np.argmax(probabilities))
    return {
        "class": emodb.class_info(label),
        "probabilities": {
            emodb.EMOTIONS[code]: round(float(p), 6) for code, p in zip(emodb.CODES, probabilities, strict=True)
        },
        "model_version": artifact.version,
    }


def predict_features(artifact: ModelArtifact, features: np.ndarray) -> list[dict[str, Any]]:
    """Predictions for a (n, n_features) matrix: the one path for single and batch requests."""
    return [describe(artifact, row) for row in artifact.predict_proba(np.atleast_2d(features))]


class RecordingFeatures:
    """Features of EmoDB recordings by id, computed from ``wav_dir`` like the pipeline does, and cached."""

    def __init__(self, wav_dir: Path, cache_size: int = 2048) -> None:
        self.wav_dir = wav_dir
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, utterance_id: str, config: FeatureConfig) -> np.ndarray:
        """Feature vector of recording ``utterance_id``; ValueError if malformed, UnknownRecording if absent."""
        emodb.parse_id(utterance_id)
        key = (json.dumps(config.to_dict(), sort_keys=True), utterance_id)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        path = self.wav_dir / f"{utterance_id}.wav"
        if not path.is_file():
            raise UnknownRecording(f"no EmoDB recording with id {utterance_id!r}")
        vector = features_of_file(path, config).astype(np.float32)
        with self._lock:
            self._cache[key] = vector
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return vector
