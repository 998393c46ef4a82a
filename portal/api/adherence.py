"""What came of a child's plan, and how the child is doing: getAdherence and getAssessments.

getAdherence is for everyone who may see the child (as listChildren and getCurrentPlan); it
reads routines.rollups, the nightly rollups with anything changed since read live, so it is
always exact and runs a fixed number of statements however long the window. getAssessments
is the clinical record: the child's clinicians and admins only; others on the care team get
403, and anyone who may not see the child the 404 of a missing id. Both reads are audited.
"""

from __future__ import annotations

from flask import g, jsonify
from sqlalchemy import select

from portal.api import bp
from portal.api.body import query_date
from portal.api.errors import ApiError
from portal.api.serialise import adherence, assessment
from portal.extensions import client_address, db
from routines import assessments, children, rollups
from routines.access import can_change_clinical_record
from routines.models import Activity, Assessment
from tenants import audit

CLINICAL_ONLY = "Assessments are for the child's clinicians and admins."


@bp.get("/children/<id:child_id>/adherence")
def get_adherence(child_id: int):  # type: ignore[no-untyped-def]
    # The child first: one out of reach is a 404 whatever the dates.
    kid = children.get_child(db.session, child_id, g.membership)
    date_from, date_to = rollups.check_range(query_date("from"), query_date("to"))
    result = rollups.breakdown(db.session, kid.id, date_from, date_to)
    # Always one statement, even for a window without routines.
    names: dict[int, str] = {
        activity_id: name
        for activity_id, name in db.session.execute(
            select(Activity.id, Activity.name).where(Activity.id.in_(list(result.by_activity)))
        )
    }
    audit.record(
        db.session,
        "adherence.viewed",
        actor=g.api_user,
        object_type="child",
        object_id=kid.id,
        ip_address=client_address(),
        child_id=kid.id,
        start=date_from.isoformat(),
        end=date_to.isoformat(),
        page="api",
    )
    body = adherence(kid, result, names, g.org.adherence_threshold)
    db.session.commit()
    return jsonify(body)


@bp.get("/children/<id:child_id>/assessments")
def get_assessments(child_id: int):  # type: ignore[no-untyped-def]
    kid = children.get_child(db.session, child_id, g.membership)
    if not can_change_clinical_record(g.membership, kid):
        raise ApiError(403, CLINICAL_ONLY)
    # Frameworks are joined, ratings and framework items loaded in one query each.
    rows = db.session.scalars(
        select(Assessment)
        .where(Assessment.child_id == kid.id, Assessment.status == assessments.COMPLETE)
        .order_by(Assessment.assessed_on.desc(), Assessment.id.desc())
    ).all()
    body = {
        "child_id": kid.id,
        "assessments": [assessment(row, assessments.map_for(row, g.org)) for row in rows],
    }
    # One row for the whole read, as the assessments page's list view leaves one.
    audit.record(
        db.session,
        "assessment.viewed",
        actor=g.api_user,
        object_type="child",
        object_id=kid.id,
        ip_address=client_address(),
        child_id=kid.id,
        page="api",
        assessment_ids=[row.id for row in rows],
    )
    db.session.commit()
    return jsonify(body)
