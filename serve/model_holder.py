"""The one piece of global state: the served model, swapped in when a newer valid artifact appears."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from ser.features.pretrained import PretrainedWeightsMissing
from ser.inference.predictor import Predictor
from ser.models.artifact import METADATA_FILE, ArtifactError, ModelArtifact, read_version

log = logging.getLogger(__name__)


class ModelHolder:
    """Holds the current artifact of ``model_dir`` and reloads it when its version changes.

    Each gunicorn worker has its own holder, so every worker picks up a new model on its next request.
    A missing, partial or corrupt artifact is never loaded: the previous model keeps serving.
    """

    def __init__(self, model_dir: Path, check_seconds: float = 0.5) -> None:
        self.model_dir = model_dir
        self.check_seconds = check_seconds
        self._artifact: ModelArtifact | None = None
        self._last_check = 0.0
        self._last_stat: tuple[int, int, int] | None = None
        self._lock = threading.Lock()
        self.last_error: str | None = None

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.model_dir / METADATA_FILE)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def refresh(self, force: bool = False) -> None:
        """Load the artifact on disk if it is valid and differs from the served one."""
        now = time.monotonic()
        if not force and now - self._last_check < self.check_seconds:
            return
        with self._lock:
            self._last_check = now
            stat = self._stat()
            if stat is None or (stat == self._last_stat and not force):
                return
            current = self._artifact.version if self._artifact else None
            on_disk = read_version(self.model_dir)
            if on_disk is None or on_disk == current:
                self._last_stat = stat if on_disk == current else None
                return
            try:
                artifact = ModelArtifact.load(self.model_dir)
                Predictor(artifact).warm_up()
            except (ArtifactError, PretrainedWeightsMissing, OSError, EOFError, ValueError) as error:
                self.last_error = str(error)
                log.warning("not loading %s: %s", self.model_dir, error)
                return
            if artifact.version != on_disk:
                return
            self._artifact, self._last_stat, self.last_error = artifact, stat, None
            log.info("serving model %s (previously %s)", artifact.version, current)

    def get(self) -> ModelArtifact | None:
        """The served artifact (after a cheap check for a newer one), or None before any model exists."""
        self.refresh()
        return self._artifact
