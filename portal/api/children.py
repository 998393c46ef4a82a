"""The children a member works with, and a child's plan in effect: listChildren,
getCurrentPlan."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import g, jsonify

from portal.api import bp
from portal.api.errors import ApiError
from portal.api.serialise import child, home_time_zone, plan
from portal.extensions import client_address, db
from routines import children, plans
from tenants.db import utcnow


@bp.get("/children")
def list_children():  # type: ignore[no-untyped-def]
    rows = children.visible_children(db.session, g.membership)
    return jsonify({"children": [child(kid, g.membership, g.org) for kid in rows]})


@bp.get("/children/<id:child_id>/plan")
def get_current_plan(child_id: int):  # type: ignore[no-untyped-def]
    kid = children.get_child(db.session, child_id, g.membership)
    today = utcnow().astimezone(ZoneInfo(home_time_zone(kid, g.org))).date()
    version = plans.version_in_effect(db.session, kid, today)
    if version is None:
        raise ApiError(404, "No published plan is in effect for this child today.")
    plans.record_view(
        db.session, kid, actor=g.api_user, page="api", version=version, ip=client_address()
    )
    body = plan(kid, version, g.org)
    db.session.commit()
    return jsonify(body)
