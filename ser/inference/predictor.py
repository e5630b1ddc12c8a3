"""One way into the model: a ``Predictor`` loads an artifact, warms up and answers for audio, ids and call segments.

Training, ``/pred``, ``/analyze``, the CLI and call analysis share decode (``ser.audio.decoding``) → front end and
features (``ser.features.extractor``) → the artifact's ``predict_proba`` → ``describe``. Routes and the CLI only
translate HTTP and argv into these calls.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ser.audio.decoding import AudioError
from ser.data import emodb
from ser.errors import SerError
from ser.features.extraction import decoded_utterance, features_of_file
from ser.features.extractor import FeatureConfig, extract, prepare, trim
from ser.inference.analysis_config import AnalysisConfig
from ser.inference.line import cleaned_signal
from ser.inference.quality import measure, role_audio
from ser.inference.utterances import pooled, speech_heard, utterances
from ser.models.artifact import ModelArtifact

# An uploaded utterance needs this much sound between its first and last sample within ``features.silence_db`` of its
# peak: a click or a 50 ms blip is no utterance (the shortest EmoDB recording has 1.2 s; call segments at least 0.4 s).
MIN_SOUND_S = 0.2
NO_SPEECH_WARNING = (
    "the speech detector heard no speech in this audio: if it is music, a tone or noise, the emotion means nothing "
    "(the detector also misses some reverberant hands-free speech)"
)


class UnknownRecording(SerError, LookupError):
    """An id with no EmoDB recording on disk."""

    def __init__(self, utterance_id: str) -> None:
        super().__init__(f"no EmoDB recording with id {utterance_id!r}")
        self.utterance_id = utterance_id


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


class RecordingFeatures:
    """Features of EmoDB recordings by id, computed from ``wav_dir`` like the pipeline does, and cached."""

    def __init__(self, wav_dir: Path, cache_size: int = 2048) -> None:
        self.wav_dir = wav_dir
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, utterance_id: str, config: FeatureConfig) -> np.ndarray:
        """Feature vector of recording ``utterance_id``; UnknownRecording if it is not an EmoDB id on disk."""
        if not emodb.is_valid_id(utterance_id):
            raise UnknownRecording(utterance_id)
        key = (json.dumps(config.to_dict(), sort_keys=True), utterance_id)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        path = self.wav_dir / f"{utterance_id}.wav"
        if not path.is_file():
            raise UnknownRecording(utterance_id)
        vector = features_of_file(path, config).astype(np.float32)
        with self._lock:
            self._cache[key] = vector
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return vector


class Predictor:
    """The served model and the one path to its answers."""

    def __init__(self, artifact: ModelArtifact, recordings: RecordingFeatures | None = None) -> None:
        self.artifact = artifact
        self.recordings = recordings

    @classmethod
    def load(cls, model_dir: Path, wav_dir: Path | None = None) -> Predictor:
        """The artifact in ``model_dir`` (ArtifactError when missing or damaged); ids are looked up in ``wav_dir``."""
        return cls(ModelArtifact.load(model_dir), RecordingFeatures(wav_dir) if wav_dir else None)

    @property
    def version(self) -> str:
        return self.artifact.version

    @property
    def feature_config(self) -> FeatureConfig:
        return self.artifact.feature_config

    @property
    def voice_space(self) -> np.ndarray | None:
        """The speaker space for diarising mono calls (None for artifacts made before it existed)."""
        return self.artifact.voice_space

    def warm_up(self) -> None:
        """Load the encoders' weights and compile the feature code, so the first request is as fast as the next."""
        prepare(self.feature_config)

    def predict_features(self, features: np.ndarray) -> list[dict[str, Any]]:
        """Answers for a (n, n_features) matrix: the one step every other method ends in."""
        return [describe(self.artifact, row) for row in self.artifact.predict_proba(np.atleast_2d(features))]

    def predict_audio(
        self,
        source: bytes | Path,
        max_seconds: float = float("inf"),
        channel: int | None = None,
        speech: AnalysisConfig | None = None,
    ) -> dict[str, Any]:
        """The answer for an upload, a file or encoded bytes in any supported format (its channels mixed, or
        ``channel`` alone: 0 = left), with its duration, whether the speech detector heard speech in it (utterances
        found, or the check ``vad.hears_speech``; if not, a ``warning`` says what that means) and its ``audio``
        (``ser.inference.quality``: noisy or reverberant).

        With ``speech`` (the call analysis's rules), the utterances in the upload are found first and each is
        classified from its window, without the silence or noise around it; the answer pools them, weighted by
        duration (``ser.inference.utterances``). Without it, or when the detector accepts no utterance, the whole
        upload is one utterance. ``utterances`` lists what was classified.

        Raises AudioTooLong beyond ``max_seconds`` and AudioError for undecodable, silent or too short audio (less
        than ``MIN_SOUND_S`` of sound), or a channel the audio does not have.
        """
        config = self.feature_config
        signal, duration = decoded_utterance(source, config, max_seconds, channel)
        signal = cleaned_signal(signal, config.sample_rate)  # less the line's DC offset and hum, if any
        # a DC offset taken out by the median: the mean of a short burst in silence would lift the silence itself
        sound_s = trim(signal - np.median(signal), config.silence_db).size / config.sample_rate
        if sound_s < MIN_SOUND_S:
            raise AudioError(f"utterance too short: {sound_s:.2f} s of sound, at least {MIN_SOUND_S} s needed")
        found = [] if speech is None else utterances(signal, config.sample_rate, speech, config.min_samples)
        if found:
            rows = np.vstack([extract(utterance.samples, config.sample_rate, config) for utterance in found])
            parts = self.artifact.predict_proba(rows)
            answer = describe(self.artifact, pooled(parts, found))
            items = [(u.start_s, u.end_s, describe(self.artifact, p)) for u, p in zip(found, parts, strict=True)]
        else:
            answer = self.predict_features(extract(signal, config.sample_rate, config))[0]
            items = [(0.0, duration, answer)]
        answer["utterances"] = [
            {"start_s": round(start, 3), "end_s": round(end, 3), "emotion": part["class"]["emotion"],
             "probabilities": part["probabilities"]}
            for start, end, part in items
        ]  # fmt: skip
        answer.update(duration_s=round(duration, 3), speech_heard=speech_heard(signal, config.sample_rate, found))
        answer["audio"] = role_audio([(measure(signal, config.sample_rate), duration)])
        if channel is not None:
            answer["channel"] = channel
        return answer if answer["speech_heard"] else {**answer, "warning": NO_SPEECH_WARNING}

    def predict_ids(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """Answers for EmoDB recordings by id (UnknownRecording for an id that is not on disk)."""
        if self.recordings is None:
            raise UnknownRecording(ids[0] if ids else "")
        rows = [self.recordings.get(utterance_id, self.feature_config) for utterance_id in ids]
        return self.predict_features(np.vstack(rows))
