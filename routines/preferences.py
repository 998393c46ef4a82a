"""People-facing reminder settings: a member's notification preference, their notification
centre (list, mark read, unread count), the organisation's background-work settings and a
child's escalation.

Every function acts in the current tenant; the caller has checked that `actor` may do this
(a member edits only their own preference; admins the organisation's settings; the child's
clinicians its escalation). Changes are audited, reads of one's own notifications are not.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, time
from math import ceil

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from routines.models import CHANNELS, LEAD_MINUTES, Child, Notification, NotificationPreference
from routines.reminders import Preference
from tenants import audit
from tenants.errors import NotFound, ValidationError
from tenants.isolation import get_scoped
from tenants.models import Membership, Organisation, User

logger = logging.getLogger(__name__)

NOTIFICATIONS_PER_PAGE = 50
# E.164: a plus, a country code that does not start with 0, at most 15 digits in all. Eight
# digits is the shortest real national number with its country code.
E164 = re.compile(r"\+[1-9][0-9]{7,14}")
# Spaces, dashes, dots and brackets people type inside a number; dropped before checking.
PHONE_SEPARATORS = re.compile(r"[\s\-.()]")

# Ranges of the organisation's settings (inclusive), and a child's own escalation delay.
NUDGE_MINUTES = (5, 720)
ESCALATE_MINUTES = (5, 1440)
GRACE_MINUTES = (15, 2880)
THRESHOLD_PERCENT = (1, 100)
REASSESSMENT_DAYS = (7, 730)
DEFAULT_THRESHOLD_PERCENT = 80
DEFAULT_REASSESSMENT_DAYS = 90


# --- a member's preference -------------------------------------------------------------------


@dataclass(frozen=True)
class PreferenceValues:
    """What a member chose, as the settings page shows and submits it."""

    channels: tuple[str, ...] = ("in_app",)
    lead_minutes: int = 0
    quiet_start: time | None = None
    quiet_end: time | None = None
    remind_inside_quiet: bool = True
    digest: bool = False
    phone: str | None = None


def get_preference(db: Session, membership_id: int) -> NotificationPreference | None:
    return db.scalar(
        select(NotificationPreference).where(NotificationPreference.membership_id == membership_id)
    )


def preference_values(db: Session, membership_id: int) -> PreferenceValues:
    """The member's settings, or Cadence's defaults (the same ones reminders use)."""
    row = get_preference(db, membership_id)
    if row is None:
        default = Preference()
        return PreferenceValues(
            channels=default.channels,
            lead_minutes=default.lead_minutes,
            remind_inside_quiet=default.remind_inside_quiet,
        )
    return PreferenceValues(
        channels=tuple(c for c in CHANNELS if c in row.channels),
        lead_minutes=row.lead_minutes,
        quiet_start=row.quiet_start,
        quiet_end=row.quiet_end,
        remind_inside_quiet=row.remind_inside_quiet,
        digest=row.digest,
        phone=row.phone,
    )


def check_phone(value: str | None) -> str | None:
    """A phone number in E.164 form ("+447700900123"), or None for an empty one."""
    raw = (value or "").strip()
    if not raw:
        return None
    number = PHONE_SEPARATORS.sub("", raw)
    if number.startswith("00"):
        number = "+" + number[2:]
    if not E164.fullmatch(number):
        raise ValidationError(
            "Enter the mobile number in international form: a + and the country code, then "
            "the number, for example +44 7700 900123.",
            "phone",
        )
    return number


def _check_values(values: PreferenceValues, *, sms_available: bool) -> PreferenceValues:
    unknown = [c for c in values.channels if c not in CHANNELS]
    if unknown:
        raise ValidationError("Choose from the ways of being reminded listed.", "channels")
    channels = tuple(c for c in CHANNELS if c in values.channels)
    if not channels:
        raise ValidationError("Choose at least one way to be reminded.", "channels")
    if "sms" in channels and not sms_available:
        raise ValidationError(
            "Text messages are not set up for this organisation; choose another way.", "channels"
        )
    if values.lead_minutes not in LEAD_MINUTES:
        raise ValidationError(
            "Choose when to be reminded: at the due time, or 5, 10 or 15 minutes before.",
            "lead_minutes",
        )
    if (values.quiet_start is None) != (values.quiet_end is None):
        missing = "quiet_end" if values.quiet_end is None else "quiet_start"
        raise ValidationError(
            "Give quiet hours both a start and an end, or leave both empty.", missing
        )
    if values.quiet_start is not None and values.quiet_start == values.quiet_end:
        raise ValidationError("Quiet hours must not start and end at the same time.", "quiet_end")
    phone = check_phone(values.phone)
    if "sms" in channels and phone is None:
        raise ValidationError("Enter the mobile number text messages go to.", "phone")
    return PreferenceValues(
        channels=channels,
        lead_minutes=values.lead_minutes,
        quiet_start=values.quiet_start,
        quiet_end=values.quiet_end,
        remind_inside_quiet=bool(values.remind_inside_quiet),
        digest=bool(values.digest),
        phone=phone,
    )


def _audit_form(values: PreferenceValues) -> dict[str, object]:
    # The audit trail is read by admins: a phone number shows only its last digits there.
    return {
        "channels": list(values.channels),
        "lead_minutes": values.lead_minutes,
        "quiet_start": values.quiet_start.strftime("%H:%M") if values.quiet_start else None,
        "quiet_end": values.quiet_end.strftime("%H:%M") if values.quiet_end else None,
        "remind_inside_quiet": values.remind_inside_quiet,
        "digest": values.digest,
        "phone": f"…{values.phone[-3:]}" if values.phone else None,
    }


def update_preference(
    db: Session,
    membership: Membership,
    values: PreferenceValues,
    *,
    sms_available: bool,
    actor: User,
    ip: str | None = None,
) -> NotificationPreference:
    """Save a member's reminder settings (ValidationError, nothing changed, on bad input).
    Reminders already planned keep the settings they were planned with."""
    checked = _check_values(values, sms_available=sms_available)
    before = preference_values(db, membership.id)
    if not sms_available:
        # The phone field is not offered without SMS: keep any number saved earlier.
        checked = PreferenceValues(**{**checked.__dict__, "phone": before.phone})
    row = get_preference(db, membership.id)
    if row is None:
        row = NotificationPreference(membership_id=membership.id)
        db.add(row)
    row.channels = list(checked.channels)
    row.lead_minutes = checked.lead_minutes
    row.quiet_start, row.quiet_end = checked.quiet_start, checked.quiet_end
    row.remind_inside_quiet = checked.remind_inside_quiet
    row.digest = checked.digest
    row.phone = checked.phone
    db.flush()
    if before != checked:
        audit.record(
            db,
            "notifications.preferences_changed",
            actor=actor,
            object_type="membership",
            object_id=membership.id,
            ip_address=ip,
            before=_audit_form(before),
            after=_audit_form(checked),
        )
    return row


# --- the notification centre -----------------------------------------------------------------


@dataclass(frozen=True)
class NotificationPage:
    items: list[Notification]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.per_page))


def list_notifications(
    db: Session, membership_id: int, *, page: int = 1, per_page: int = NOTIFICATIONS_PER_PAGE
) -> NotificationPage:
    """One page of a member's notifications, newest first."""
    mine = Notification.membership_id == membership_id
    total = db.scalar(select(func.count(Notification.id)).where(mine)) or 0
    items = list(
        db.scalars(
            select(Notification)
            .where(mine)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    )
    return NotificationPage(items, page, per_page, total)


def unread_count(db: Session, membership_id: int) -> int:
    return (
        db.scalar(
            select(func.count(Notification.id)).where(
                Notification.membership_id == membership_id, Notification.read_at.is_(None)
            )
        )
        or 0
    )


def get_notification(db: Session, membership_id: int, notification_id: int) -> Notification:
    """One of the member's own notifications; anyone else's is NotFound, as a missing one."""
    row = get_scoped(db, Notification, notification_id)
    if row is None or row.membership_id != membership_id:
        raise NotFound("notification")
    return row


def mark_read(db: Session, notification: Notification, *, now: datetime) -> None:
    if notification.read_at is None:
        notification.read_at = now
        db.flush()


def mark_all_read(db: Session, membership_id: int, *, now: datetime) -> int:
    """Mark every unread notification of the member read; returns how many there were."""
    result = db.execute(
        update(Notification)
        .where(Notification.membership_id == membership_id, Notification.read_at.is_(None))
        .values(read_at=now)
        .execution_options(synchronize_session="fetch")
    )
    db.flush()
    return result.rowcount or 0  # type: ignore[attr-defined]


# --- the organisation's background-work settings ---------------------------------------------


def _in_range(value: int | None, bounds: tuple[int, int], field: str, what: str) -> int | None:
    if value is None:
        return None
    low, high = bounds
    if not low <= value <= high:
        raise ValidationError(f"{what} must be between {low} and {high}.", field)
    return value


def reminder_settings(org: Organisation) -> dict[str, object]:
    return {
        "nudge_after_minutes": org.nudge_after_minutes,
        "escalate_after_minutes": org.escalate_after_minutes,
        "missed_after_minutes": org.missed_after_minutes,
        "adherence_threshold": org.adherence_threshold,
        "reassessment_interval_days": org.reassessment_interval_days,
    }


def threshold_percent(org: Organisation) -> int:
    return round(org.adherence_threshold * 100)


def update_reminder_settings(
    db: Session,
    org: Organisation,
    *,
    nudge_after_minutes: int | None,
    escalate_after_minutes: int | None,
    missed_after_minutes: int | None,
    adherence_percent: int | None,
    reassessment_interval_days: int | None,
    actor: User,
    ip: str | None = None,
) -> None:
    """Nudge, escalation and missed delays (None: no nudge / escalation off / the end of the
    local day), the adherence threshold in percent and the reassessment interval in days
    (None: Cadence's defaults, 80 and 90). Audited when anything changed."""
    nudge = _in_range(nudge_after_minutes, NUDGE_MINUTES, "nudge_after_minutes", "The nudge delay")
    escalate = _in_range(
        escalate_after_minutes, ESCALATE_MINUTES, "escalate_after_minutes", "The escalation delay"
    )
    grace = _in_range(
        missed_after_minutes, GRACE_MINUTES, "missed_after_minutes", "The grace period"
    )
    percent = _in_range(
        adherence_percent, THRESHOLD_PERCENT, "adherence_percent", "The adherence threshold"
    )
    days = _in_range(
        reassessment_interval_days,
        REASSESSMENT_DAYS,
        "reassessment_interval_days",
        "The reassessment interval",
    )
    before = reminder_settings(org)
    org.nudge_after_minutes = nudge
    org.escalate_after_minutes = escalate
    org.missed_after_minutes = grace
    org.adherence_threshold = (percent or DEFAULT_THRESHOLD_PERCENT) / 100
    org.reassessment_interval_days = days or DEFAULT_REASSESSMENT_DAYS
    after = reminder_settings(org)
    if before != after:
        audit.record(
            db,
            "organisation.reminder_settings_changed",
            actor=actor,
            object_type="organisation",
            object_id=org.id,
            ip_address=ip,
            before=before,
            after=after,
        )
    db.flush()


# --- a child's escalation --------------------------------------------------------------------


def escalation_candidates(child: Child) -> list:  # type: ignore[type-arg]
    """The care-team entries escalation may go to: the team's active members."""
    return [m for m in child.team if m.membership.is_active]


def set_escalation(
    db: Session,
    child: Child,
    membership_id: int | None,
    minutes: int | None,
    actor: User,
    *,
    ip: str | None = None,
) -> None:
    """Who on the care team hears of a routine still unlogged, and after how many minutes
    (None: the organisation's setting). No person turns escalation off for the child."""
    if membership_id is None and minutes is not None:
        raise ValidationError(
            "Choose who should hear of unlogged routines, or leave the minutes empty.",
            "escalate_to",
        )
    if membership_id is not None and membership_id not in {
        m.membership_id for m in escalation_candidates(child)
    }:
        raise ValidationError("Choose someone on the child's care team.", "escalate_to")
    minutes = _in_range(minutes, ESCALATE_MINUTES, "escalate_after", "The escalation delay")
    before = {
        "escalate_to": child.escalate_to_membership_id,
        "after_minutes": child.escalate_after_minutes,
    }
    child.escalate_to_membership_id = membership_id
    child.escalate_after_minutes = minutes
    after = {"escalate_to": membership_id, "after_minutes": minutes}
    db.flush()
    if before != after:
        audit.record(
            db,
            "child.escalation_changed",
            actor=actor,
            object_type="child",
            object_id=child.id,
            ip_address=ip,
            before=before,
            after=after,
        )
