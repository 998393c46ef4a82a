"""Flask extensions, created unbound here and bound in create_app."""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect
from sqlalchemy.orm import Session, scoped_session

from tenants.context import clear_tenant
from tenants.db import Database
from tenants.errors import ValidationError
from tenants.validation import normalise_email


class FlaskDatabase:
    """Binds a tenants.db.Database to an app; the request is the transaction boundary."""

    def init_app(self, app: Flask) -> None:
        database = Database(app.config["DATABASE_URL"])
        app.extensions["cadence.db"] = database

        @app.teardown_appcontext
        def _end_unit_of_work(exc: BaseException | None) -> None:
            session = database.session
            try:
                if exc is not None:
                    session.rollback()
            finally:
                database.session.remove()
                clear_tenant()

    @property
    def database(self) -> Database:
        return current_app.extensions["cadence.db"]

    @property
    def session(self) -> scoped_session[Session]:
        return self.database.session


def client_address() -> str:
    return get_remote_address() or "unknown"


db = FlaskDatabase()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=client_address, default_limits=[], strategy="fixed-window")


def submitted_email_key() -> str:
    """Rate-limit key for the account being tried, whatever address it comes from."""
    raw = (request.form.get("email") or "")[:254]
    try:
        email = normalise_email(raw)  # one counter per account, however the address is written
    except ValidationError:
        email = raw.strip().lower()
    return f"account:{email}"
