"""Running a DVC stage entry point: logging set-up and one-line errors."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ser.errors import SerError
from ser.pipeline.params import load_params, setup_logging

log = logging.getLogger("ser.pipeline.stage")

# Errors a user can cause (bad params, bad data); anything else is a bug and keeps its traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (SerError,)


def run(main: Callable[[dict[str, Any]], None]) -> None:
    """Call ``main(params)``; on a user error print one ``error:`` line and exit with status 1."""
    try:
        params = load_params()
        setup_logging(params.get("base", {}).get("log_level", "INFO"))
        main(params)
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)


def write_parquet(path: Path, table: pd.DataFrame) -> None:
    """Write a table to ``path`` through a temporary sibling and a rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    table.to_parquet(partial)
    partial.replace(path)


def write_npy(path: Path, array: np.ndarray) -> None:
    """Write a numpy array through a temporary sibling and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial.npy")
    np.save(partial, array)
    partial.replace(path)


def read_npy(path: Path) -> np.ndarray:
    return np.load(path)


def write_json(path: Path, data: Any) -> None:
    """Write pretty, key-sorted JSON (stable across runs), creating the parent directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
