"""ordered_pool: answers in order from forked workers or threads, a bounded number of jobs ahead, errors raised."""

import os
import threading

import pytest

from ser.errors import SerError
from ser.inference.ordered_pool import forks_safely, ordered_map

pytestmark = pytest.mark.unit


def _square_with_pid(value: int) -> tuple[int, int]:
    if value < 0:
        raise SerError(f"negative: {value}")
    return value * value, os.getpid()


@pytest.mark.parametrize("processes", [True, False])
def test_answers_come_in_order_with_a_bounded_number_of_jobs_ahead(processes):
    taken = []

    def jobs():
        for value in range(40):
            taken.append(value)
            yield (value,)

    answers = []
    for squared, pid in ordered_map(_square_with_pid, jobs(), workers=2, processes=processes):
        assert len(taken) - len(answers) <= 8  # 4 * workers ahead at most
        answers.append(squared)
        assert (pid != os.getpid()) is processes
    assert answers == [value * value for value in range(40)]


@pytest.mark.parametrize("processes", [True, False])
def test_an_error_in_a_worker_reaches_the_caller(processes):
    values = [*range(10), -13, *range(10)]
    with pytest.raises(SerError, match="negative: -13"):
        list(ordered_map(_square_with_pid, ((value,) for value in values), workers=2, processes=processes))


def test_one_worker_runs_in_the_caller():
    assert [pid for _, pid in ordered_map(_square_with_pid, [(1,), (2,)], workers=1)] == [os.getpid()] * 2


def test_a_process_running_another_thread_does_not_fork():
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not forks_safely()
    finally:
        stop.set()
        other.join()
