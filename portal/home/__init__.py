"""Carers' pages: Today, the week, a child's away periods, the household's anchor times."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("home", __name__, url_prefix="/o/<org_slug>")


@bp.route("/today")
def today():  # type: ignore[no-untyped-def]
    return "Today"
