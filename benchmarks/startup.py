"""Start-up figures: how long gunicorn takes to answer /ready, and how long the first 3 s uploads take after it.

Needs a trained project (`dvc repro` done). `--cold` gives numba an empty cache directory, as a new container has.
Usage: python benchmarks/startup.py [--cold] [--uploads 4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ser  # noqa: F401  (first: the SIMD pins)

# isort: split

import requests

from tests.project_copy import ROOT, venv_env
from tests.servers import start_gunicorn, stop

UPLOAD = ROOT / "data/raw/wav/16a07Ea.wav"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold", action="store_true", help="start with an empty numba cache")
    parser.add_argument("--uploads", type=int, default=4)
    args = parser.parse_args()
    if not UPLOAD.is_file():
        sys.exit(f"error: {UPLOAD} is missing: run `dvc repro` first")
    audio = UPLOAD.read_bytes()
    with tempfile.TemporaryDirectory() as cache:
        env = venv_env(SER_PROJECT_DIR=str(ROOT), SER_WORKERS="2")
        if args.cold:
            env["NUMBA_CACHE_DIR"] = cache
        started = time.perf_counter()
        process, base = start_gunicorn(ROOT, env, timeout=180)
        ready = time.perf_counter() - started
        try:
            latencies = []
            for _ in range(args.uploads):
                sent = time.perf_counter()
                response = requests.post(f"{base}/pred", data=audio, headers={"Content-Type": "audio/wav"}, timeout=120)
                response.raise_for_status()
                latencies.append(time.perf_counter() - sent)
        finally:
            stop(process)
    cache_kind = "cold" if args.cold else "warm"
    uploads = ", ".join(f"{seconds:.3f}" for seconds in latencies)
    print(f"numba cache {cache_kind}: /ready after {ready:.1f} s; uploads one after the other (s): {uploads}")


if __name__ == "__main__":
    main()
