"""POST /train starts the pipeline as a background job; GET /train[/<job_id>] reports on it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for

from serve import overrides
from serve.auth import bearer_matches
from serve.errors import ApiError
from serve.jobs import JobConflict
from serve.services import services

bp = Blueprint("training", __name__)


def _require_token() -> None:
    settings = services().settings
    if not settings.api_token:
        if settings.allow_unauthenticated_train:
            return
        raise ApiError(
            403,
            "training over HTTP is disabled: set SER_API_TOKEN (or SER_ALLOW_UNAUTHENTICATED_TRAIN=1 for local use)",
        )
    if not bearer_matches(settings.api_token):
        raise ApiError(401, "missing or wrong bearer token")


def _report(job: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "job_id", "state", "created_at", "started_at", "finished_at", "params", "error",
        "train_accuracy", "test_accuracy", "model_version", "previous_model_version",
    )  # fmt: skip
    report = {key: job.get(key) for key in keys}
    report["params"] = report["params"] or {}
    report["log_tail"] = services().jobs.log_tail(job["job_id"])
    return report


@bp.post("/train")
def start_training():
    """Start the pipeline in the background.
    ---
    post:
      summary: Retrain (runs dvc repro); one job at a time
      security: [{bearer: []}]
      requestBody:
        required: false
        content:
          application/json:
            schema: {$ref: '#/components/schemas/TrainRequest'}
      responses:
        202:
          description: Job started; Location names its status URL
          headers:
            Location: {schema: {type: string}}
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Job'}
        400: {$ref: '#/components/responses/Error'}
        401: {$ref: '#/components/responses/Error'}
        403: {$ref: '#/components/responses/Error'}
        409: {$ref: '#/components/responses/Error'}
        415: {$ref: '#/components/responses/Error'}
    """
    _require_token()
    params: dict[str, Any] = {}
    if request.content_length or request.data:
        if not request.is_json:
            raise ApiError(415, "send the training options as JSON")
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or set(body) - {"params"}:
            raise ApiError(400, 'body must be a JSON object such as {"params": {"model.hidden": 100}}')
        try:
            params = overrides.validate(body.get("params", {}))
        except overrides.OverrideError as error:
            raise ApiError(400, str(error)) from None
    settings = services().settings
    try:
        job = services().jobs.start(settings.project_dir, params, settings.train_command)
    except JobConflict as conflict:
        raise ApiError(409, str(conflict), job_id=conflict.job["job_id"]) from None
    location = url_for("training.job_status", job_id=job["job_id"])
    return _report(job), 202, {"Location": location}


@bp.get("/train")
def latest_job():
    """The latest training job.
    ---
    get:
      summary: State of the latest training job
      responses:
        200:
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Job'}
        404: {$ref: '#/components/responses/Error'}
    """
    job = services().jobs.latest()
    if job is None:
        raise ApiError(404, "no training job has run yet")
    return _report(job)


@bp.get("/train/<job_id>")
def job_status(job_id: str):
    """One training job.
    ---
    get:
      summary: State, timestamps, log tail and results of a training job
      parameters:
        - {name: job_id, in: path, required: true, schema: {type: string}}
      responses:
        200:
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Job'}
        404: {$ref: '#/components/responses/Error'}
    """
    try:
        job = services().jobs.get(job_id)
    except KeyError:
        job = None
    if job is None:
        raise ApiError(404, f"no training job {job_id!r}")
    return _report(job)
