"""A child's sequenced plan: the clinician's builder, publishing, versions, and the
plain-language view for carers and teachers on the care team."""

from __future__ import annotations

from flask import Blueprint
from flask_login import login_required

bp = Blueprint("plans", __name__, url_prefix="/o/<org_slug>/children/<id:child_id>/plan")


@bp.before_request
@login_required
def _members_only() -> None:
    return None
