"""A batch of calls through `ser analyze FOLDER --out DIR`: throughput in times real time (issue #15: 200 one-minute
calls >= 100x real time on 2 cores), then a rerun (everything already analysed).

Calls: one minute each, half stereo and half mono, 8 kHz mu-law, built from EmoDB test-speaker recordings (03, 08)
in turns 0.4-1.2 s apart over line noise. Needs a trained project (`dvc repro`).
Usage: python benchmarks/batch.py [--calls 200] [--workers 2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ser  # noqa: F401  (first: the SIMD pins)

# isort: split
from benchmarks.long_call import write_call

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        calls = Path(folder) / "calls"
        calls.mkdir()
        seconds = 0.0
        for index in range(args.calls):
            path = calls / f"call{index:04d}.wav"
            seconds += write_call(path, 1 / 60, 8000, "ULAW", seed=index)
            if index % 2:  # mono: both voices on one channel
                import soundfile as sf

                data, rate = sf.read(path, dtype="float32")
                sf.write(path, data.sum(axis=1), rate, subtype="ULAW")
        command = [sys.executable, "-m", "ser.cli", "--model", str(ROOT / "models/model"), "analyze", str(calls),
                   "--out", str(Path(folder) / "out"), "--workers", str(args.workers)]  # fmt: skip
        for run in ("first run", "rerun"):
            started = time.perf_counter()
            result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
            elapsed = time.perf_counter() - started
            summary = result.stdout.strip().splitlines()[0]
            print(f"{run}: {args.calls} calls, {seconds / 60:.0f} min of audio in {elapsed:.1f} s = "
                  f"{seconds / elapsed:.0f}x real time ({args.workers} workers): {summary}")  # fmt: skip


if __name__ == "__main__":
    main()
