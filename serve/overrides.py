"""Whitelisted, type-checked parameter overrides (``{"model.hidden": 100}``) and their atomic application."""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from ser.data import emodb
from ser.errors import SerError
from ser.models.families import FAMILIES
from ser.models.metrics import SELECTION_METRICS


class OverrideError(SerError, ValueError):
    """An override names a parameter that may not be changed, or gives it a bad value."""


def _integer(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise OverrideError(f"must be an integer from {low} to {high}")
        return value

    return check


def _number(low: float, high: float, low_open: bool = False) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise OverrideError("must be a number")
        if not (low < value if low_open else low <= value) or not value <= high:
            raise OverrideError(f"must be in {'(' if low_open else '['}{low}, {high}]")
        return float(value)

    return check


def _choice(*options: Any) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value not in options or isinstance(value, bool):
            raise OverrideError(f"must be one of {list(options)}")
        return value

    return check


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise OverrideError("must be true or false")
    return value


def _speakers(value: Any) -> list[str]:
    if not isinstance(value, list) or not 1 <= len(value) <= len(emodb.SPEAKERS) - 2:
        raise OverrideError(f"must be a list of 1 to {len(emodb.SPEAKERS) - 2} speaker ids")
    if any(not isinstance(s, str) or s not in emodb.SPEAKERS for s in value) or len(set(value)) != len(value):
        raise OverrideError(f"must list distinct speakers from {sorted(emodb.SPEAKERS)}")
    return sorted(value)


ALLOWED: dict[str, Callable[[Any], Any]] = {
    "model.family": _choice("auto", *FAMILIES),
    "model.seed": _integer(0, 2**31 - 1),
    "model.hidden": _integer(1, 4096),
    "model.batch_norm": _boolean,
    "model.dropout": _number(0.0, 0.9),
    "model.epochs": _integer(1, 5000),
    "model.learning_rate": _number(0.0, 1.0, low_open=True),
    "model.weight_decay": _number(0.0, 1.0),
    "model.label_smoothing": _number(0.0, 0.9),
    "model.batch_size": _integer(1, 4096),
    "model.n_estimators": _integer(1, 5000),
    "model.C": _number(0.0, 1e6, low_open=True),
    "model.class_weight": _choice(None, "balanced"),
    "model.members": _integer(1, 20),
    "split.test_speakers": _speakers,
    "cv.metric": _choice(*SELECTION_METRICS),
}


def validate(overrides: Any) -> dict[str, Any]:
    """Check a mapping of dotted param names to values against the whitelist; return the cleaned mapping."""
    if not isinstance(overrides, dict):
        raise OverrideError('"params" must be an object such as {"model.hidden": 100}')
    cleaned = {}
    for key, value in overrides.items():
        if key not in ALLOWED:
            raise OverrideError(f"param {key!r} cannot be overridden; allowed: {sorted(ALLOWED)}")
        try:
            cleaned[key] = ALLOWED[key](value)
        except OverrideError as error:
            raise OverrideError(f"param {key!r} {error}") from None
    return cleaned


def apply(params_file: Path, overrides: dict[str, Any]) -> None:
    """Write validated ``overrides`` into ``params_file`` (comments kept) via a temporary file and a rename."""
    yaml = YAML()
    yaml.preserve_quotes = True
    data = yaml.load(params_file.read_text())
    for key, value in validate(overrides).items():
        block, name = key.split(".", 1)
        data[block][name] = value
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    handle, temp = tempfile.mkstemp(prefix=".params.", dir=params_file.parent)
    with os.fdopen(handle, "w") as out:
        out.write(buffer.getvalue())
    os.replace(temp, params_file)
