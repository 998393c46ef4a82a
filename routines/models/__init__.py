"""Domain models of the routines core, one module per aggregate."""

from routines.models.child import CarerRelationship, CareTeamMember, Child, TeamRole
from routines.models.household import Classroom, Household

__all__ = ["CareTeamMember", "CarerRelationship", "Child", "Classroom", "Household", "TeamRole"]
