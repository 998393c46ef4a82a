"""The scheduler: one leader, each period once whoever fires it, missed periods once after
a stop, and the embedded mode's tick running the tasks in-process end to end."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from routines import models as m
from tasks import outbox, scheduler
from tenants.context import cross_tenant
from tenants.models import OutboxMessage, PeriodicRun
from tests import routine_factories as f

T0 = datetime(2026, 12, 2, 9, 0, 5, tzinfo=UTC)


def _runs(db, job: str) -> list[str]:  # type: ignore[no-untyped-def]
    return list(db.scalars(select(PeriodicRun.period).where(PeriodicRun.job == job)))


def test_one_scheduler_leads_and_another_takes_over_when_the_lease_lapses(db):  # type: ignore[no-untyped-def]
    assert scheduler.try_lead(db, "a", now=T0)
    assert not scheduler.try_lead(db, "b", now=T0 + timedelta(seconds=5))
    assert scheduler.try_lead(db, "a", now=T0 + timedelta(seconds=10))  # renewal
    assert not scheduler.try_lead(db, "b", now=T0 + timedelta(seconds=39))
    # "a" died after its renewal at T0+10: the lease lapses 30 s later, well inside a minute
    assert scheduler.try_lead(db, "b", now=T0 + timedelta(seconds=41))
    assert not scheduler.try_lead(db, "a", now=T0 + timedelta(seconds=45))
    assert scheduler.heartbeat_age(db, now=T0 + timedelta(seconds=50)) == pytest.approx(9)


def test_each_period_is_recorded_once_across_many_ticks_of_two_schedulers(db, orgs):  # type: ignore[no-untyped-def]
    published: list[tuple[str, dict]] = []
    moment = T0
    for _ in range(30):  # thirty 20-second steps: ten minutes
        for _ in ("a", "b"):
            scheduler.schedule_due(db, now=moment)
        moment += timedelta(seconds=20)
    outbox.relay(db, lambda task, args: published.append((task, args)))
    sweeps = _runs(db, "sweep")
    assert len(sweeps) == len(set(sweeps)) == 10
    assert len(_runs(db, "mark_missed")) == 2
    sent = [args["period"] for task, args in published if task == "routines.sweep"]
    assert sorted(sent) == sorted(sweeps)
    nightly = [args for task, args in published if task == "routines.extend_horizon"]
    assert {a["org_id"] for a in nightly} == {o.id for o in orgs}


@pytest.mark.postgres_only
def test_two_schedulers_racing_on_separate_connections_record_each_period_once(
    provisioned, db_kind
):  # type: ignore[no-untyped-def]
    """Real concurrency: two threads, two connections, the same periods at the same time."""
    engine = create_engine(provisioned.app_url)
    start = datetime(2031, 1, 1, 0, 0, 5, tzinfo=UTC)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with Session(engine) as session:
                for step in range(20):
                    barrier.wait()
                    scheduler.schedule_due(session, now=start + timedelta(minutes=step))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        with Session(engine) as session:
            periods = list(
                session.scalars(
                    select(PeriodicRun.period).where(
                        PeriodicRun.job == "sweep", PeriodicRun.period >= "2031-01-01"
                    )
                )
            )
            waiting = session.scalar(
                select(func.count(OutboxMessage.id)).where(
                    OutboxMessage.task == "routines.sweep",
                    OutboxMessage.args["period"].as_string() >= "2031-01-01",
                )
            )
    finally:
        with Session(engine) as session:
            session.execute(PeriodicRun.__table__.delete().where(PeriodicRun.started_at >= start))
            session.execute(
                OutboxMessage.__table__.delete().where(
                    OutboxMessage.created_at >= datetime.now(UTC) - timedelta(minutes=5)
                )
            )
            session.commit()
        engine.dispose()
    assert len(periods) == len(set(periods)) == 20
    assert waiting == 20


def test_a_stopped_scheduler_runs_each_missed_period_once_on_restart(db, orgs):  # type: ignore[no-untyped-def]
    scheduler.schedule_due(db, now=T0)
    assert _runs(db, "sweep") == ["2026-12-02T09:00:00Z"]
    # stopped for ten minutes, then two schedulers come back at once
    back = T0 + timedelta(minutes=10)
    scheduler.schedule_due(db, now=back)
    scheduler.schedule_due(db, now=back)
    sweeps = sorted(_runs(db, "sweep"))
    assert sweeps == [f"2026-12-02T09:{m:02d}:00Z" for m in range(11)]
    assert sorted(_runs(db, "mark_missed")) == [
        "2026-12-02T09:00:00Z",
        "2026-12-02T09:05:00Z",
        "2026-12-02T09:10:00Z",
    ]
    # three nights away: each missed night's horizon extension runs once
    scheduler.schedule_due(db, now=T0 + timedelta(days=3))
    alpha_nights = sorted(_runs(db, f"extend_horizon:{orgs[0].id}"))
    assert alpha_nights == ["2026-12-02", "2026-12-03", "2026-12-04", "2026-12-05"]


def test_the_embedded_tick_runs_the_tasks_in_process(app, db, orgs):  # type: ignore[no-untyped-def]
    """cadence run's mode: no Redis, the tick leads, records, relays, and eager tasks plan
    and send a reminder into the carer's notification centre."""
    from tenants.db import utcnow

    alpha, _ = orgs
    now = utcnow()
    with f.in_org(alpha):
        alpha.org.time_zone = "UTC"
        fam = f.child(db, alpha, time_zone="UTC")
        # due a minute ago, materialised before that: the first sweep reminds at once
        due = now - timedelta(minutes=1)
        frequency = {"days": f.EVERY_DAY, "mode": "times", "times": [due.strftime("%H:%M")]}
        f.publish(
            db,
            fam.child,
            [f.item(f.activity(db), frequency=frequency, start=date(2026, 1, 1))],
            now=now - timedelta(minutes=10),
        )
        db.commit()
    celery = app.extensions["celery"]
    assert celery.conf.task_always_eager
    publish = scheduler.celery_publisher(celery)
    with app.app_context():
        assert scheduler.tick(db, publish, holder="embedded", now=now)
    with cross_tenant("test: read back"):
        deliveries = list(db.scalars(select(m.Delivery).where(m.Delivery.child_id == fam.child.id)))
        notes = list(
            db.scalars(
                select(m.Notification).where(
                    m.Notification.membership_id == fam.carer_membership.id
                )
            )
        )
    assert {d.kind for d in deliveries} >= {"reminder"}
    assert any(n.kind == "reminder" and "Rocking" in n.title for n in notes)
    assert (
        db.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.dispatched_at.is_(None)))
        == 0
    )


def test_a_run_whose_task_was_lost_is_enqueued_again(db, orgs):  # type: ignore[no-untyped-def]
    """A broker that restarted empty loses what it held: the run stays unfinished, and after
    a quarter of an hour the scheduler enqueues it again (once per quarter hour)."""
    scheduler.schedule_due(db, now=T0)
    published: list[tuple[str, dict]] = []
    outbox.relay(db, lambda task, args: None)  # handed to a broker that then lost it
    assert scheduler.requeue_stale(db, now=T0 + timedelta(minutes=10)) == []
    again = scheduler.requeue_stale(db, now=T0 + timedelta(minutes=16))
    assert ("sweep", "2026-12-02T09:00:00Z") in again
    assert (f"extend_horizon:{orgs[0].id}", "2026-12-02") in again
    assert scheduler.requeue_stale(db, now=T0 + timedelta(minutes=17)) == []
    outbox.relay(db, lambda task, args: published.append((task, args)))
    assert ("routines.sweep", {"job": "sweep", "period": "2026-12-02T09:00:00Z"}) in published
