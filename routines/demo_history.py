"""Mia's three months between two assessments, for `cadence seed-demo`: the routines of her
first plan logged day by day from the day it took effect, so the dashboards, the
reassessment view and its report have real change to show.

The months go the way they often do: a bumpy start (about two in three routines done),
a wobbly week in the middle, then steadier (most days nearly everything). One long activity
rarely fits into an evening ("no time") and stays low, so the report flags it for review.
She is calmer before and after her routines as the weeks go on, enjoys them more, spends
a few days at respite (excused), and her carers leave the odd short note. Everything comes
from one seeded random.Random, so a seed on a given day always gives the same months.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from routines import away, demo_routines, logs
from routines.models import Activity, Child, Occurrence
from tenants.models import Membership, User

# The long one: planned at a quarter of an hour, usually skipped for want of time.
LOW_ACTIVITY = "Dance together"
LOW_MINUTES = 15
# Days into the plan of a harder week (a change at school), and days ago of a respite stay.
WOBBLE = (38, 44)
RESPITE_DAYS_AGO = (45, 43)
MORNING = time(12, 0)  # home routines before noon are logged by the second carer

SKIP_REASONS = ("unwell", "refused", "no_time", "other")
LOW_REASONS = ("no_time",) * 7 + ("refused", "other")
STATES_BEFORE = ("calm", "alert", "alarm", "fear")
# Weights at the start of the plan and at the end; in between, a straight line.
BEFORE_FROM, BEFORE_TO = (15, 40, 30, 15), (50, 42, 7, 1)
STATES_AFTER = ("calm", "alert", "alarm")
AFTER_FROM, AFTER_TO = (40, 45, 15), (78, 21, 1)
ENJOYMENT = (2, 3, 4, 5)
ENJOY_FROM, ENJOY_TO = (20, 40, 30, 10), (3, 20, 42, 35)

EARLY_NOTES = (
    "Pulled away at first; we tried again later and she joined in.",
    "Cried before we started, settled by the end.",
    "Only managed a minute today, and that is fine.",
    "Wanted me to do it with her teddy first.",
)
WOBBLE_NOTES = (
    "New teaching assistant this week; she came home very wound up.",
    "A hard evening. We kept it short and gentle.",
)
LATE_NOTES = (
    "Asked for it herself tonight.",
    "Hummed along the whole way through.",
    "Calm straight after; went to sleep easily.",
    "Showed Jay how to do it.",
    "Reminded me it was time before I did!",
)
SCHOOL_NOTES = (
    "Needed a minute at the side first, then joined in.",
    "Joined in with the whole class today.",
    "Led the stretches for her table!",
)
SCHOOL_WOBBLE_NOTES = ("New teaching assistant this week; she found the room noisy.",)
NO_TIME_NOTES = {
    "skipped": ("Swimming ran late, no time.", "Long day; dinner was late."),
    "partly": ("Squeezed in a couple of minutes before bath.", "Only had time for the start."),
}


def _between(start: tuple[int, ...], end: tuple[int, ...], progress: float) -> list[float]:
    return [a + (b - a) * progress for a, b in zip(start, end, strict=True)]


def _credit_target(progress: float, day: int, low: bool, side: str) -> float:
    """The share of credit we aim for on one routine: rising from about six in ten to
    nearly all by the last weeks, lower in the wobbly week, and low for the long one."""
    if low:
        return 0.28 + 0.14 * progress
    target = 0.62 + 0.36 * min(1.0, progress * 1.3)
    if WOBBLE[0] <= day <= WOBBLE[1]:
        target -= 0.14
    if side == "school":
        target += 0.02
    return target


def _outcome(chance: random.Random, credit: float, low: bool) -> tuple[str, str | None]:
    """missed, skipped, partly or done, so that done 1 + partly 0.5 averages `credit`."""
    lost = 1.0 - credit
    roll = chance.random()
    if roll < 0.3 * lost:
        return "missed", None
    if roll < 0.7 * lost:
        return "skipped", chance.choice(LOW_REASONS if low else SKIP_REASONS)
    if roll < 1.3 * lost:
        return "partly", chance.choice(("no_time", "no_time") if low else (None, None, "refused"))
    return "done", None


def _minutes(chance: random.Random, status: str, planned: int, low: bool) -> int | None:
    if status == "done" and chance.random() < 0.75:
        if low:
            return chance.choice((10, 12, 15, 15, 20))
        return max(1, planned + chance.choice((-1, 0, 0, 0, 1, 2)))
    if status == "partly" and chance.random() < 0.6:
        return max(1, planned // 2 + chance.choice((-1, 0, 1)))
    return None


def _note(
    chance: random.Random,
    occurrence: Occurrence,
    status: str,
    reason: str | None,
    *,
    progress: float,
    day: int,
) -> str:
    """Now and then a short note: more often when there was no time for the long one."""
    if reason == "no_time" and status in NO_TIME_NOTES and chance.random() < 0.12:
        return chance.choice(NO_TIME_NOTES[status])
    if status == "skipped" or chance.random() >= 0.025:
        return ""
    wobbly = WOBBLE[0] <= day <= WOBBLE[1]
    if occurrence.side == "school":
        return chance.choice(SCHOOL_WOBBLE_NOTES if wobbly else SCHOOL_NOTES)
    if wobbly:
        return chance.choice(WOBBLE_NOTES)
    return chance.choice(EARLY_NOTES if progress < 0.5 else LATE_NOTES)


def _log(
    chance: random.Random,
    occurrence: Occurrence,
    status: str,
    reason: str | None,
    *,
    progress: float,
    day: int,
    low: bool,
    now: datetime,
) -> logs.LogInput:
    before = chance.choices(STATES_BEFORE, _between(BEFORE_FROM, BEFORE_TO, progress))[0]
    after = chance.choices(STATES_AFTER, _between(AFTER_FROM, AFTER_TO, progress))[0]
    enjoyment = chance.choices(ENJOYMENT, _between(ENJOY_FROM, ENJOY_TO, progress))[0]
    tapped = occurrence.due_at + timedelta(minutes=chance.randint(2, 50))
    return logs.LogInput(
        client_uuid=demo_routines.client_uuid(chance),
        occurrence_id=occurrence.id,
        status=status,
        reason=reason,
        minutes=_minutes(chance, status, occurrence.minutes, low),
        state_before=before if chance.random() < 0.9 else None,
        state_after=after if status != "skipped" and chance.random() < 0.9 else None,
        enjoyment=enjoyment if status != "skipped" and chance.random() < 0.85 else None,
        note=_note(chance, occurrence, status, reason, progress=progress, day=day),
        logged_at=min(tapped, now).isoformat(),
    )


def live_since_plan(
    db: Session,
    child: Child,
    *,
    first_day: date,
    carers: list[tuple[User, Membership]],
    teacher: tuple[User, Membership] | None,
    now: datetime,
) -> None:
    """Materialise from the plan's first day, add the respite stay and a contact visit, log
    every routine already due the way these months went, and leave the rest missed.
    The first carer logs the afternoons and evenings, the second (if any) the mornings."""
    zone = demo_routines.home_zone(child)
    today = now.astimezone(zone).date()
    demo_routines.materialise_from(db, child, first_day, zone, now)
    carer = carers[0][0]
    away.add_away(
        db,
        child,
        kind="respite",
        starts_on=today - timedelta(days=RESPITE_DAYS_AGO[0]),
        ends_on=today - timedelta(days=RESPITE_DAYS_AGO[1]),
        note="A short break with her respite carers while her carers were at a wedding.",
        time_zone=zone.key,
        actor=carer,
    )
    demo_routines.add_contact_visit(db, child, today - timedelta(days=6), zone, carer)
    past = demo_routines.past_pending(db, child, now)
    low_ids = set(
        db.scalars(
            select(Activity.id).where(
                Activity.name == LOW_ACTIVITY,
                Activity.id.in_({o.activity_id for o in past}),
            )
        )
    )
    # Seeded by name, not id: the same months in every organisation and database.
    chance = random.Random(f"{child.given_name} {child.family_name}")  # noqa: S311 - demo data
    span = max(1, (today - first_day).days)
    moods: dict[date, float] = {}  # good days and harder days
    evening, morning = carers[0], carers[-1]
    batches: dict[int, list[logs.LogInput]] = {0: [], 1: [], 2: []}  # evening, morning, school
    missed: list[int] = []
    for occurrence in past:
        if occurrence.local_date == today and chance.random() < 0.5:
            continue  # some of today is still to do
        day = (occurrence.local_date - first_day).days
        progress = min(1.0, day / span)
        low = occurrence.activity_id in low_ids
        if occurrence.local_date not in moods:
            moods[occurrence.local_date] = chance.gauss(0, 0.07 - 0.04 * progress)
        target = _credit_target(progress, day, low, occurrence.side)
        credit = min(0.98, max(0.1, target + moods[occurrence.local_date]))
        status, reason = _outcome(chance, credit, low)
        if status == "missed":
            missed.append(occurrence.id)
            continue
        log = _log(chance, occurrence, status, reason, progress=progress, day=day, low=low, now=now)
        if occurrence.side == "school":
            batches[2].append(log)
        else:
            batches[1 if occurrence.local_time < MORNING else 0].append(log)
    authors = [(*evening, batches[0]), (*morning, batches[1])]
    if teacher is not None:
        authors.append((*teacher, batches[2]))
    demo_routines.record(db, [a for a in authors if a[2]], now)
    demo_routines.mark_missed(db, missed, today)
