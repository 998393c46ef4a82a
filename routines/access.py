"""Who may see and change a child's record: the care team, inside the organisation.

Admins see every child of their organisation; everyone else sees only the
children on whose care team they are. Clinical changes need a clinician who
is on the child's team as (lead) clinician, or an admin.
"""

from __future__ import annotations

from routines.models import Child, TeamRole
from tenants.models import Membership
from tenants.roles import Role


def team_entry(child: Child, membership: Membership):  # type: ignore[no-untyped-def]
    for member in child.team:
        if member.membership_id == membership.id:
            return member
    return None


def can_view_child(membership: Membership, child: Child) -> bool:
    return membership.has_role(Role.ADMIN) or team_entry(child, membership) is not None


def can_change_clinical_record(membership: Membership, child: Child) -> bool:
    """Histories, assessments, plans, the care team itself."""
    if membership.has_role(Role.ADMIN):
        return True
    entry = team_entry(child, membership)
    return entry is not None and entry.role.is_clinical and membership.has_role(Role.CLINICIAN)


def can_add_child(membership: Membership) -> bool:
    return membership.has_role(Role.ADMIN, Role.CLINICIAN)


# Which organisation roles may hold which care-team roles.
TEAM_ROLES_FOR: dict[TeamRole, tuple[Role, ...]] = {
    TeamRole.LEAD_CLINICIAN: (Role.CLINICIAN,),
    TeamRole.CLINICIAN: (Role.CLINICIAN,),
    TeamRole.CARER: (Role.CARER,),
    TeamRole.TEACHER: (Role.TEACHER,),
    TeamRole.TEACHING_ASSISTANT: (Role.TEACHER,),
}


# Which care-team roles log which side of a child's routines.
LOGGING_SIDE: dict[TeamRole, str] = {
    TeamRole.CARER: "home",
    TeamRole.TEACHER: "school",
    TeamRole.TEACHING_ASSISTANT: "school",
}


def logging_side(membership: Membership, child: Child) -> str | None:
    """ "home" for the child's carers, "school" for its teachers, else None: only the people
    who do the routines log them."""
    entry = team_entry(child, membership)
    return LOGGING_SIDE.get(entry.role) if entry is not None else None


def can_mark_away(membership: Membership, child: Child) -> bool:
    """The child's carers and clinicians (and admins) say when a child is away."""
    if membership.has_role(Role.ADMIN):
        return True
    entry = team_entry(child, membership)
    return entry is not None and (entry.role.is_clinical or entry.role == TeamRole.CARER)
