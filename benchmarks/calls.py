"""Call analysis figures: time and peak memory for a 10-minute call, and segmentation accuracy on synthetic calls.

Calls are built from EmoDB recordings of the test speakers separated by silences of known length (0.5-1.5 s),
as 16 kHz PCM and as 8 kHz mu-law. Needs a trained project (`dvc repro`).
Usage: python benchmarks/calls.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ser.inference.calls import AnalysisConfig, analyze
from ser.inference.predictor import Predictor

ROOT = Path(__file__).resolve().parents[1]


def build_call(minutes: float, seed: int = 0) -> tuple[np.ndarray, list[tuple[float, float]]]:
    wavs = sorted((ROOT / "data/raw/wav").glob("0[38]*.wav"))
    rng = np.random.default_rng(seed)
    parts, truth, t = [], [], 0.0
    while t < minutes * 60:
        gap = float(rng.uniform(0.5, 1.5))
        signal, _ = sf.read(wavs[len(truth) % len(wavs)], dtype="float32")
        parts += [np.zeros(round(gap * 16000), np.float32), signal]
        truth.append((t + gap, t + gap + signal.size / 16000))
        t += gap + signal.size / 16000
    return np.concatenate(parts), truth


def accuracy(result: dict, truth: list[tuple[float, float]]) -> tuple[float, float]:
    """Share of utterances matched by exactly one segment within +-0.3 s, and the mean boundary error."""
    segments = [(s["start_s"], s["end_s"]) for s in result["timeline"]]
    matched, errors = 0, []
    for start, end in truth:
        hits = [(s, e) for s, e in segments if abs(s - start) <= 0.3 and abs(e - end) <= 0.3]
        if len(hits) == 1:
            matched += 1
            errors += [abs(hits[0][0] - start), abs(hits[0][1] - end)]
    extra = len(segments) - matched
    return matched / len(truth), float(np.mean(errors)) if errors else float("nan"), extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2, help="processes extracting segment features")
    args = parser.parse_args()
    predictor = Predictor.load(ROOT / "models/model")
    config = AnalysisConfig()
    call, truth = build_call(args.minutes)
    with tempfile.TemporaryDirectory() as tmp:
        variants = {
            "16 kHz PCM WAV": Path(tmp) / "call16k.wav",
            "8 kHz mu-law WAV": Path(tmp) / "call8k.wav",
        }
        sf.write(variants["16 kHz PCM WAV"], call, 16000, subtype="PCM_16")
        sf.write(
            variants["8 kHz mu-law WAV"], librosa.resample(call, orig_sr=16000, target_sr=8000), 8000, subtype="ULAW"
        )
        print(f"call: {call.size / 16000 / 60:.1f} min, {len(truth)} utterances of speakers 03 and 08")
        peaks: dict[str, float] = {}
        print(f"{'file':<18} {'seconds':>8} {'x real time':>12} {'matched':>8} {'extra':>6} {'boundary err':>13}")
        for name, path in variants.items():
            started = time.perf_counter()
            result = analyze(path, predictor, config, workers=args.workers)
            elapsed = time.perf_counter() - started
            tracemalloc.start()  # a second run, since tracing allocations slows the analysis down
            analyze(path, predictor, config, workers=args.workers)
            peaks[name] = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            matched, error, extra = accuracy(result, truth)
            print(
                f"{name:<18} {elapsed:>8.2f} {call.size / 16000 / elapsed:>12.0f} {matched:>8.1%} {extra:>6} "
                f"{error * 1000:>10.0f} ms"
            )
    for name, peak in peaks.items():
        print(f"peak memory allocated during the analysis of the {name} file (tracemalloc): {peak:.1f} MB")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the whole process (includes building the call in memory): {peak:.0f} MB")


if __name__ == "__main__":
    main()
