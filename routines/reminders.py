"""Planning reminders: for each routine coming due, one delivery row per person, channel
and kind (reminder at the due time minus the person's lead time, a nudge after the
organisation's delay, an escalation to the child's chosen second person), at the right
local time, respecting quiet hours without swallowing a routine that is itself in them.

Planning only writes rows (routines.deliveries sends them), so it is safe to run as often
as anyone likes: the unique key of a delivery makes a second plan of the same thing a no-op.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from routines.models import (
    CHANNELS,
    Child,
    Delivery,
    NotificationPreference,
    Occurrence,
    TeamRole,
)
from routines.recurrence import local_to_utc
from tenants.context import current_tenant_id
from tenants.db import insert_ignoring_duplicates
from tenants.models import Organisation

logger = logging.getLogger(__name__)

# How far ahead of its due time a routine's reminders are planned: more than the longest
# lead time, so a reminder is a row well before it is due.
PLAN_AHEAD = timedelta(minutes=30)
# Routines that came due longer ago than this are not planned any more, and a message that
# would go out more than STALE late is dropped: a reminder hours after the fact (a scheduler
# that was down all morning) helps nobody.
PLAN_BEHIND = timedelta(hours=12)
STALE = timedelta(minutes=30)
ROLES_OF_SIDE = {
    "home": (TeamRole.CARER,),
    "school": (TeamRole.TEACHER, TeamRole.TEACHING_ASSISTANT),
}


@dataclass(frozen=True)
class Preference:
    """A member's reminder settings, or Cadence's defaults for one who set none."""

    channels: tuple[str, ...] = ("in_app",)
    lead_minutes: int = 0
    quiet_start: time | None = None
    quiet_end: time | None = None
    remind_inside_quiet: bool = True

    @classmethod
    def of(cls, row: NotificationPreference | None) -> Preference:
        if row is None:
            return cls()
        return cls(
            tuple(c for c in row.channels if c in CHANNELS),
            row.lead_minutes,
            row.quiet_start,
            row.quiet_end,
            row.remind_inside_quiet,
        )


def in_quiet_hours(at: time, start: time | None, end: time | None) -> bool:
    """Whether a local clock time falls in [start, end), which may span midnight."""
    if start is None or end is None or start == end:
        return False
    if start < end:
        return start <= at < end
    return at >= start or at < end


def send_time(
    due: datetime, offset: timedelta, zone: ZoneInfo, pref: Preference
) -> datetime | None:
    """When a message about a routine due at `due` (UTC) goes out: `due + offset`, unless that
    falls in the person's quiet hours. Then a routine outside quiet hours waits for them to
    end (it is not swallowed), and a routine inside them ("before bed") is reminded anyway
    unless the person said not to (None: not sent)."""
    moment = due + offset
    local = moment.astimezone(zone)
    if not in_quiet_hours(local.time().replace(tzinfo=None), pref.quiet_start, pref.quiet_end):
        return moment
    routine_local = due.astimezone(zone).time().replace(tzinfo=None)
    if in_quiet_hours(routine_local, pref.quiet_start, pref.quiet_end):
        return moment if pref.remind_inside_quiet else None
    assert pref.quiet_end is not None
    day = local.date()
    if local.time().replace(tzinfo=None) >= pref.quiet_end:
        day += timedelta(days=1)
    return local_to_utc(day, pref.quiet_end, zone)


@dataclass
class Planned:
    occurrences: int = 0
    rows: list[dict] = field(default_factory=list)


def recipients(occurrence: Occurrence, child: Child) -> list[int]:
    """The members a routine is theirs to do: the named person, or else the child's carers
    (home) or teachers (school) on the care team, active ones only."""
    if occurrence.assignee_membership_id is not None:
        return [occurrence.assignee_membership_id]
    roles = ROLES_OF_SIDE[occurrence.side]
    return [m.membership_id for m in child.team if m.role in roles and m.membership.is_active]


def plan(db: Session, *, now: datetime) -> Planned:
    """Plan the deliveries of the current organisation's routines coming due (see above)."""
    org = db.get(Organisation, current_tenant_id())
    assert org is not None
    due = list(
        db.scalars(
            select(Occurrence)
            .where(
                Occurrence.status == "pending",
                Occurrence.reminders_planned_at.is_(None),
                Occurrence.due_at <= now + PLAN_AHEAD,
                Occurrence.due_at >= now - PLAN_BEHIND,
            )
            .order_by(Occurrence.due_at)
            .limit(5000)
        )
    )
    result = Planned(occurrences=len(due))
    if not due:
        return result
    kids = {
        c.id: c for c in db.scalars(select(Child).where(Child.id.in_({o.child_id for o in due})))
    }
    people = {mid for o in due for mid in recipients(o, kids[o.child_id])}
    people |= {c.escalate_to_membership_id for c in kids.values() if c.escalate_to_membership_id}
    prefs = {
        p.membership_id: Preference.of(p)
        for p in db.scalars(
            select(NotificationPreference).where(NotificationPreference.membership_id.in_(people))
        )
    }
    for occurrence in due:
        child = kids[occurrence.child_id]
        zone = ZoneInfo(occurrence.time_zone)
        for member in recipients(occurrence, child):
            pref = prefs.get(member, Preference())
            _add(
                now,
                result,
                occurrence,
                member,
                "reminder",
                -timedelta(minutes=pref.lead_minutes),
                zone,
                pref,
            )
            if org.nudge_after_minutes:
                _add(
                    now,
                    result,
                    occurrence,
                    member,
                    "nudge",
                    timedelta(minutes=org.nudge_after_minutes),
                    zone,
                    pref,
                )
        escalate_after = child.escalate_after_minutes or org.escalate_after_minutes
        if child.escalate_to_membership_id and escalate_after:
            member = child.escalate_to_membership_id
            pref = prefs.get(member, Preference())
            _add(
                now,
                result,
                occurrence,
                member,
                "escalation",
                timedelta(minutes=escalate_after),
                zone,
                pref,
            )
    insert_deliveries(db, result.rows)
    db.execute(
        update(Occurrence)
        .where(Occurrence.id.in_([o.id for o in due]))
        .values(reminders_planned_at=now)
        .execution_options(synchronize_session=False)
    )
    db.flush()
    return result


def _add(
    now: datetime,
    result: Planned,
    occurrence: Occurrence,
    member: int,
    kind: str,
    offset: timedelta,
    zone: ZoneInfo,
    pref: Preference,
) -> None:
    moment = send_time(occurrence.due_at, offset, zone, pref)
    if moment is None or moment < now - STALE:
        return
    for channel in pref.channels:
        result.rows.append(
            {
                "tenant_id": occurrence.tenant_id,
                "kind": kind,
                "subject": f"occurrence:{occurrence.id}",
                "occurrence_id": occurrence.id,
                "child_id": occurrence.child_id,
                "membership_id": member,
                "channel": channel,
                "status": "pending",
                "not_before": moment,
                "attempts": 0,
                "payload": {},
            }
        )


def insert_deliveries(db: Session, rows: list[dict]) -> None:
    if rows:
        db.execute(insert_ignoring_duplicates(db, Delivery), rows)
