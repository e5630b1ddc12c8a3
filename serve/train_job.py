"""Runner of one training job: apply overrides, run the pipeline, record the outcome.

Usage: python -m serve.train_job JOB_DIR PROJECT_DIR COMMAND...   (started by serve.jobs.JobStore.start)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil

from ser import overrides
from ser.artifact import ArtifactError, ModelArtifact
from ser.paths import METRICS_FILE, MODEL_DIR, PARAMS_FILE
from serve.jobs import JobStore, now


def run(job_dir: Path, project_dir: Path, command: list[str]) -> int:
    store, job_id = JobStore(job_dir.parent), job_dir.name
    me = psutil.Process()
    job = store.update(job_id, state="running", started_at=now(), pid=me.pid, pid_started=me.create_time())
    params_file = project_dir / PARAMS_FILE
    original_params = params_file.read_text()
    try:
        previous = ModelArtifact.load(project_dir / MODEL_DIR).version
    except ArtifactError:
        previous = None
    try:
        if job.get("params"):
            overrides.apply(params_file, job["params"])
        print(f"$ {' '.join(command)}", flush=True)
        code = subprocess.call(command, cwd=project_dir, stdin=subprocess.DEVNULL)
        if code != 0:
            raise RuntimeError(f"{command[0]} exited with status {code}")
        artifact = ModelArtifact.load(project_dir / MODEL_DIR)
        metrics = json.loads((project_dir / METRICS_FILE).read_text())
    except Exception as error:  # the job must end in a recorded state whatever went wrong
        params_file.write_text(original_params)
        store.update(job_id, state="failed", finished_at=now(), error=str(error), previous_model_version=previous)
        print(f"error: {error}", flush=True)
        return 1
    store.update(
        job_id,
        state="succeeded",
        finished_at=now(),
        model_version=artifact.version,
        previous_model_version=previous,
        train_accuracy=artifact.metadata["train_accuracy"],
        test_accuracy=metrics["accuracy"],
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(run(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]))
