"""The route walk: every URL the portal answers is classified, and no organisation-scoped
URL lets one organisation's admin reach, or even detect, another organisation's objects.

For each organisation route the answer to "someone else's" must be the answer to
"nothing at all": the same 404 with the same page, whether the other organisation or
object exists or not. A new route that is not classified below fails the walk.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.routing import Rule

from routines import children, frameworks, history, library
from routines.models import (
    Activity,
    Assessment,
    CareTeamMember,
    Child,
    Framework,
    FrameworkItem,
    HistoryEntry,
    ItemRating,
    Plan,
    PlanItem,
    PlanVersion,
)
from tenants import organisations
from tenants.context import cross_tenant, tenant_context
from tenants.models import AuditEvent, Invitation, Membership, MembershipRole
from tests.conftest import Org, csrf_token, sign_in

# --- the classification --------------------------------------------------------------------

PUBLIC = "public"  # no sign-in needed
ACCOUNT = "account"  # signed in, no organisation
ORG = "org"  # /o/<org_slug>/...: the organisation only
ORG_OBJECT = "org_object"  # /o/<org_slug>/.../<object id>
TOKEN = "token"  # a signed token in the URL is the credential
BEARER = "bearer"  # /api/v1: an API bearer token is the credential and names the organisation
KINDS = {PUBLIC, ACCOUNT, ORG, ORG_OBJECT, TOKEN, BEARER}

CLASSIFICATION: dict[str, str] = {
    "static": PUBLIC,
    "health.healthz": PUBLIC,
    "api.create_token": PUBLIC,
    "api.openapi": PUBLIC,
    "api.revoke_token": BEARER,
    "api.get_me": BEARER,
    "api.list_children": BEARER,
    "api.get_adherence": BEARER,
    "api.get_assessments": BEARER,
    "dashboards.caseload": ORG,
    "child_dashboard.child_adherence": ORG_OBJECT,
    "exports.index": ORG,
    "exports.research_routines": ORG,
    "exports.research_assessments": ORG,
    "exports.child_record": ORG_OBJECT,
    "exports.child_fhir": ORG_OBJECT,
    "reassessment.report": ORG_OBJECT,
    "reassessment.report_pdf": ORG_OBJECT,
    "reassessment.compare": ORG_OBJECT,
    "reassessment.all_maps": ORG_OBJECT,
    "api.get_current_plan": BEARER,
    "api.list_occurrences": BEARER,
    "api.create_logs": BEARER,
    "api.update_log": BEARER,
    "auth.sign_in": PUBLIC,
    "auth.sign_out": PUBLIC,
    "auth.reset_request": PUBLIC,
    "auth.reset_password": TOKEN,
    "auth.accept_invitation": TOKEN,
    "workspace.index": PUBLIC,
    "workspace.choose": ACCOUNT,
    "account.profile": ACCOUNT,
    "account.change_password": ACCOUNT,
    "account.regenerate_feed": ACCOUNT,
    "account.revoke_feed": ACCOUNT,
    "account.revoke_token": ACCOUNT,
    "feeds.calendar": TOKEN,
    "workspace.home": ORG,
    "admin.index": ORG,
    "admin.members": ORG,
    "admin.invitations": ORG,
    "admin.settings": ORG,
    "admin.audit_trail": ORG,
    "admin.background": ORG,
    "admin.member": ORG_OBJECT,
    "admin.deactivate": ORG_OBJECT,
    "admin.reactivate": ORG_OBJECT,
    "admin.resend_invitation": ORG_OBJECT,
    "admin.revoke_invitation": ORG_OBJECT,
    "home.today": ORG,
    "home.week": ORG,
    "home.log": ORG,
    "home.correct": ORG_OBJECT,
    "home.device_token": ORG,
    "home.service_worker": ORG,
    "home.away": ORG_OBJECT,
    "home.cancel_away": ORG_OBJECT,
    "home.anchors": ORG_OBJECT,
    "classroom.index": ORG,
    "classroom.day": ORG_OBJECT,
    "classroom.log_group": ORG_OBJECT,
    "classroom.log_one": ORG_OBJECT,
    "classroom.calendar": ORG_OBJECT,
    "classroom.add_calendar_entry": ORG_OBJECT,
    "classroom.remove_calendar_entry": ORG_OBJECT,
    "classroom.anchors": ORG_OBJECT,
    "clinic.caseload": ORG,
    "clinic.set_escalation": ORG_OBJECT,
    "notifications.index": ORG,
    "notifications.mark_all_read": ORG,
    "notifications.settings": ORG,
    "notifications.push_subscribe": ORG,
    "notifications.push_unsubscribe": ORG,
    "notifications.mark_read": ORG_OBJECT,
    "clinic.add_child": ORG,
    "clinic.child": ORG_OBJECT,
    "clinic.add_team_member": ORG_OBJECT,
    "clinic.remove_team_member": ORG_OBJECT,
    "frameworks.index": ORG,
    "frameworks.import_framework": ORG,
    "frameworks.template_csv": ORG,
    "frameworks.show": ORG_OBJECT,
    "frameworks.edit_item": ORG_OBJECT,
    "history.index": ORG_OBJECT,
    "history.add_adversity": ORG_OBJECT,
    "history.set_relational": ORG_OBJECT,
    "history.remove_entry": ORG_OBJECT,
    "library.index": ORG,
    "library.add_activity": ORG,
    "library.activity": ORG_OBJECT,
    "library.retire": ORG_OBJECT,
    "library.restore": ORG_OBJECT,
    "assessments.index": ORG_OBJECT,
    "assessments.start": ORG_OBJECT,
    "assessments.rate": ORG_OBJECT,
    "assessments.brain_map": ORG_OBJECT,
    "plans.index": ORG_OBJECT,
    "plans.propose": ORG_OBJECT,
    "plans.add_item": ORG_OBJECT,
    "plans.item": ORG_OBJECT,
    "plans.remove_item": ORG_OBJECT,
    "plans.move_item": ORG_OBJECT,
    "plans.publish": ORG_OBJECT,
    "plans.version": ORG_OBJECT,
    "plans.compare": ORG_OBJECT,
}

MISSING_ID = 999_999
MISSING_ORG = "nonexistent-org"
SKIPPED_METHODS = {"HEAD", "OPTIONS"}


def classified_rules(app: Flask) -> list[tuple[Rule, str]]:
    """Every rule with its kind; fails for unclassified, vanished or misshapen endpoints."""
    problems: list[str] = []
    rules: list[tuple[Rule, str]] = []
    seen: set[str] = set()
    for rule in app.url_map.iter_rules():
        seen.add(rule.endpoint)
        kind = CLASSIFICATION.get(rule.endpoint)
        if kind is None:
            problems.append(
                f"route {rule.rule!r} (endpoint {rule.endpoint!r}) is not classified: add it to "
                f"CLASSIFICATION in tests/test_isolation.py as one of {sorted(KINDS)}"
            )
            continue
        if kind not in KINDS:
            problems.append(f"{rule.endpoint!r} has unknown kind {kind!r}")
            continue
        args = set(rule.arguments)
        ids = args - {"org_slug"}
        if kind == ORG and args != {"org_slug"}:
            problems.append(f"{rule.endpoint!r} is 'org' but takes {sorted(args)}")
        if kind == ORG_OBJECT:
            if "org_slug" not in args or not ids:
                problems.append(
                    f"{rule.endpoint!r} is 'org_object' but takes {sorted(args)}; it needs "
                    "org_slug and an object id"
                )
            for name in sorted(ids - ID_FACTORIES.keys()):
                problems.append(
                    f"{rule.endpoint!r} takes {name!r}, which has no factory: add one to "
                    "ID_FACTORIES in tests/test_isolation.py that makes such an object in an "
                    "organisation"
                )
        if kind in (PUBLIC, ACCOUNT, TOKEN) and "org_slug" in args:
            problems.append(
                f"{rule.endpoint!r} takes org_slug, so it must be 'org' or 'org_object', "
                f"not {kind!r}"
            )
        if kind == BEARER and ("org_slug" in args or not rule.rule.startswith("/api/v1/")):
            problems.append(f"{rule.endpoint!r} is 'bearer' but is not an /api/v1 route")
        if kind == TOKEN and "token" not in args:
            problems.append(f"{rule.endpoint!r} is 'token' but takes no token")
        rules.append((rule, kind))
    for endpoint in sorted(CLASSIFICATION.keys() - seen):
        problems.append(f"{endpoint!r} is classified but no longer routed: remove it")
    if problems:
        pytest.fail("route classification:\n  " + "\n  ".join(problems), pytrace=False)
    return rules


def rules_of(app: Flask, *kinds: str) -> list[Rule]:
    return [rule for rule, kind in classified_rules(app) if kind in kinds]


def methods_of(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) - SKIPPED_METHODS)


def url_for_rule(rule: Rule, **values: Any) -> str:
    built = rule.build(values, append_unknown=False)
    assert built is not None, f"cannot build {rule.rule} from {values}"
    return built[1]


# --- objects in an organisation, one factory per id argument -------------------------------


@dataclass
class ObjectRef:
    """An object of one organisation, and a fresh read of everything a request could change."""

    id: int
    model: type
    snapshot: Callable[[], Any]
    marker: str  # text of the object that must never show on another organisation's page


def _membership(db, app: Flask, org: Org) -> ObjectRef:  # type: ignore[no-untyped-def]
    """The carer's membership: not the last admin, so deactivating it would really work."""
    with tenant_context(org.id):
        membership_id = organisations.membership_for(db, org.carer).id
    email = org.carer.email

    def snapshot() -> Any:
        with cross_tenant("test: read the object back"):
            row = db.execute(
                select(
                    Membership.tenant_id,
                    Membership.user_id,
                    Membership.is_active,
                    Membership.deactivated_at,
                ).where(Membership.id == membership_id)
            ).one()
            roles = sorted(
                db.scalars(
                    select(MembershipRole.role).where(MembershipRole.membership_id == membership_id)
                )
            )
        return tuple(row), roles

    return ObjectRef(membership_id, Membership, snapshot, email)


