"""Adherence rollups: what the stored rollups plus the live rows of changed days give equals
an independent count of the raw occurrences and logs, before and after a night's build, after
late logs, corrections and away periods, and never across organisations."""

from __future__ import annotations

import random
import re
import uuid
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from routines import metrics, rollups
from routines import models as m
from tests import routine_factories as f
from tests.conftest import count_statements

T0 = datetime(2026, 11, 1, tzinfo=UTC)  # when the seeded rows were last touched
NIGHT = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # the build: through 19 November
LATER = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
STATES = list(m.AROUSAL_STATES)


def _family(db, org, rng: random.Random, name: str = "Robin"):  # type: ignore[no-untyped-def]
    """Rocking and a bath at home every day, a movement break at school on weekdays, from 1
    September to 9 December; every routine before 22 November has an outcome."""
    fam = f.child(db, org, name=name)
    rocking, bath, movement = (
        f.activity(db, f"Rocking {name}", 5),
        f.activity(db, f"Bath time {name}", 10),
        f.activity(db, f"Movement break {name}", 10),
    )
    every_day = {"days": f.EVERY_DAY, "mode": "times"}
    f.publish(
        db,
        fam.child,
        [
            f.item(rocking, frequency={**every_day, "times": ["07:30"]}),
            f.item(
                bath, frequency={**every_day, "times": ["19:30"]}, minutes=10, domain="relational"
            ),
            f.item(
                movement,
                assignee="classroom",
                frequency={"days": [0, 1, 2, 3, 4], "mode": "times", "times": ["10:15"]},
                minutes=10,
                domain="self_regulation",
            ),
        ],
        effective_from=date(2026, 9, 1),
        now=datetime(2026, 9, 1, tzinfo=UTC),
        horizon_days=100,
    )
    rows = db.scalars(
        select(m.Occurrence).where(
            m.Occurrence.child_id == fam.child.id, m.Occurrence.local_date < date(2026, 11, 22)
        )
    ).all()
    for occ in rows:
        occ.status = rng.choice(["done", "done", "done", "partly", "skipped", "missed", "excused"])
        if occ.status in ("done", "partly", "skipped"):
            _log(db, occ, occ.status, rng)
    db.flush()
    db.execute(
        update(m.Occurrence)
        .where(m.Occurrence.child_id == fam.child.id)
        .values(updated_at=T0)
        .execution_options(synchronize_session=False)
    )
    return fam


def _log(db, occ, status: str, rng: random.Random) -> m.RoutineLog:  # type: ignore[no-untyped-def]
    log = m.RoutineLog(
        client_uuid=uuid.uuid4(),
        payload_hash="x" * 64,
        occurrence_id=occ.id,
        child_id=occ.child_id,
        status=status,
        reason="no_time" if status == "skipped" else None,
        minutes=rng.choice([None, 3, 8, 15]),
        state_before=rng.choice([None, *STATES]),
        state_after=rng.choice([None, *STATES]),
        source="web",
        logged_at=occ.due_at,
    )
    db.add(log)
    return log


def _independent(db, child_ids, date_from: date, date_to: date):  # type: ignore[no-untyped-def]
    """From the raw rows, with routines.metrics only: per day, activity and domain."""
    found = select(m.Occurrence, m.RoutineLog, m.PlanItem.domain).outerjoin(
        m.RoutineLog, m.RoutineLog.occurrence_id == m.Occurrence.id
    )
    found = found.join(m.PlanItem, m.PlanItem.id == m.Occurrence.plan_item_id).where(
        m.Occurrence.child_id.in_(child_ids),
        m.Occurrence.local_date >= date_from,
        m.Occurrence.local_date <= date_to,
        m.Occurrence.status != "withdrawn",
    )
    outcomes, calmer = [], 0
    statuses: Counter[str] = Counter()
    for occ, log, domain in db.execute(found):
        statuses[occ.status] += 1
        outcomes.append(
            metrics.Outcome(
                occ.local_date,
                occ.status,
                domain,
                occ.activity_id,
                occ.minutes,
                log.minutes if log else None,
            )
        )
        if log and log.state_before and log.state_after:
            calmer += STATES.index(log.state_after) < STATES.index(log.state_before)
    return outcomes, statuses, calmer


