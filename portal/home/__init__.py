"""Carers' pages: Today, the week, a child's away periods, the household's anchor times.

Today works offline: a service worker (served at /o/<org_slug>/sw.js so its scope covers the
organisation's pages) keeps the last copy of the page, and static/today.js queues logs in
IndexedDB and sends them to the JSON API with a device token when the connection returns.
Without scripts every button is an ordinary form that posts here.
"""

from __future__ import annotations

from flask import Blueprint
from flask_login import login_required

bp = Blueprint("home", __name__, url_prefix="/o/<org_slug>")


@bp.before_request
@login_required
def _members_only() -> None:
    return None


from portal.home import places, today  # noqa: E402,F401  (the views register themselves on bp)
