"""Load on /pred while a /train job runs and the model swaps (gunicorn on loopback, bounded in time).

In a throw-away copy of the project: `dvc repro`, start gunicorn, then 16 concurrent clients post /pred by id
while POST /train retrains a different model (the 100-unit MLP instead of the default 200).
Prints requests, errors, p50/p99 and the model
versions answered, which must be the old or the new one.
Usage: SER_EMODB_SOURCE=../shared/emodb/download.zip python benchmarks/load_during_training.py [--seconds 45]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ser  # noqa: F401  (first: the SIMD pins)

# isort: split

import numpy as np
import requests

from tests.project_copy import copy_project, run, venv_env
from tests.servers import start_gunicorn, stop

TOKEN = "load-test-token"


def client_loop(base: str, ids: list[str], halt: threading.Event, results: list, lock: threading.Lock) -> None:
    session = requests.Session()
    n = 0
    while not halt.is_set():
        started = time.perf_counter()
        try:
            response = session.post(f"{base}/pred", json={"id": ids[n % len(ids)]}, timeout=10)
            status = response.status_code
            version = response.json().get("model_version") if status == 200 else None
        except requests.RequestException as error:
            status, version = type(error).__name__, None
        with lock:
            results.append((time.perf_counter() - started, status, version))
        n += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=45.0, help="upper bound of the load phase (<= 60)")
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    archive = os.environ.get("SER_EMODB_SOURCE")
    if not archive or not Path(archive).is_file():
        sys.exit("error: set SER_EMODB_SOURCE to the EmoDB download.zip")
    with tempfile.TemporaryDirectory() as tmp:
        project = copy_project(Path(tmp) / "project")
        env = venv_env(SER_EMODB_SOURCE=str(Path(archive).resolve()), SER_PROJECT_DIR=str(project))
        if run(["dvc", "repro"], project, env, timeout=900).returncode != 0:
            sys.exit("error: dvc repro failed")
        server, base = start_gunicorn(project, dict(env, SER_API_TOKEN=TOKEN, SER_WORKERS="2"))
        try:
            old = requests.get(f"{base}/ready", timeout=5).json()["model_version"]
            ids = sorted(p.stem for p in (project / "data/raw/wav").glob("*.wav"))
            halt, lock, results = threading.Event(), threading.Lock(), []
            threads = [
                threading.Thread(target=client_loop, args=(base, ids[i :: args.clients], halt, results, lock))
                for i in range(args.clients)
            ]
            started = time.monotonic()
            for thread in threads:
                thread.start()
            time.sleep(3)
            job = requests.post(
                f"{base}/train",
                json={"params": {"model.hidden": 100}},
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=10,
            )
            job_url = base + job.headers["Location"]
            state = job.json()
            while time.monotonic() - started < min(args.seconds, 60):
                state = requests.get(job_url, timeout=5).json()
                if state["state"] not in ("queued", "running"):
                    time.sleep(3)  # keep loading the new model for a moment
                    break
                time.sleep(0.5)
            halt.set()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
        finally:
            stop(server)
    latencies = np.array([r[0] for r in results]) * 1000
    statuses = Counter(r[1] for r in results)
    errors = sum(n for status, n in statuses.items() if status != 200)
    versions = Counter(r[2] for r in results if r[1] == 200)
    new = state.get("model_version")
    print(f"{args.clients} clients, {elapsed:.1f} s, job {state['state']}: {old} -> {new}")
    print(f"requests {len(results)}, errors {errors}, {len(results) / elapsed:.1f} req/s, statuses {dict(statuses)}")
    print(f"latency p50 {np.percentile(latencies, 50):.1f} ms, p99 {np.percentile(latencies, 99):.1f} ms")
    print("answers per model_version: " + ", ".join(f"{v}: {n}" for v, n in versions.items()))
    unexpected = set(versions) - {old, new}
    print(f"versions other than old/new: {sorted(unexpected) if unexpected else 'none'}")


if __name__ == "__main__":
    main()
