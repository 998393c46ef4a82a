"""record_logs and correct_log: idempotent by client UUID, per-item refusals, corrections."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from routines import logs
from routines import models as m
from tenants.errors import PermissionDenied, ValidationError
from tests import routine_factories as f

NOW = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)


@pytest.fixture
def setup(db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    with f.in_org(beta):
        other = f.child(db, beta)
        f.publish(db, other.child, [f.item(f.activity(db))])
        beta_occ = db.scalars(select(m.Occurrence)).first()
    with f.in_org(alpha):
        fam = f.child(db, alpha)
        f.publish(
            db,
            fam.child,
            [f.item(f.activity(db)), f.item(f.activity(db, "Drum"), assignee="classroom")],
            horizon_days=14,
        )
        home = list(
            db.scalars(
                select(m.Occurrence)
                .where(m.Occurrence.side == "home")
                .order_by(m.Occurrence.due_at)
            )
        )
        school = list(db.scalars(select(m.Occurrence).where(m.Occurrence.side == "school")))
    return alpha, fam, home, school, beta_occ


def _record(db, org, fam, items, now=NOW):  # type: ignore[no-untyped-def]
    with f.in_org(org):
        return logs.record_logs(
            db, items, actor=org.carer, membership=fam.carer_membership, now=now, source="api"
        )


def _count(db, org):  # type: ignore[no-untyped-def]
    with f.in_org(org):
        return db.scalar(select(func.count(m.RoutineLog.id)))


def test_a_repeat_answers_with_the_original_and_a_changed_payload_conflicts(db, setup):
    alpha, fam, home, _, _ = setup
    key = str(uuid.uuid4())
    [first] = _record(db, alpha, fam, [logs.LogInput(key, home[0].id, "done", minutes=5)])
    [again] = _record(db, alpha, fam, [logs.LogInput(key, home[0].id, "done", minutes=5)])
    [changed] = _record(db, alpha, fam, [logs.LogInput(key, home[0].id, "done", minutes=9)])
    assert (first.code, first.outcome) == (201, "created")
    assert (again.code, again.outcome) == (200, "repeat")
    assert again.log.id == first.log.id
    assert (changed.code, changed.outcome) == (409, "conflict")
    assert _count(db, alpha) == 1
    with f.in_org(alpha):
        assert db.get(m.RoutineLog, first.log.id).minutes == 5
        assert db.get(m.Occurrence, home[0].id).status == "done"


def test_a_second_log_for_a_logged_occurrence_conflicts(db, setup):
    alpha, fam, home, _, _ = setup
    _record(db, alpha, fam, [logs.LogInput(str(uuid.uuid4()), home[0].id, "done")])
    [other] = _record(db, alpha, fam, [logs.LogInput(str(uuid.uuid4()), home[0].id, "partly")])
    assert other.code == 409 and other.log is not None and other.log.status == "done"
    assert _count(db, alpha) == 1


def test_bad_items_are_refused_one_by_one_and_the_rest_stored(db, setup):
    alpha, fam, home, school, beta_occ = setup
    far = next(o for o in home if o.due_at > NOW + timedelta(days=7))
    items = [
        logs.LogInput(str(uuid.uuid4()), home[0].id, "done"),
        logs.LogInput(str(uuid.uuid4()), 2_000_000, "done"),  # no such occurrence
        logs.LogInput(str(uuid.uuid4()), beta_occ.id, "done"),  # another organisation's
        logs.LogInput(str(uuid.uuid4()), far.id, "done"),  # more than 7 days ahead
        logs.LogInput(str(uuid.uuid4()), home[1].id, "finished"),  # unknown status
        logs.LogInput(str(uuid.uuid4()), home[2].id, "skipped"),  # no reason
        logs.LogInput("not-a-uuid", home[3].id, "done"),
        logs.LogInput(str(uuid.uuid4()), home[4].id, "done", child_id=fam.child.id + 1),
        logs.LogInput(str(uuid.uuid4()), school[0].id, "done"),  # the teachers' routine
        logs.LogInput(str(uuid.uuid4()), home[5].id, "skipped", reason="refused"),
    ]
    results = _record(db, alpha, fam, items)
    assert [r.code for r in results] == [201, 404, 404, 422, 422, 422, 422, 422, 403, 201]
    assert results[1].message == results[2].message.replace(str(beta_occ.id), "2000000")
    assert _count(db, alpha) == 2


def test_the_same_uuid_twice_in_one_batch_is_stored_once(db, setup):
    alpha, fam, home, _, _ = setup
    key = str(uuid.uuid4())
    results = _record(
        db,
        alpha,
        fam,
        [
            logs.LogInput(key, home[0].id, "done"),
            logs.LogInput(key, home[0].id, "done"),
            logs.LogInput(key, home[0].id, "partly"),
        ],
    )
    assert [r.code for r in results] == [201, 200, 409]
    assert _count(db, alpha) == 1


def test_an_oversized_batch_is_refused_whole(db, setup):
    alpha, fam, home, _, _ = setup
    items = [logs.LogInput(str(uuid.uuid4()), home[0].id, "done")] * (logs.MAX_BATCH + 1)
    with pytest.raises(ValidationError):
        _record(db, alpha, fam, items)
    assert _count(db, alpha) == 0


def test_a_log_three_days_late_still_arrives(db, setup):
    alpha, fam, home, _, _ = setup
    later = home[0].due_at + timedelta(days=3)
    [result] = _record(
        db,
        alpha,
        fam,
        [
            logs.LogInput(
                str(uuid.uuid4()),
                home[0].id,
                "done",
                logged_at=(home[0].due_at + timedelta(minutes=5)).isoformat(),
            )
        ],
        now=later,
    )
    assert result.code == 201
    assert result.log.logged_at == home[0].due_at + timedelta(minutes=5)


def test_a_batch_is_stored_in_a_fixed_number_of_statements(db, setup, app):
    alpha, fam, home, _, _ = setup
    engine = app.extensions["cadence.db"].engine
    counts = []
    for batch in (home[:2], home[2:12]):
        seen: list[str] = []

        def count(conn, cursor, statement, *args, seen=seen):  # type: ignore[no-untyped-def]
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            items = [logs.LogInput(str(uuid.uuid4()), o.id, "done") for o in batch]
            results = _record(db, alpha, fam, items, now=NOW + timedelta(days=20))
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert {r.code for r in results} == {201}
        counts.append(len(seen))
    assert counts[0] == counts[1]


def test_corrections_by_the_author_within_48_hours_are_kept(db, setup):
    alpha, fam, home, _, _ = setup
    [result] = _record(db, alpha, fam, [logs.LogInput(str(uuid.uuid4()), home[0].id, "done")])
    with f.in_org(alpha):
        log = result.log
        logs.correct_log(
            db, log, {"status": "partly", "reason": "no_time"}, actor=alpha.carer, now=NOW
        )
        logs.correct_log(db, log, {"note": "Calmer after"}, actor=alpha.carer, now=NOW)
        history = logs.corrections_of(db, [log.id])[log.id]
        assert [(c.before["status"], c.after["status"]) for c in history] == [
            ("done", "partly"),
            ("partly", "partly"),
        ]
        assert history[1].after["note"] == "Calmer after"
        assert db.get(m.Occurrence, home[0].id).status == "partly"
        with pytest.raises(PermissionDenied):
            logs.correct_log(db, log, {"note": "x"}, actor=alpha.teacher, now=NOW)
        with pytest.raises(PermissionDenied):
            logs.correct_log(
                db, log, {"note": "x"}, actor=alpha.carer, now=NOW + timedelta(hours=49)
            )
        with pytest.raises(ValidationError):
            logs.correct_log(
                db, log, {"status": "skipped", "reason": None}, actor=alpha.carer, now=NOW
            )
        assert log.status == "partly"
        logs.correct_log(db, log, {"status": "done"}, actor=alpha.carer, now=NOW)
        assert (log.status, log.reason) == ("done", None)
