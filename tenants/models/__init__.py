"""All tenancy models; importing this package registers them on Base.metadata."""

from tenants.models.access_token import ApiToken, CalendarFeed
from tenants.models.audit import AuditEvent
from tenants.models.invitation import Invitation
from tenants.models.jobs import OutboxMessage, PeriodicRun, SchedulerLease
from tenants.models.membership import Membership, MembershipRole
from tenants.models.organisation import Organisation
from tenants.models.user import User, UserSession

__all__ = [
    "ApiToken",
    "CalendarFeed",
    "AuditEvent",
    "Invitation",
    "Membership",
    "MembershipRole",
    "Organisation",
    "OutboxMessage",
    "PeriodicRun",
    "SchedulerLease",
    "User",
    "UserSession",
]
