"""Teachers' pages: a classroom's day, group logging, the school calendar, anchor times."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("classroom", __name__, url_prefix="/o/<org_slug>/classroom")


@bp.route("/")
def index():  # type: ignore[no-untyped-def]
    return "Classroom"
