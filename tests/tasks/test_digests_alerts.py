"""The daily digest (carers the evening before, teachers that morning, opt-in, once), the
adherence alert (once per episode, again only after recovery, exactly-at-threshold is not
below) and the reassessment reminder (once per assessment, due the day the interval has
passed)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select, update

from routines import alerts, deliveries, digests
from routines import models as m
from routines.alerts import below, trailing_adherence
from tasks.channels.in_app import send_in_app
from tests import routine_factories as f

WEEKDAYS = [0, 1, 2, 3, 4]


def _deliveries(db, kind: str | None = None):  # type: ignore[no-untyped-def]
    query = select(m.Delivery).order_by(m.Delivery.membership_id, m.Delivery.channel)
    if kind:
        query = query.where(m.Delivery.kind == kind)
    return list(db.scalars(query))


def _prefer(db, membership, channels, digest=True):  # type: ignore[no-untyped-def]
    db.add(m.NotificationPreference(membership_id=membership.id, channels=channels, digest=digest))
    db.flush()


def _family_with_routines(db, org, zone: str = "Europe/London"):  # type: ignore[no-untyped-def]
    """Robin: rocking 07:30 and a bath 19:30 at home daily; a movement break 10:15 at school
    on weekdays. Materialised 23 Nov - 6 Dec 2026 (23 Nov is a Monday)."""
    fam = f.child(db, org, time_zone=zone)
    rocking, bath, movement = (
        f.activity(db, "Rocking", 5),
        f.activity(db, "Bath time", 10),
        f.activity(db, "Movement break", 10),
    )
    every_day = {"days": f.EVERY_DAY, "mode": "times"}
    f.publish(
        db,
        fam.child,
        [
            f.item(rocking, frequency={**every_day, "times": ["07:30"]}),
            f.item(bath, frequency={**every_day, "times": ["19:30"]}, minutes=10),
            f.item(
                movement,
                assignee="classroom",
                frequency={"days": WEEKDAYS, "mode": "times", "times": ["10:15"]},
                minutes=10,
            ),
        ],
    )
    return fam


# --- digests ----------------------------------------------------------------------------


def test_carers_get_tomorrows_home_routines_at_1800_once(db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with f.in_org(alpha):
        fam = _family_with_routines(db, alpha)
        _prefer(db, fam.carer_membership, ["in_app", "email"])
        # too early: the digest is planned in the two hours before it goes
        assert digests.plan_digests(db, now=datetime(2026, 11, 24, 15, 59, tzinfo=UTC)) == 0
        assert digests.plan_digests(db, now=datetime(2026, 11, 24, 16, 0, tzinfo=UTC)) == 2
        rows = _deliveries(db)
        assert [(r.kind, r.subject, r.channel) for r in rows] == [
            ("digest", "digest:2026-11-25", "email"),
            ("digest", "digest:2026-11-25", "in_app"),
        ]
        assert {r.membership_id for r in rows} == {fam.carer_membership.id}
        assert {r.not_before for r in rows} == {datetime(2026, 11, 24, 18, 0, tzinfo=UTC)}
        assert rows[0].payload == {
            "title": "Tomorrow, Wednesday 25 November: 2 routines with Robin",
            "body": "Robin\n  07:30  Rocking (5 min)\n  19:30  Bath time (10 min)",
            "path": "/o/alpha/today/week?start=2026-11-25",
        }
        # every later hour of the evening offers the same rows again: nothing new
        for hour in (17, 18, 23):
            digests.plan_digests(db, now=datetime(2026, 11, 24, hour, 30, tzinfo=UTC))
        assert len(_deliveries(db)) == 2
        # after midnight "tomorrow" is today: too late for the 25th, too early for the 26th
        assert digests.plan_digests(db, now=datetime(2026, 11, 25, 0, 0, tzinfo=UTC)) == 0


def test_teachers_get_the_days_school_routines_at_0700_on_school_days(db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with f.in_org(alpha):
        fam = _family_with_routines(db, alpha)
        _prefer(db, fam.teacher_membership, ["email"])
        assert digests.plan_digests(db, now=datetime(2026, 11, 24, 16, 0, tzinfo=UTC)) == 0
        assert digests.plan_digests(db, now=datetime(2026, 11, 25, 5, 0, tzinfo=UTC)) == 1
        [row] = _deliveries(db)
        assert (row.subject, row.membership_id, row.not_before) == (
            "digest:2026-11-25",
            fam.teacher_membership.id,
            datetime(2026, 11, 25, 7, 0, tzinfo=UTC),
        )
        assert row.payload == {
            "title": "Today, Wednesday 25 November: 1 routine with Robin",
            "body": "Robin\n  10:15  Movement break (10 min)",
            "path": "/o/alpha/classroom/",
        }
        # by noon the school day is under way: the next day's digest is not planned early
        assert digests.plan_digests(db, now=datetime(2026, 11, 25, 12, 0, tzinfo=UTC)) == 0
        # Saturday: no school routines, so no digest (rather than an empty one)
        assert digests.plan_digests(db, now=datetime(2026, 11, 28, 6, 0, tzinfo=UTC)) == 0
        assert len(_deliveries(db)) == 1


def test_digests_are_opt_in_follow_the_households_zone_and_leave_out_excused(db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    with f.in_org(beta):
        beta_fam = _family_with_routines(db, beta)
        _prefer(db, beta_fam.carer_membership, ["in_app"])
    with f.in_org(alpha):
        fam = _family_with_routines(db, alpha, zone="America/New_York")
        _prefer(db, fam.teacher_membership, ["in_app"], digest=False)
        clinician = [t for t in fam.child.team if t.team_role == "lead_clinician"][0]
        _prefer(db, clinician.membership, ["in_app"])  # opted in, but has no side to read
        _prefer(db, fam.carer_membership, ["in_app"])
        db.execute(
            update(m.Occurrence)
            .where(
                m.Occurrence.local_date == date(2026, 11, 25),
                m.Occurrence.local_time == time(19, 30),
            )
            .values(status="excused")
        )
        # 18:00 in New York is 23:00 UTC: nothing at 16:00 UTC, planned from 21:00 UTC
        assert digests.plan_digests(db, now=datetime(2026, 11, 24, 16, 0, tzinfo=UTC)) == 0
        assert digests.plan_digests(db, now=datetime(2026, 11, 24, 21, 0, tzinfo=UTC)) == 1
        [row] = _deliveries(db)
        assert row.membership_id == fam.carer_membership.id
        assert row.not_before == datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
        assert row.payload["body"] == "Robin\n  07:30  Rocking (5 min)"
        # the digest reaches the notification centre like any other message
        row.status = "sending"
        now = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
        status = deliveries.deliver(
            db, alpha.id, row.id, now=now, senders={"in_app": send_in_app}, base_url="https://c"
        )
        assert status == "sent"
        note = db.scalars(select(m.Notification)).one()
        assert note.title.startswith("Tomorrow, Wednesday 25 November")
        assert note.link == "https://c/o/alpha/today/week?start=2026-11-25"
    with f.in_org(beta):
        assert _deliveries(db) == []  # alpha's run plans nothing for beta


# --- adherence ----------------------------------------------------------------------------


def test_trailing_adherence_by_hand() -> None:
    # (1 + 1 + 0.5 + 0 + 0) / 5: excused and pending are out of the denominator
    statuses = ["done", "done", "partly", "skipped", "missed", "excused", "pending"]
    assert trailing_adherence(statuses) == 0.5
    assert trailing_adherence(["done"] * 6 + ["partly"]) == pytest.approx(6.5 / 7)
    assert trailing_adherence(["partly", "excused"]) == 0.5
    assert trailing_adherence(["done", "withdrawn"]) == 1.0
    assert trailing_adherence(["skipped", "missed"]) == 0.0
    assert trailing_adherence(["excused", "pending", "withdrawn"]) is None
    assert trailing_adherence([]) is None


def test_exactly_at_the_threshold_is_not_below() -> None:
    four_of_five = alerts._ratio({"done": 4, "missed": 1, "excused": 3})
    assert four_of_five is not None and not below(four_of_five, 0.8)
    seven_and_two_halves = alerts._ratio({"done": 7, "partly": 2, "skipped": 1})
    assert seven_and_two_halves is not None and not below(seven_and_two_halves, 0.8)
    just_under = alerts._ratio({"done": 27, "partly": 1, "missed": 7})  # 27.5 / 35
    assert just_under is not None and below(just_under, 0.8)
    assert not below(alerts._ratio({"done": 7, "missed": 3}), 0.7)  # type: ignore[arg-type]


def _daily_child(db, org):  # type: ignore[no-untyped-def]
    """One 07:30 home routine a day, materialised 10 - 29 Nov 2026 (London)."""
    fam = f.child(db, org, school=None, classroom=None)
    f.publish(
        db,
        fam.child,
        [f.item(f.activity(db))],
        now=datetime(2026, 11, 10, 0, 0, tzinfo=UTC),
        horizon_days=20,
    )
    return fam


def _statuses(db, kid, by_day: dict[int, str]) -> None:  # type: ignore[no-untyped-def]
    """Set the status of the routine on each November day given."""
    for day, status in by_day.items():
        db.execute(
            update(m.Occurrence)
            .where(m.Occurrence.child_id == kid.id, m.Occurrence.local_date == date(2026, 11, day))
            .values(status=status)
        )


def _night(day: int) -> datetime:
    return datetime(2026, 11, day, 2, 0, tzinfo=UTC)


def test_an_adherence_alert_comes_once_per_episode_and_again_only_after_recovery(db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with f.in_org(alpha):
        fam = _daily_child(db, alpha)
        kid = fam.child
        lead = [t.membership_id for t in kid.team if t.team_role == "lead_clinician"]
        # the 7 days to yesterday (16-22 Nov): 5 done, 2 missed = 71% < 80%
        _statuses(db, kid, {d: "done" for d in range(10, 23)})
        _statuses(db, kid, {18: "missed", 21: "missed"})
        first = alerts.check_adherence(db, now=_night(23))
        assert (first.opened, first.closed, first.rows) == ([kid.id], [], 2)
        [episode] = db.scalars(select(m.AlertEpisode)).all()
        assert (episode.kind, episode.closed_at) == ("adherence_low", None)
        assert episode.opened_value == pytest.approx(5 / 7)
        rows = _deliveries(db, "adherence_alert")
        assert [(r.membership_id, r.channel, r.subject, r.child_id) for r in rows] == [
            (lead[0], "email", f"child:{kid.id}:adherence:{episode.id}", kid.id),
            (lead[0], "in_app", f"child:{kid.id}:adherence:{episode.id}", kid.id),
        ]
        assert rows[0].payload["title"] == "Robin's routines have slipped to 71% this week"
        assert "5 were done, 0 partly done and 2 skipped or missed" in rows[0].payload["body"]
        assert rows[0].payload["path"] == f"/o/alpha/children/{kid.id}"
        # the same night again, and the next night still under: nothing new
        again = alerts.check_adherence(db, now=_night(23))
        assert (again.opened, again.closed, again.rows) == ([], [], 0)
        _statuses(db, kid, {23: "skipped"})
        assert alerts.check_adherence(db, now=_night(24)).opened == []
        assert len(_deliveries(db, "adherence_alert")) == 2
        # recovery (18-24 Nov: 6 done, 1 partly = 93%) closes it, without a message
        _statuses(db, kid, {18: "done", 21: "done", 23: "done", 24: "partly"})
        recovered = alerts.check_adherence(db, now=_night(25))
        assert (recovered.opened, recovered.closed) == ([], [kid.id])
        assert episode.closed_at == _night(25)
        assert len(_deliveries(db, "adherence_alert")) == 2
        # a new slip (20-26 Nov: 4 done, 1 partly, 2 missed = 64%) is a new episode
        _statuses(db, kid, {25: "missed", 26: "missed"})
        relapse = alerts.check_adherence(db, now=_night(27))
        assert relapse.opened == [kid.id]
        episodes = db.scalars(select(m.AlertEpisode).order_by(m.AlertEpisode.id)).all()
        assert [e.closed_at is None for e in episodes] == [False, True]
        subjects = {r.subject for r in _deliveries(db, "adherence_alert")}
        assert subjects == {
            f"child:{kid.id}:adherence:{episodes[0].id}",
            f"child:{kid.id}:adherence:{episodes[1].id}",
        }


def test_adherence_at_exactly_the_threshold_or_with_nothing_counted_opens_nothing(db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    with f.in_org(beta):
        low = _daily_child(db, beta)  # all missed: under, but in another organisation
        _statuses(db, low.child, {d: "missed" for d in range(16, 23)})
    with f.in_org(alpha):
        fam = _daily_child(db, alpha)
        # 16-22 Nov: 4 done, 1 missed, 2 excused (away): 4 / 5 = exactly 80%
        _statuses(db, fam.child, {16: "done", 17: "done", 18: "done", 19: "done"})
        _statuses(db, fam.child, {20: "missed", 21: "excused", 22: "excused"})
        check = alerts.check_adherence(db, now=_night(23))
        assert (check.checked, check.opened) == (1, [])  # beta's child is not alpha's
        # yesterday still pending (not yet marked missed) is left out too: 4 / 5 again
        _statuses(db, fam.child, {22: "pending"})
        assert alerts.check_adherence(db, now=_night(23)).opened == []
        # away the whole week: nothing counts, no episode either way
        _statuses(db, fam.child, {d: "excused" for d in range(16, 23)})
        assert alerts.check_adherence(db, now=_night(23)).opened == []
        assert db.scalars(select(m.AlertEpisode)).all() == []
        # one more miss tips it under
        _statuses(db, fam.child, {16: "done", 17: "done", 18: "done", 19: "done"})
        _statuses(db, fam.child, {20: "missed", 21: "missed"})
        assert alerts.check_adherence(db, now=_night(23)).opened == [fam.child.id]


def test_the_window_is_the_seven_local_days_before_today_in_the_routines_zone(db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with f.in_org(alpha):
        fam = f.child(db, alpha, time_zone="Australia/Sydney", school=None, classroom=None)
        f.publish(
            db,
            fam.child,
            [f.item(f.activity(db))],
            now=datetime(2026, 11, 10, 0, 0, tzinfo=UTC),
            horizon_days=20,
        )
        _statuses(db, fam.child, {d: "done" for d in range(10, 30)})
        # 14:00 UTC on 22 Nov is 01:00 on the 23rd in Sydney: the window is 16-22 Nov
        _statuses(db, fam.child, {15: "missed", 14: "missed"})  # before it: no effect
        assert (
            alerts.check_adherence(db, now=datetime(2026, 11, 22, 14, 0, tzinfo=UTC)).opened == []
        )
        _statuses(db, fam.child, {22: "missed", 21: "missed"})  # 5 / 7 inside it
        assert alerts.check_adherence(db, now=datetime(2026, 11, 22, 14, 0, tzinfo=UTC)).opened == [
            fam.child.id
        ]


# --- reassessment -------------------------------------------------------------------------


def _assessment(db, kid, on: date, status: str = "complete") -> m.Assessment:  # type: ignore[no-untyped-def]
    framework = db.scalars(select(m.Framework).where(m.Framework.key == "alerts")).first()
    if framework is None:
        band = {"code": "all", "label": "Any age", "from_months": 0, "to_months": 216}
        framework = m.Framework(
            key="alerts", version=1, name="Test", scale_max=12, age_bands=[band], source="import"
        )
        db.add(framework)
        db.flush()
    row = m.Assessment(child_id=kid.id, framework_id=framework.id, assessed_on=on, status=status)
    db.add(row)
    db.flush()
    return row


def test_reassessment_is_due_the_day_the_interval_has_passed_once_per_assessment(db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    alpha.org.reassessment_interval_days = 90
    with f.in_org(alpha):
        fam = f.child(db, alpha, school=None, classroom=None)
        kid = fam.child
        lead = [t.membership_id for t in kid.team if t.team_role == "lead_clinician"]
        _assessment(db, kid, date(2026, 6, 1))
        first = _assessment(db, kid, date(2026, 9, 1))  # the latest completed one
        _assessment(db, kid, date(2026, 11, 1), status="draft")  # drafts do not count
        # 1 Sep + 90 days = 30 Nov. 29 Nov (London) is day 89: not yet
        assert (
            alerts.check_reassessment_due(db, now=datetime(2026, 11, 29, 23, 59, tzinfo=UTC)) == 0
        )
        assert alerts.check_reassessment_due(db, now=datetime(2026, 11, 30, 2, 0, tzinfo=UTC)) == 2
        rows = _deliveries(db, "reassessment_due")
        assert [(r.membership_id, r.channel, r.subject) for r in rows] == [
            (lead[0], "email", f"child:{kid.id}:reassessment:{first.id}"),
            (lead[0], "in_app", f"child:{kid.id}:reassessment:{first.id}"),
        ]
        assert rows[0].payload == {
            "title": "Reassessment due for Robin",
            "body": "Robin's last completed assessment was on 1 September 2026, 90 days ago; "
            "Alpha Services reassesses every 90 days.",
            "path": f"/o/alpha/children/{kid.id}/assessments/",
        }
        # every later night: nothing new
        for day in (1, 2, 15):
            alerts.check_reassessment_due(db, now=datetime(2026, 12, day, 2, 0, tzinfo=UTC))
        assert len(_deliveries(db, "reassessment_due")) == 2
        # a new completed assessment starts the interval again
        second = _assessment(db, kid, date(2026, 12, 10))
        assert alerts.check_reassessment_due(db, now=datetime(2027, 3, 9, 2, 0, tzinfo=UTC)) == 0
        assert alerts.check_reassessment_due(db, now=datetime(2027, 3, 10, 2, 0, tzinfo=UTC)) == 2
        assert {r.subject for r in _deliveries(db, "reassessment_due")} == {
            f"child:{kid.id}:reassessment:{first.id}",
            f"child:{kid.id}:reassessment:{second.id}",
        }


def test_no_reassessment_reminder_without_a_completed_assessment_or_a_lead(db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with f.in_org(alpha):
        never = f.child(db, alpha, name="Sam", school=None, classroom=None).child
        _assessment(db, never, date(2025, 1, 1), status="draft")
        leaderless = f.child(db, alpha, name="Ash", school=None, classroom=None).child
        _assessment(db, leaderless, date(2025, 1, 1))
        for member in list(leaderless.team):
            if member.team_role == "lead_clinician":
                leaderless.team.remove(member)
        db.flush()
        now = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
        assert alerts.check_reassessment_due(db, now=now) == 0
        assert _deliveries(db) == []


def test_alert_rows_offered_again_are_ignored(db, orgs):  # type: ignore[no-untyped-def]
    """The delivery's unique key is the last line of defence: rows planned twice (two
    schedulers in a race) are one row."""
    alpha, _ = orgs
    with f.in_org(alpha):
        kid = f.child(db, alpha, school=None, classroom=None).child
        _assessment(db, kid, date(2026, 1, 1))
        now = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
        assert alerts.check_reassessment_due(db, now=now) == 2
        assert alerts.check_reassessment_due(db, now=now + timedelta(minutes=1)) == 2
        assert len(_deliveries(db)) == 2
