"""The same bits on every x86-64 machine with AVX2: features and a trained MLP do not depend on the SIMD code the
CPU offers (``ser/__init__.py`` pins numpy, OpenBLAS, numba and torch to AVX2)."""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import numba
import pytest
from numba.core.dispatcher import Dispatcher

import ser
from ser.features import voice_encoder
from ser.features.extractor import FeatureConfig, extract
from tests.project_copy import ROOT
from tests.synthetic import SR, synthetic_ids, synthetic_signal

# Features of synthetic utterances (encoders included) and the class probabilities of a small trained MLP.
SCRIPT = """
import ser  # first, as the stages, the API and the CLI do
import hashlib
import numpy as np
from ser.features import voice_encoder
from ser.features.extractor import FeatureConfig, extract
from ser.models.families import build_estimator
from tests.synthetic import SR, synthetic_ids, synthetic_signal
ids = synthetic_ids(40)
x = np.stack([extract(synthetic_signal(i, 1.0), SR, FeatureConfig()) for i in ids[:3]])
print(hashlib.sha256(x.tobytes()).hexdigest())
"""
TRAIN_MLP = """
rng = np.random.default_rng(0)
train = rng.normal(size=(300, 120)).astype(np.float32)
for spec in ({}, {"batch_norm": True, "dropout": 0.3}, {"label_smoothing": 0.1, "class_weight": "balanced"}):
    spec = {"family": "mlp", "hidden": 50, "seed": 1, "epochs": 5, **spec}
    model = build_estimator(spec).fit(train, np.arange(300) % 7)
    print(hashlib.sha256(model.predict_proba(train).tobytes()).hexdigest())
"""
SCRIPT += TRAIN_MLP
# The same MLPs alone; argv[1] (if given) replaces MKL's branch after ``import ser``, before torch loads.
MLP_SCRIPT = (
    """
import sys
import ser
import os
import hashlib
import numpy as np
from ser.models.families import build_estimator
if len(sys.argv) > 1:
    os.environ["MKL_CBWR"] = sys.argv[1]
"""
    + TRAIN_MLP
)

# What another machine would make these libraries choose: this machine's own AVX-512 kernels, two BLAS threads.
OTHER_CPU = {
    "NPY_DISABLE_CPU_FEATURES": "",
    "OPENBLAS_CORETYPE": "SkylakeX",
    "OPENBLAS_NUM_THREADS": "2",
    "NUMBA_CPU_NAME": "skylake-avx512",
    "ATEN_CPU_CAPABILITY": "avx512",
    "MKL_CBWR": "AUTO",
    "ONEDNN_MAX_CPU_ISA": "ALL",
}
AVX512 = os.path.exists("/proc/cpuinfo") and "avx512f" in Path("/proc/cpuinfo").read_text()


def _unpinned_environment() -> dict[str, str]:
    """This process's environment without the pins (and without their off switch)."""
    return {k: v for k, v in os.environ.items() if k not in ser.SIMD_PINS and k != "SER_NATIVE_SIMD"}


