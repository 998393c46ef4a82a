"""Factories for routine tests: a child with a household, a class, a care team and a
published plan, written directly (the plan's own operations are tested elsewhere)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from routines import children, occurrences
from routines import models as m
from tenants.context import tenant_context
from tenants.organisations import membership_for

EVERY_DAY = [0, 1, 2, 3, 4, 5, 6]


def activity(db: Session, name: str = "Rocking", minutes: int = 5) -> m.Activity:
    row = m.Activity(
        name=name,
        instructions=f"{name}, slowly and rhythmically.",
        domains=["sensory_integration"],
        rs=["rhythmic", "repetitive", "relational"],
        typical_minutes=minutes,
        settings=["home", "school"],
        dev_age_min_months=0,
        dev_age_max_months=216,
    )
    db.add(row)
    db.flush()
    return row


def item(
    act: m.Activity,
    *,
    assignee: str = "household",
    membership_id: int | None = None,
    frequency: dict[str, Any] | None = None,
    minutes: int = 5,
    start: date = date(2026, 1, 1),
    end: date | None = None,
    domain: str = "sensory_integration",
) -> m.PlanItem:
    return m.PlanItem(
        activity=act,
        position=0,
        domain=domain,
        assignee=assignee,
        assignee_membership_id=membership_id,
        frequency=frequency or {"days": EVERY_DAY, "mode": "times", "times": ["07:30"]},
        minutes=minutes,
        start_date=start,
        end_date=end,
    )


@dataclass
class Family:
    child: m.Child
    carer_membership: Any
    teacher_membership: Any | None


def child(
    db: Session,
    org: Any,
    *,
    name: str = "Robin",
    time_zone: str = "Europe/London",
    household: str | None = "Ashdown household",
    school: str | None = "Brook Primary",
    classroom: str | None = "Year 3",
    carer: Any = None,
    teacher: Any = None,
) -> Family:
    """A child in `org` (the caller is inside its tenant context) with the org's carer and
    teacher on the team."""
    kid = children.add_child(
        db,
        children.ChildDetails(
            name,
            "Ashdown",
            date(2018, 4, 2),
            household_name=household,
            school_name=school,
            classroom_name=classroom,
            time_zone=time_zone,
        ),
        actor=org.clinician,
        actor_membership=membership_for(db, org.clinician),
        default_time_zone=time_zone,
        today=date(2026, 11, 23),
    )
    carer_m = membership_for(db, carer or org.carer)
    children.add_team_member(
        db,
        kid,
        membership_id=carer_m.id,
        team_role="carer",
        relationship="foster_carer",
        actor=org.clinician,
    )
    teacher_m = None
    if classroom is not None:
        teacher_m = membership_for(db, teacher or org.teacher)
        children.add_team_member(
            db,
            kid,
            membership_id=teacher_m.id,
            team_role="teacher",
            relationship=None,
            actor=org.clinician,
        )
    return Family(kid, carer_m, teacher_m)


def publish(
    db: Session,
    kid: m.Child,
    items: list[m.PlanItem],
    *,
    effective_from: date = date(2026, 1, 1),
    now: datetime | None = None,
    horizon_days: int = occurrences.HORIZON_DAYS,
) -> m.PlanVersion:
    """A published version with these items, then materialised as publishing does."""
    plan = db.query(m.Plan).filter_by(child_id=kid.id).one_or_none()
    if plan is None:
        plan = m.Plan(child_id=kid.id)
        db.add(plan)
        db.flush()
    number = len([v for v in plan.versions if v.number is not None]) + 1
    version = m.PlanVersion(
        plan=plan, status="published", number=number, effective_from=effective_from
    )
    for position, row in enumerate(items, start=1):
        row.position = position
        version.items.append(row)
    db.add(version)
    db.flush()
    db.expire(plan, ["versions"])
    occurrences.materialise(
        db, kid, now=now or datetime(2026, 11, 23, 0, 0, tzinfo=UTC), horizon_days=horizon_days
    )
    return version


def in_org(org: Any):  # type: ignore[no-untyped-def]
    return tenant_context(org.id)
