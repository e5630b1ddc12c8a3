"""Turning audio or EmoDB ids into predictions with a model artifact (shared by the API and the CLI)."""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ser import audio, emodb
from ser.artifact import ModelArtifact
from ser.dataset import FEATURE_CONFIG_ATTR, features_of_file
from ser.features import FeatureConfig, extract

log = logging.getLogger(__name__)


class UnknownRecording(LookupError):
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


def features_of_audio(data: bytes | Path, config: FeatureConfig, max_seconds: float) -> tuple[np.ndarray, float]:
    """Decode encoded audio and extract its features; return (features, original duration in seconds)."""
    signal, duration = audio.decode(data, config.sample_rate)
    if duration > max_seconds:
        raise audio.AudioTooLong(f"audio lasts {duration:.1f} s, more than the {max_seconds:g} s allowed")
    audio.check_usable(signal, config.min_samples)
    return extract(signal, config.sample_rate, config), duration


class RecordingFeatures:
    """Features of EmoDB recordings by id: the pipeline's table when its config matches, else computed and cached."""

    def __init__(self, wav_dir: Path, table_path: Path | None = None, cache_size: int = 1024) -> None:
        self.wav_dir = wav_dir
        self.table_path = table_path
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._table: tuple[str, pd.DataFrame] | None = None
        self._lock = threading.Lock()

    def _table_for(self, config_key: str) -> pd.DataFrame | None:
        if self.table_path is None or not self.table_path.is_file():
            return None
        if self._table is None or self._table[0] != config_key:
            table = pd.read_parquet(self.table_path)
            if json.dumps(table.attrs.get(FEATURE_CONFIG_ATTR), sort_keys=True) != config_key:
                return None
            self._table = (config_key, table)
        return self._table[1]

    def get(self, utterance_id: str, config: FeatureConfig) -> np.ndarray:
        """Feature vector of recording ``utterance_id``; ValueError if malformed, UnknownRecording if absent."""
        emodb.parse_id(utterance_id)
        key = json.dumps(config.to_dict(), sort_keys=True)
        with self._lock:
            if (key, utterance_id) in self._cache:
                self._cache.move_to_end((key, utterance_id))
                return self._cache[(key, utterance_id)]
            table = self._table_for(key)
        if table is not None and utterance_id in table.index:
            vector = table.loc[utterance_id].to_numpy(dtype=np.float32)
        else:
            path = self.wav_dir / f"{utterance_id}.wav"
            if not path.is_file():
                raise UnknownRecording(f"no EmoDB recording with id {utterance_id!r}")
            vector = features_of_file(path, config).astype(np.float32)
        with self._lock:
            self._cache[(key, utterance_id)] = vector
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return vector
