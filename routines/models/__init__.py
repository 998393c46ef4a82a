"""Domain models of the routines core, one module per aggregate."""

from routines.models.activity import Activity
from routines.models.assessment import Assessment, ItemRating
from routines.models.child import CarerRelationship, CareTeamMember, Child, TeamRole
from routines.models.framework import Framework, FrameworkItem
from routines.models.history import HistoryEntry
from routines.models.household import Classroom, Household
from routines.models.plan import ANCHORS, ASSIGNEES, Plan, PlanItem, PlanVersion
from routines.models.reminder import (
    CHANNELS,
    DELIVERY_KINDS,
    LEAD_MINUTES,
    AlertEpisode,
    Delivery,
    Notification,
    NotificationPreference,
    PushSubscription,
)
from routines.models.rollup import AdherenceRollup
from routines.models.routine import (
    AROUSAL_STATES,
    AWAY_KINDS,
    LOG_STATUSES,
    OCCURRENCE_STATUSES,
    SIDE_OF_ASSIGNEE,
    SKIP_REASONS,
    AwayPeriod,
    LogCorrection,
    Occurrence,
    RoutineLog,
    SchoolCalendarEntry,
)

__all__ = [
    "AdherenceRollup",
    "CHANNELS",
    "DELIVERY_KINDS",
    "LEAD_MINUTES",
    "AlertEpisode",
    "Delivery",
    "Notification",
    "NotificationPreference",
    "PushSubscription",
    "AROUSAL_STATES",
    "AWAY_KINDS",
    "LOG_STATUSES",
    "OCCURRENCE_STATUSES",
    "SIDE_OF_ASSIGNEE",
    "SKIP_REASONS",
    "AwayPeriod",
    "LogCorrection",
    "Occurrence",
    "RoutineLog",
    "SchoolCalendarEntry",
    "ANCHORS",
    "ASSIGNEES",
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
    "Plan",
    "PlanItem",
    "PlanVersion",
    "TeamRole",
]
