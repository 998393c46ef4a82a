"""Exports of what Cadence holds: a child's full record (JSON, for a data-subject request),
a child's plan and logs as FHIR R4, and the organisation's de-identified research CSV.

Every download is audited. A child's exports are for the child's clinicians and admins
(others get the refusal every clinical page gives); the research files are for admins.
"""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    render_template,
    request,
)
from flask_login import current_user, login_required

from portal.extensions import client_address, db
from portal.helpers import clinical_child
from portal.tenancy import require_role
from routines import children, exports, fhir_export, research_export
from tenants import audit
from tenants.db import utcnow
from tenants.roles import Role

bp = Blueprint("exports", __name__, url_prefix="/o/<org_slug>")

REFUSAL = (
    "A child's full record is part of the clinical record: only the child's clinicians "
    "and admins export it."
)


@bp.before_request
@login_required
def _members_only() -> None:
    return None


def _attachment(body: str, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _audit_child_export(child_id: int, fmt: str) -> None:
    audit.record(
        db.session,
        "child.exported",
        actor=current_user.user,
        object_type="child",
        object_id=child_id,
        ip_address=client_address(),
        format=fmt,
    )
    db.session.commit()


@bp.get("/children/<id:child_id>/export.json")
def child_record(child_id: int) -> Response:
    child = clinical_child(child_id, REFUSAL)
    now = utcnow()
    record = exports.child_record(db.session, child, org=g.org, actor=current_user.user, now=now)
    _audit_child_export(child.id, "json")
    body = json.dumps(record, ensure_ascii=False, indent=2)
    return _attachment(
        body, "application/json", f"cadence-child-{child.id}-record-{now.date().isoformat()}.json"
    )


def _code_system_base() -> str:
    base = current_app.config.get("PUBLIC_URL") or request.url_root
    return base.rstrip("/") + "/fhir/CodeSystem"


@bp.get("/children/<id:child_id>/fhir.json")
def child_fhir(child_id: int) -> Response:
    child = clinical_child(child_id, REFUSAL)
    now = utcnow()
    bundle = fhir_export.child_bundle(
        db.session, child, org=g.org, now=now, system_base=_code_system_base()
    )
    _audit_child_export(child.id, "fhir")
    body = json.dumps(bundle, ensure_ascii=False, indent=2)
    return _attachment(
        body,
        "application/fhir+json",
        f"cadence-child-{child.id}-fhir-{now.date().isoformat()}.json",
    )


@bp.get("/admin/exports/")
@require_role(Role.ADMIN)
def index() -> str:
    return render_template(
        "exports/index.html",
        kids=children.visible_children(db.session, g.membership),
        routine_columns=research_export.ROUTINE_COLUMNS,
        assessment_columns=research_export.ASSESSMENT_COLUMNS,
    )


def _research(which: str) -> Response:
    """Audit and commit (with the pseudonym key, on a first export) before the first byte,
    then stream the file: research_export.stream reads it on its own session, acting for
    the organisation, after this request's session and tenant have ended."""
    org = g.org
    salt = research_export.ensure_salt(db.session, org)
    audit.record(
        db.session,
        "research.exported",
        actor=current_user.user,
        object_type="organisation",
        object_id=org.id,
        ip_address=client_address(),
        file=which,
        format="csv",
    )
    db.session.commit()
    body = research_export.stream(db.database.session_factory, org.id, which, salt)
    filename = f"cadence-{org.slug}-research-{which}-{utcnow().date().isoformat()}.csv"
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/admin/exports/research-routines.csv")
@require_role(Role.ADMIN)
def research_routines() -> Response:
    return _research("routines")


@bp.get("/admin/exports/research-assessments.csv")
@require_role(Role.ADMIN)
def research_assessments() -> Response:
    return _research("assessments")
