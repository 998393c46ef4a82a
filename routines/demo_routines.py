"""The lived-in part of the demo: anchor times, a school calendar, a class movement break,
and two weeks of past routines logged the way real weeks go (mostly done, some partly,
a few skipped or missed, an afternoon away at a contact visit)."""

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
            starts_on=today - timedelta(days=70),
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
    zone = ZoneInfo(child.household.time_zone if child.household else "Europe/London")
    local_now = now.astimezone(zone)
    start = datetime.combine(local_now.date() - timedelta(days=PAST_DAYS), time(0), zone)
    occurrences.materialise(db, child, now=start, horizon_days=PAST_DAYS + occurrences.HORIZON_DAYS)
    contact_day = local_now.date() - timedelta(days=6)
    away.add_away(
        db,
        child,
        kind="contact",
        starts_on=contact_day,
        ends_on=contact_day,
        start_time=time(15, 0),
        end_time=time(20, 0),
        note="Contact visit with birth mum.",
        time_zone=zone.key,
        actor=carer,
    )
    past = list(
        db.scalars(
            select(Occurrence)
            .where(
                Occurrence.child_id == child.id,
                Occurrence.due_at < now,
                Occurrence.status == "pending",
            )
            .order_by(Occurrence.due_at)
        )
    )
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
                client_uuid=str(uuid.UUID(int=chance.getrandbits(128), version=4)),
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
    logs.record_logs(
        db, batches["home"], actor=carer, membership=carer_membership, now=now, source="seed"
    )
    if teacher is not None and teacher_membership is not None and batches["school"]:
        logs.record_logs(
            db,
            batches["school"],
            actor=teacher,
            membership=teacher_membership,
            now=now,
            source="seed",
        )
    # Unlogged and past their day: what the nightly job will mark missed.
    if missed:
        db.execute(
            update(Occurrence)
            .where(Occurrence.id.in_(missed), Occurrence.local_date < local_now.date())
            .values(status="missed")
        )
    db.flush()
