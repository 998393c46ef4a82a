"""Materialising and reconciling occurrences: publish, re-publish, anchors, calendars, away."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time

from sqlalchemy import func, select

from routines import away, logs, occurrences, places
from routines import models as m
from tests import routine_factories as f

NOW = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)


def _occ(db, kid, status=None):  # type: ignore[no-untyped-def]
    query = select(m.Occurrence).where(m.Occurrence.child_id == kid.id)
    if status:
        query = query.where(m.Occurrence.status == status)
    return list(db.scalars(query.order_by(m.Occurrence.due_at)))


def _log(db, org, fam, occurrence, status="done"):  # type: ignore[no-untyped-def]
    [result] = logs.record_logs(
        db,
        [logs.LogInput(str(uuid.uuid4()), occurrence.id, status)],
        actor=org.carer,
        membership=fam.carer_membership,
        now=NOW,
        source="web",
    )
    assert result.code == 201, result
    return result.log


def test_publishing_materialises_the_horizon_in_the_households_zone(db, orgs):
    alpha, _ = orgs
    with f.in_org(alpha):
        fam = f.child(db, alpha, time_zone="America/New_York")
        act = f.activity(db)
        f.publish(db, fam.child, [f.item(act)])
        rows = _occ(db, fam.child)
    # 07:30 New York from 23 Nov (the first one not yet due) for the 14-day horizon
    assert [r.local_date for r in rows] == [date(2026, 11, 23 + i) for i in range(8)] + [
        date(2026, 12, i) for i in range(1, 8)
    ]
    assert {r.local_time for r in rows} == {time(7, 30)}
    assert rows[0].due_at == datetime(2026, 11, 23, 12, 30, tzinfo=UTC)
    assert {r.status for r in rows} == {"pending"}
    assert {r.side for r in rows} == {"home"}


def test_materialise_twice_changes_nothing(db, orgs):
    alpha, _ = orgs
    with f.in_org(alpha):
        fam = f.child(db, alpha)
        f.publish(db, fam.child, [f.item(f.activity(db))])
        before = len(_occ(db, fam.child))
        again = occurrences.materialise(db, fam.child, now=NOW)
        after = len(_occ(db, fam.child))
    assert (again.added, again.moved, again.withdrawn) == (0, 0, 0)
    assert after == before


def test_republishing_withdraws_removed_adds_new_keeps_logged_and_never_duplicates(db, orgs):
    alpha, _ = orgs
    with f.in_org(alpha):
        fam = f.child(db, alpha)
        rocking, drumming, walking = (f.activity(db, n) for n in ("Rocking", "Drumming", "Walk"))
        f.publish(db, fam.child, [f.item(rocking), f.item(drumming)])
        later = [o for o in _occ(db, fam.child) if o.activity_id == drumming.id][5]
        logged = _log(db, alpha, fam, later)
        # version 2 from 25 Nov: rocking kept, drumming removed, walking added
        f.publish(
            db,
            fam.child,
            [f.item(rocking), f.item(walking)],
            effective_from=date(2026, 11, 25),
        )
        rows = _occ(db, fam.child)
        visible = [r for r in rows if r.status != "withdrawn"]
        keys = [(r.activity_id, r.local_date, r.slot) for r in rows]
        stored_log = db.get(m.RoutineLog, logged.id)
    assert len(keys) == len(set(keys)), "an occurrence was duplicated"
    drum = [r for r in rows if r.activity_id == drumming.id]
    # before 25 Nov drumming stays; from then it is withdrawn, except the logged one
    assert {r.status for r in drum if r.local_date < date(2026, 11, 25)} == {"pending"}
    assert {r.status for r in drum if r.local_date >= date(2026, 11, 25) and r.id != later.id} == {
        "withdrawn"
    }
    assert next(r for r in drum if r.id == later.id).status == "done"
    assert stored_log.occurrence_id == later.id
    walk_dates = sorted(r.local_date for r in visible if r.activity_id == walking.id)
    assert walk_dates[0] == date(2026, 11, 25)
    rock = [r for r in visible if r.activity_id == rocking.id]
    assert len(rock) == len({r.local_date for r in rock}) == 15


def test_republishing_the_same_activity_reuses_its_occurrences(db, orgs):
    alpha, _ = orgs
    with f.in_org(alpha):
        fam = f.child(db, alpha)
        act = f.activity(db)
        f.publish(db, fam.child, [f.item(act)])
        first_ids = {o.id for o in _occ(db, fam.child)}
        v2 = f.publish(db, fam.child, [f.item(act, minutes=10)], effective_from=date(2026, 11, 24))
        rows = _occ(db, fam.child)
    assert {o.id for o in rows} == first_ids
    moved = [o for o in rows if o.local_date >= date(2026, 11, 24)]
    assert {o.minutes for o in moved} == {10}
    assert {o.plan_item_id for o in moved} == {v2.items[0].id}


def test_changing_an_anchor_moves_future_occurrences_that_use_it(db, orgs):
    alpha, _ = orgs
    with f.in_org(alpha):
        fam = f.child(db, alpha)
        act = f.activity(db)
        anchors = {"days": f.EVERY_DAY, "mode": "anchors", "anchors": ["before_bed"]}
        f.publish(db, fam.child, [f.item(act, frequency=anchors)])
        assert {o.local_time for o in _occ(db, fam.child)} == {time(19, 30)}
        first = _occ(db, fam.child)[0]
        _log(db, alpha, fam, first)
        places.set_anchor_times(
            db, fam.child.household, {"before_bed": "20:15"}, actor=alpha.carer, now=NOW
        )
        rows = _occ(db, fam.child)
    assert rows[0].id == first.id and rows[0].local_time == time(19, 30)  # logged: kept
    assert {o.local_time for o in rows[1:]} == {time(20, 15)}
    assert len(rows) == 15


def test_school_side_follows_the_classroom_calendar(db, orgs):
    alpha, _ = orgs
    with f.in_org(alpha):
        fam = f.child(db, alpha)
        act = f.activity(db)
        f.publish(db, fam.child, [f.item(act, assignee="classroom")])
        days = [o.local_date for o in _occ(db, fam.child)]
        assert all(d.weekday() < 5 for d in days)
        places.add_calendar_entry(
            db,
            fam.child.classroom,
            kind="closure",
            starts_on=date(2026, 11, 30),
            ends_on=date(2026, 12, 1),
            label="Inset days",
            actor=alpha.teacher,
            now=NOW,
        )
        visible = [o.local_date for o in _occ(db, fam.child) if o.status != "withdrawn"]
    assert date(2026, 11, 30) not in visible and date(2026, 12, 1) not in visible
    assert date(2026, 12, 2) in visible


def test_away_excuses_and_cancelling_restores(db, orgs):
    alpha, _ = orgs
    with f.in_org(alpha):
        fam = f.child(db, alpha)
        f.publish(db, fam.child, [f.item(f.activity(db))])
        period = away.add_away(
            db,
            fam.child,
            kind="hospital",
            starts_on=date(2026, 11, 25),
            ends_on=date(2026, 11, 26),
            note="",
            time_zone="Europe/London",
            actor=alpha.carer,
        )
        excused = [o.local_date for o in _occ(db, fam.child, "excused")]
        assert excused == [date(2026, 11, 25), date(2026, 11, 26)]
        # a materialise run keeps them excused
        occurrences.materialise(db, fam.child, now=NOW)
        assert len(_occ(db, fam.child, "excused")) == 2
        away.cancel_away(db, fam.child, period.id, actor=alpha.carer, now=NOW)
        assert _occ(db, fam.child, "excused") == []


def test_the_past_is_not_rewritten(db, orgs):
    alpha, _ = orgs
    with f.in_org(alpha):
        fam = f.child(db, alpha)
        act = f.activity(db)
        f.publish(db, fam.child, [f.item(act)], now=datetime(2026, 11, 16, tzinfo=UTC))
        count = db.scalar(select(func.count(m.Occurrence.id)))
        f.publish(db, fam.child, [], effective_from=date(2026, 11, 17), now=NOW)
        rows = _occ(db, fam.child)
    assert len(rows) == count
    past = [o for o in rows if o.due_at < NOW]
    assert past and {o.status for o in past} == {"pending"}
    assert {o.status for o in rows if o.due_at >= NOW} == {"withdrawn"}
