"""Bearer tokens: `SER_API_TOKEN` guards training, `SER_DATA_TOKEN` (when set) the routes that take recordings."""

from __future__ import annotations

import hmac

from flask import request

from serve.errors import ApiError
from serve.services import services


def bearer_matches(expected: str) -> bool:
    """Whether the request's ``Authorization: Bearer <token>`` header carries ``expected`` (compared in constant
    time)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), expected.encode())


def require_data_token() -> None:
    """401 unless the request carries ``SER_DATA_TOKEN``; nothing when no data token is set (the default)."""
    expected = services().settings.data_token
    if expected and not bearer_matches(expected):
        raise ApiError(401, "this server takes recordings only with its access token: Authorization: Bearer <token>")
