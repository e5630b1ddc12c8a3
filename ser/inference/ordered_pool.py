"""One function over many jobs on several cores, answers in order, a bounded number of jobs in flight.

Worker processes are forked from the caller when it runs no other thread: they inherit its loaded encoders and
compiled code (no start-up) and do not share one GIL. For the segments of a 10-minute call that is 15 % faster than
threads (BENCHMARKS.md). A process that runs other threads gets threads instead: forking it could leave a lock
another thread holds locked in the child. Both give the same answers (tested).
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any


def forks_safely() -> bool:
    """Whether worker processes can be forked from this process: the platform forks and no other thread runs."""
    return threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()


def _executor(workers: int, processes: bool) -> Executor:
    if processes:
        return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    return ThreadPoolExecutor(workers)


def ordered_map(
    function: Callable[..., Any], jobs: Iterable[tuple[Any, ...]], workers: int, processes: bool | None = None
) -> Iterator[Any]:
    """``function(*job)`` of every job, in order; with ``workers`` > 1, at most ``4 * workers`` jobs are taken from
    ``jobs`` ahead of the answer being read, so memory stays bounded however many there are. ``processes``: forked
    workers or threads; by default processes when ``forks_safely()``."""
    if workers < 2:
        yield from (function(*job) for job in jobs)
        return
    with _executor(workers, forks_safely() if processes is None else processes) as executor:
        pending: deque[Future[Any]] = deque()
        for job in jobs:
            pending.append(executor.submit(function, *job))
            if len(pending) >= 4 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
