"""Private calendar (ICS) feeds: the address is the credential.

Calendar apps fetch the address with no cookie and no login, so the token in the path is all
there is: a forged, revoked or regenerated address, or one whose member has left, answers 404
exactly like an address that never existed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, Response, abort, current_app

from portal.extensions import client_address, db
from routines import calendar_ics
from tenants import audit
from tenants.api_tokens import resolve_feed
from tenants.context import tenant_context
from tenants.db import utcnow
from tenants.isolation import get_scoped
from tenants.models import CalendarFeed, Membership

bp = Blueprint("feeds", __name__, url_prefix="/feeds")

# Apps poll every 15 minutes to a few hours; writing the fetch time on every poll would make
# each read a write for nothing.
FETCH_STAMP_EVERY = timedelta(minutes=5)


@bp.get("/<token>.ics")
def calendar(token: str) -> Response:
    # The feeds table is global: the address is resolved before any organisation is known.
    feed = resolve_feed(db.session, current_app.config["SECRET_KEY"], token)
    if feed is None:
        abort(404)
    now = utcnow()
    with tenant_context(feed.organisation_id):
        membership = get_scoped(db.session, Membership, feed.membership_id)
        if membership is None:
            abort(404)
        content = calendar_ics.build_feed(db.session, membership, now=now)
        _note_fetch(feed, membership, content, now)
        db.session.commit()
    response = Response(content.ics, content_type="text/calendar; charset=utf-8")
    # Private: a shared cache must never hold a copy of someone's feed.
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["Content-Disposition"] = 'inline; filename="cadence-routines.ics"'
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _note_fetch(
    feed: CalendarFeed, membership: Membership, content: calendar_ics.Feed, now: datetime
) -> None:
    """Stamp the fetch time (at most every few minutes) and audit the read.

    A fetch reads children's routines, so it belongs in the audit trail, but subscribed apps
    poll it all day and one row per poll would bury everything else. So one
    "calendar_feed.fetched" event per feed per clock hour (UTC): the trail still shows which
    hours someone's feed was read and from where, and costs no query to decide (the previous
    fetch time is on the feed row)."""
    last = feed.last_fetched_at
    new_hour = last is None or _hour(last) != _hour(now)
    if new_hour or now - last >= FETCH_STAMP_EVERY:  # type: ignore[operator]
        feed.last_fetched_at = now
    if new_hour:
        audit.record(
            db.session,
            "calendar_feed.fetched",
            actor=membership.user,
            object_type="calendar_feed",
            object_id=feed.id,
            ip_address=client_address(),
            children=content.child_ids,
            events=content.events,
        )


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)
