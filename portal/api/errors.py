"""The API's one error shape, and the handlers that give every failure that shape:

    {"error": {"code": "not_found", "message": "...", "field": null}}

`code` is stable and meant for programs; `message` is plain English for people; `field`
names the request field at fault, when there is one.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError

from portal.extensions import db
from tenants.errors import NotFound, PermissionDenied, ValidationError

logger = logging.getLogger(__name__)

CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    500: "server_error",
}
NOT_FOUND = "There is nothing here, or you do not have access to it."
BEARER_REALM = 'Bearer realm="Cadence"'


class ApiError(Exception):
    """Raised by the API's views for a whole-request failure."""

    def __init__(
        self, status: int, message: str, *, code: str | None = None, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or CODES.get(status, "error")
        self.field = field


def error_body(code: str, message: str, field: str | None = None) -> dict[str, object]:
    return {"error": {"code": code, "message": message, "field": field}}


def error_response(
    status: int, message: str, *, code: str | None = None, field: str | None = None
) -> Response:
    response = jsonify(error_body(code or CODES.get(status, "error"), message, field))
    response.status_code = status
    return response


def unauthenticated(message: str, *, invalid: bool = True) -> Response:
    response = error_response(401, message)
    # RFC 6750: say which scheme to use, and whether the token sent was the problem.
    challenge = BEARER_REALM + (', error="invalid_token"' if invalid else "")
    response.headers["WWW-Authenticate"] = challenge
    return response


def from_http(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status == 404:
        message = NOT_FOUND
    elif status == 405:
        message = f"{request.method} is not allowed for this address."
    elif status == 413:
        message = (
            "The request body is too large. Send at most 1 MB at a time (split a long "
            "batch of logs)."
        )
    elif status == 429:
        message = "Too many attempts. Wait a few minutes, then try again."
    elif status >= 500:
        message = InternalServerError.description
    else:
        message = exc.description or CODES.get(status, "Error")
    response = error_response(status, message)
    for name in ("Allow", "Retry-After"):
        value = exc.get_response().headers.get(name)
        if value:
            response.headers[name] = value
    if status == 401:
        response.headers["WWW-Authenticate"] = BEARER_REALM
    return response


def _rolled_back() -> None:
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the answer must go out even if the database is gone
        logger.exception("rollback after an API error failed")


def register(bp: Blueprint) -> None:
    @bp.errorhandler(ApiError)
    def _api_error(exc: ApiError):  # type: ignore[no-untyped-def]
        _rolled_back()
        return error_response(exc.status, exc.message, code=exc.code, field=exc.field)

    @bp.errorhandler(HTTPException)
    def _http(exc: HTTPException):  # type: ignore[no-untyped-def]
        _rolled_back()
        return from_http(exc)

    @bp.errorhandler(NotFound)
    def _not_found(exc: NotFound):  # type: ignore[no-untyped-def]
        _rolled_back()
        return error_response(404, NOT_FOUND)

    @bp.errorhandler(PermissionDenied)
    def _denied(exc: PermissionDenied):  # type: ignore[no-untyped-def]
        _rolled_back()
        return error_response(403, str(exc) or "You may not do this.")

    @bp.errorhandler(ValidationError)
    def _invalid(exc: ValidationError):  # type: ignore[no-untyped-def]
        _rolled_back()
        return error_response(422, exc.message, field=exc.field)

    @bp.errorhandler(Exception)
    def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        if isinstance(exc, HTTPException):
            return _http(exc)
        logger.exception("unhandled API error on %s %s", request.method, request.path)
        _rolled_back()
        app = current_app
        if app.config.get("TESTING") and app.config.get("PROPAGATE_TEST_ERRORS", True):
            raise exc
        return error_response(500, InternalServerError.description)
