"""Reminding people: their preferences, push subscriptions, the in-app notification centre,
one delivery row per message to send, and alert episodes (so a clinician hears of a slipping
routine once per episode, not every night)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tenants.db import Base, UTCDateTime, utcnow
from tenants.isolation import TenantScoped

CHANNELS: dict[str, str] = {
    "in_app": "In Cadence",
    "email": "Email",
    "push": "Push notification on this phone",
    "sms": "Text message",
}
LEAD_MINUTES = (0, 5, 10, 15)
# What a delivery is for. Occurrence kinds carry an occurrence id; the others a subject.
DELIVERY_KINDS: dict[str, str] = {
    "reminder": "Reminder",
    "nudge": "Nudge",
    "escalation": "Escalation",
    "digest": "Daily digest",
    "adherence_alert": "Adherence alert",
    "reassessment_due": "Reassessment due",
}
# pending -> sending (claimed by a sweep) -> sent | failed (permanently) | skipped (no longer
# needed, e.g. the routine was logged first). A failed attempt goes back to pending with a
# later not_before.
DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "skipped")


class NotificationPreference(TenantScoped, Base):
    """How one member wants to be reminded in one organisation."""

    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("membership_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id", ondelete="CASCADE"))
    channels: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["in_app"])
    lead_minutes: Mapped[int] = mapped_column(Integer, default=0)
    quiet_start: Mapped[time | None] = mapped_column(Time)
    quiet_end: Mapped[time | None] = mapped_column(Time)
    # A routine that itself falls in quiet hours ("before bed") still reminds by default:
    # quiet hours must not swallow the routine.
    remind_inside_quiet: Mapped[bool] = mapped_column(Boolean, default=True)
    digest: Mapped[bool] = mapped_column(Boolean, default=False)
    phone: Mapped[str | None] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PushSubscription(TenantScoped, Base):
    """A browser's Web Push endpoint for one member."""

    __tablename__ = "push_subscriptions"
    __table_args__ = (UniqueConstraint("membership_id", "endpoint"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    membership_id: Mapped[int] = mapped_column(
        ForeignKey("memberships.id", ondelete="CASCADE"), index=True
    )
    endpoint: Mapped[str] = mapped_column(String(1000))
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notification(TenantScoped, Base):
    """An entry in a member's notification centre (the in-app channel)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_membership_unread", "membership_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id", ondelete="CASCADE"))
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL"), unique=True
    )
    kind: Mapped[str] = mapped_column(String(30))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Delivery(TenantScoped, Base):
    """One message to one person on one channel. The unique key makes a second send of the
    same (subject, kind, channel, person) impossible, however many sweeps or workers run."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "kind", "subject", "channel", "membership_id"),
        Index("ix_deliveries_due", "status", "not_before"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    # "occurrence:123", "digest:2026-11-24", "child:5:adherence:2026-11-23" ...
    subject: Mapped[str] = mapped_column(String(80))
    occurrence_id: Mapped[int | None] = mapped_column(
        ForeignKey("occurrences.id", ondelete="CASCADE"), index=True
    )
    child_id: Mapped[int | None] = mapped_column(
        ForeignKey("children.id", ondelete="CASCADE"), index=True
    )
    membership_id: Mapped[int] = mapped_column(
        ForeignKey("memberships.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AlertEpisode(TenantScoped, Base):
    """A stretch during which a child's trailing adherence sits under the threshold: opened
    (and the clinician alerted) once, closed when it recovers."""

    __tablename__ = "alert_episodes"
    __table_args__ = (Index("ix_alert_episodes_child_open", "child_id", "closed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    opened_value: Mapped[float | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
