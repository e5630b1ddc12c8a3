"""Training jobs: one at a time, state in files so every worker and a restarted API see the same truth."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

JOB_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")
ACTIVE = ("queued", "running")
STATE_FILE = "state.json"
LOG_FILE = "log.txt"
PARAMS_BACKUP = "params.before.yaml"
LOCK_BACKUP = "dvc.before.lock"  # DVC rewrites dvc.lock after each stage: a kill can leave it half written


class JobConflict(RuntimeError):
    """A job is already active."""

    def __init__(self, job: dict[str, Any]) -> None:
        super().__init__(f"training job {job['job_id']} is {job['state']}")
        self.job = job


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write_json(path: Path, data: dict[str, Any]) -> None:
    handle, temp = tempfile.mkstemp(prefix=".state.", dir=path.parent)
    with os.fdopen(handle, "w") as out:
        json.dump(data, out, indent=2, sort_keys=True)
    os.replace(temp, path)


class JobStore:
    """Job directories under ``jobs_dir``: ``<job_id>/state.json`` and ``<job_id>/log.txt``."""

    def __init__(self, jobs_dir: Path) -> None:
        self.jobs_dir = jobs_dir

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive lock over all job state (an flock: released even if the holder is killed)."""
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        with open(self.jobs_dir / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def path(self, job_id: str) -> Path:
        if not JOB_ID.fullmatch(job_id):
            raise KeyError(job_id)
        return self.jobs_dir / job_id

    def _read(self, job_id: str) -> dict[str, Any] | None:
        try:
            return json.loads((self.path(job_id) / STATE_FILE).read_text())
        except (KeyError, OSError, ValueError):
            return None

    def write(self, job: dict[str, Any]) -> None:
        _write_json(self.path(job["job_id"]) / STATE_FILE, job)

    def update(self, job_id: str, **changes: Any) -> dict[str, Any]:
        with self.locked():
            job = self._read(job_id) or {"job_id": job_id}
            job.update(changes)
            self.write(job)
            return job

    def get(self, job_id: str) -> dict[str, Any] | None:
        """A job's state, with a dead runner reported as interrupted (and what it left behind cleaned up)."""
        job = self._read(job_id)
        if job is None or job["state"] not in ACTIVE or _runner_alive(job):
            return job
        with self.locked():
            return self._settle(job_id)

    def _settle(self, job_id: str) -> dict[str, Any] | None:
        """Mark an active job whose runner is gone as interrupted; the caller holds the lock."""
        job = self._read(job_id)
        if job is not None and job["state"] in ACTIVE and not _runner_alive(job):
            _kill_group(job)
            # the interrupted job's overrides must not outlive it, nor a lock file it may have left half written
            for backup, target in ((PARAMS_BACKUP, job.get("params_file")), (LOCK_BACKUP, job.get("lock_file"))):
                if (self.path(job_id) / backup).is_file() and target:
                    os.replace(self.path(job_id) / backup, target)
            if job.get("params_file"):  # so that a `dvc repro` typed by hand after it runs too
                from serve.dvc_locks import discard_unreadable_rwlock  # DVC only in the rare worker that settles

                discard_unreadable_rwlock(Path(job["params_file"]).parent)
            job.update(state="interrupted", finished_at=now(), error="the training process stopped unexpectedly")
            self.write(job)
        return job

    def _latest_id(self) -> str | None:
        if not self.jobs_dir.exists():
            return None
        ids = sorted(p.name for p in self.jobs_dir.iterdir() if JOB_ID.fullmatch(p.name))
        return ids[-1] if ids else None

    def latest(self) -> dict[str, Any] | None:
        job_id = self._latest_id()
        return self.get(job_id) if job_id else None

    def log_tail(self, job_id: str, lines: int = 40) -> list[str]:
        try:
            with open(self.path(job_id) / LOG_FILE, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - 16384))
                text = handle.read().decode("utf-8", "replace")
        except (KeyError, OSError):
            return []
        return [line.rsplit("\r", 1)[-1] for line in text.splitlines()[-lines:]]

    def start(self, project_dir: Path, overrides: dict[str, Any], command: tuple[str, ...]) -> dict[str, Any]:
        """Create a job and start its runner in a new session; JobConflict if a job is active."""
        with self.locked():
            latest_id = self._latest_id()
            latest = self._settle(latest_id) if latest_id else None
            if latest is not None and latest["state"] in ACTIVE:
                raise JobConflict(latest)
            job_id = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
            job_dir = self.path(job_id)
            job_dir.mkdir(parents=True)
            job = {"job_id": job_id, "state": "queued", "created_at": now(), "params": overrides}
            self.write(job)
            with open(job_dir / LOG_FILE, "wb") as log:
                process = subprocess.Popen(
                    [sys.executable, "-m", "serve.train_job", str(job_dir), str(project_dir), *command],
                    cwd=project_dir,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            job.update(pid=process.pid, pid_started=psutil.Process(process.pid).create_time())
            self.write(job)
        return job


# A process's creation time as psutil reports it is the kernel's boot time (whole seconds, wall clock minus uptime)
# plus its start in clock ticks, so the same process reads up to a second apart when the clock is slewed or set
# between two reads; with a tolerance under a second, a running job could be taken for dead, reported interrupted
# and its process group killed. A reused pid starts much later than that.
SAME_PROCESS_S = 2.5


def _runner_alive(job: dict[str, Any]) -> bool:
    """Whether the job's runner is still running: its pid exists, was started when the runner was, and is no zombie."""
    pid = job.get("pid")
    if pid is None:
        return False
    try:
        process = psutil.Process(pid)
        started_then = abs(process.create_time() - job.get("pid_started", 0)) < SAME_PROCESS_S
        return started_then and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _kill_group(job: dict[str, Any]) -> None:
    """Stop whatever the dead runner left behind (dvc and stage processes share its session)."""
    pid = job.get("pid")
    if pid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
            time.sleep(0.1)
