"""Adherence dashboards: the clinician's caseload and one child's routines over time."""

from __future__ import annotations

import math
from fractions import Fraction

from flask import Blueprint, current_app, g, render_template, request, url_for
from flask_login import current_user, login_required

from portal.extensions import client_address, db
from portal.tenancy import require_role
from routines import caseload as caseload_ops
from routines.child_dashboard import whole_percent
from tenants import audit
from tenants.db import utcnow
from tenants.errors import ValidationError
from tenants.roles import Role

bp = Blueprint("dashboards", __name__, url_prefix="/o/<org_slug>")

CHILD_DASHBOARD = "child_dashboard.child_adherence"


@bp.before_request
@login_required
def _members_only() -> None:
    return None


def percent(ratio: Fraction | None) -> str:
    """As the child's dashboard shows it (routines.child_dashboard.whole_percent): rounded,
    but never across the threshold, so 79.6% never reads as the 80% it falls short of."""
    shown = whole_percent(ratio, g.org.adherence_threshold)
    return "—" if shown is None else f"{shown}%"


def points(change: Fraction) -> str:
    value = abs(change) * 100
    shown = f"{int(value)}" if value.denominator == 1 else f"{math.floor(value * 10) / 10:.1f}"
    return f"{shown} point{'' if shown == '1' else 's'}"


def child_dashboard_url(child_id: int) -> str:
    """The child's own adherence dashboard (built alongside this page)."""
    if CHILD_DASHBOARD in current_app.view_functions:
        return url_for(CHILD_DASHBOARD, child_id=child_id)
    return f"/o/{g.org.slug}/children/{child_id}/adherence"


def _refused(exc: ValidationError):  # type: ignore[no-untyped-def]
    return render_template("dashboards/caseload.html", error=exc.message, entries=None), 400


@bp.get("/dashboard/")
@require_role(Role.ADMIN, Role.CLINICIAN)
def caseload():  # type: ignore[no-untyped-def]
    try:
        options = caseload_ops.parse_options(request.args)
    except ValidationError as exc:
        return _refused(exc)
    everyone = caseload_ops.caseload(db.session, g.membership, g.org, now=utcnow())
    try:
        shown = caseload_ops.choose(everyone, options)
    except ValidationError as exc:
        return _refused(exc)
    # One audit row names every child whose figures the page showed.
    audit.record(
        db.session,
        "adherence.caseload_viewed",
        actor=current_user.user,
        ip_address=client_address(),
        child_ids=[e.child.id for e in shown],
    )
    db.session.commit()
    counts = {band: 0 for band in caseload_ops.BANDS}
    for entry in everyone:
        counts[entry.band] += 1
    return render_template(
        "dashboards/caseload.html",
        error=None,
        entries=shown,
        total=len(everyone),
        counts=counts,
        with_alerts=sum(1 for e in everyone if e.alerts),
        options=options,
        filters={
            k: v
            for k, v in {
                "band": options.band,
                "alert": "open" if options.open_alert else None,
                "place": options.place_key,
            }.items()
            if v is not None
        },
        places=caseload_ops.places(everyone),
        bands=caseload_ops.BANDS,
        sorts=caseload_ops.SORTS,
        threshold=percent(Fraction(str(g.org.adherence_threshold))),
        interval=g.org.reassessment_interval_days,
        is_admin=g.membership.has_role(Role.ADMIN),
        alert_label=caseload_ops.alert_label,
        percent=percent,
        points=points,
        child_url=child_dashboard_url,
    )
