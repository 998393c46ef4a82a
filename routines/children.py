"""Children and their care teams: commands and queries.

Every function acts in the current tenant; the caller has checked access
with routines.access (views) or is trusted code (seed, tasks).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from routines.access import TEAM_ROLES_FOR, can_view_child
from routines.models import CarerRelationship, CareTeamMember, Child, Classroom, Household, TeamRole
from tenants import audit
from tenants.db import utcnow
from tenants.errors import NotFound, ValidationError
from tenants.isolation import get_scoped
from tenants.models import Membership, Organisation, User
from tenants.roles import Role
from tenants.validation import check_name, check_time_zone

logger = logging.getLogger(__name__)

MAX_AGE_YEARS = 25  # children and young people; older records are almost certainly typos


@dataclass(frozen=True)
class ChildDetails:
    given_name: str
    family_name: str
    date_of_birth: date | None
    preferred_name: str | None = None
    pronouns: str | None = None
    household_name: str | None = None
    time_zone: str | None = None
    school_name: str | None = None
    classroom_name: str | None = None


def _optional(value: str | None, field: str, label: str, max_len: int) -> str | None:
    value = " ".join((value or "").split())
    if not value:
        return None
    if len(value) > max_len:
        raise ValidationError(f"{label} must be at most {max_len} characters.", field)
    return value


def _check_birth_date(born: date | None, today: date) -> date:
    if born is None:
        raise ValidationError("Enter the date of birth.", "date_of_birth")
    if born > today:
        raise ValidationError("The date of birth cannot be in the future.", "date_of_birth")
    if born.year < today.year - MAX_AGE_YEARS:
        raise ValidationError(
            f"Cadence is for children and young people up to {MAX_AGE_YEARS}; check the year.",
            "date_of_birth",
        )
    return born


def _household(db: Session, name: str | None, time_zone: str) -> Household | None:
    if name is None:
        return None
    existing = db.scalar(select(Household).where(Household.name == name))
    if existing is not None:
        return existing
    household = Household(name=name, time_zone=time_zone)
    db.add(household)
    db.flush()
    return household


def _classroom(
    db: Session, school: str | None, name: str | None, time_zone: str
) -> Classroom | None:
    if school is None and name is None:
        return None
    if school is None or name is None:
        field = "school_name" if school is None else "classroom_name"
        raise ValidationError("Give both the school and the class, or neither.", field)
    existing = db.scalar(
        select(Classroom).where(Classroom.school_name == school, Classroom.name == name)
    )
    if existing is not None:
        return existing
    classroom = Classroom(school_name=school, name=name, time_zone=time_zone)
    db.add(classroom)
    db.flush()
    return classroom


def add_child(
    db: Session,
    details: ChildDetails,
    *,
    actor: User,
    actor_membership: Membership,
    default_time_zone: str,
    today: date,
    ip: str | None = None,
) -> Child:
    """A new child; a clinician who adds one becomes the lead clinician on its care team."""
    given = check_name(details.given_name, "given_name", "Given name", 100)
    family = check_name(details.family_name, "family_name", "Family name", 100)
    born = _check_birth_date(details.date_of_birth, today)
    zone = check_time_zone(details.time_zone or default_time_zone)
    household = _household(
        db, _optional(details.household_name, "household_name", "Household", 200), zone
    )
    classroom = _classroom(
        db,
        _optional(details.school_name, "school_name", "School", 200),
        _optional(details.classroom_name, "classroom_name", "Class", 100),
        zone,
    )
    child = Child(
        given_name=given,
        family_name=family,
        preferred_name=_optional(details.preferred_name, "preferred_name", "Preferred name", 100),
        pronouns=_optional(details.pronouns, "pronouns", "Pronouns", 40),
        date_of_birth=born,
        household=household,
        classroom=classroom,
        created_by_id=actor.id,
    )
    db.add(child)
    db.flush()
    if actor_membership.has_role(Role.CLINICIAN):
        child.team.append(
            CareTeamMember(
                membership_id=actor_membership.id, team_role=TeamRole.LEAD_CLINICIAN.value
            )
        )
        db.flush()
    audit.record(
        db, "child.created", actor=actor, object_type="child", object_id=child.id, ip_address=ip
    )
    return child


def visible_children(db: Session, membership: Membership) -> list[Child]:
    """The caseload: every child for an admin, otherwise the children on one's care teams."""
    query = select(Child).order_by(func.lower(Child.family_name), func.lower(Child.given_name))
    if not membership.has_role(Role.ADMIN):
        query = query.where(
            Child.id.in_(
                select(CareTeamMember.child_id).where(CareTeamMember.membership_id == membership.id)
            )
        )
    return list(db.scalars(query))


