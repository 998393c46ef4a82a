"""Domain models of the routines core, one module per aggregate."""

from routines.models.activity import Activity
from routines.models.assessment import Assessment, ItemRating
from routines.models.child import CarerRelationship, CareTeamMember, Child, TeamRole
from routines.models.framework import Framework, FrameworkItem
from routines.models.history import HistoryEntry
from routines.models.household import Classroom, Household

__all__ = [
    "Activity",
    "Assessment",
    "CareTeamMember",
    "CarerRelationship",
    "Child",
    "Classroom",
    "Framework",
    "FrameworkItem",
    "HistoryEntry",
    "Household",
    "ItemRating",
    "TeamRole",
]
