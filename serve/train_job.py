"""Runner of one training job: apply overrides, run the pipeline, record the outcome.

Usage: python -m serve.train_job JOB_DIR PROJECT_DIR COMMAND...   (started by serve.jobs.JobStore.start)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psutil

from ser.models.artifact import ArtifactError, ModelArtifact
from ser.pipeline.paths import METRICS_FILE, MODEL_DIR, PARAMS_FILE
from serve import overrides
from serve.dvc_locks import RWLOCK_FILE, discard_unreadable_rwlock
from serve.jobs import LOCK_BACKUP, PARAMS_BACKUP, JobStore, now

LOCK_FILE = "dvc.lock"


def run(job_dir: Path, project_dir: Path, command: list[str]) -> int:
    store, job_id = JobStore(job_dir.parent), job_dir.name
    params_file = (project_dir / PARAMS_FILE).resolve()
    lock_file = (project_dir / LOCK_FILE).resolve()
    # Kept until the job ends, so that the API can undo the overrides of a runner that was killed, and put back a
    # lock file that a killed `dvc repro` left half written (DVC then reruns whatever no longer matches it).
    backup, lock_backup = job_dir / PARAMS_BACKUP, job_dir / LOCK_BACKUP
    shutil.copyfile(params_file, backup)
    if lock_file.is_file():
        shutil.copyfile(lock_file, lock_backup)
    me = psutil.Process()
    job = store.update(
        job_id,
        state="running",
        started_at=now(),
        pid=me.pid,
        pid_started=me.create_time(),
        params_file=str(params_file),
        lock_file=str(lock_file) if lock_backup.is_file() else None,
    )
    try:
        previous = ModelArtifact.load(project_dir / MODEL_DIR).version
    except ArtifactError:
        previous = None
    try:
        if job.get("params"):
            overrides.apply(params_file, job["params"])
        if discard_unreadable_rwlock(project_dir):
            print(f"note: removed {RWLOCK_FILE}, left unreadable by a DVC run that was killed", flush=True)
        print(f"$ {' '.join(command)}", flush=True)
        code = subprocess.call(command, cwd=project_dir, stdin=subprocess.DEVNULL)
        if code < 0 and lock_backup.is_file():  # killed by a signal: its lock file may be half written
            os.replace(lock_backup, lock_file)
        if code != 0:
            raise RuntimeError(f"{command[0]} exited with status {code}")
        artifact = ModelArtifact.load(project_dir / MODEL_DIR)
        metrics = json.loads((project_dir / METRICS_FILE).read_text())
    except Exception as error:  # the job must end in a recorded state whatever went wrong
        os.replace(backup, params_file)
        lock_backup.unlink(missing_ok=True)
        store.update(job_id, state="failed", finished_at=now(), error=str(error), previous_model_version=previous)
        print(f"error: {error}", flush=True)
        return 1
    backup.unlink()
    lock_backup.unlink(missing_ok=True)
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
