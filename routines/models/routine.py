"""The daily routine: occurrences materialised from published plans, the logs carers and
teachers make of them, corrections of those logs, periods a child is away, and the school
calendar that decides which days are school days."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from routines.models.activity import Activity
from tenants.db import Base, UTCDateTime, utcnow
from tenants.isolation import TenantScoped

# What happened to an occurrence. `withdrawn` is a future occurrence a newer plan version
# dropped; it is kept (never deleted) so reminders and logs that point at it stay valid.
OCCURRENCE_STATUSES = ("pending", "done", "partly", "skipped", "missed", "excused", "withdrawn")
LOG_STATUSES = ("done", "partly", "skipped")
SKIP_REASONS: dict[str, str] = {
    "unwell": "Child unwell",
    "refused": "Refused",
    "no_time": "No time",
    "other": "Other",
}
# The arousal continuum carers note before and after an activity.
AROUSAL_STATES: dict[str, str] = {
    "calm": "Calm",
    "alert": "Alert",
    "alarm": "Alarm",
    "fear": "Fear",
    "terror": "Terror",
}
AWAY_KINDS: dict[str, str] = {
    "hospital": "Hospital",
    "respite": "Respite",
    "holiday": "Holiday",
    "contact": "Contact visit",
    "other": "Other",
}
# Home routines belong to the household's carers; school routines to the class's teachers.
SIDE_OF_ASSIGNEE = {
    "household": "home",
    "carer": "home",
    "teacher": "school",
    "classroom": "school",
}


class Occurrence(TenantScoped, Base):
    """One dated, timed instance of a planned activity for one child.

    Identified by (child, activity, assignee, local date, slot), so re-publishing a plan
    finds the occurrences it already made instead of making them twice."""

    __tablename__ = "occurrences"
    __table_args__ = (
        UniqueConstraint("child_id", "activity_id", "assignee_key", "local_date", "slot"),
        Index("ix_occurrences_tenant_due", "tenant_id", "due_at"),
        Index("ix_occurrences_child_date", "child_id", "local_date"),
        Index("ix_occurrences_unplanned", "status", "reminders_planned_at", "due_at"),
        # Which days changed since the adherence rollups were last built.
        Index("ix_occurrences_tenant_updated", "tenant_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"))
    plan_item_id: Mapped[int] = mapped_column(
        ForeignKey("plan_items.id", ondelete="CASCADE"), index=True
    )
    activity_id: Mapped[int] = mapped_column(
        ForeignKey("activities.id", ondelete="RESTRICT"), index=True
    )
    side: Mapped[str] = mapped_column(String(10))  # home | school
    assignee: Mapped[str] = mapped_column(String(20))
    assignee_membership_id: Mapped[int | None] = mapped_column(
        ForeignKey("memberships.id", ondelete="SET NULL"), index=True
    )
    assignee_key: Mapped[str] = mapped_column(String(20))
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("households.id", ondelete="SET NULL"), index=True
    )
    classroom_id: Mapped[int | None] = mapped_column(
        ForeignKey("classrooms.id", ondelete="SET NULL"), index=True
    )
    local_date: Mapped[date] = mapped_column(Date)
    slot: Mapped[str] = mapped_column(String(40))
    local_time: Mapped[time] = mapped_column(Time)
    time_zone: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    minutes: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    excused_reason: Mapped[str | None] = mapped_column(String(30))
    away_id: Mapped[int | None] = mapped_column(
        ForeignKey("away_periods.id", ondelete="SET NULL"), index=True
    )
    # When its reminders, nudge and escalation were planned (routines.reminders).
    reminders_planned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    activity: Mapped[Activity] = relationship(lazy="joined", innerjoin=True)
    log: Mapped[RoutineLog | None] = relationship(
        back_populates="occurrence", uselist=False, lazy="raise"
    )


class RoutineLog(TenantScoped, Base):
    """What a carer or teacher recorded for one occurrence. One per occurrence, and one per
    client-generated UUID: a device that sends the same log again gets the stored one."""

    __tablename__ = "routine_logs"
    __table_args__ = (
        UniqueConstraint("occurrence_id"),
        UniqueConstraint("tenant_id", "client_uuid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_uuid: Mapped[uuid.UUID] = mapped_column(Uuid)
    payload_hash: Mapped[str] = mapped_column(String(64))
    occurrence_id: Mapped[int] = mapped_column(ForeignKey("occurrences.id", ondelete="CASCADE"))
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(String(20))
    minutes: Mapped[int | None] = mapped_column(Integer)
    state_before: Mapped[str | None] = mapped_column(String(10))
    state_after: Mapped[str | None] = mapped_column(String(10))
    enjoyment: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(12))  # web | api | classroom | seed
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    author_membership_id: Mapped[int | None] = mapped_column(
        ForeignKey("memberships.id", ondelete="SET NULL")
    )
    logged_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    occurrence: Mapped[Occurrence] = relationship(back_populates="log", lazy="raise")


class LogCorrection(TenantScoped, Base):
    """A change its author made to a log within the correction window: before and after."""

    __tablename__ = "log_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    log_id: Mapped[int] = mapped_column(
        ForeignKey("routine_logs.id", ondelete="CASCADE"), index=True
    )
    corrected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    corrected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    before: Mapped[dict[str, Any]] = mapped_column(JSON)
    after: Mapped[dict[str, Any]] = mapped_column(JSON)


class AwayPeriod(TenantScoped, Base):
    """A stretch of time the child is away (hospital, respite, holiday, contact visit): the
    occurrences due in it are excused, not missed."""

    __tablename__ = "away_periods"

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    time_zone: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class SchoolCalendarEntry(TenantScoped, Base):
    """A classroom's term (school days run Monday to Friday inside terms) or closure (no
    school on any of its days). A classroom with no terms has every weekday as a school day."""

    __tablename__ = "school_calendar_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    classroom_id: Mapped[int] = mapped_column(
        ForeignKey("classrooms.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))  # term | closure
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    label: Mapped[str] = mapped_column(String(120), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
