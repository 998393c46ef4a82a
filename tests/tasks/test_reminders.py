"""Reminders at the right local time across DST, quiet hours, nudges, escalation, sending
once, retries, and missed marking."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from routines import deliveries, logs, missed, reminders
from routines import models as m
from routines.deliveries import PermanentFailure, TemporaryFailure
from routines.reminders import Preference, in_quiet_hours, send_time
from tasks.channels.in_app import send_in_app
from tests import routine_factories as f

EVERY_DAY = f.EVERY_DAY


def _daily(db, org, zone: str, at: str, start: date, now: datetime, **child):  # type: ignore[no-untyped-def]
    fam = f.child(db, org, time_zone=zone, **child)
    act = f.activity(db)
    frequency = {"days": EVERY_DAY, "mode": "times", "times": [at]}
    f.publish(
        db, fam.child, [f.item(act, frequency=frequency, start=start)], now=now, horizon_days=8
    )
    return fam


def _prefer(db, membership, **values):  # type: ignore[no-untyped-def]
    pref = m.NotificationPreference(membership_id=membership.id, **values)
    db.add(pref)
    db.flush()
    return pref


def note_occurrence(db, note) -> int:  # type: ignore[no-untyped-def]
    return db.get(m.Delivery, note.delivery_id).occurrence_id


def _send(db, now, senders=None):  # type: ignore[no-untyped-def]
    """One sweep's worth: claim what is due and deliver it, as the tasks do."""
    claimed = deliveries.claim_due(db, now=now)
    return [
        deliveries.deliver(
            db,
            tenant,
            did,
            now=now,
            senders=senders or {"in_app": send_in_app},
            base_url="http://x",
        )
        for tenant, did in claimed
    ]


@pytest.mark.parametrize(
    ("zone", "change"),
    [
        ("Europe/London", date(2027, 3, 28)),
        ("America/New_York", date(2027, 3, 14)),
        ("Australia/Sydney", date(2027, 4, 4)),
    ],
)
def test_a_0730_reminder_is_sent_at_0730_local_on_both_sides_of_a_dst_change(
    db, orgs, zone, change
):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    tz = ZoneInfo(zone)
    alpha.org.nudge_after_minutes = None  # only the reminders here
    with f.in_org(alpha):
        start = change - timedelta(days=2)
        fam = _daily(db, alpha, zone, "07:30", start, datetime.combine(start, time(0), tz))
        sent_at = {}
        for day in (change - timedelta(days=1), change + timedelta(days=1)):
            due = datetime.combine(day, time(7, 30), tz).astimezone(UTC)
            reminders.plan(db, now=due - timedelta(minutes=20))
            assert _send(db, due - timedelta(seconds=1)) == []  # not a moment early
            assert _send(db, due) == ["sent"]
            note = db.scalars(select(m.Notification).order_by(m.Notification.id.desc())).first()
            assert note.title.startswith("07:30 Rocking")
            anchor = f"#occ-{note_occurrence(db, note)}"
            assert note.link == f"http://x/o/{alpha.slug}/today?date={day.isoformat()}{anchor}"
            sent_at[day] = due.astimezone(tz)
    offsets = {d: s.utcoffset() for d, s in sent_at.items()}
    assert {s.time() for s in sent_at.values()} == {time(7, 30)}
    assert len(set(offsets.values())) == 2, "the UTC instant should move with the clocks"
    assert fam.child is not None


def test_quiet_hours_hold_back_a_reminder_for_a_routine_outside_them_but_not_inside():
    zone = ZoneInfo("Europe/London")
    pref = Preference(lead_minutes=10, quiet_start=time(21, 0), quiet_end=time(7, 0))
    morning = datetime(2026, 12, 2, 7, 5, tzinfo=zone).astimezone(UTC)  # reminder 06:55: quiet
    held = send_time(morning, timedelta(minutes=-10), zone, pref)
    assert held is not None and held.astimezone(zone).time() == time(7, 0)
    bedtime = datetime(2026, 12, 2, 21, 30, tzinfo=zone).astimezone(UTC)  # itself in quiet hours
    assert send_time(bedtime, timedelta(minutes=-10), zone, pref) == bedtime - timedelta(minutes=10)
    silent = Preference(quiet_start=time(21, 0), quiet_end=time(7, 0), remind_inside_quiet=False)
    assert send_time(bedtime, timedelta(0), zone, silent) is None
    noon = datetime(2026, 12, 2, 12, 0, tzinfo=zone).astimezone(UTC)
    assert send_time(noon, timedelta(0), zone, pref) == noon
    assert in_quiet_hours(time(23, 0), time(21, 0), time(7, 0))
    assert not in_quiet_hours(time(7, 0), time(21, 0), time(7, 0))
    assert not in_quiet_hours(time(3, 0), None, None)


