"""Keep pandas (and the pyarrow it brings) out of a process that never reads a table: about 65 MB of RSS.

scikit-learn imports pandas whenever it is installed, only to accept DataFrames. The API workers and the command
line's single-call commands (``ser predict``, ``ser analyze CALL``) pass numpy arrays only, so they make
``import pandas`` fail before scikit-learn loads, which then takes its no-pandas path. The pipeline and batches,
which write tables, never call this.
"""

from __future__ import annotations

import importlib.abc
import sys


class _WithoutPandas(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"{name} is kept out of this process (ser/lean.py)", name=name)


def keep_pandas_out() -> None:
    """Make ``import pandas`` fail in this process from now on (nothing happens if pandas is already loaded)."""
    if "pandas" not in sys.modules and not any(isinstance(f, _WithoutPandas) for f in sys.meta_path):
        sys.meta_path.insert(0, _WithoutPandas())
