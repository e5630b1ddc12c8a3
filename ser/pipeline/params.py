"""Reading params.yaml and setting up the stages' logging."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml

from ser.pipeline.paths import PARAMS_FILE


def load_params(path: Path = PARAMS_FILE) -> dict[str, Any]:
    """The whole params file as a dict."""
    with open(path) as handle:
        return yaml.safe_load(handle) or {}


def setup_logging(level: str = "INFO") -> None:
    """Log to stderr with timestamps; ``level`` comes from ``base.log_level``."""
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
