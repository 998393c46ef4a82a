"""A member's routines as an RFC 5545 calendar, for their private feed address.

Each event is written in the occurrence's own wall time with its zone's TZID (07:30
Europe/London stays 07:30 on both sides of a clock change) rather than as a UTC instant,
with the VTIMEZONE definitions the events need taken from zoneinfo: a phone in another zone
still shows the right instant, and one in the same zone shows the time the plan says. A time
in a spring-forward gap is written as planned; RFC 5545 moves it forward by the gap, which is
the instant Cadence stored as due.

Which occurrences: the side each child's routines the member does (routines.access.
logging_side: home for the child's carers, school for its teachers and TAs), from two weeks
ago to the end of the materialised horizon. Logs' notes are not included: the address is a
bearer credential that lives in calendar apps, so the feed carries no more than a fridge
chart would.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vDuration
from sqlalchemy.orm import Session

from routines import occurrences
from routines.access import logging_side
from routines.children import visible_children
from routines.logs import STATUS_LABELS
from routines.models import AWAY_KINDS, SKIP_REASONS, Child, Occurrence
from tenants.models import Membership

PRODID = "-//Cadence//Routines//EN"
PAST_DAYS = 14
# The horizon is materialised from the UTC date, a day either side; a day more catches the
# last local day in zones ahead of UTC.
AHEAD_DAYS = occurrences.HORIZON_DAYS + 2
# How often subscribing apps should look again (those that honour a hint at all).
REFRESH = timedelta(hours=1)
SIDE_LABELS = {"home": "Home routine", "school": "School routine"}


@dataclass(frozen=True)
class Feed:
    """The ICS document, and which children and how many events it showed."""

    ics: bytes
    child_ids: list[int]
    events: int


def build_feed(
    db: Session,
    membership: Membership,
    *,
    now: datetime,
    past_days: int = PAST_DAYS,
    ahead_days: int = AHEAD_DAYS,
) -> Feed:
    """The member's calendar and what it showed (for the audit trail). Runs inside the
    membership's organisation; a fixed number of queries whatever the numbers."""
    children = {c.id: c for c in visible_children(db, membership)}
    sides: dict[int, set[str]] = {}
    for child in children.values():
        side = logging_side(membership, child)
        if side is not None:
            sides.setdefault(child.id, set()).add(side)
    start = now - timedelta(days=past_days)
    end = now + timedelta(days=ahead_days)
    rows = (
        occurrences.due_between(db, child_ids=sides, start=start, end=end, sides=sides)
        if sides
        else []
    )

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"Cadence routines ({membership.organisation.name})")
    calendar.add("x-wr-timezone", _calendar_zone(membership, rows))
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH))
    stamp = now.astimezone(UTC)
    for occurrence in rows:
        calendar.add_component(_event(occurrence, children[occurrence.child_id], stamp))
    # Only the stretch of each zone's history the events touch, not 1970-2038.
    calendar.add_missing_timezones(
        first_date=(start - timedelta(days=366)).date(),
        last_date=(end + timedelta(days=366)).date(),
    )
    return Feed(ics=calendar.to_ical(), child_ids=sorted(sides), events=len(rows))


def feed_for(
    db: Session,
    membership: Membership,
    *,
    now: datetime,
    past_days: int = PAST_DAYS,
    ahead_days: int = AHEAD_DAYS,
) -> bytes:
    """The member's routines as an ICS document (see build_feed)."""
    return build_feed(db, membership, now=now, past_days=past_days, ahead_days=ahead_days).ics


def _calendar_zone(membership: Membership, rows: list[Occurrence]) -> str:
    """The zone most of the events happen in (else the person's own): apps that ignore
    TZIDs fall back to it."""
    if rows:
        return Counter(o.time_zone for o in rows).most_common(1)[0][0]
    return membership.user.time_zone or membership.organisation.time_zone


def _event(occurrence: Occurrence, child: Child, stamp: datetime) -> Event:
    activity = occurrence.activity
    event = Event()
    event.add("uid", f"occurrence-{occurrence.id}@cadence")
    event.add("dtstamp", stamp)
    # Local wall time in the occurrence's zone, not the UTC instant (module docstring).
    event.add(
        "dtstart",
        datetime.combine(occurrence.local_date, occurrence.local_time).replace(
            tzinfo=ZoneInfo(occurrence.time_zone)
        ),
    )
    event.add("duration", timedelta(minutes=occurrence.minutes))
    event.add("summary", f"{activity.name} · {child.display_name}")
    event.add("description", _description(occurrence))
    event.add("status", "CANCELLED" if occurrence.status == "excused" else "CONFIRMED")
    # A routine is not a meeting: it should not make the person look busy.
    event.add("transp", "TRANSPARENT")
    event.add("last-modified", occurrence.updated_at.astimezone(UTC))
    return event


def _description(occurrence: Occurrence) -> str:
    status = STATUS_LABELS.get(occurrence.status, occurrence.status).lower()
    log = occurrence.log
    if occurrence.status == "skipped" and log is not None and log.reason:
        status += f" ({SKIP_REASONS.get(log.reason, log.reason).lower()})"
    if occurrence.status == "excused" and occurrence.excused_reason:
        reason = occurrence.excused_reason
        status += f" ({AWAY_KINDS.get(reason, reason).lower()})"
    lines = [
        occurrence.activity.instructions.strip(),
        "",
        f"{SIDE_LABELS.get(occurrence.side, occurrence.side)}, {occurrence.minutes} minutes.",
        f"Status: {status}",
    ]
    return "\n".join(lines).strip()
