"""Assessment frameworks: the default, imports and versions."""

from __future__ import annotations

from flask import Blueprint
from flask_login import login_required

bp = Blueprint("frameworks", __name__, url_prefix="/o/<org_slug>/frameworks")


@bp.before_request
@login_required
def _members_only() -> None:
    return None
