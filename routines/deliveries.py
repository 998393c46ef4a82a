"""Sending what routines.reminders planned: claim due delivery rows, send each once.

A sweep claims due rows (FOR UPDATE SKIP LOCKED on PostgreSQL, so several sweepers never
take the same row) by marking them "sending" with a claim that lapses; short tasks then
send one row each. A row is marked sent in the same transaction that follows the send;
the in-app channel writes its notification in that very transaction, so it happens exactly
once. For email, a worker killed between the SMTP server's acceptance and that commit would
send again when the claim lapses: the message carries the delivery's own Message-ID, so the
repeat is recognisably the same message. Failed sends retry with exponential backoff;
after MAX_ATTEMPTS, or on a permanent failure, the row is failed with its reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from routines.models import CHANNELS, Child, Delivery, Notification, Occurrence
from tenants.context import cross_tenant, tenant_context
from tenants.isolation import get_scoped
from tenants.models import Membership, Organisation

logger = logging.getLogger(__name__)

CLAIM_FOR = timedelta(minutes=5)
MAX_ATTEMPTS = 6
OCCURRENCE_KINDS = ("reminder", "nudge", "escalation")


class TemporaryFailure(Exception):
    """Try again later (the server did not answer, a rate limit...)."""


class PermanentFailure(Exception):
    """Trying again will not help (no address, the subscription is gone...)."""


@dataclass(frozen=True)
class Message:
    """What a channel sends: the same words on every channel."""

    delivery_id: int
    tenant_id: int
    kind: str
    membership: Membership
    title: str
    body: str
    link: str
    message_id: str


# channel name -> sender(db, message); raises TemporaryFailure or PermanentFailure.
Sender = Callable[[Session, Message], None]


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8 ... minutes, at most an hour."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), timedelta(hours=1))


def claim_due(db: Session, *, now: datetime, limit: int = 200) -> list[tuple[int, int]]:
    """Claim due rows across organisations: (tenant id, delivery id) pairs for the caller to
    hand to short tasks. Rows whose claim lapsed (a worker died) are claimed again."""
    with cross_tenant("delivery sweep: claim due rows of every organisation"):
        query = (
            select(Delivery.id, Delivery.tenant_id)
            .where(
                or_(
                    and_(Delivery.status == "pending", Delivery.not_before <= now),
                    and_(Delivery.status == "sending", Delivery.claimed_until < now),
                )
            )
            .order_by(Delivery.not_before, Delivery.id)
            .limit(limit)
        )
        if db.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = db.execute(query).all()
        if rows:
            db.execute(
                update(Delivery)
                .where(Delivery.id.in_([r.id for r in rows]))
                .values(status="sending", claimed_until=now + CLAIM_FOR)
                .execution_options(synchronize_session=False)
            )
    return [(r.tenant_id, r.id) for r in rows]


def deliver(
    db: Session,
    tenant_id: int,
    delivery_id: int,
    *,
    now: datetime,
    senders: Mapping[str, Sender],
    base_url: str,
) -> str:
    """Send one claimed delivery; returns its new status. Idempotent: a row already sent,
    skipped or failed is left alone."""
    with tenant_context(tenant_id):
        row = db.scalar(
            select(Delivery).where(Delivery.id == delivery_id).with_for_update()
            if db.get_bind().dialect.name == "postgresql"
            else select(Delivery).where(Delivery.id == delivery_id)
        )
        if row is None or row.status in ("sent", "skipped", "failed"):
            return row.status if row is not None else "missing"
        message = _compose(db, row, base_url)
        if message is None:
            row.status = "skipped"
            row.claimed_until = None
            db.flush()
            return row.status
        sender = senders.get(row.channel)
        row.attempts += 1
        try:
            if sender is None:
                raise PermanentFailure(f"the {row.channel} channel is not configured")
            sender(db, message)
        except PermanentFailure as exc:
            row.status, row.last_error, row.claimed_until = "failed", str(exc)[:2000], None
        except TemporaryFailure as exc:
            row.last_error = str(exc)[:2000]
            row.claimed_until = None
            if row.attempts >= MAX_ATTEMPTS:
                row.status = "failed"
            else:
                row.status, row.not_before = "pending", now + backoff(row.attempts)
        else:
            row.status, row.sent_at, row.claimed_until = "sent", now, None
        db.flush()
        if row.status == "failed":
            logger.warning("delivery %s failed: %s", row.id, row.last_error)
            if row.channel != "in_app":
                _tell_channel_failed(db, row)
        return row.status


def _tell_channel_failed(db: Session, row: Delivery) -> None:
    """The person should know a channel they chose does not reach them: one notice per
    channel until they have read it."""
    title = f"We could not reach you by {CHANNELS[row.channel].lower()}"
    unread = db.scalar(
        select(Notification.id).where(
            Notification.membership_id == row.membership_id,
            Notification.kind == "channel_failed",
            Notification.title == title,
            Notification.read_at.is_(None),
        )
    )
    if unread is None:
        db.add(
            Notification(
                membership_id=row.membership_id,
                kind="channel_failed",
                title=title,
                body=(row.last_error or "")[:500],
                link=None,
            )
        )
        db.flush()


def _compose(db: Session, row: Delivery, base_url: str) -> Message | None:
    """The message for a row, or None when it is no longer needed (the routine was logged,
    excused or withdrawn; the person left)."""
    membership = get_scoped(db, Membership, row.membership_id)
    if membership is None or not membership.is_active:
        return None
    org = db.get(Organisation, row.tenant_id)
    assert org is not None
    message_id = f"<delivery-{row.tenant_id}-{row.id}@cadence.invalid>"
    if row.kind in OCCURRENCE_KINDS:
        occurrence = get_scoped(db, Occurrence, row.occurrence_id)
        if occurrence is None or occurrence.status != "pending":
            return None
        child = get_scoped(db, Child, occurrence.child_id)
        assert child is not None
        name = child.preferred_name or child.given_name
        at = occurrence.local_time.strftime("%H:%M")
        activity = occurrence.activity.name
        day = occurrence.local_date.isoformat()
        # Straight to the routine's log buttons: its row on Today, or the class's day.
        path = (
            f"/o/{org.slug}/today?date={day}#occ-{occurrence.id}"
            if occurrence.side == "home" or occurrence.classroom_id is None
            else f"/o/{org.slug}/classroom/{occurrence.classroom_id}?date={day}"
        )
        titles = {
            "reminder": f"{at} {activity} with {name}",
            "nudge": f"Not logged yet: {activity} with {name} ({at})",
            "escalation": f"{name}'s {at} {activity} has not been logged",
        }
        bodies = {
            "reminder": f"{occurrence.minutes} minutes. Log it when it's done.",
            "nudge": "If it happened, log it now; if not, say why.",
            "escalation": "You are the second person for this routine. Could you check in?",
        }
        return Message(
            row.id,
            row.tenant_id,
            row.kind,
            membership,
            titles[row.kind],
            bodies[row.kind],
            base_url.rstrip("/") + path,
            message_id,
        )
    payload = row.payload or {}
    return Message(
        row.id,
        row.tenant_id,
        row.kind,
        membership,
        payload.get("title", "Cadence"),
        payload.get("body", ""),
        base_url.rstrip("/") + payload.get("path", f"/o/{org.slug}/"),
        message_id,
    )
