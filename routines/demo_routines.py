"""The lived-in part of the demo: anchor times, a school calendar, a class movement break,
and two weeks of past routines logged the way real weeks go (mostly done, some partly,
a few skipped or missed, an afternoon away at a contact visit). The pieces shared with the
longer history in routines.demo_history live here too: materialising from a past day,
recording logs in batches, and leaving what nobody logged as missed."""

from __future__ import annotations

import random
import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from routines import away, logs, occurrences, places, plans
from routines.models import Activity, Child, NotificationPreference, Occurrence, PlanVersion
from tenants.models import Membership, User

PAST_DAYS = 14
# The class's term began before the longest demo plan (routines.demo_history) took effect.
TERM_FROM_DAYS = 100
HOME_ANCHORS = {"after_waking": "07:00", "after_school": "16:00", "before_bed": "19:15"}
CLASS_ANCHORS = {"before_school": "08:45", "after_school": "15:15"}
NOTES = (
    "Asked for it again straight after.",
    "Took a while to settle, calmer by the end.",
    "Did it together with her brother.",
    "Tired after school; we kept it short.",
    "Loved the drum today.",
)


def set_reminder_preferences(db: Session, membership: Membership) -> None:
    """The first carer hears of routines in the app and by email (in instance/outbox when
    no SMTP server is set), ten minutes ahead, quiet from 21:30 to 07:00, with a digest."""
    exists = db.scalar(
        select(NotificationPreference.id).where(
            NotificationPreference.membership_id == membership.id
        )
    )
    if exists is None:
        db.add(
            NotificationPreference(
                membership_id=membership.id,
                channels=["in_app", "email"],
                lead_minutes=10,
                quiet_start=time(21, 30),
                quiet_end=time(7, 0),
                digest=True,
            )
        )
        db.flush()


def set_up_places(db: Session, child: Child, actor: User, today: date, now: datetime) -> None:
    """The household's and the class's own anchor times, and a term with a closure in it."""
    if child.household is not None and not child.household.anchor_times:
        places.set_anchor_times(db, child.household, HOME_ANCHORS, actor=actor, now=now)
    classroom = child.classroom
    if classroom is not None and not places.calendar_entries(db, [classroom.id])[classroom.id]:
        places.set_anchor_times(db, classroom, CLASS_ANCHORS, actor=actor, now=now)
        places.add_calendar_entry(
            db,
            classroom,
            kind="term",
            starts_on=today - timedelta(days=TERM_FROM_DAYS),
            ends_on=today + timedelta(days=40),
            label="Autumn term",
            actor=actor,
            now=now,
        )
        inset = today + timedelta(days=9)
        while inset.weekday() >= 5:
            inset += timedelta(days=1)
        places.add_calendar_entry(
            db,
            classroom,
            kind="closure",
            starts_on=inset,
            ends_on=inset,
            label="Staff training day",
            actor=actor,
            now=now,
        )


def spread_over_the_day(draft: PlanVersion) -> None:
    """Many short doses across the day: the proposal puts everything after school, so the
    demo moves each activity to its own point in the day (the breathing game twice)."""
    points = (["after_waking"], ["after_school"], ["after_dinner"], ["before_bed"])
    for index, item in enumerate(draft.items):
        anchors = points[index % len(points)]
        if item.activity.name == "Slow breathing game":
            anchors = ["after_waking", "before_bed"]
        item.frequency = {**item.frequency, "mode": "anchors", "anchors": anchors}


def add_class_break(db: Session, draft: PlanVersion, child: Child, clinician: User) -> None:
    """A two-minute class movement break at 10:15 on school days, for the whole class."""
    activity = db.scalar(select(Activity).where(Activity.name == "Class movement break"))
    if activity is None or child.classroom_id is None:
        return
    plans.add_item(
        db,
        draft,
        child,
        activity.id,
        plans.ItemDetails(
            domain="self_regulation",
            assignee="classroom",
            minutes=3,
            start_date=draft.effective_from or date.today(),
            days=[0, 1, 2, 3, 4],
            mode="times",
            times=["10:15"],
        ),
        actor=clinician,
    )


def lengthen(draft: PlanVersion, activity_name: str, minutes: int) -> None:
    """Give one planned activity a longer dose (the one that is hard to fit into a day)."""
    for item in draft.items:
        if item.activity.name == activity_name:
            item.minutes = minutes


# --- living the plan: shared pieces ---------------------------------------------------------


def home_zone(child: Child) -> ZoneInfo:
    return ZoneInfo(child.household.time_zone if child.household else "Europe/London")


