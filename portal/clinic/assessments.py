"""Functional brain map assessments of a child."""

from __future__ import annotations

from flask import Blueprint
from flask_login import login_required

bp = Blueprint(
    "assessments", __name__, url_prefix="/o/<org_slug>/children/<id:child_id>/assessments"
)


@bp.before_request
@login_required
def _members_only() -> None:
    return None
