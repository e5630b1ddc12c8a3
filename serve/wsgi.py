"""WSGI entry point for gunicorn: ``gunicorn -c serve/gunicorn.conf.py serve.wsgi:app``."""

from serve.app import create_app

app = create_app()
