"""The daily digest (opt-in): the routines of one day, sent ahead of it. Carers get
tomorrow's home routines at 18:00 their local time; teachers get the day's school routines
at 07:00 that morning. Someone who is both gets one digest, in the evening, with both.

Like reminders, planning only writes delivery rows (routines.deliveries sends them). It
runs hourly; a digest is planned in the two hours before its send time (so its words are
those of the plan that evening, not of last week) and until it is too late to be of use.
The unique key of a delivery (kind, subject "digest:<date>", channel, person) makes planning
twice a no-op.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from routines import reminders
from routines.models import CareTeamMember, Child, NotificationPreference, Occurrence, TeamRole
from routines.recurrence import local_to_utc
from tenants.context import current_tenant_id
from tenants.models import Organisation

PLAN_AHEAD = timedelta(hours=2)


@dataclass(frozen=True)
class Rule:
    """When a digest goes out: at `at` local time, `days_before` the day it describes, and
    not later than `stale_after` past that (midnight for the evening one, noon for the
    morning one: after that it is about a day already under way)."""

    at: time
    days_before: int
    stale_after: timedelta
    word: str  # how the title names the day


CARER = Rule(time(18, 0), 1, timedelta(hours=6), "Tomorrow")
TEACHER = Rule(time(7, 0), 0, timedelta(hours=5), "Today")
SIDE_OF_ROLE = {
    TeamRole.CARER: "home",
    TeamRole.TEACHER: "school",
    TeamRole.TEACHING_ASSISTANT: "school",
}
# Routines that will not happen are left out: withdrawn by a newer plan, excused (away).
LEFT_OUT = ("withdrawn", "excused")


@dataclass
class Reader:
    """One opted-in member: the (child, side) pairs their digest covers, and its rule."""

    membership_id: int
    channels: tuple[str, ...]
    rule: Rule = TEACHER
    pairs: set[tuple[int, str]] = field(default_factory=set)


def digest_day(rule: Rule, zone: ZoneInfo, now: datetime) -> date | None:
    """The day whose digest is to be planned now, if any."""
    today = now.astimezone(zone).date()
    for send_day in (today - timedelta(days=1), today, today + timedelta(days=1)):
        send_at = local_to_utc(send_day, rule.at, zone)
        if send_at - PLAN_AHEAD <= now < send_at + rule.stale_after:
            return send_day + timedelta(days=rule.days_before)
    return None


def plan_digests(db: Session, *, now: datetime) -> int:
    """Plan the current organisation's due digests; returns the rows offered (rows planned
    before are kept as they were)."""
    org = db.get(Organisation, current_tenant_id())
    assert org is not None
    prefs = list(db.scalars(select(NotificationPreference).where(NotificationPreference.digest)))
    readers = {
        p.membership_id: Reader(p.membership_id, reminders.Preference.of(p).channels) for p in prefs
    }
    readers = {k: r for k, r in readers.items() if r.channels}
    if not readers:
        return 0
    places = list(
        db.scalars(select(CareTeamMember).where(CareTeamMember.membership_id.in_(list(readers))))
    )
    kids = {
        c.id: c for c in db.scalars(select(Child).where(Child.id.in_({p.child_id for p in places})))
    }
    for place in places:
        side = SIDE_OF_ROLE.get(place.role)
        reader = readers[place.membership_id]
        if side is None or not place.membership.is_active:
            continue
        reader.pairs.add((place.child_id, side))
        if side == "home":
            reader.rule = CARER  # a carer (even one who also teaches) reads in the evening
    due: dict[int, tuple[date, ZoneInfo]] = {}
    for reader in readers.values():
        if not reader.pairs:
            continue
        zone = ZoneInfo(_zone_of(reader, kids, org.time_zone))
        day = digest_day(reader.rule, zone, now)
        if day is not None:
            due[reader.membership_id] = (day, zone)
    if not due:
        return 0
    child_ids = {child for mid in due for child, _ in readers[mid].pairs}
    days = {day for day, _ in due.values()}
    found: dict[tuple[int, str, date], list[Occurrence]] = defaultdict(list)
    for occurrence in db.scalars(
        select(Occurrence)
        .where(
            Occurrence.child_id.in_(child_ids),
            Occurrence.local_date.in_(days),
            Occurrence.status.not_in(LEFT_OUT),
        )
        .order_by(Occurrence.local_time, Occurrence.id)
    ):
        found[(occurrence.child_id, occurrence.side, occurrence.local_date)].append(occurrence)
    rows: list[dict] = []
    for mid, (day, zone) in due.items():
        reader = readers[mid]
        by_child = {
            child: found[(child, side, day)]
            for child, side in sorted(reader.pairs)
            if found.get((child, side, day))
        }
        if not by_child:
            continue  # nothing planned that day: no digest rather than an empty one
        payload = _payload(org.slug, reader.rule, day, by_child, kids)
        send_at = local_to_utc(day - timedelta(days=reader.rule.days_before), reader.rule.at, zone)
        for channel in reader.channels:
            rows.append(
                {
                    "tenant_id": org.id,
                    "kind": "digest",
                    "subject": f"digest:{day.isoformat()}",
                    "occurrence_id": None,
                    "child_id": None,
                    "membership_id": mid,
                    "channel": channel,
                    "status": "pending",
                    "not_before": send_at,
                    "attempts": 0,
                    "payload": payload,
                }
            )
    reminders.insert_deliveries(db, rows)
    db.flush()
    return len(rows)


def _zone_of(reader: Reader, kids: dict[int, Child], default: str) -> str:
    """The zone of the places the reader's routines happen in (the commonest, if several)."""
    zones: Counter[str] = Counter()
    for child_id, side in sorted(reader.pairs):
        kid = kids[child_id]
        place = kid.household if side == "home" else kid.classroom
        zones[place.time_zone if place is not None else default] += 1
    return zones.most_common(1)[0][0] if zones else default


def _payload(
    slug: str,
    rule: Rule,
    day: date,
    by_child: dict[int, list[Occurrence]],
    kids: dict[int, Child],
) -> dict[str, str]:
    count = sum(len(items) for items in by_child.values())
    names = [kids[c].preferred_name or kids[c].given_name for c in by_child]
    who = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    title = (
        f"{rule.word}, {day:%A} {day.day} {day:%B}: "
        f"{count} routine{'' if count == 1 else 's'} with {who}"
    )
    blocks = []
    for child_id, items in by_child.items():
        kid = kids[child_id]
        lines = [kid.preferred_name or kid.given_name]
        lines += [f"  {o.local_time:%H:%M}  {o.activity.name} ({o.minutes} min)" for o in items]
        blocks.append("\n".join(lines))
    # Carers open the week from that day; teachers their classroom (their Today).
    path = (
        f"/o/{slug}/today/week?start={day.isoformat()}"
        if rule is CARER
        else f"/o/{slug}/classroom/"
    )
    return {"title": title, "body": "\n\n".join(blocks), "path": path}