def _invitation(db, app: Flask, org: Org) -> ObjectRef:  # type: ignore[no-untyped-def]
    """A pending invitation, made as the organisation's admin would."""
    email = f"invitee@{org.slug}.example"
    with tenant_context(org.id):
        issued = organisations.invite(
            db,
            secret_key=app.config["SECRET_KEY"],
            actor=org.admin,
            email=email,
            roles=["teacher"],
            ip="192.0.2.9",
        )
        invitation_id = issued.invitation.id
    db.commit()

    def snapshot() -> Any:
        with cross_tenant("test: read the object back"):
            row = db.execute(
                select(
                    Invitation.tenant_id,
                    Invitation.email,
                    Invitation.nonce_hash,
                    Invitation.expires_at,
                    Invitation.last_sent_at,
                    Invitation.send_count,
                    Invitation.accepted_at,
                    Invitation.revoked_at,
                ).where(Invitation.id == invitation_id)
            ).one()
        return tuple(row)

    return ObjectRef(invitation_id, Invitation, snapshot, email)


def _new_child(db, org: Org, family_name: str):  # type: ignore[no-untyped-def]
    """A child with the organisation's clinician as lead and its carer on the team; one per
    organisation and test, so child_id and member_id in one URL belong together."""
    made = db.info.setdefault("isolation_children", {})
    if org.id in made:
        return made[org.id]
    with tenant_context(org.id):
        clinician = organisations.membership_for(db, org.clinician)
        carer = organisations.membership_for(db, org.carer)
        child = children.add_child(
            db,
            children.ChildDetails("Robin", family_name, date(2018, 4, 2), household_name="Home"),
            actor=org.clinician,
            actor_membership=clinician,
            default_time_zone="Europe/London",
            today=date(2026, 11, 23),
        )
        member = children.add_team_member(
            db,
            child,
            membership_id=carer.id,
            team_role="carer",
            relationship="foster_carer",
            actor=org.clinician,
        )
    db.commit()
    made[org.id] = (child.id, member.id)
    return made[org.id]


