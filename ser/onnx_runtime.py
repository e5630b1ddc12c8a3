"""onnxruntime sessions the way every part of the library runs them: on the CPU, one thread each (the callers'
workers are the parallelism), warnings only."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def single_thread_session(model: Path) -> Any:
    """A CPU session of ``model`` on one thread; onnxruntime's ``run`` is thread-safe and releases the GIL."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
