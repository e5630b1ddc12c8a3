"""One 3 s upload through ``Predictor.predict_audio`` in this process, after a warm-up: milliseconds per call.

Usage: python benchmarks/latency.py            (SER_NATIVE_SIMD=1 python benchmarks/latency.py: without the pins)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ser  # noqa: F401  (first: the SIMD pins)
from ser.inference.predictor import Predictor

ROOT = Path(__file__).resolve().parents[1]


def main(repeats: int = 30) -> None:
    predictor = Predictor.load(ROOT / "models/model")
    predictor.warm_up()
    data = (ROOT / "data/raw/wav/16a07Ea.wav").read_bytes()
    for _ in range(3):
        predictor.predict_audio(data)
    started = time.perf_counter()
    for _ in range(repeats):
        predictor.predict_audio(data)
    print(f"{(time.perf_counter() - started) / repeats * 1000:.1f} ms per 3 s upload (16a07Ea.wav), one process")


if __name__ == "__main__":
    main()