def _team_snapshot(db, child_id: int):  # type: ignore[no-untyped-def]
    def snapshot() -> Any:
        with cross_tenant("test: read the object back"):
            return sorted(
                db.execute(
                    select(CareTeamMember.membership_id, CareTeamMember.team_role).where(
                        CareTeamMember.child_id == child_id
                    )
                ).all()
            )

    return snapshot


def _child(db, app: Flask, org: Org) -> ObjectRef:  # type: ignore[no-untyped-def]
    marker = f"Zebedee{org.slug.title()}"
    child_id, _ = _new_child(db, org, marker)
    return ObjectRef(child_id, Child, _team_snapshot(db, child_id), marker)


def _care_team_member(db, app: Flask, org: Org) -> ObjectRef:  # type: ignore[no-untyped-def]
    marker = f"Zebedee{org.slug.title()}"
    child_id, member_id = _new_child(db, org, marker)
    return ObjectRef(member_id, CareTeamMember, _team_snapshot(db, child_id), marker)


def _count_snapshot(db, *models: type):  # type: ignore[no-untyped-def]
    def snapshot() -> Any:
        with cross_tenant("test: count rows"):
            return tuple(db.scalar(select(func.count()).select_from(m)) for m in models)

    return snapshot


def _framework_with_item(db, org: Org):  # type: ignore[no-untyped-def]
    made = db.info.setdefault("isolation_frameworks", {})
    if org.id not in made:
        with tenant_context(org.id):
            framework = frameworks.ensure_default_framework(db)
            made[org.id] = (framework.id, framework.items[0].id)
        db.commit()
    return made[org.id]