def materialise_from(
    db: Session, child: Child, first_day: date, zone: ZoneInfo, now: datetime
) -> None:
    """Occurrences from the start of a past local day to the end of the usual horizon (the
    plan's own effective date keeps anything earlier from existing)."""
    start = datetime.combine(first_day, time(0), zone)
    days = (now.astimezone(zone).date() - first_day).days
    occurrences.materialise(db, child, now=start, horizon_days=days + occurrences.HORIZON_DAYS)


def add_contact_visit(db: Session, child: Child, day: date, zone: ZoneInfo, carer: User) -> None:
    away.add_away(
        db,
        child,
        kind="contact",
        starts_on=day,
        ends_on=day,
        start_time=time(15, 0),
        end_time=time(20, 0),
        note="Contact visit with birth mum.",
        time_zone=zone.key,
        actor=carer,
    )


def past_pending(db: Session, child: Child, now: datetime) -> list[Occurrence]:
    """The child's routines already due and not yet logged or excused, in due order."""
    return list(
        db.scalars(
            select(Occurrence)
            .where(
                Occurrence.child_id == child.id,
                Occurrence.due_at < now,
                Occurrence.status == "pending",
            )
            .order_by(Occurrence.due_at, Occurrence.id)
        )
    )


def client_uuid(chance: random.Random) -> str:
    return str(uuid.UUID(int=chance.getrandbits(128), version=4))


def record(
    db: Session,
    batches: list[tuple[User, Membership, list[logs.LogInput]]],
    now: datetime,
) -> None:
    """Each author's logs through routines.logs, in batches it accepts."""
    for actor, membership, items in batches:
        for first in range(0, len(items), logs.MAX_BATCH):
            logs.record_logs(
                db,
                items[first : first + logs.MAX_BATCH],
                actor=actor,
                membership=membership,
                now=now,
                source="seed",
            )


def mark_missed(db: Session, occurrence_ids: list[int], today: date) -> None:
    """Unlogged and past their day: what the nightly job would have marked missed."""
    if occurrence_ids:
        db.execute(
            update(Occurrence)
            .where(Occurrence.id.in_(occurrence_ids), Occurrence.local_date < today)
            .values(status="missed")
        )
    db.flush()


# --- a fortnight -----------------------------------------------------------------------------


def live_two_weeks(
    db: Session,
    child: Child,
    *,
    carer: User,
    carer_membership: Membership,
    teacher: User | None,
    teacher_membership: Membership | None,
    now: datetime,
) -> None:
    """Materialise from two weeks ago, log the past the way a real fortnight goes, and leave
    what nobody logged as missed."""
    zone = home_zone(child)
    local_now = now.astimezone(zone)
    materialise_from(db, child, local_now.date() - timedelta(days=PAST_DAYS), zone, now)
    add_contact_visit(db, child, local_now.date() - timedelta(days=6), zone, carer)
    past = past_pending(db, child, now)
    chance = random.Random(child.id)  # noqa: S311 - demo data, not security
    batches: dict[str, list[logs.LogInput]] = {"home": [], "school": []}
    missed: list[int] = []
    for occurrence in past:
        roll = chance.random()
        if occurrence.local_date == local_now.date() and roll < 0.5:
            continue  # some of today is still to do
        if roll < 0.08:
            missed.append(occurrence.id)
            continue
        if roll < 0.16:
            status, reason = "skipped", chance.choice(("unwell", "refused", "no_time"))
        elif roll < 0.3:
            status, reason = "partly", chance.choice((None, "no_time", "refused"))
        else:
            status, reason = "done", None
        tapped = occurrence.due_at + timedelta(minutes=chance.randint(2, 40))
        batches[occurrence.side].append(
            logs.LogInput(
                client_uuid=client_uuid(chance),
                occurrence_id=occurrence.id,
                status=status,
                reason=reason,
                minutes=occurrence.minutes if status == "done" else None,
                state_before=chance.choice(("alert", "alert", "alarm", "calm")),
                state_after=chance.choice(("calm", "calm", "alert"))
                if status != "skipped"
                else None,
                enjoyment=chance.randint(3, 5) if status == "done" else None,
                note=chance.choice(NOTES) if chance.random() < 0.15 else "",
                logged_at=min(tapped, now).isoformat(),
            )
        )
    authors = [(carer, carer_membership, batches["home"])]
    if teacher is not None and teacher_membership is not None and batches["school"]:
        authors.append((teacher, teacher_membership, batches["school"]))
    record(db, authors, now)
    mark_missed(db, missed, local_now.date())