def test_planning_uses_each_persons_channels_lead_and_quiet_hours(db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    zone = ZoneInfo("Europe/London")
    start = date(2026, 12, 1)
    with f.in_org(alpha):
        fam = _daily(db, alpha, "Europe/London", "07:05", start, datetime(2026, 12, 1, tzinfo=UTC))
        _prefer(
            db,
            fam.carer_membership,
            channels=["in_app", "email"],
            lead_minutes=10,
            quiet_start=time(21, 0),
            quiet_end=time(7, 0),
        )
        due = datetime(2026, 12, 2, 7, 5, tzinfo=zone).astimezone(UTC)
        planned = reminders.plan(db, now=due - timedelta(minutes=25))
        rows = list(db.scalars(select(m.Delivery).order_by(m.Delivery.kind, m.Delivery.channel)))
        again = reminders.plan(db, now=due - timedelta(minutes=24))
    assert planned.occurrences == 1 and again.occurrences == 0
    got = {(r.kind, r.channel): r.not_before.astimezone(zone).time() for r in rows}
    # reminder held to the end of quiet hours; the nudge (30 min after) is outside them
    assert got == {
        ("reminder", "in_app"): time(7, 0),
        ("reminder", "email"): time(7, 0),
        ("nudge", "in_app"): time(7, 35),
        ("nudge", "email"): time(7, 35),
    }


def test_a_logged_routine_is_not_reminded_or_nudged(db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    start = date(2026, 12, 1)
    with f.in_org(alpha):
        fam = _daily(db, alpha, "Europe/London", "10:00", start, datetime(2026, 12, 1, tzinfo=UTC))
        due = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
        reminders.plan(db, now=due - timedelta(minutes=20))
        assert _send(db, due) == ["sent"]
        occurrence = db.scalars(
            select(m.Occurrence).where(m.Occurrence.local_date == date(2026, 12, 2))
        ).one()
        [result] = logs.record_logs(
            db,
            [logs.LogInput(str(uuid.uuid4()), occurrence.id, "done")],
            actor=alpha.carer,
            membership=fam.carer_membership,
            now=due + timedelta(minutes=5),
            source="web",
        )
        assert result.code == 201
        assert _send(db, due + timedelta(minutes=31)) == ["skipped"]  # the nudge
        assert db.scalar(select(m.Notification.id).where(m.Notification.kind == "nudge")) is None


def test_escalation_is_off_by_default_and_reaches_the_chosen_person(db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    start = date(2026, 12, 1)
    with f.in_org(alpha):
        fam = _daily(db, alpha, "Europe/London", "10:00", start, datetime(2026, 12, 1, tzinfo=UTC))
        due = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
        reminders.plan(db, now=due - timedelta(minutes=20))
        assert db.scalar(select(m.Delivery).where(m.Delivery.kind == "escalation")) is None
        fam.child.escalate_to_membership_id = fam.teacher_membership.id
        fam.child.escalate_after_minutes = 45
        db.flush()
        due2 = due + timedelta(days=1)
        reminders.plan(db, now=due2 - timedelta(minutes=20))
        row = db.scalars(select(m.Delivery).where(m.Delivery.kind == "escalation")).one()
        assert row.membership_id == fam.teacher_membership.id
        assert row.not_before == due2 + timedelta(minutes=45)


def test_each_delivery_is_sent_once_however_often_it_is_swept(db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    start = date(2026, 12, 1)
    with f.in_org(alpha):
        _daily(db, alpha, "Europe/London", "10:00", start, datetime(2026, 12, 1, tzinfo=UTC))
        due = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
        reminders.plan(db, now=due - timedelta(minutes=20))
        reminders.plan(db, now=due - timedelta(minutes=10))
        assert _send(db, due) == ["sent"]
        assert _send(db, due) == []
        row = db.scalars(select(m.Delivery).where(m.Delivery.kind == "reminder")).one()
        # a second deliver of the same row (a redelivered task) changes nothing
        again = deliveries.deliver(
            db, alpha.id, row.id, now=due, senders={"in_app": send_in_app}, base_url="http://x"
        )
        notes = db.scalars(select(m.Notification).where(m.Notification.kind == "reminder")).all()
    assert again == "sent" and len(notes) == 1


def test_failed_sends_retry_with_backoff_and_permanent_failures_are_recorded(db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    calls = []

    def flaky(db, message):  # type: ignore[no-untyped-def]
        calls.append(message.delivery_id)
        raise TemporaryFailure("server busy")

    def broken(db, message):  # type: ignore[no-untyped-def]
        raise PermanentFailure("no address")

    start = date(2026, 12, 1)
    with f.in_org(alpha):
        fam = _daily(db, alpha, "Europe/London", "10:00", start, datetime(2026, 12, 1, tzinfo=UTC))
        _prefer(db, fam.carer_membership, channels=["email", "in_app"])
        due = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
        reminders.plan(db, now=due - timedelta(minutes=20))
        senders = {"email": flaky, "in_app": broken}
        assert sorted(_send(db, due, senders)) == ["failed", "pending"]
        email = db.scalars(
            select(m.Delivery).where(m.Delivery.kind == "reminder", m.Delivery.channel == "email")
        ).one()
        assert email.not_before == due + timedelta(minutes=1) and email.last_error == "server busy"
        moment = due
        for _ in range(deliveries.MAX_ATTEMPTS):
            moment += timedelta(hours=1)
            _send(db, moment, {"email": flaky})
        failed = db.scalars(
            select(m.Delivery).where(m.Delivery.status == "failed").order_by(m.Delivery.channel)
        ).all()
    assert [(r.channel, r.last_error) for r in failed if r.kind == "reminder"] == [
        ("email", "server busy"),
        ("in_app", "no address"),
    ]
    assert email.attempts == deliveries.MAX_ATTEMPTS
    with f.in_org(alpha):
        notices = db.scalars(
            select(m.Notification.title).where(m.Notification.kind == "channel_failed")
        ).all()
    assert notices == ["We could not reach you by email"]


def test_unlogged_routines_become_missed_at_the_end_of_their_local_day(db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    zone = ZoneInfo("America/New_York")
    start = date(2026, 12, 1)
    with f.in_org(alpha):
        _daily(db, alpha, "America/New_York", "20:00", start, datetime(2026, 12, 1, tzinfo=UTC))
        # 23:30 in New York on 2 Dec (04:30 UTC on the 3rd): the day is not over there yet
        assert missed.mark_missed(db, now=datetime(2026, 12, 2, 23, 30, tzinfo=zone)) == 1
        day2 = db.scalars(
            select(m.Occurrence.status).where(m.Occurrence.local_date == date(2026, 12, 2))
        ).one()
        assert day2 == "pending"
        assert missed.mark_missed(db, now=datetime(2026, 12, 3, 0, 5, tzinfo=zone)) == 1
        alpha.org.missed_after_minutes = 60
        db.flush()
        assert missed.mark_missed(db, now=datetime(2026, 12, 3, 21, 5, tzinfo=zone)) == 1


def test_messages_that_would_arrive_long_after_the_fact_are_not_planned(db, orgs):  # type: ignore[no-untyped-def]
    """A scheduler that was down all morning does not remind of 07:00 at noon; one that was
    down ten minutes still sends what fell due in them."""
    alpha, _ = orgs
    with f.in_org(alpha):
        _daily(db, alpha, "UTC", "07:00", date(2026, 12, 1), datetime(2026, 12, 1, tzinfo=UTC))
        planned = reminders.plan(db, now=datetime(2026, 12, 2, 12, 0, tzinfo=UTC))
        assert planned.occurrences == 1 and planned.rows == []
        late = reminders.plan(db, now=datetime(2026, 12, 3, 7, 10, tzinfo=UTC))
        assert {r["kind"] for r in late.rows} == {"reminder", "nudge"}