def get_child(db: Session, child_id: int, membership: Membership) -> Child:
    """The child, if it exists in this organisation and the member may see it; else NotFound
    (the same answer either way, so ids reveal nothing)."""
    child = get_scoped(db, Child, child_id)
    if child is None:
        raise NotFound("child")
    if not can_view_child(membership, child):
        raise NotFound("child")
    return child


def child_time_zone(child: Child, default: str) -> str:
    if child.household is not None:
        return child.household.time_zone
    return default


def child_today(child: Child, org: Organisation, now: datetime | None = None) -> date:
    """The child's local date (its household's time zone, else the organisation's)."""
    zone = ZoneInfo(child_time_zone(child, org.time_zone))
    return (now or utcnow()).astimezone(zone).date()


def add_team_member(
    db: Session,
    child: Child,
    *,
    membership_id: int,
    team_role: str,
    relationship: str | None,
    actor: User,
    ip: str | None = None,
) -> CareTeamMember:
    try:
        role = TeamRole(team_role)
    except ValueError:
        raise ValidationError("Choose a role on the care team.", "team_role") from None
    membership = get_scoped(db, Membership, membership_id)
    if membership is None or not membership.is_active:
        raise ValidationError("Choose an active member of the organisation.", "membership_id")
    if not membership.has_role(*TEAM_ROLES_FOR[role]):
        raise ValidationError(
            f"{membership.user.name} does not hold the organisation role a {role.label.lower()} "
            "needs.",
            "membership_id",
        )
    if any(m.membership_id == membership.id for m in child.team):
        raise ValidationError(
            f"{membership.user.name} is already on the care team.", "membership_id"
        )
    if role is TeamRole.LEAD_CLINICIAN and any(
        m.role is TeamRole.LEAD_CLINICIAN for m in child.team
    ):
        raise ValidationError("The child already has a lead clinician.", "team_role")
    relation: str | None = None
    if role is TeamRole.CARER:
        try:
            relation = CarerRelationship(relationship or "").value
        except ValueError:
            raise ValidationError(
                "Choose the carer's relationship to the child.", "relationship"
            ) from None
    elif relationship:
        raise ValidationError("Only carers have a relationship to record.", "relationship")
    member = CareTeamMember(
        membership_id=membership.id, team_role=role.value, relationship_to_child=relation
    )
    child.team.append(member)
    db.flush()
    audit.record(
        db,
        "care_team.added",
        actor=actor,
        object_type="child",
        object_id=child.id,
        ip_address=ip,
        member=membership.user.email,
        team_role=role.value,
    )
    return member


def remove_team_member(
    db: Session, child: Child, member_id: int, *, actor: User, ip: str | None = None
) -> None:
    member = next((m for m in child.team if m.id == member_id), None)
    if member is None:
        raise NotFound("care team member")
    if member.role is TeamRole.LEAD_CLINICIAN:
        raise ValidationError("Choose another lead clinician before removing this one.")
    email = member.membership.user.email
    if child.escalate_to_membership_id == member.membership_id:
        # Escalation goes only to the care team: off until a clinician chooses someone else.
        child.escalate_to_membership_id = None
    child.team.remove(member)
    db.flush()
    audit.record(
        db,
        "care_team.removed",
        actor=actor,
        object_type="child",
        object_id=child.id,
        ip_address=ip,
        member=email,
        team_role=member.team_role,
    )


def record_view(db: Session, child: Child, *, actor: User, ip: str | None = None) -> None:
    """Every read of a child's record leaves an audit row."""
    audit.record(
        db, "child.viewed", actor=actor, object_type="child", object_id=child.id, ip_address=ip
    )
