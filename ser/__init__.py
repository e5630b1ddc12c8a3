"""Speech emotion recognition on EmoDB: the library behind the DVC stages and the API.

Importing ``ser`` first pins the SIMD code of numpy, OpenBLAS, numba and torch (ATen, MKL, oneDNN) to AVX2 on
x86-64 machines that have it, and OpenBLAS to one thread. Each of these picks its kernels by the CPU it runs on, and
AVX-512 and AVX2 kernels round differently (OpenBLAS's AVX2 ones also by thread count): without the pins most
features differ in their last bits between machines, and so do the models and the figures in ``dvc.lock`` (issue
#16). With them, every AVX2 machine (x86 servers since about 2015) computes the same bits, at the same speed here
(BENCHMARKS.md). The pins override the environment (which may name another CPU); ``SER_NATIVE_SIMD=1`` turns them
off (the fastest kernels of this CPU, results that only this CPU reproduces). torch's MKL is pinned to its SSE2
``COMPATIBLE`` branch, the only one MKL keeps on non-Intel CPUs; even that branch rounds differently on Intel and
AMD CPUs, so the MLP trains without MKL (``ser/models/mlp.py``).
Imported after numpy (in a process that did not inherit the pins), ``ser`` warns and limits numpy's BLAS to one
thread, the one pin it can still apply.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
from pathlib import Path

__version__ = "0.1.0"

AVX2_FEATURES = (
    "+64bit,+avx,+avx2,+bmi,+bmi2,+cmov,+cx16,+f16c,+fma,+fxsr,+lzcnt,+movbe,+popcnt,"
    "+sse,+sse2,+sse3,+sse4.1,+sse4.2,+ssse3,+xsave"
)
SIMD_PINS = {
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",  # numpy's ufunc loops: the X86_V3 (AVX2) ones
    "OPENBLAS_CORETYPE": "Haswell",  # numpy's and scipy's BLAS ...
    "OPENBLAS_NUM_THREADS": "1",  # ... whose AVX2 kernels round by thread count (the workers are the parallelism)
    "NUMBA_CPU_NAME": "haswell",  # librosa's and our numba kernels
    "NUMBA_CPU_FEATURES": AVX2_FEATURES,  # (numba takes the host's features unless told)
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's kernels (the MLP's training)
    # torch's MKL. It honours its AVX2 branch on Intel CPUs only and takes its own AUTO branch elsewhere; COMPATIBLE
    # (SSE2) is the branch it keeps on every vendor's CPU, yet an Intel and an AMD machine still trained other MLP
    # weights on it (session 42), so the MLP's products, square roots and dropout masks no longer run in MKL
    # (ser/models/mlp.py). The pin stays for whatever else of torch does.
    "MKL_CBWR": "COMPATIBLE",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
}
PINNED_LIBRARIES = ("numpy", "numba", "torch")


def _has_avx2() -> bool:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx2" in flags and " fma" in flags


def _pin_simd() -> None:
    if os.environ.get("SER_NATIVE_SIMD") == "1" or not _has_avx2():
        return
    # A worker process (joblib's imports numpy before it unpickles our code) inherits the pins in its environment:
    # its libraries loaded with them. Only a process whose environment lacked them loaded unpinned code.
    inherited = all(os.environ.get(name) == value for name, value in SIMD_PINS.items())
    os.environ.update(SIMD_PINS)
    loaded = [name for name in PINNED_LIBRARIES if name in sys.modules]
    if loaded and not inherited:
        logging.getLogger(__name__).warning(
            "%s imported before ser: their SIMD kernels are not pinned (import ser first for the bits of dvc.lock)",
            loaded,
        )
        if "numpy" in sys.modules:
            _one_blas_thread()


def _one_blas_thread() -> None:
    """Limit the BLAS that numpy loaded before ser to one thread, as the pin would have: its kernels stay as loaded,
    but it no longer rounds by thread count, nor keeps a second core busy-waiting beside worker processes."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


_pin_simd()
