"""API figures with gunicorn on loopback and wrk: req/s and p50/p95/p99 for /pred by id and a 3 s WAV upload (as
`/pred` answers it by default, its utterances found first, and with `?utterances=whole`), errors, and RSS per worker.

Needs a trained project (`dvc repro` done) and wrk (`apt-get install wrk`).
Usage: python benchmarks/api.py [--seconds 20] [--connections 8] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ser  # noqa: F401  (first: the SIMD pins)

# isort: split

import psutil
import soundfile as sf

from tests.project_copy import ROOT
from tests.servers import start_gunicorn, stop

LUA = ROOT / "benchmarks/wrk/report.lua"


def wrk(url: str, body: Path, content_type: str, seconds: int, connections: int) -> dict:
    env = dict(os.environ, WRK_BODY_FILE=str(body), WRK_CONTENT_TYPE=content_type)
    result = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(LUA), url],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["req_per_s"] = figures["requests"] / figures["seconds"]
    return figures


def three_second_wav() -> Path:
    wavs = sorted((ROOT / "data/raw/wav").glob("*.wav"))
    return min(wavs, key=lambda p: abs(sf.info(str(p)).duration - 3.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("error: wrk is not installed (apt-get install wrk)")
    try:
        server, base = start_gunicorn(ROOT, dict(os.environ, SER_WORKERS=str(args.workers)))
    except RuntimeError:
        sys.exit("error: gunicorn did not become ready (is there a model? run `dvc repro`)")
    url = f"{base}/pred"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            id_body = Path(tmp) / "id.json"
            id_body.write_text(json.dumps({"id": "03a01Fa"}))
            wav = three_second_wav()
            runs = {}
            upload = f"/pred upload {sf.info(str(wav)).duration:.2f} s WAV ({wav.name})"
            for name, query, body, content_type in [
                ("/pred by id", "", id_body, "application/json"),
                (upload, "", wav, "audio/wav"),
                (f"{upload} whole", "?utterances=whole", wav, "audio/wav"),
            ]:
                wrk(url + query, body, content_type, 3, args.connections)  # warm-up
                runs[name] = wrk(url + query, body, content_type, args.seconds, args.connections)
            workers = psutil.Process(server.pid).children()
            rss = [w.memory_info().rss / 2**20 for w in workers]
    finally:
        stop(server)
    print(
        f"gunicorn {args.workers} workers on loopback, wrk 2 threads / {args.connections} connections, "
        f"{args.seconds} s per run, {os.cpu_count()} cores shared by server and load tool"
    )
    print(f"{'run':<54} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'requests':>9} {'errors':>7}")
    for name, f in runs.items():
        print(
            f"{name:<54} {f['req_per_s']:>8.1f} {f['p50_ms']:>8.2f} {f['p95_ms']:>8.2f} {f['p99_ms']:>8.2f} "
            f"{f['requests']:>9} {f['errors']:>7}"
        )
    print("RSS per worker (MB): " + ", ".join(f"{r:.0f}" for r in rss))


if __name__ == "__main__":
    main()
