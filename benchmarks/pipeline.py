"""Pipeline figures: clean `dvc repro`, no-op `dvc repro`, an MLP `dvc exp run`, feature speed.

Runs in a throw-away copy of the project. Needs SER_EMODB_SOURCE (the EmoDB zip, read as a local file).
Usage: SER_EMODB_SOURCE=../shared/emodb/download.zip python benchmarks/pipeline.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ser  # noqa: F401  (first: the SIMD pins)

# isort: split

import soundfile as sf
import yaml

from ser.features.dataset import feature_table
from ser.features.extractor import FeatureConfig
from tests.project_copy import copy_project, run, venv_env


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = run(cmd, cwd, env, timeout=1800)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} failed:\n{result.stderr[-2000:]}")
    return elapsed


def main() -> None:
    archive = os.environ.get("SER_EMODB_SOURCE")
    if not archive or not Path(archive).is_file():
        sys.exit("error: set SER_EMODB_SOURCE to the EmoDB download.zip")
    with tempfile.TemporaryDirectory() as tmp:
        project = copy_project(Path(tmp) / "project")
        env = venv_env(SER_EMODB_SOURCE=str(Path(archive).resolve()), PYTHONPATH=str(project))  # the copy's code
        params = yaml.safe_load((project / "params.yaml").read_text())
        clean = timed(["dvc", "repro"], project, env)
        noop = timed(["dvc", "repro"], project, env)
        # The design card's command, with the default params as they are.
        exp = timed(["dvc", "exp", "run", "-S", "model.hidden=100"], project, env)

        wav_dir = project / "data/raw/wav"
        wavs = sorted(wav_dir.glob("*.wav"))
        audio_seconds = sum(sf.info(str(p)).duration for p in wavs)
        config = FeatureConfig.from_params(params["features"])
        workers = int(params["resources"]["workers"])
        feature_table(wav_dir, config, workers=workers)  # warm the worker pool and caches
        started = time.perf_counter()
        feature_table(wav_dir, config, workers=workers)
        extraction = time.perf_counter() - started
        stage = timed(["python", "stages/features.py"], project, env)
        metrics = json.loads((project / "reports/metrics.json").read_text())

    rows = [
        ("clean dvc repro (archive local)", f"{clean:.1f} s", "<= 180 s"),
        ("no-op dvc repro", f"{noop:.2f} s", "<= 3 s"),
        ("dvc exp run -S model.hidden=100", f"{exp:.1f} s", "<= 60 s"),
        (
            f"feature extraction, {workers} workers, in process",
            f"{extraction:.2f} s = {audio_seconds / extraction:.0f}x real time",
            ">= 200x",
        ),
        ("features stage incl. interpreter start", f"{stage:.2f} s = {audio_seconds / stage:.0f}x real time", ""),
        ("test accuracy / UAR (exp run model)", f"{metrics['accuracy']:.3f} / {metrics['uar']:.3f}", ""),
    ]
    print(f"audio: {audio_seconds:.1f} s in {len(wavs)} files; machine: {os.cpu_count()} cores")
    print(f"{'figure':<48} {'measured':<28} target")
    for name, value, target in rows:
        print(f"{name:<48} {value:<28} {target}")


if __name__ == "__main__":
    main()
