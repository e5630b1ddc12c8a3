"""Whisper's encoder (blocks 1-4, as the default features run it) on 3 s of speech, float32 against 8-bit integer
matrix products, alternating, on one core: milliseconds per 3 s, and how far the int8 features are from float32.

Usage: python benchmarks/whisper_int8.py [--rounds 5] [--repeats 40]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ser  # noqa: F401  (first: the SIMD pins, one BLAS thread)

# isort: split

import numpy as np

from ser.audio import decoding
from ser.features import whisper_encoder

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = (2, 4)


def _per_call_ms(mel: np.ndarray, int8: bool, repeats: int) -> float:
    started = time.perf_counter()
    for _ in range(repeats):
        whisper_encoder.block_outputs(mel, BLOCKS, int8)
    return (time.perf_counter() - started) / repeats * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args()
    signal, _ = decoding.decode(ROOT / "data/raw/wav/16a07Ea.wav", whisper_encoder.SAMPLE_RATE)  # 3.00 s
    mel = whisper_encoder.log_mel(signal)
    mel = mel[:, : mel.shape[1] // 2 * 2]
    for int8 in (False, True):  # weights, the onnxruntime session, first calls
        _per_call_ms(mel, int8, 3)
    for round_number in range(1, args.rounds + 1):
        exact, fast = (_per_call_ms(mel, int8, args.repeats) for int8 in (False, True))
        print(f"round {round_number}: float32 {exact:.1f} ms, int8 {fast:.1f} ms per 3 s ({exact / fast:.2f}x)")
    reference = whisper_encoder.features(signal, whisper_encoder.SAMPLE_RATE, BLOCKS)
    quantised = whisper_encoder.features(signal, whisper_encoder.SAMPLE_RATE, BLOCKS, int8=True)
    print(
        f"features of 16a07Ea: correlation {np.corrcoef(reference, quantised)[0, 1]:.4f}, "
        f"mean |difference| {np.abs(reference - quantised).mean():.4f} (mean |value| {np.abs(reference).mean():.4f})"
    )


if __name__ == "__main__":
    main()
