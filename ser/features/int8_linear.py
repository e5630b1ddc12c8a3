"""Linear layers computed in 8-bit integers: onnxruntime's ``MatMulInteger`` with weights quantised once per output
column and activations per row, the products exact in 32-bit integers, rescaled to float32 by a numba kernel.

Whisper's encoder spends most of its time in matrix products. On this project's CPU (AVX-512 VNNI) such a product
in 8-bit integers takes a quarter of float32 BLAS's time (BENCHMARKS.md), and the CV scores are unchanged
(params.yaml, ``features.whisper_int8``).

The same bits on every machine: weights are kept to 7 bits (±63), so that a pair of unsigned 8-bit activations times
weights sums within 16 bits. x86 CPUs without VNNI multiply with ``vpmaddubsw``, which saturates at 16 bits; with
7-bit weights it never does, so the integer product is exact whichever kernel onnxruntime picks (tested against
numpy's). Quantising and rescaling are plain IEEE float32 operations, compiled without fast-math.

The graph (``matmul_integer.onnx``, 211 bytes, both matrices as inputs) is written by
``scripts/matmul_integer_graph.py`` with the ``onnx`` package, a development tool; run time needs only onnxruntime.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba
import numpy as np

from ser.onnx_runtime import single_thread_session

GRAPH_FILE = Path(__file__).with_name("matmul_integer.onnx")
WEIGHT_LEVELS = 63  # 7 bits: 2 x 255 x 63 = 32 130 fits a signed 16-bit sum
ACTIVATION_LEVELS = 127
ACTIVATION_ZERO_POINT = 128  # activations -127..127 stored as unsigned bytes 1..255

_lock = threading.Lock()
_session: Any = None


def session() -> Any:
    """The onnxruntime session of the integer product, created once per process on one thread (callers are the
    parallelism); onnxruntime's ``run`` is thread-safe and releases the GIL."""
    global _session
    with _lock:
        if _session is None:
            _session = single_thread_session(GRAPH_FILE)
        return _session


def integer_product(activations: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``(activations - 128) @ weights`` in exact int32: ``activations`` uint8 (n, k), ``weights`` int8 (k, m)."""
    return session().run(None, {"A": activations, "B": weights})[0]


_TINY = np.float32(np.finfo(np.float32).tiny)


# The kernels below compile without fast-math: each value goes through the same IEEE float32 operations, in the same
# order, as numpy's expressions in their docstrings would (tested), so no CPU rounds them its own way.
@numba.njit(nogil=True, cache=True)
def quantised_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover (compiled)
    """Each row of float32 ``x`` (n, k) as unsigned bytes around ``ACTIVATION_ZERO_POINT``, and its scale (n,):
    ``scale = max(|row|) / 127`` (at least float32's smallest normal), ``levels = rint(row / scale) + 128``."""
    n, k = x.shape
    levels = np.empty((n, k), dtype=np.uint8)
    scales = np.empty(n, dtype=np.float32)
    for i in range(n):
        peak = np.float32(0.0)
        for j in range(k):
            peak = max(peak, abs(x[i, j]))
        scale = max(peak / np.float32(ACTIVATION_LEVELS), _TINY)
        scales[i] = scale
        for j in range(k):
            levels[i, j] = np.uint8(np.rint(x[i, j] / scale) + np.float32(ACTIVATION_ZERO_POINT))
    return levels, scales


@numba.njit(nogil=True, cache=True)
def rescaled(
    product: np.ndarray, row_scales: np.ndarray, column_scales: np.ndarray, bias: np.ndarray
) -> np.ndarray:  # pragma: no cover (compiled)
    """The int32 product (n, m) back in float32: ``float32(product) * (row_scale * column_scale) + bias``."""
    n, m = product.shape
    out = np.empty((n, m), dtype=np.float32)
    for i in range(n):
        for j in range(m):
            out[i, j] = np.float32(product[i, j]) * (row_scales[i] * column_scales[j]) + bias[j]
    return out


@dataclass(frozen=True)
class Int8Linear:
    """``x @ weight + bias`` with ``weight`` (n_in, n_out) quantised to 7 bits per output column."""

    weight: np.ndarray  # int8 (n_in, n_out), -63..63
    scale: np.ndarray  # float32 (n_out,)
    bias: np.ndarray  # float32 (n_out,)

    @classmethod
    def of(cls, weight: np.ndarray, bias: np.ndarray) -> Int8Linear:
        """Quantise a float weight matrix (n_in, n_out) and keep its bias."""
        if weight.shape[0] * ACTIVATION_LEVELS * WEIGHT_LEVELS >= 2**24:
            raise ValueError(f"{weight.shape[0]} inputs: the integer sums would not convert to float32 exactly")
        scale = np.abs(weight).max(axis=0) / np.float32(WEIGHT_LEVELS)
        scale = np.maximum(scale, _TINY).astype(np.float32)
        levels = np.clip(np.rint(weight / scale), -WEIGHT_LEVELS, WEIGHT_LEVELS)
        return cls(np.ascontiguousarray(levels, dtype=np.int8), scale, np.asarray(bias, dtype=np.float32))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """float32 (n, n_in) -> float32 (n, n_out)."""
        levels, row_scales = quantised_rows(np.ascontiguousarray(x, dtype=np.float32))
        # exact in float32: |sums| < 2**24 (checked in ``of``)
        return rescaled(integer_product(levels, self.weight), row_scales, self.scale, self.bias)
