"""Away periods: while a child is in hospital, at respite, on holiday or at a contact visit,
the routines due are excused (they leave the adherence denominator) rather than missed."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from routines.models import AWAY_KINDS, AwayPeriod, Child, Occurrence
from routines.recurrence import local_to_utc
from tenants import audit
from tenants.errors import NotFound, ValidationError
from tenants.isolation import get_scoped
from tenants.models import User

NOTE_MAX = 1000
SPAN_MAX_DAYS = 366
# Occurrences an away period may excuse: not yet logged (a log always wins).
_EXCUSABLE = ("pending", "missed")


def add_away(
    db: Session,
    child: Child,
    *,
    kind: str | None,
    starts_on: date | None,
    ends_on: date | None,
    start_time: time | None = None,
    end_time: time | None = None,
    note: str | None,
    time_zone: str,
    actor: User,
    ip: str | None = None,
) -> AwayPeriod:
    """From the start (a date, and a time if part of a day) to the end (the whole last day
    unless a time is given), in the child's home time zone."""
    if kind not in AWAY_KINDS:
        raise ValidationError("Choose why the child is away.", "kind")
    if starts_on is None:
        raise ValidationError("Enter the first day away, for example 2026-12-01.", "starts_on")
    if ends_on is None:
        raise ValidationError("Enter the last day away, for example 2026-12-03.", "ends_on")
    if ends_on < starts_on:
        raise ValidationError("The last day cannot be before the first.", "ends_on")
    if (ends_on - starts_on).days > SPAN_MAX_DAYS:
        raise ValidationError(f"Keep one away period to {SPAN_MAX_DAYS} days.", "ends_on")
    zone = ZoneInfo(time_zone)
    starts_at = local_to_utc(starts_on, start_time or time(0, 0), zone)
    ends_at = (
        local_to_utc(ends_on, end_time, zone)
        if end_time is not None
        else local_to_utc(ends_on + timedelta(days=1), time(0, 0), zone)
    )
    if ends_at <= starts_at:
        raise ValidationError("The end must come after the start.", "end_time")
    text = (note or "").strip()
    if len(text) > NOTE_MAX:
        raise ValidationError(f"Keep the note to {NOTE_MAX} characters.", "note")
    away = AwayPeriod(
        child_id=child.id,
        kind=kind,
        starts_at=starts_at,
        ends_at=ends_at,
        time_zone=time_zone,
        note=text,
        created_by_id=actor.id,
    )
    db.add(away)
    db.flush()
    excused = _excuse(db, away)
    audit.record(
        db,
        "child.away_added",
        actor=actor,
        object_type="child",
        object_id=child.id,
        ip_address=ip,
        child_id=child.id,
        away_id=away.id,
        kind=kind,
        starts_at=starts_at.isoformat(),
        ends_at=ends_at.isoformat(),
        excused=excused,
    )
    return away


def _excuse(db: Session, away: AwayPeriod) -> int:
    result = db.execute(
        update(Occurrence)
        .where(
            Occurrence.child_id == away.child_id,
            Occurrence.due_at >= away.starts_at,
            Occurrence.due_at < away.ends_at,
            Occurrence.status.in_(_EXCUSABLE),
        )
        .values(status="excused", away_id=away.id, excused_reason=away.kind)
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount or 0


def cancel_away(
    db: Session,
    child: Child,
    away_id: int,
    *,
    actor: User,
    now: datetime,
    ip: str | None = None,
) -> AwayPeriod:
    """Withdraw an away period: its excused routines are due again (and another away period
    that covers them still excuses them)."""
    away = get_scoped(db, AwayPeriod, away_id)
    if away is None or away.child_id != child.id or away.cancelled_at is not None:
        raise NotFound("away period")
    away.cancelled_at = now
    away.cancelled_by_id = actor.id
    db.execute(
        update(Occurrence)
        .where(Occurrence.away_id == away.id, Occurrence.status == "excused")
        .values(status="pending", away_id=None, excused_reason=None)
        .execution_options(synchronize_session="fetch")
    )
    db.flush()
    for other in active(db, child):
        if other.starts_at < away.ends_at and other.ends_at > away.starts_at:
            _excuse(db, other)
    audit.record(
        db,
        "child.away_cancelled",
        actor=actor,
        object_type="child",
        object_id=child.id,
        ip_address=ip,
        child_id=child.id,
        away_id=away.id,
    )
    return away


def active(db: Session, child: Child) -> list[AwayPeriod]:
    return list(
        db.scalars(
            select(AwayPeriod)
            .where(AwayPeriod.child_id == child.id, AwayPeriod.cancelled_at.is_(None))
            .order_by(AwayPeriod.starts_at.desc())
        )
    )


def away_now(db: Session, child_ids: list[int], start: datetime, end: datetime) -> dict[int, list]:
    """Active away periods overlapping an interval, per child (one query)."""
    found: dict[int, list[AwayPeriod]] = {cid: [] for cid in child_ids}
    if not child_ids:
        return found
    for away in db.scalars(
        select(AwayPeriod).where(
            AwayPeriod.child_id.in_(child_ids),
            AwayPeriod.cancelled_at.is_(None),
            AwayPeriod.starts_at < end,
            AwayPeriod.ends_at > start,
        )
    ):
        found[away.child_id].append(away)
    return found