def _assert_equal(db, child_ids, date_from, date_to):  # type: ignore[no-untyped-def]
    rows = rollups.daily_rows(db, child_ids, date_from, date_to)
    outcomes, statuses, calmer = _independent(db, child_ids, date_from, date_to)
    got = rollups.total(rows)
    assert got.tally == metrics.tally(o.status for o in outcomes)
    assert got.dose_minutes == sum(metrics.dose_minutes(o) for o in outcomes)
    assert got.excused == statuses["excused"] and got.pending == statuses["pending"]
    assert got.calmer == calmer
    by_day = rollups.sum_by(rows, lambda r: r.local_date)
    expected_days = metrics.tally_by(outcomes, lambda o: o.local_date)
    assert {d: fig.tally for d, fig in by_day.items() if fig.counted} == {
        d: t for d, t in expected_days.items() if t.counted
    }
    by_activity = rollups.sum_by(rows, lambda r: r.activity_id)
    assert {a: fig.tally for a, fig in by_activity.items()} == metrics.tally_by(
        outcomes, lambda o: o.activity_id
    )
    weekly: dict[tuple[str, date], int] = defaultdict(int)
    for (domain, week), fig in rollups.sum_by(
        rows, lambda r: (r.domain, metrics.week_of(r.local_date))
    ).items():  # type: ignore[misc]
        if fig.dose_minutes:
            weekly[(domain, week)] += fig.dose_minutes
    assert dict(weekly) == metrics.dose_per_week(outcomes)
    return rows


