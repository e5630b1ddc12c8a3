"""One 3 s upload through ``Predictor.predict_audio`` in this process, after a warm-up: milliseconds per call, as
`/pred` answers it by default (its utterances found first: ``utterances=split``) and classified whole.

Usage: python benchmarks/latency.py            (SER_NATIVE_SIMD=1 python benchmarks/latency.py: without the pins)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ser  # noqa: F401  (first: the SIMD pins)
from ser.inference.analysis_config import AnalysisConfig
from ser.inference.predictor import Predictor

ROOT = Path(__file__).resolve().parents[1]


def main(repeats: int = 30) -> None:
    predictor = Predictor.load(ROOT / "models/model")
    predictor.warm_up()
    data = (ROOT / "data/raw/wav/16a07Ea.wav").read_bytes()
    speech = AnalysisConfig.from_params_file(ROOT / "params.yaml")
    for name, rules in (("utterances=split (the default)", speech), ("utterances=whole", None)):
        for _ in range(3):
            predictor.predict_audio(data, speech=rules)
        started = time.perf_counter()
        for _ in range(repeats):
            predictor.predict_audio(data, speech=rules)
        milliseconds = (time.perf_counter() - started) / repeats * 1000
        print(f"{milliseconds:.1f} ms per 3 s upload (16a07Ea.wav), one process, {name}")


if __name__ == "__main__":
    main()
