"""`cadence scheduler`: the one process that decides when periodic work happens.

Any number may be started; one leads. Leadership is a lease row in the database, renewed
on every tick (the heartbeat /healthz reports); if the leader dies, the lease lapses after
LEASE_FOR and the next tick of another scheduler takes over, well within a minute.

Each tick, the leader works out which periods of each job are due, records each as a
PeriodicRun (unique per job and period, so two leaders in a race still run it once) with
an outbox row in the same transaction, then relays the outbox to the broker. A period
missed while no scheduler ran is found on the next tick (everything after the last
recorded period) and runs once. The scheduler only enqueues; the tasks do the work.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from routines.recurrence import local_to_utc
from tasks import outbox
from tenants.models import Organisation, PeriodicRun, SchedulerLease

logger = logging.getLogger(__name__)

LEASE = "scheduler"
LEASE_FOR = timedelta(seconds=30)
TICK_SECONDS = 10
# After a long stop, catch up at most this many periods of a job (the oldest are dropped:
# a sweep covers everything due anyway, and a week of nights is plenty of horizon).
MAX_CATCH_UP = {"minutes": 60, "nights": 7}


@dataclass(frozen=True)
class Job:
    name: str
    task: str
    every: timedelta | None = None  # interval jobs, aligned to the epoch
    nightly_at: time | None = None  # once per organisation per local night

    def periods(self, now: datetime, last: str | None, org: Organisation | None) -> list[str]:
        if self.every is not None:
            return _interval_periods(now, self.every, last)
        assert self.nightly_at is not None and org is not None
        return _nightly_periods(now, self.nightly_at, ZoneInfo(org.time_zone), last)


JOBS = (
    Job("sweep", "routines.sweep", every=timedelta(minutes=1)),
    Job("mark_missed", "routines.mark_missed", every=timedelta(minutes=5)),
    Job("extend_horizon", "routines.extend_horizon", nightly_at=time(2, 0)),
    Job("digests", "routines.plan_digests", every=timedelta(hours=1)),
    Job("alerts", "routines.check_alerts", nightly_at=time(2, 0)),
    Job("rollups", "routines.roll_up_adherence", nightly_at=time(3, 0)),
)


def _interval_periods(now: datetime, every: timedelta, last: str | None) -> list[str]:
    step = int(every.total_seconds())
    current = int(now.timestamp()) // step * step
    if last is None:
        starts = [current]
    else:
        previous = int(datetime.fromisoformat(last).timestamp())
        starts = list(range(previous + step, current + 1, step))[-MAX_CATCH_UP["minutes"] :]
    return [datetime.fromtimestamp(s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for s in starts]


def _nightly_periods(now: datetime, at: time, zone: ZoneInfo, last: str | None) -> list[str]:
    today = now.astimezone(zone).date()
    latest = today if now >= local_to_utc(today, at, zone) else today - timedelta(days=1)
    if last is None:
        return [latest.isoformat()]
    first = date.fromisoformat(last) + timedelta(days=1)
    days = [first + timedelta(days=i) for i in range((latest - first).days + 1)]
    return [d.isoformat() for d in days[-MAX_CATCH_UP["nights"] :]]


# --- the lease ---------------------------------------------------------------------------------


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def try_lead(db: Session, holder: str, *, now: datetime) -> bool:
    """Take or renew the lease; True if `holder` leads until now + LEASE_FOR."""
    if db.get(SchedulerLease, LEASE) is None:
        try:
            with db.begin_nested():
                db.add(SchedulerLease(name=LEASE, holder=holder, expires_at=now + LEASE_FOR))
        except IntegrityError:
            pass  # another scheduler made it first
        else:
            db.commit()
            return True
    result = db.execute(
        update(SchedulerLease)
        .where(
            SchedulerLease.name == LEASE,
            (SchedulerLease.holder == holder) | (SchedulerLease.expires_at < now),
        )
        .values(holder=holder, renewed_at=now, expires_at=now + LEASE_FOR)
        .execution_options(synchronize_session=False)
    )
    db.commit()
    return bool(result.rowcount)


def heartbeat_age(db: Session, *, now: datetime) -> float | None:
    """Seconds since the leading scheduler last renewed its lease (None: never ran)."""
    lease = db.get(SchedulerLease, LEASE)
    return None if lease is None else (now - lease.renewed_at).total_seconds()


# --- a tick --------------------------------------------------------------------------------


def _last_period(db: Session, job: str) -> str | None:
    return db.scalar(select(func.max(PeriodicRun.period)).where(PeriodicRun.job == job))


def schedule_due(db: Session, *, now: datetime) -> list[tuple[str, str]]:
    """Record every due period of every job with its outbox row; returns those recorded
    by this call (a period another scheduler recorded first is skipped)."""
    recorded: list[tuple[str, str]] = []
    orgs = list(db.scalars(select(Organisation).order_by(Organisation.id)))
    for job in JOBS:
        targets: list[tuple[str, Organisation | None, dict[str, Any]]] = (
            [(job.name, None, {})]
            if job.every is not None
            else [(f"{job.name}:{o.id}", o, {"org_id": o.id}) for o in orgs]
        )
        for key, org, extra in targets:
            for period in job.periods(now, _last_period(db, key), org):
                try:
                    with db.begin_nested():
                        db.add(PeriodicRun(job=key, period=period, started_at=now))
                        outbox.enqueue(
                            db,
                            job.task,
                            {**extra, "job": key, "period": period},
                            organisation_id=org.id if org else None,
                        )
                except IntegrityError:
                    continue  # another scheduler recorded this period first
                recorded.append((key, period))
    db.commit()
    return recorded


# A run recorded this long ago and still unfinished lost its task (a broker that restarted
# empty, a worker that died with it unacknowledged): enqueue it again; tasks are idempotent.
STALE_RUN = timedelta(minutes=15)


def requeue_stale(db: Session, *, now: datetime) -> list[tuple[str, str]]:
    """Enqueue again the unfinished runs of the last day whose task seems lost."""
    jobs = {job.name: job for job in JOBS}
    stale = list(
        db.scalars(
            select(PeriodicRun).where(
                PeriodicRun.finished_at.is_(None),
                PeriodicRun.started_at < now - STALE_RUN,
                PeriodicRun.started_at > now - timedelta(days=1),
            )
        )
    )
    again = []
    for run in stale:
        name, _, org_id = run.job.partition(":")
        job = jobs.get(name)
        if job is None:
            continue
        extra: dict[str, Any] = {"org_id": int(org_id)} if org_id else {}
        outbox.enqueue(
            db,
            job.task,
            {**extra, "job": run.job, "period": run.period},
            organisation_id=extra.get("org_id"),
        )
        run.started_at = now  # the next try waits another STALE_RUN
        again.append((run.job, run.period))
    db.commit()
    return again


def tick(db: Session, publish: outbox.Publish, *, holder: str, now: datetime) -> bool:
    """One beat: lead (or not), record due periods, relay the outbox. True if leading."""
    try:
        if not try_lead(db, holder, now=now):
            return False
        recorded = schedule_due(db, now=now)
        if recorded:
            logger.info("scheduled %s", ", ".join(f"{j}@{p}" for j, p in recorded))
        again = requeue_stale(db, now=now)
        if again:
            logger.warning("enqueued again (task lost?): %s", again)
        outbox.relay(db, publish, now=now)
        return True
    except Exception:
        db.rollback()
        logger.exception("scheduler tick failed")
        return False


def celery_publisher(celery: Any) -> outbox.Publish:
    """Publish by task name: through the broker, or run at once when Celery is eager."""

    def publish(task: str, args: dict[str, Any]) -> None:
        celery.tasks[task].apply_async(kwargs=args, retry=False)

    return publish


def run(app: Any, *, blocking: bool = True, tick_seconds: int = TICK_SECONDS) -> Any:
    """Start APScheduler with the one tick job (BlockingScheduler for `cadence scheduler`,
    BackgroundScheduler inside `cadence run`)."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    from portal.extensions import db

    holder = holder_name()
    celery = app.extensions["celery"]
    publish = celery_publisher(celery)
    # A line every tick, and one per in-process task, would bury what matters in the log.
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
    if celery.conf.task_always_eager:
        logging.getLogger("celery.app.trace").setLevel(logging.WARNING)

    def beat() -> None:
        from tenants.db import utcnow

        with app.app_context():
            tick(db.session, publish, holder=holder, now=utcnow())

    scheduler = (BlockingScheduler if blocking else BackgroundScheduler)(timezone="UTC")
    scheduler.add_job(
        beat,
        "interval",
        seconds=tick_seconds,
        id="cadence.tick",
        replace_existing=True,
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC),
    )
    logger.info("scheduler %s starting (tick every %ss)", holder, tick_seconds)
    scheduler.start()
    return scheduler
