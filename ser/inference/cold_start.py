"""One call analysed by a process that has loaded nothing yet (``ser analyze call.wav`` with two workers or more).

Importing the feature code (librosa, scipy, numba) and loading and warming up the model take about as long as
finding the speech in a 10-minute call, and each needs a core. Here the speech detector, which needs only the light
part of the library, runs at once in a forked process while this one imports the rest, loads the model and warms
it up; the analysis then goes on here as in ``ser.inference.calls.analyze``, with the same result (tested). A
process, not a thread: in threads the import's Python code and the detector's fight for the GIL and the overlap
gained nothing (BENCHMARKS.md). Where processes cannot be forked safely (Windows, or other threads running), or
with one worker, the call is analysed one step after the other.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ser.audio.decoding import AudioError, seekable
from ser.inference.analysis_config import AnalysisConfig
from ser.inference.legs import joined_legs, labelled_as_legs, legs_config
from ser.inference.ordered_pool import forks_safely
from ser.inference.speech import Speech, all_streams, listening, speech_of

# Up to this much audio (seconds, all streams together) the forked detector listens on one thread: its work then
# takes about as long as importing, loading and warming up the model on the other core (a 10-minute stereo call,
# 1200 s: 4.5 s in all with one thread, 4.8 s with two; BENCHMARKS.md). Longer calls get every worker.
ONE_THREAD_UP_TO_S = 1800.0


def _detect_into(
    send: Connection, call: Path, per_channel: bool, config: AnalysisConfig, max_seconds: float, workers: int
) -> None:
    """The forked process: ``speech.segment`` of the call, or the error it raised, sent back through ``send``."""
    try:
        plan = listening(call, per_channel, config, max_seconds)
        threads = workers if plan.duration * plan.streams > ONE_THREAD_UP_TO_S else 1
        send.send(("speech", speech_of(plan, config, all_streams(call, plan, config, threads))))
    except Exception as error:  # every failure goes back to the caller, which raises it
        try:
            send.send(("error", error))
        except Exception:  # an exception that cannot be pickled
            send.send(("error", RuntimeError(f"speech detection failed: {error!r}")))
    finally:
        send.close()


class _ForkedDetection:
    """``speech.segment`` of a call in a forked process: on one thread while this process loads the model (on the
    other core), unless the call is long enough for the model's loading not to matter."""

    def __init__(self, call: Path, per_channel: bool, config: AnalysisConfig, max_seconds: float, workers: int) -> None:
        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_detect_into, args=(send, call, per_channel, config, max_seconds, workers), daemon=True
        )
        self._process.start()
        send.close()

    def result(self) -> Speech:
        try:
            kind, value = self._receive.recv()
        except EOFError:
            self._process.join()
            raise AudioError(f"speech detection stopped unexpectedly (exit code {self._process.exitcode})") from None
        if kind == "error":
            raise value
        return value

    def stop(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()
        self._receive.close()


def analyze_cold(
    call: Path | tuple[Path, Path],
    model_dir: Path,
    config: AnalysisConfig,
    per_channel: bool = True,
    max_seconds: float = float("inf"),
    progress: bool = False,
    workers: int = 1,
) -> dict[str, Any]:
    """``calls.analyze`` of the file ``call``, or ``calls.analyze_legs`` of a (customer, agent) pair of files, with
    the model in ``model_dir``; with ``workers`` > 1 the model loads while a forked process finds the speech."""
    if isinstance(call, tuple):
        with joined_legs(*call, max_seconds) as joined:
            result = _analyzed(joined, model_dir, legs_config(config), True, max_seconds, progress, workers)
        return labelled_as_legs(result)
    with seekable(call, max_seconds) as readable:
        return _analyzed(Path(readable), model_dir, config, per_channel, max_seconds, progress, workers)


def _analyzed(
    call: Path,
    model_dir: Path,
    config: AnalysisConfig,
    per_channel: bool,
    max_seconds: float,
    progress: bool,
    workers: int,
) -> dict[str, Any]:
    if workers < 2 or not forks_safely():
        from ser.inference.calls import analyze
        from ser.inference.predictor import Predictor

        return analyze(call, Predictor.load(model_dir), config, per_channel, max_seconds, progress, workers)
    detection = _ForkedDetection(call, per_channel, config, max_seconds, workers)
    try:
        from ser.inference.calls import analyze_speech
        from ser.inference.predictor import Predictor

        predictor = Predictor.load(model_dir)
        predictor.warm_up()
        speech = detection.result()
    finally:
        detection.stop()
    return analyze_speech(call, speech, predictor, config, progress, workers)
