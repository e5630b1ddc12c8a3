"""`analysis:` rules changed from a benchmark's command line (`--variant`, `--set`)."""

from __future__ import annotations

from dataclasses import replace

import ser  # noqa: F401  (first: the SIMD pins)
from ser.inference.analysis_config import AnalysisConfig


def changed(rules: AnalysisConfig, settings: list[str]) -> AnalysisConfig:
    """``rules`` with the numeric ``KEY=VALUE`` settings applied, ``KEY=null`` for a rule that can be off
    (ValueError naming a bad one)."""
    known = set(rules.__dataclass_fields__)
    for setting in settings:
        key, _, value = setting.partition("=")
        if key not in known or not value:
            raise ValueError(f"{setting!r} is not KEY=VALUE with KEY one of the analysis: rules")
        try:
            rules = replace(rules, **{key: None if value == "null" else float(value)})
        except (ValueError, TypeError):
            raise ValueError(f"{setting!r}: not a number, or null where the rule cannot be off") from None
    return rules