def _framework(db, app: Flask, org: Org) -> ObjectRef:  # type: ignore[no-untyped-def]
    framework_id, _ = _framework_with_item(db, org)
    return ObjectRef(
        framework_id,
        Framework,
        _count_snapshot(db, Framework, FrameworkItem),
        "Steady body rhythms",
    )


def _framework_item(db, app: Flask, org: Org) -> ObjectRef:  # type: ignore[no-untyped-def]
    _, item_id = _framework_with_item(db, org)
    return ObjectRef(
        item_id, FrameworkItem, _count_snapshot(db, Framework, FrameworkItem), "Steady body rhythms"
    )


def _history_entry(db, app: Flask, org: Org) -> ObjectRef:  # type: ignore[no-untyped-def]
    child_id, _ = _new_child(db, org, f"Zebedee{org.slug.title()}")
    with tenant_context(org.id):
        child = db.get(Child, child_id)
        entry = history.add_adversity(
            db,
            child,
            period="infancy",
            kind=f"Upheaval{org.slug}",
            severity="severe",
            certainty="known",
            actor=org.clinician,
        )
        entry_id = entry.id
    db.commit()
    return ObjectRef(
        entry_id, HistoryEntry, _count_snapshot(db, HistoryEntry), f"Upheaval{org.slug}"
    )


def _activity(db, app: Flask, org: Org) -> ObjectRef:  # type: ignore[no-untyped-def]
    with tenant_context(org.id):
        library.ensure_default_library(db)
        activity_id = db.scalar(select(Activity.id).order_by(Activity.id))
    db.commit()

    def snapshot() -> Any:
        with cross_tenant("test: read the object back"):
            return db.scalar(select(Activity.retired_at).where(Activity.id == activity_id))

    return ObjectRef(activity_id, Activity, snapshot, f"{org.slug} activity marker")


def _assessment(db, app: Flask, org: Org) -> ObjectRef:  # type: ignore[no-untyped-def]
    """A draft assessment of the organisation's test child (the one child_id names)."""
    child_id, _ = _new_child(db, org, f"Zebedee{org.slug.title()}")
    framework_id, _ = _framework_with_item(db, org)
    with tenant_context(org.id):
        assessment = Assessment(
            child_id=child_id,
            framework_id=framework_id,
            assessed_on=date(2026, 11, 2),
            created_by_id=org.clinician.id,
        )
        db.add(assessment)
        db.flush()
        assessment_id = assessment.id
    db.commit()
    return ObjectRef(
        assessment_id,
        Assessment,
        _count_snapshot(db, Assessment, ItemRating),
        f"Zebedee{org.slug.title()}",
    )


def _published_plan(db, org: Org):  # type: ignore[no-untyped-def]
    """Version 1, published, of the test child's plan with one item: (version id, item id).
    Published, so the own-organisation walk (remove, move, edit) is refused with 400."""
    made = db.info.setdefault("isolation_plans", {})
    if org.id not in made:
        child_id, _ = _new_child(db, org, f"Zebedee{org.slug.title()}")
        with tenant_context(org.id):
            library.ensure_default_library(db)
            activity = db.scalar(select(Activity).order_by(Activity.id))
            version = PlanVersion(
                plan=Plan(child_id=child_id),
                number=1,
                status="published",
                effective_from=date(2026, 11, 23),
                created_by_id=org.clinician.id,
            )
            version.items.append(
                PlanItem(
                    activity=activity,
                    position=1,
                    domain=activity.domains[0],
                    assignee="household",
                    frequency={
                        "days": [0, 1, 2, 3, 4, 5, 6],
                        "mode": "anchors",
                        "anchors": ["before_bed"],
                    },
                    minutes=5,
                    start_date=date(2026, 11, 23),
                    notes=f"Plan note {org.slug}",
                )
            )
            db.add(version)
            db.flush()
            made[org.id] = (version.id, version.items[0].id)
        db.commit()
    return made[org.id]


def _plan_snapshot(db):  # type: ignore[no-untyped-def]
    def snapshot() -> Any:
        with cross_tenant("test: read the plans back"):
            versions = db.execute(
                select(PlanVersion.id, PlanVersion.status, PlanVersion.number).order_by(
                    PlanVersion.id
                )
            ).all()
            items = db.execute(
                select(
                    PlanItem.id, PlanItem.version_id, PlanItem.position, PlanItem.minutes
                ).order_by(PlanItem.id)
            ).all()
            return [tuple(v) for v in versions], [tuple(i) for i in items]

    return snapshot


