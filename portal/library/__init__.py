"""The organisation's activity library."""

from __future__ import annotations

from flask import Blueprint
from flask_login import login_required

bp = Blueprint("library", __name__, url_prefix="/o/<org_slug>/activities")


@bp.before_request
@login_required
def _members_only() -> None:
    return None
