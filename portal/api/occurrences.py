"""listOccurrences: the routines of the children one works with, between two local dates.

A carer sees the home side of their children's routines, a teacher the school side (what
each of them logs); clinicians and admins who log neither see both. A fixed number of
queries whatever the number of children and occurrences: the children with their teams,
then at most one query per side.
"""

from __future__ import annotations

from datetime import timedelta

from flask import g, jsonify

from portal.api import bp
from portal.api.body import query_date, query_id
from portal.api.errors import ApiError
from portal.api.serialise import occurrence
from portal.extensions import client_address, db
from routines import children, occurrences
from routines.access import logging_side
from routines.models import Child
from tenants import audit
from tenants.db import utcnow
from tenants.models import Membership
from tenants.roles import Role

MAX_DAYS = 62
BOTH = "both"


def side_for(membership: Membership, kid: Child) -> str | None:
    """ "home", "school", BOTH, or None for a child whose routines one neither logs nor
    oversees."""
    side = logging_side(membership, kid)
    if side is not None:
        return side
    if membership.has_role(Role.ADMIN, Role.CLINICIAN):
        return BOTH
    return None


@bp.get("/occurrences")
def list_occurrences():  # type: ignore[no-untyped-def]
    start, end = query_date("from"), query_date("to")
    if end < start:
        raise ApiError(422, "to must be on or after from.", field="to")
    if (end - start) + timedelta(days=1) > timedelta(days=MAX_DAYS):
        raise ApiError(
            422, f"Ask for at most {MAX_DAYS} days at a time (from and to included).", field="to"
        )
    child_id = query_id("child_id")
    if child_id is not None:
        kids = [children.get_child(db.session, child_id, g.membership)]
    else:
        kids = children.visible_children(db.session, g.membership)

    by_side: dict[str, list[int]] = {}
    for kid in kids:
        side = side_for(g.membership, kid)
        if side is not None:
            by_side.setdefault(side, []).append(kid.id)
    rows = []
    for side, ids in sorted(by_side.items()):
        rows.extend(
            occurrences.between(
                db.session,
                child_ids=ids,
                start=start,
                end=end,
                side=None if side == BOTH else side,
            )
        )
    rows.sort(key=lambda o: (o.due_at, o.child_id, o.id))

    child_ids = sorted(i for ids in by_side.values() for i in ids)
    if child_ids:
        # One row for the whole read (one statement, however many children it covers).
        audit.record(
            db.session,
            "routine.occurrences_viewed",
            actor=g.api_user,
            object_type="child" if len(child_ids) == 1 else None,
            object_id=child_ids[0] if len(child_ids) == 1 else None,
            ip_address=client_address(),
            child_ids=child_ids,
            start=start.isoformat(),
            end=end.isoformat(),
            source="api",
        )
    now = utcnow()
    body = {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "occurrences": [occurrence(row, g.api_user, now) for row in rows],
    }
    db.session.commit()
    return jsonify(body)