def _plan_version(db, app: Flask, org: Org) -> ObjectRef:  # type: ignore[no-untyped-def]
    version_id, _ = _published_plan(db, org)
    return ObjectRef(version_id, PlanVersion, _plan_snapshot(db), f"Plan note {org.slug}")


def _plan_item(db, app: Flask, org: Org) -> ObjectRef:  # type: ignore[no-untyped-def]
    _, item_id = _published_plan(db, org)
    return ObjectRef(item_id, PlanItem, _plan_snapshot(db), f"Plan note {org.slug}")


# --- routines: occurrences, logs, away periods, households, classrooms -------------------


def _routine_child(db, org: Org):  # type: ignore[no-untyped-def]
    """The test child, in a household and a class, with a published plan materialised and one
    occurrence logged by the carer: (child id, occurrence id, log id, classroom id,
    household id, away id, calendar entry id)."""
    made = db.info.setdefault("isolation_routines", {})
    if org.id in made:
        return made[org.id]
    import uuid

    from routines import away, logs, occurrences, places
    from routines.models import Classroom, Occurrence
    from tenants.db import utcnow

    child_id, _ = _new_child(db, org, f"Zebedee{org.slug.title()}")
    _published_plan(db, org)
    with tenant_context(org.id):
        child = db.get(Child, child_id)
        classroom = Classroom(
            school_name=f"School {org.slug}", name="Year 3", time_zone="Europe/London"
        )
        db.add(classroom)
        db.flush()
        child.classroom_id = classroom.id
        teacher = organisations.membership_for(db, org.teacher)
        children.add_team_member(
            db,
            child,
            membership_id=teacher.id,
            team_role="teacher",
            relationship=None,
            actor=org.clinician,
        )
        now = utcnow()
        occurrences.materialise(db, child, now=now)
        occurrence = db.scalar(
            select(Occurrence).where(Occurrence.child_id == child_id).order_by(Occurrence.due_at)
        )
        [result] = logs.record_logs(
            db,
            [logs.LogInput(str(uuid.uuid4()), occurrence.id, "done", note=f"Log note {org.slug}")],
            actor=org.carer,
            membership=organisations.membership_for(db, org.carer),
            now=now,
            source="web",
        )
        period = away.add_away(
            db,
            child,
            kind="holiday",
            starts_on=date(2027, 8, 1),
            ends_on=date(2027, 8, 3),
            note=f"Away note {org.slug}",
            time_zone="Europe/London",
            actor=org.carer,
        )
        entry = places.add_calendar_entry(
            db,
            classroom,
            kind="closure",
            starts_on=date(2027, 2, 15),
            ends_on=date(2027, 2, 19),
            label=f"Half term {org.slug}",
            actor=org.admin,
            now=now,
        )
        made[org.id] = (
            child_id,
            occurrence.id,
            result.log.id,
            classroom.id,
            child.household_id,
            period.id,
            entry.id,
        )
    db.commit()
    return made[org.id]


def _routine_snapshot(db):  # type: ignore[no-untyped-def]
    from routines.models import (
        AwayPeriod,
        Classroom,
        Household,
        LogCorrection,
        Occurrence,
        RoutineLog,
        SchoolCalendarEntry,
    )

    def snapshot() -> Any:
        with cross_tenant("test: read the routines back"):
            return (
                sorted(db.execute(select(Occurrence.id, Occurrence.status)).all()),
                sorted(db.execute(select(RoutineLog.id, RoutineLog.status, RoutineLog.note)).all()),
                db.scalar(select(func.count(LogCorrection.id))),
                sorted(db.execute(select(AwayPeriod.id, AwayPeriod.cancelled_at)).all()),
                sorted(db.execute(select(SchoolCalendarEntry.id)).all()),
                sorted(str(h.anchor_times) for h in db.scalars(select(Household))),
                sorted(str(c.anchor_times) for c in db.scalars(select(Classroom))),
            )

    return snapshot


def _occurrence(db, app: Flask, org: Org) -> ObjectRef:  # type: ignore[no-untyped-def]
    from routines.models import Occurrence

    ids = _routine_child(db, org)
    return ObjectRef(ids[1], Occurrence, _routine_snapshot(db), f"Log note {org.slug}")


def _log(db, app: Flask, org: Org) -> ObjectRef:  # type: ignore[no-untyped-def]
    from routines.models import RoutineLog

    ids = _routine_child(db, org)
    return ObjectRef(ids[2], RoutineLog, _routine_snapshot(db), f"Log note {org.slug}")


