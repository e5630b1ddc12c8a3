"""Throw-away copies of the project for running DVC end to end (tests and benchmarks)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILES = [
    "dvc.yaml",
    "params.yaml",
    "pyproject.toml",
    ".dvcignore",
    ".gitignore",
    "stages",
    "ser",
    "data/README.md",
]


def venv_env(**extra: str) -> dict[str, str]:
    """Environment whose ``python`` and ``dvc`` are this interpreter's (the project venv)."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("SER_EMODB_SOURCE", None)
    env.update(extra)
    return env


def run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def copy_project(destination: Path) -> Path:
    """Copy the pipeline's code and config (no data, no lock) into a fresh git + DVC repository."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        source = ROOT / name
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    env = venv_env()
    for cmd in (
        ["git", "init", "-q"],
        ["git", "config", "user.email", "test@example.com"],
        ["git", "config", "user.name", "test"],
        ["dvc", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "commit", "-q", "-m", "project copy"],
    ):
        result = run(cmd, destination, env)
        assert result.returncode == 0, result.stderr
    return destination


def clone_project(template: Path, destination: Path) -> Path:
    """A copy of a project copy as it stands (git, DVC cache, data, model): each test mutates its own."""
    shutil.copytree(template, destination, symlinks=True)
    return destination


def edit_params(project: Path, **blocks: dict) -> None:
    """Merge ``blocks`` into the copy's params.yaml (one level deep)."""
    path = project / "params.yaml"
    params = yaml.safe_load(path.read_text())
    for block, values in blocks.items():
        params.setdefault(block, {}).update(values)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


# Two small channel conditions instead of the default's twelve, for tests that run the pipeline on synthetic data:
# one the models learn from (with babble from the training speakers), one only evaluated.
SMALL_CHANNELS = {
    "train": ["line"],
    "eval": ["ulaw"],
    "conditions": {
        "line": [{"noise": {"kind": ["white", "babble"], "snr_db": 15}}, {"resample": 8000}, {"codec": "gsm"}],
        "ulaw": [{"resample": 8000}, {"codec": "ulaw"}],
    },
}
# The pipeline tests on synthetic data check the plumbing (stages, reruns, jobs, swaps), not the encoders, which
# tests/test_whisper_encoder.py and the real-archive test cover: librosa features only keep each run to a minute.
PLUMBING_FEATURES = {"whisper_blocks": None}
# One worker process per stage for the synthetic archive's short tones: starting a pool of two costs more than the
# work (a synthetic `dvc repro` 41-49 s instead of 53-55 s); the real-archive test runs the default two.
PLUMBING_RESOURCES = {"workers": 1}
# Params of the tests that serve and retrain a synthetic project: one fast, deterministic model family.
SERVING_PLUMBING = {
    "cv": {"candidates": {"logreg": {"family": "logreg"}}},
    "model": {"family": "logreg"},
    "channels": SMALL_CHANNELS,
    "features": PLUMBING_FEATURES,
    "diarisation": {"conditions": ["line"]},
    "resources": PLUMBING_RESOURCES,
}
