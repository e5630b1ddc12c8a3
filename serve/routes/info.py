"""GET /health, /ready, /model and /openapi.json."""

from __future__ import annotations

import json

from flask import Blueprint, current_app

from serve.services import services

bp = Blueprint("info", __name__)


@bp.get("/")
def index():
    """The web page: upload an utterance or a call and see the result."""
    return current_app.send_static_file("index.html")


@bp.get("/health")
def health():
    """Liveness.
    ---
    get:
      summary: The process answers
      responses:
        200:
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Health'}
    """
    return {"status": "ok"}


@bp.get("/ready")
def ready():
    """Readiness.
    ---
    get:
      summary: A model is loaded and requests can be served
      responses:
        200:
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Ready'}
        503:
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Ready'}
    """
    artifact = services().models.get()
    if artifact is None:
        return {"ready": False, "model_version": None, "error": services().models.last_error or "no model yet"}, 503
    return {"ready": True, "model_version": artifact.version}


@bp.get("/model")
def model():
    """Metadata of the served model.
    ---
    get:
      summary: Metadata and test metrics of the served model
      responses:
        200:
          content:
            application/json:
              schema: {$ref: '#/components/schemas/ModelInfo'}
        503: {$ref: '#/components/responses/Error'}
    """
    artifact = services().model()
    metrics = None
    try:
        candidate = json.loads(services().settings.metrics_file.read_text())
        if candidate.get("model_version") == artifact.version:
            metrics = candidate
    except (OSError, ValueError):
        pass
    return {"model_version": artifact.version, "metadata": artifact.metadata, "metrics": metrics}


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3 document of this API."""
    return current_app.extensions["openapi"]