def _classroom(db, app: Flask, org: Org) -> ObjectRef:  # type: ignore[no-untyped-def]
    from routines.models import Classroom

    ids = _routine_child(db, org)
    return ObjectRef(ids[3], Classroom, _routine_snapshot(db), f"School {org.slug}")


def _household(db, app: Flask, org: Org) -> ObjectRef:  # type: ignore[no-untyped-def]
    from routines.models import Household

    ids = _routine_child(db, org)
    return ObjectRef(ids[4], Household, _routine_snapshot(db), f"Zebedee{org.slug.title()}")


def _away(db, app: Flask, org: Org) -> ObjectRef:  # type: ignore[no-untyped-def]
    from routines.models import AwayPeriod

    ids = _routine_child(db, org)
    return ObjectRef(ids[5], AwayPeriod, _routine_snapshot(db), f"Away note {org.slug}")


def _calendar_entry(db, app: Flask, org: Org) -> ObjectRef:  # type: ignore[no-untyped-def]
    from routines.models import SchoolCalendarEntry

    ids = _routine_child(db, org)
    return ObjectRef(ids[6], SchoolCalendarEntry, _routine_snapshot(db), f"Half term {org.slug}")


def _notification(db, app: Flask, org: Org) -> ObjectRef:  # type: ignore[no-untyped-def]
    """An unread notification of the organisation's admin: the walk signs in as the admin,
    and a member opens only their own notifications."""
    from routines.models import Notification

    with tenant_context(org.id):
        row = Notification(
            membership_id=organisations.membership_for(db, org.admin).id,
            kind="reminder",
            title=f"Notice {org.slug}",
            body=f"Notice body {org.slug}",
            link=f"https://cadence.invalid/o/{org.slug}/today",
        )
        db.add(row)
        db.flush()
        notification_id = row.id

    def snapshot() -> Any:
        with cross_tenant("test: read the notifications back"):
            return sorted(db.execute(select(Notification.id, Notification.read_at)).all())

    return ObjectRef(notification_id, Notification, snapshot, f"Notice {org.slug}")


ID_FACTORIES: dict[str, Callable[..., ObjectRef]] = {
    "version_id": _plan_version,
    "plan_item_id": _plan_item,
    "assessment_id": _assessment,
    "framework_id": _framework,
    "item_id": _framework_item,
    "entry_id": _history_entry,
    "activity_id": _activity,
    "membership_id": _membership,
    "invitation_id": _invitation,
    "child_id": _child,
    "member_id": _care_team_member,
    "classroom_id": _classroom,
    "calendar_entry_id": _calendar_entry,
    "household_id": _household,
    "away_id": _away,
    "occurrence_id": _occurrence,
    "log_id": _log,
    "notification_id": _notification,
}


def make_objects(db, app: Flask, org: Org, names: set[str]) -> dict[str, ObjectRef]:  # type: ignore[no-untyped-def]
    objects = {name: ID_FACTORIES[name](db, app, org) for name in sorted(names)}
    db.commit()
    for ref in objects.values():
        with cross_tenant("test: the id used as missing really is"):
            assert db.get(ref.model, MISSING_ID) is None
            assert db.get(ref.model, ref.id).tenant_id == org.id
    return objects


def audit_counts(db, org_ids: list[int]) -> dict[int, int]:  # type: ignore[no-untyped-def]
    with cross_tenant("test: count audit events"):
        return {
            org_id: db.scalar(
                select(func.count(AuditEvent.id)).where(AuditEvent.tenant_id == org_id)
            )
            for org_id in org_ids
        }


# --- requests ------------------------------------------------------------------------------

CSRF_INPUT = re.compile(r"<input[^>]*name=\"csrf_token\"[^>]*>")


def send(client: FlaskClient, method: str, url: str, token: str):  # type: ignore[no-untyped-def]
    if method == "GET":
        return client.get(url)
    return client.open(url, method=method, data={"csrf_token": token})


def comparable(response) -> tuple[int, str | None, str]:  # type: ignore[no-untyped-def]
    body = CSRF_INPUT.sub("<csrf_token>", response.get_data(as_text=True))
    return response.status_code, response.mimetype, body


