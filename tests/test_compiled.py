"""Numba code is compiled one process at a time: concurrent first uses on a cold cache must not break it."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.project_copy import ROOT

TIMED_WARM_UP = textwrap.dedent(
    """
    import sys, time
    from ser.features import compiled
    def warm_up():
        start = time.time(); time.sleep(0.5)
        print(start, time.time(), flush=True)
    compiled.once("key", warm_up)
    compiled.once("key", warm_up)  # once per process
    """
)

COLD_EXTRACT = textwrap.dedent(
    """
    import numpy as np, ser
    from ser.features.extractor import FeatureConfig, extract
    from ser.features import voice_encoder
    signal = (0.1 * np.sin(np.arange(16000) * 0.07) * np.linspace(0.2, 1, 16000)).astype(np.float32)
    vector = extract(signal, 16000, FeatureConfig(whisper_blocks=None))
    embedding = voice_encoder.embedding(signal, 16000)
    np.save(__import__("sys").argv[1], np.concatenate([vector, embedding]))
    """
)


def _run_together(code: str, env: dict[str, str], outputs: list[str]) -> list[subprocess.CompletedProcess]:
    processes = [
        subprocess.Popen([sys.executable, "-c", code, out], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        for out in outputs
    ]
    return [subprocess.CompletedProcess(p.args, p.wait(timeout=300), p.stdout.read(), None) for p in processes]


@pytest.mark.unit
def test_first_uses_in_two_processes_run_one_after_the_other(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # the lock file lives in the temporary directory
    results = _run_together(TIMED_WARM_UP, env, ["a", "b"])
    assert [r.returncode for r in results] == [0, 0]
    spans = sorted(tuple(float(v) for v in r.stdout.split()) for r in results)
    assert len(spans) == 2 and all(len(span) == 2 for span in spans), "each process warms up exactly once"
    assert spans[0][1] <= spans[1][0], f"the two warm-ups overlapped: {spans}"


@pytest.mark.unit
def test_a_temporary_directory_that_cannot_hold_the_lock_does_not_stop_the_first_use(tmp_path, monkeypatch):
    from ser.features import compiled

    monkeypatch.setattr(compiled, "lock_path", lambda: tmp_path / "missing" / "compile.lock")
    calls = []
    compiled.once(("test", tmp_path), lambda: calls.append(1))
    compiled.once(("test", tmp_path), lambda: calls.append(1))
    assert calls == [1]


@pytest.mark.unit
def test_a_lock_held_too_long_by_another_process_does_not_stall_the_first_use(tmp_path, monkeypatch):
    """An orphaned worker of a killed job stopped while holding the lock: later processes wait at most
    ``LOCK_WAIT_S``, then go ahead."""
    from ser.features import compiled

    lock = tmp_path / "compile.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import fcntl, time; h = open({str(lock)!r}, 'a'); fcntl.flock(h, fcntl.LOCK_EX); "
         "print('locked', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        monkeypatch.setattr(compiled, "lock_path", lambda: lock)
        monkeypatch.setattr(compiled, "LOCK_WAIT_S", 0.5)
        calls = []
        compiled.once(("held", tmp_path), lambda: calls.append(1))
        assert calls == [1]
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.unit
def test_a_first_use_inside_another_one_runs_under_the_same_lock(tmp_path):
    """The voice encoder's first use runs inside the features' (``features.voice_encoder: true``): it must neither
    wait for the lock its own process holds nor skip its warm-up."""
    code = textwrap.dedent(
        """
        from ser.features import compiled
        calls = []
        compiled.once("outer", lambda: (calls.append("outer"), compiled.once("inner", lambda: calls.append("inner"))))
        compiled.once("inner", lambda: calls.append("again"))
        print(calls)
        """
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "['outer', 'inner']", result.stderr[-2000:]


@pytest.mark.system
def test_processes_compiling_on_a_cold_cache_leave_it_usable(tmp_path):
    """Two processes extract on a cold numba cache at once, then a third loads the cache: none crashes (before the
    lock, a cold cache was left broken in about one of three such races), and all compute the same values."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "TMPDIR": str(tmp_path)}
    outputs = [str(tmp_path / f"{name}.npy") for name in ("first", "second", "third")]
    results = _run_together(COLD_EXTRACT, env, outputs[:2]) + _run_together(COLD_EXTRACT, env, outputs[2:])
    assert [r.returncode for r in results] == [0, 0, 0]
    values = [np.load(out) for out in outputs]
    assert all(np.array_equal(values[0], other) for other in values[1:])
