"""What the routes share: settings, the model holder, recording features and the job store."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from ser.inference.predictor import Predictor, RecordingFeatures
from ser.models.artifact import ModelArtifact
from serve.errors import ApiError
from serve.jobs import JobStore
from serve.model_holder import ModelHolder
from serve.settings import Settings


@dataclass
class Services:
    settings: Settings
    models: ModelHolder
    recordings: RecordingFeatures
    jobs: JobStore

    @classmethod
    def create(cls, settings: Settings) -> Services:
        return cls(
            settings=settings,
            models=ModelHolder(settings.model_dir, settings.reload_check_seconds),
            recordings=RecordingFeatures(settings.wav_dir),
            jobs=JobStore(settings.jobs_dir),
        )

    def model(self) -> ModelArtifact:
        """The served model, or a 503 error while there is none."""
        artifact = self.models.get()
        if artifact is None:
            raise ApiError(503, "no model is loaded yet: run the pipeline (dvc repro or POST /train)")
        return artifact

    def predictor(self) -> Predictor:
        """The one way into the served model (503 while there is none); ids are looked up in the recordings."""
        return Predictor(self.model(), self.recordings)


def services() -> Services:
    return current_app.extensions["ser"]
