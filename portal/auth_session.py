"""Server-side sessions behind Flask-Login.

The signed session cookie holds only a random session token (and the CSRF
secret); the database row behind it decides whether the browser is still
signed in, so sign-out, deactivation, idle timeout and password changes end
a session at once, and a copied cookie replayed afterwards is anonymous.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask, current_app, request, session
from flask_login import UserMixin, login_user, logout_user

from portal.extensions import client_address, db, login_manager
from tenants import accounts
from tenants.models import User, UserSession

SESSION_KEY = "sid"


class SignedInUser(UserMixin):
    """Flask-Login's view of a person; attribute reads fall through to the User row."""

    def __init__(self, user: User, session_row: UserSession) -> None:
        self.user = user
        self.session_row = session_row

    def get_id(self) -> str:
        return str(self.user.id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.user, name)


def policy() -> accounts.SessionPolicy:
    return accounts.SessionPolicy(
        idle=timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"]),
        absolute=timedelta(hours=current_app.config["SESSION_ABSOLUTE_HOURS"]),
    )


def _load_user(user_id: str) -> SignedInUser | None:
    token = session.get(SESSION_KEY)
    row = accounts.resume_session(db.session, token, policy())
    if row is None or str(row.user_id) != user_id:
        db.session.commit()  # keeps a timed-out session revoked
        session.clear()
        return None
    db.session.commit()
    return SignedInUser(row.user, row)


def sign_in(user: User) -> None:
    """Start a fresh session: the old cookie's contents (and any fixed session) are dropped,
    and a session this browser already had is ended, so a copy of its cookie stops working."""
    accounts.end_session(db.session, session.get(SESSION_KEY))
    session.clear()
    token, row = accounts.start_session(
        db.session, user, client_address(), request.headers.get("User-Agent")
    )
    db.session.commit()
    session[SESSION_KEY] = token
    session.permanent = True
    login_user(SignedInUser(user, row))


def sign_out() -> None:
    accounts.end_session(db.session, session.get(SESSION_KEY))
    db.session.commit()
    logout_user()
    session.clear()


def current_token() -> str | None:
    return session.get(SESSION_KEY)


def init_app(app: Flask) -> None:
    login_manager.user_loader(_load_user)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = None  # the server-side session row does this job