def _hashes(*argv: str, script: str = SCRIPT, **env: str) -> list[str]:
    """The hashes ``script`` prints, run with ``env`` over this environment without its pins (or a lifted pin)."""
    clean = _unpinned_environment()
    result = subprocess.run(
        [sys.executable, "-c", script, *argv],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.split()


@pytest.mark.system
@pytest.mark.skipif(not AVX512, reason="emulates an AVX2 and an AVX-512 machine: needs an AVX-512 CPU")
def test_features_and_models_are_bit_identical_whatever_the_cpu_offers():
    pinned = _hashes()
    assert _hashes(**OTHER_CPU) == pinned
    assert _hashes(SER_NATIVE_SIMD="1", **OTHER_CPU) != pinned, "without the pins the CPU changes the bits"


@pytest.mark.system
@pytest.mark.skipif(not ser._has_avx2(), reason="the pins apply on x86-64 CPUs with AVX2")
@pytest.mark.parametrize("branch", ["AUTO", "AVX2", "SSE4_2"])
def test_mlp_training_does_not_depend_on_mkls_branch(branch):
    """MKL picks its code by the CPU and rounds differently on Intel and AMD machines, even on its `COMPATIBLE`
    branch (an Intel Xeon trained other weights than the AMD EPYC that wrote dvc.lock). The MLP therefore trains
    without it (``ser/models/mlp.py``): any MKL branch gives the same bits, a plain network, one with batch norm and
    dropout and one with label smoothing and class weights alike. (Before, each branch gave other weights.)"""
    pinned = _hashes(script=MLP_SCRIPT)
    assert len(pinned) == 3
    assert _hashes(branch, script=MLP_SCRIPT) == pinned


STDLIB_AND_SER = set(sys.stdlib_module_names) | {"ser"}


def _top_level_imports(script: Path) -> list[str]:
    """The modules ``script`` imports at its top level, in order (``from __future__`` left out)."""
    return [
        node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
        for node in ast.parse(script.read_text()).body
        if isinstance(node, ast.Import | ast.ImportFrom) and getattr(node, "module", "") != "__future__"
    ]


@pytest.mark.unit
@pytest.mark.parametrize("script", sorted((ROOT / "stages").glob("*.py")), ids=lambda path: path.name)
def test_stages_import_ser_before_any_numerical_library(script):
    """A stage that imported numpy before ser would run unpinned and write other bits into dvc.lock."""
    first_party = _top_level_imports(script)
    assert all(name.split(".")[0] in STDLIB_AND_SER for name in first_party), first_party


@pytest.mark.unit
@pytest.mark.parametrize("script", sorted((ROOT / "benchmarks").glob("*.py")), ids=lambda path: path.name)
def test_benchmarks_import_ser_before_any_numerical_library(script):
    """A benchmark that imported numpy first would measure unpinned kernels and, in session 23, a second BLAS thread
    busy-waiting beside the worker processes (the 10-minute call 0.6 s slower than `ser analyze` runs it)."""
    imported = [name for name in _top_level_imports(script) if name.split(".")[0] not in sys.stdlib_module_names]
    assert not imported or imported[0] == "ser", imported


@pytest.mark.unit
@pytest.mark.skipif(not ser._has_avx2(), reason="the pins apply on x86-64 CPUs with AVX2")
def test_numpy_imported_before_ser_still_gets_one_blas_thread_and_a_warning():
    """Unless the pins were already in the environment it started with (a worker process of a pinned parent)."""
    clean = _unpinned_environment()
    script = "import numpy\nimport ser\nfrom threadpoolctl import threadpool_info\n"
    script += "print([i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'])"

    def numpy_first(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return result

    unpinned = numpy_first({**clean, "OPENBLAS_NUM_THREADS": "2"})
    assert unpinned.stdout.strip() == "[1]"
    assert "imported before ser" in unpinned.stderr
    inherited = numpy_first({**clean, **ser.SIMD_PINS})
    assert inherited.stdout.strip() == "[1]"
    assert "imported before ser" not in inherited.stderr


# Instructions whose results each CPU model defines for itself (approximate reciprocals and square roots): Intel and
# AMD machines disagree in their last bits. LLVM emits them under fast-math's ``arcp``/``afn`` flags.
CPU_DEFINED_INSTRUCTIONS = re.compile(r"\b(v?rcp(14|28)?[ps]s|v?rsqrt(14|28)?[ps]s)\b")


@pytest.mark.unit
def test_compiled_kernels_use_no_instruction_whose_bits_the_cpu_defines():
    signal = synthetic_signal(synthetic_ids(1)[0], 1.0)
    extract(signal, SR, FeatureConfig())  # every kernel the features run ...
    voice_encoder.embedding(signal, SR)  # ... and the diarisation's
    kernels = [
        value
        for name, module in list(sys.modules.items())
        if name.split(".")[0] == "ser"
        for value in vars(module).values()
        if isinstance(value, Dispatcher) and value.signatures
    ]
    assert {kernel.__name__ for kernel in kernels} >= {"_gelu_in_place", "_lstm_steps", "quantised_rows", "rescaled"}
    for kernel in kernels:
        options = {key: value for key, value in kernel.targetoptions.items() if key != "cache"}
        uncached = numba.njit(**options)(kernel.py_func)  # cached code cannot be disassembled
        for signature in kernel.signatures:
            uncached.compile(signature)
        for assembly in uncached.inspect_asm().values():
            assert not CPU_DEFINED_INSTRUCTIONS.search(assembly), kernel.__name__
