"""Flask application factory of the serving API."""

from __future__ import annotations

import logging

from flask import Flask

from serve import errors
from serve.openapi import build_spec
from serve.routes import analysis, info, predict, training
from serve.services import Services
from serve.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> Flask:
    """Build the API for ``settings`` (default: from the environment) and load the latest model artifact."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=settings.max_upload_bytes, DEBUG=False, JSON_SORT_KEYS=False)
    app.json.sort_keys = False
    services = Services.create(settings)
    app.extensions["ser"] = services
    errors.register(app)
    for blueprint in (predict.bp, analysis.bp, training.bp, info.bp):
        app.register_blueprint(blueprint)
    app.extensions["openapi"] = build_spec(app)
    services.models.refresh(force=True)
    if services.models.get() is None:
        log.warning("no model at %s yet; /pred answers 503 until one exists", settings.model_dir)
    return app
