"""Error pages: a clear message and the right status, never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from portal.extensions import db
from tenants.errors import NotFound, PermissionDenied, ValidationError

logger = logging.getLogger(__name__)

TITLES = {
    400: "That request could not be used",
    403: "You do not have access to this",
    404: "Page not found",
    405: "That action is not allowed here",
    413: "That upload is too large",
    429: "Too many attempts",
    500: "Something went wrong on our side",
}


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/healthz")) or (
        request.accept_mimetypes.best == "application/json"
    )


def render_error(status: int, message: str | None = None) -> Response:
    title = TITLES.get(status, "Error")
    if _wants_json():
        body = {"error": {"status": status, "title": title, "message": message or title}}
        return make_response(jsonify(body), status)
    html = render_template("errors/error.html", status=status, title=title, message=message)
    return make_response(html, status)


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        return render_error(
            400,
            "This form has expired or was not sent from Cadence (missing security token). "
            "Go back, reload the page and try again.",
        )

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        status = exc.code or 500
        message = exc.description if status not in (404, 500) else None
        if status == 404:
            message = "There is nothing here, or you do not have access to it."
        if status == 405:
            message = f"{request.method} is not allowed for this address."
        if status == 429:
            message = "Too many attempts. Wait a few minutes, then try again."
        response = render_error(status, message)
        for name in ("Allow", "Retry-After"):
            value = exc.get_response().headers.get(name)
            if value:
                response.headers[name] = value
        return response

    @app.errorhandler(NotFound)
    def _not_found(exc: NotFound):
        db.session.rollback()
        return render_error(404, "There is nothing here, or you do not have access to it.")

    @app.errorhandler(PermissionDenied)
    def _denied(exc: PermissionDenied):
        db.session.rollback()
        return render_error(403, str(exc) or None)

    @app.errorhandler(ValidationError)
    def _invalid(exc: ValidationError):
        db.session.rollback()
        return render_error(400, exc.message)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return _http(exc)
        logger.exception("unhandled error on %s %s", request.method, request.path)
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001 - the page must render even if the database is gone
            logger.exception("rollback after error failed")
        if app.config.get("TESTING") and app.config.get("PROPAGATE_TEST_ERRORS", True):
            raise exc
        return render_error(500, InternalServerError.description)
