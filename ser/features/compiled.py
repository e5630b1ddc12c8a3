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
from collections.abc import Callable, Hashable
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover (not POSIX: the in-process lock alone)
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

_done: set[Hashable] = set()
_in_process = threading.Lock()


def lock_path() -> Path:
    """The lock file every process of this user on this machine shares."""
    user = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"ser-numba-compile-{user}.lock"


def once(key: Hashable, warm_up: Callable[[], object]) -> None:
    """Run ``warm_up`` (a first use of some numba code) once per process for ``key``, one process at a time.

    ``warm_up`` must not call ``once`` with the same key.
    """
    if key in _done:
        return
    with _in_process:
        if key in _done:
            return
        try:
            handle = open(lock_path(), "a")  # noqa: SIM115 (closed below, also when it cannot be locked)
        except OSError as error:  # a read-only temporary directory: compile without the machine-wide lock
            log.warning("no numba compile lock (%s): processes may compile at the same time", error)
            handle = None
        try:
            if handle is not None and fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_EX)
            warm_up()
        finally:
            if handle is not None:
                handle.close()  # closing releases the lock
        _done.add(key)
