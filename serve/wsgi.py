"""WSGI entry point for gunicorn: ``gunicorn -c serve/gunicorn.conf.py serve.wsgi:app``."""

from ser.lean import keep_pandas_out

# The API passes numpy arrays only and never reads a table (the pipeline, which does, runs in its own process):
# without pandas, scikit-learn takes its no-pandas path and each worker saves about 65 MB (ser/lean.py).
keep_pandas_out()

from serve.app import create_app  # noqa: E402

app = create_app()