def assert_same_404(foreign, missing, what: str, *secrets: str) -> None:  # type: ignore[no-untyped-def]
    assert foreign.status_code == 404, f"{what}: {foreign.status_code}, not 404"
    assert missing.status_code == 404, f"{what} (missing): {missing.status_code}, not 404"
    assert comparable(foreign) == comparable(missing), (
        f"{what}: the answer differs from the one for something that does not exist"
    )
    body = foreign.get_data(as_text=True)
    assert "Page not found" in body
    for secret in secrets:
        assert secret not in body, f"{what}: page shows {secret!r}"


def signed_in_admin(client: FlaskClient, org: Org) -> str:
    """Sign in as the organisation's admin; returns a CSRF token valid for the session.

    Requests share the test's session, and a 404 rolls it back: after the first request
    the fixtures' objects are expired and detached, so tests keep plain values from here.
    """
    response = sign_in(client, org.admin.email)
    assert response.status_code == 302
    return csrf_token(client, "/profile/")


# --- the walk ------------------------------------------------------------------------------


def test_every_route_is_classified(app):  # type: ignore[no-untyped-def]
    rules = classified_rules(app)
    kinds = {kind for _, kind in rules}
    assert {ORG, ORG_OBJECT} <= kinds


def test_other_organisations_objects_answer_like_missing_ones(app, client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    rules = rules_of(app, ORG_OBJECT)
    names = {name for rule in rules for name in rule.arguments if name != "org_slug"}
    beta_objects = make_objects(db, app, beta, names)
    before = {name: ref.snapshot() for name, ref in beta_objects.items()}
    alpha_slug, beta_name, org_ids = alpha.slug, beta.org.name, [alpha.id, beta.id]
    token = signed_in_admin(client, alpha)
    audit_before = audit_counts(db, org_ids)

    checked = 0
    for rule in rules:
        ids = [name for name in rule.arguments if name != "org_slug"]
        foreign_url = url_for_rule(
            rule, org_slug=alpha_slug, **{n: beta_objects[n].id for n in ids}
        )
        missing_url = url_for_rule(rule, org_slug=alpha_slug, **{n: MISSING_ID for n in ids})
        for method in methods_of(rule):
            foreign = send(client, method, foreign_url, token)
            missing = send(client, method, missing_url, token)
            assert_same_404(
                foreign,
                missing,
                f"{method} {foreign_url} as alpha's admin",
                beta_name,
                *(beta_objects[n].marker for n in ids),
            )
            checked += 1
    assert checked >= 5

    after = {name: ref.snapshot() for name, ref in beta_objects.items()}
    assert after == before, "a request on alpha's URLs changed beta's objects"
    assert audit_counts(db, org_ids) == audit_before
    membership_row, roles = after["membership_id"]
    assert membership_row[2] is True and roles == ["carer"]  # still active, same role
    invitation_row = after["invitation_id"]
    assert invitation_row[6] is None and invitation_row[7] is None  # not accepted, not revoked
    assert invitation_row[5] == 1  # never resent


def test_other_organisations_answer_like_missing_ones(app, client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    rules = rules_of(app, ORG, ORG_OBJECT)
    names = {name for rule in rules for name in rule.arguments if name != "org_slug"}
    beta_objects = make_objects(db, app, beta, names)
    before = {name: ref.snapshot() for name, ref in beta_objects.items()}
    beta_slug, beta_name, org_ids = beta.slug, beta.org.name, [alpha.id, beta.id]
    beta_zone = beta.org.time_zone
    token = signed_in_admin(client, alpha)
    audit_before = audit_counts(db, org_ids)

    checked = 0
    for rule in rules:
        ids = {n: beta_objects[n].id for n in rule.arguments if n != "org_slug"}
        beta_url = url_for_rule(rule, org_slug=beta_slug, **ids)
        missing_url = url_for_rule(rule, org_slug=MISSING_ORG, **ids)
        for method in methods_of(rule):
            other = send(client, method, beta_url, token)
            missing = send(client, method, missing_url, token)
            assert_same_404(
                other,
                missing,
                f"{method} {beta_url} as alpha's admin",
                beta_name,
                *(beta_objects[n].marker for n in ids),
            )
            checked += 1
    assert checked >= 13

    assert {name: ref.snapshot() for name, ref in beta_objects.items()} == before
    assert audit_counts(db, org_ids) == audit_before
    db.expire_all()
    settings = organisations.organisation_by_slug(db, beta_slug)
    assert settings is not None
    assert (settings.name, settings.time_zone) == (beta_name, beta_zone)


def test_own_organisation_routes_do_answer(app, client, db, orgs):  # type: ignore[no-untyped-def]
    """The control: with alpha's own slug and objects the same requests get past the lookup,
    so the 404s above come from isolation, not from routes that answer nothing."""
    alpha, _ = orgs
    rules = rules_of(app, ORG, ORG_OBJECT)
    names = {name for rule in rules for name in rule.arguments if name != "org_slug"}
    own = make_objects(db, app, alpha, names)
    alpha_slug = alpha.slug
    token = signed_in_admin(client, alpha)
    for rule in rules:
        ids = {n: own[n].id for n in rule.arguments if n != "org_slug"}
        url = url_for_rule(rule, org_slug=alpha_slug, **ids)
        for method in methods_of(rule):
            response = send(client, method, url, token)
            # 403 (on the organisation, not in this role: Today is for carers) and 422 (an
            # empty form) also show the lookup found alpha's own object.
            assert response.status_code in (200, 302, 303, 400, 403, 422), (
                f"{method} {url}: {response.status_code} for alpha's own admin"
            )


def test_anonymous_requests_are_sent_to_sign_in(app, client, db, orgs):  # type: ignore[no-untyped-def]
    beta_slug = orgs[1].slug
    token = csrf_token(client, "/auth/sign-in")
    rules = rules_of(app, ACCOUNT, ORG, ORG_OBJECT)
    for rule in rules:
        for slug in (beta_slug, MISSING_ORG):
            values: dict[str, Any] = {n: 1 for n in rule.arguments if n != "org_slug"}
            if "org_slug" in rule.arguments:
                values["org_slug"] = slug
            url = url_for_rule(rule, **values)
            for method in methods_of(rule):
                response = send(client, method, url, token)
                assert response.status_code == 302, f"{method} {url}: {response.status_code}"
                assert urlsplit(response.location).path == "/auth/sign-in", (
                    f"{method} {url} redirects to {response.location}"
                )


def test_token_routes_refuse_forged_tokens(app, client, db, orgs):  # type: ignore[no-untyped-def]
    token = csrf_token(client, "/auth/sign-in")
    for rule in rules_of(app, TOKEN):
        url = url_for_rule(rule, token="forged.token")
        for method in methods_of(rule):
            response = send(client, method, url, token)
            if rule.endpoint == "feeds.calendar":
                # A calendar app follows the address blindly: a dead one is simply not there.
                assert response.status_code == 404, f"{method} {url}: {response.status_code}"
                continue
            assert response.status_code == 400, f"{method} {url}: {response.status_code}"
            assert "This link cannot be used" in response.get_data(as_text=True)


def _bearer(db, org: Org) -> str:  # type: ignore[no-untyped-def]
    from tenants import api_tokens
    from tenants.db import utcnow

    with tenant_context(org.id):
        membership = organisations.membership_for(db, org.admin)
        _, secret = api_tokens.create_token(db, org.admin, membership, name="walk", now=utcnow())
    db.commit()
    return secret


def test_api_routes_answer_other_organisations_ids_like_missing_ones(app, client, db, orgs):  # type: ignore[no-untyped-def]
    """The API's walk: alpha's bearer token on beta's object ids gets the 404 a missing id
    gets, changes nothing, and without a token every API route answers 401."""
    alpha, beta = orgs
    rules = rules_of(app, BEARER)
    names = {name for rule in rules for name in rule.arguments}
    beta_objects = make_objects(db, app, beta, names)
    before = {name: ref.snapshot() for name, ref in beta_objects.items()}
    bearer = {"Authorization": f"Bearer {_bearer(db, alpha)}"}
    checked = 0
    for rule in rules:
        for method in methods_of(rule):
            anonymous = client.open(
                url_for_rule(rule, **{n: 1 for n in rule.arguments}), method=method, json={}
            )
            assert anonymous.status_code == 401, f"{method} {rule.rule}: {anonymous.status_code}"
            assert anonymous.get_json()["error"]["code"]
            if not rule.arguments:
                continue
            foreign_url = url_for_rule(rule, **{n: beta_objects[n].id for n in rule.arguments})
            missing_url = url_for_rule(rule, **{n: MISSING_ID for n in rule.arguments})
            foreign = client.open(foreign_url, method=method, headers=bearer, json={"note": "x"})
            missing = client.open(missing_url, method=method, headers=bearer, json={"note": "x"})
            where = f"{method} {foreign_url} with alpha's token"
            assert foreign.status_code == missing.status_code == 404, where
            assert foreign.get_json() == missing.get_json(), where
            for marker in (beta.org.name, *(beta_objects[n].marker for n in rule.arguments)):
                assert marker not in foreign.get_data(as_text=True), where
            checked += 1
    assert checked >= 2
    assert {name: ref.snapshot() for name, ref in beta_objects.items()} == before
