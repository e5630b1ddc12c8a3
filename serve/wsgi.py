"""WSGI entry point for gunicorn: ``gunicorn -c serve/gunicorn.conf.py serve.wsgi:app``."""

import importlib.abc
import sys


class _WithoutPandas(importlib.abc.MetaPathFinder):
    """Makes ``import pandas`` fail in the API workers.

    scikit-learn imports pandas whenever it is installed, only to accept DataFrames, and pandas brings pyarrow: about
    65 MB of RSS in every worker. The API passes numpy arrays only and never reads a table (the pipeline, which does,
    runs in its own process), so scikit-learn takes its no-pandas path.
    """

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"{name} is kept out of the API workers (serve/wsgi.py)", name=name)


if "pandas" not in sys.modules:
    sys.meta_path.insert(0, _WithoutPandas())

from serve.app import create_app  # noqa: E402

app = create_app()
