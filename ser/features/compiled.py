"""Numba code compiled one process at a time.

librosa's kernels and ours are compiled on first use and cached on disk (``cache=True``). Processes that compile
the same function at the same moment on a cold cache can overwrite each other's cache files (the cache numbers its
entries per process), and a later process then loads machine code for another signature and dies with SIGSEGV: a
fresh clone's first ``dvc repro`` crashed so in its two feature workers, and two processes running ``librosa.yin``
on a cold cache left it broken in one of three tries. So each process makes its first use of a numba path
(``once``) under a machine-wide file lock: the first compiles and writes the cache, the others then load it.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TextIO

try:
    import fcntl
except ImportError:  # pragma: no cover (not POSIX: the in-process lock alone)
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

# A cold first use compiles for about 15 s on this machine's 2 cores (a minute when they are busy).
LOCK_WAIT_S = 180.0

_done: set[Hashable] = set()
_in_process = threading.RLock()
_depth = 0  # first uses in progress in this process (under _in_process)


def lock_path() -> Path:
    """The lock file every process of this user on this machine shares."""
    user = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"ser-numba-compile-{user}.lock"


def once(key: Hashable, warm_up: Callable[[], object]) -> None:
    """Run ``warm_up`` (a first use of some numba code) once per process for ``key``, one process at a time.

    ``warm_up`` may call ``once`` for other keys (they run under the same lock), not for its own.
    """
    if key in _done:
        return
    global _depth
    with _in_process:
        if key in _done:
            return
        handle = None
        if _depth == 0:  # a first use inside another one (the voice encoder's in the features') holds the lock
            try:
                handle = open(lock_path(), "a")  # noqa: SIM115 (closed below)
            except OSError as error:  # a read-only temporary directory: compile without the machine-wide lock
                log.warning("no numba compile lock (%s): processes may compile at the same time", error)
        _depth += 1
        try:
            if handle is not None:
                _acquire(handle)
            warm_up()
        finally:
            _depth -= 1
            if handle is not None:
                handle.close()  # closing releases the lock
        _done.add(key)


def _acquire(handle: TextIO) -> None:
    """Wait for the lock, at most ``LOCK_WAIT_S``: a process stopped while it held the lock (an orphaned worker of a
    killed job) must not stall every later one; past the wait the first use goes ahead, as it did before the lock."""
    if fcntl is None:  # pragma: no cover
        return
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                log.warning("numba compile lock %s held over %.0f s: compiling without it", handle.name, LOCK_WAIT_S)
                return
            time.sleep(0.05)
