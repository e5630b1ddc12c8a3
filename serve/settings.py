"""API settings, read from the environment (or given to ``create_app`` in tests)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ser.inference.analysis_config import AnalysisConfig


def _env_bool(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    """Where the API finds its model and data, and the limits it enforces."""

    project_dir: Path = Path(".")
    model_dir: Path = Path("models/model")
    wav_dir: Path = Path("data/raw/wav")
    metrics_file: Path = Path("reports/metrics.json")
    jobs_dir: Path = Path("runs/jobs")
    api_token: str = ""
    data_token: str = ""
    allow_unauthenticated_train: bool = False
    max_upload_bytes: int = 20 * 1024 * 1024
    max_audio_seconds: float = 60.0
    max_call_seconds: float = 4 * 3600.0
    max_call_bytes: int = 1024 * 1024 * 1024
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    max_batch: int = 100
    reload_check_seconds: float = 0.5
    train_command: tuple[str, ...] = ("dvc", "repro")

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Settings from ``SER_*`` variables; paths are relative to ``SER_PROJECT_DIR`` unless absolute."""
        project = Path(os.environ.get("SER_PROJECT_DIR", ".")).resolve()

        def path(name: str, default: str) -> Path:
            return project / os.environ.get(name, default)

        values: dict[str, Any] = {
            "project_dir": project,
            "model_dir": path("SER_MODEL_DIR", "models/model"),
            "wav_dir": path("SER_WAV_DIR", "data/raw/wav"),
            "metrics_file": path("SER_METRICS_FILE", "reports/metrics.json"),
            "jobs_dir": path("SER_JOBS_DIR", "runs/jobs"),
            "api_token": os.environ.get("SER_API_TOKEN", ""),
            "data_token": os.environ.get("SER_DATA_TOKEN", ""),
            "allow_unauthenticated_train": _env_bool("SER_ALLOW_UNAUTHENTICATED_TRAIN"),
            "max_upload_bytes": int(float(os.environ.get("SER_MAX_UPLOAD_MB", "20")) * 1024 * 1024),
            "max_audio_seconds": float(os.environ.get("SER_MAX_AUDIO_SECONDS", "60")),
            "max_call_seconds": float(os.environ.get("SER_MAX_CALL_SECONDS", str(4 * 3600))),
            "max_call_bytes": int(float(os.environ.get("SER_MAX_CALL_MB", "1024")) * 1024 * 1024),
            "analysis": AnalysisConfig.from_params_file(project / "params.yaml"),
        }
        known = {f.name for f in fields(cls)}
        values.update({k: v for k, v in overrides.items() if k in known})
        return cls(**values)