def test_live_only_before_the_first_build_then_stored_rows_equal_the_raw_count(db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    rng = random.Random(6)
    with f.in_org(beta):
        other = _family(db, beta, rng, "Other")
        rollups.roll_up(db, now=NIGHT)
    with f.in_org(alpha):
        fam = _family(db, alpha, rng)
        ids = [fam.child.id]
        # before any build: everything read live, already exact
        _assert_equal(db, ids, date(2026, 9, 1), date(2026, 11, 23))
        built = rollups.roll_up(db, now=NIGHT)
        assert built.through == date(2026, 11, 19) and built.rows > 0
        stored = db.scalar(select(func.max(m.AdherenceRollup.local_date)))
        assert stored == date(2026, 11, 19)
        _assert_equal(db, ids, date(2026, 9, 1), date(2026, 11, 23))
        _assert_equal(db, ids, date(2026, 10, 5), date(2026, 10, 18))
        # another organisation's child is neither counted nor reachable by id
        assert rollups.daily_rows(db, [other.child.id], date(2026, 9, 1), date(2026, 12, 1)) == []
        assert {
            r.child_id for r in rollups.daily_rows(db, None, date(2026, 9, 1), date(2026, 12, 1))
        } == set(ids)


def test_stored_rows_are_read_until_the_day_changes_then_that_day_is_read_live(db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    rng = random.Random(7)
    with f.in_org(alpha):
        fam = _family(db, alpha, rng)
        ids = [fam.child.id]
        rollups.roll_up(db, now=NIGHT)
        day = date(2026, 10, 7)
        # Tamper with a stored row: reads show it, so they come from the rollups...
        db.execute(
            update(m.AdherenceRollup)
            .where(m.AdherenceRollup.local_date == day)
            .values(done=m.AdherenceRollup.done + 100)
        )
        assert rollups.total(rollups.daily_rows(db, ids, day, day)).done >= 100
        # ...until an occurrence of that day changes (a late log from an offline phone): the
        # day is then counted live, exactly, without waiting for the night.
        occ = db.scalars(
            select(m.Occurrence).where(
                m.Occurrence.child_id == fam.child.id,
                m.Occurrence.local_date == day,
                m.Occurrence.status == "missed",
            )
        ).first()
        if occ is None:  # the seeded day had no missed routine: make one
            occ = db.scalars(
                select(m.Occurrence).where(
                    m.Occurrence.child_id == fam.child.id, m.Occurrence.local_date == day
                )
            ).first()
            db.query(m.RoutineLog).filter_by(occurrence_id=occ.id).delete()
        occ.status = "done"
        db.flush()
        db.execute(update(m.Occurrence).where(m.Occurrence.id == occ.id).values(updated_at=LATER))
        _log(db, occ, "done", rng)
        db.flush()
        assert rollups.total(rollups.daily_rows(db, ids, day, day)).done < 100
        _assert_equal(db, ids, date(2026, 9, 1), date(2026, 11, 23))
        # the next night rebuilds that day (and only the changed and new days)
        built = rollups.roll_up(db, now=NIGHT + timedelta(days=2))
        assert built.through == date(2026, 11, 21)
        stored = rollups.total(
            rollups.daily_rows(db, ids, day, day)
        )  # from the rebuilt rollup again
        assert stored.done < 100
        _assert_equal(db, ids, date(2026, 9, 1), date(2026, 11, 23))


def test_todays_logs_count_at_once(db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    rng = random.Random(8)
    with f.in_org(alpha):
        fam = _family(db, alpha, rng)
        rollups.roll_up(db, now=datetime(2026, 11, 23, 3, 0, tzinfo=UTC))
        today = date(2026, 11, 23)
        before = rollups.total(rollups.daily_rows(db, [fam.child.id], today, today))
        assert before.counted == 0 and before.pending > 0
        occ = db.scalars(
            select(m.Occurrence).where(
                m.Occurrence.child_id == fam.child.id, m.Occurrence.local_date == today
            )
        ).first()
        occ.status = "partly"
        _log(db, occ, "partly", rng)
        db.flush()
        after = rollups.total(rollups.daily_rows(db, [fam.child.id], today, today))
        assert after.partly == 1 and after.adherence == metrics.Fraction(1, 2)
        _assert_equal(db, [fam.child.id], date(2026, 11, 1), today)


def test_rebuild_and_repeat_builds_write_each_row_once(db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with f.in_org(alpha):
        fam = _family(db, alpha, random.Random(9))
        rollups.roll_up(db, now=NIGHT)
        first = db.scalar(select(func.count()).select_from(m.AdherenceRollup))
        rollups.roll_up(db, now=NIGHT)
        rollups.roll_up(db, now=NIGHT + timedelta(hours=1))
        assert db.scalar(select(func.count()).select_from(m.AdherenceRollup)) == first
        rollups.roll_up(db, now=NIGHT, rebuild=True)
        assert db.scalar(select(func.count()).select_from(m.AdherenceRollup)) == first
        _assert_equal(db, [fam.child.id], date(2026, 9, 1), date(2026, 11, 23))


def test_reading_a_year_for_many_children_is_two_queries(app, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with f.in_org(alpha):
        fam = _family(db, alpha, random.Random(10))
        rollups.roll_up(db, now=NIGHT)
        db.get(m.Child, fam.child.id)
        with count_statements(db) as counted:
            rollups.daily_rows(db, [fam.child.id], date(2025, 11, 24), date(2026, 11, 23))
        assert counted.total == 2  # the organisation is already in the session


@pytest.mark.parametrize(
    ("raw_from", "raw_to", "message"),
    [
        ("2026-03-01", "2026-02-28", "ends (2026-02-28) before it starts"),
        ("2020-01-01", "2025-01-02", "more than 5 years"),
        ("2026-13-01", "2026-12-01", "must look like"),
        (None, "2026-12-01", "first date"),
        ("2026-01-01", "", "last date"),
    ],
)
def test_bad_ranges_are_refused_clearly(raw_from, raw_to, message):  # type: ignore[no-untyped-def]
    with pytest.raises(rollups.ValidationError, match=re.escape(message)):
        rollups.parse_range(raw_from, raw_to)


def test_five_years_exactly_is_allowed():  # type: ignore[no-untyped-def]
    assert rollups.parse_range("2024-02-29", "2029-02-28") == (date(2024, 2, 29), date(2029, 2, 28))
