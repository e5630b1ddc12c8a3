"""Every error is JSON: {"error": message, "status": code}."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answer with an HTTP status and a message for the client."""

    def __init__(self, status: int, message: str, **extra: object) -> None:
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


def error_response(status: int, message: str, **extra: object):
    response = jsonify({"error": message, "status": status, **extra})
    response.status_code = status
    return response


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        return error_response(error.status, error.message, **error.extra)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        messages = {
            413: f"request body too large (limit {(request.max_content_length or 0) // (1024 * 1024)} MB)",
            405: "method not allowed for this endpoint",
            404: "no such endpoint",
        }
        response = error_response(error.code or 500, messages.get(error.code or 500, error.description or str(error)))
        if error.code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal error")
