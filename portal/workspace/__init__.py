"""Choosing an organisation, and each organisation's landing page."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, url_for
from flask_login import current_user, login_required

from portal.extensions import db
from tenants import accounts

bp = Blueprint("workspace", __name__)


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    if not current_user.is_authenticated:
        return redirect(url_for("auth.sign_in"))
    return redirect(url_for("workspace.choose"))


@bp.get("/organisations")
@login_required
def choose():  # type: ignore[no-untyped-def]
    memberships = accounts.active_memberships(db.session, current_user.user)
    if len(memberships) == 1:
        return redirect(url_for("workspace.home", org_slug=memberships[0].organisation.slug))
    return render_template("workspace/choose.html", memberships=memberships)


@bp.get("/o/<org_slug>/")
@login_required
def home():  # type: ignore[no-untyped-def]
    return render_template("workspace/home.html", membership=g.membership)
