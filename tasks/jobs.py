"""Celery tasks: thin, idempotent, named; each loads by id, sets its own tenant context and
calls routines/. The scheduler only enqueues these (through the outbox)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from celery import shared_task
from flask import current_app
from sqlalchemy import select, update

from portal.extensions import db
from routines import alerts, deliveries, digests, missed, occurrences, reminders, rollups
from tasks.channels.registry import senders
from tenants.context import tenant_context
from tenants.db import utcnow
from tenants.models import Organisation, PeriodicRun

logger = logging.getLogger(__name__)


def _base_url() -> str:
    return current_app.config.get("PUBLIC_URL") or "http://127.0.0.1:5000"


def _finish(job: str | None, period: str | None, outcome: str) -> None:
    if job and period:
        db.session.execute(
            update(PeriodicRun)
            .where(PeriodicRun.job == job, PeriodicRun.period == period)
            .values(finished_at=utcnow(), outcome=outcome[:2000])
        )
        db.session.commit()


def _organisations() -> list[int]:
    ids = list(db.session.scalars(select(Organisation.id).order_by(Organisation.id)))
    db.session.commit()
    return ids


def _in_each_organisation(work: Callable[[], int]) -> int:
    """Run `work` inside each organisation's tenant context, one transaction each, and add
    up what it returns."""
    total = 0
    for org_id in _organisations():
        with tenant_context(org_id):
            total += work()
            db.session.commit()
    return total


@shared_task(name="routines.sweep")
def sweep(job: str | None = None, period: str | None = None) -> dict[str, int]:
    """Plan the reminders of routines coming due, then claim due deliveries and hand each
    to its own short task."""
    now = utcnow()
    planned = _in_each_organisation(lambda: len(reminders.plan(db.session, now=now).rows))
    claimed = deliveries.claim_due(db.session, now=now)
    db.session.commit()
    # Through this Flask app's own Celery app (a process may hold several, as tests do).
    send = current_app.extensions["celery"].tasks["routines.send_delivery"]
    for tenant_id, delivery_id in claimed:
        send.apply_async(kwargs={"tenant_id": tenant_id, "delivery_id": delivery_id})
    _finish(job, period, f"planned {planned}, claimed {len(claimed)}")
    return {"planned": planned, "claimed": len(claimed)}


@shared_task(name="routines.send_delivery")
def send_delivery(tenant_id: int, delivery_id: int) -> str:
    status = deliveries.deliver(
        db.session,
        tenant_id,
        delivery_id,
        now=utcnow(),
        senders=senders(current_app.config),
        base_url=_base_url(),
    )
    db.session.commit()
    return status


@shared_task(name="routines.mark_missed")
def mark_missed(job: str | None = None, period: str | None = None) -> int:
    now = utcnow()
    total = _in_each_organisation(lambda: missed.mark_missed(db.session, now=now))
    _finish(job, period, f"marked {total} missed")
    return total


@shared_task(name="routines.extend_horizon")
def extend_horizon(org_id: int, job: str | None = None, period: str | None = None) -> int:
    with tenant_context(org_id):
        count = occurrences.extend_horizon(db.session, now=utcnow())
        db.session.commit()
    _finish(job, period, f"materialised {count} children")
    return count


@shared_task(name="routines.plan_digests")
def plan_digests(job: str | None = None, period: str | None = None) -> int:
    """Plan the digests due in the next two hours, in every organisation (idempotent)."""
    now = utcnow()
    total = _in_each_organisation(lambda: digests.plan_digests(db.session, now=now))
    _finish(job, period, f"offered {total} digest rows")
    return total


@shared_task(name="routines.check_alerts")
def check_alerts(org_id: int, job: str | None = None, period: str | None = None) -> dict[str, int]:
    """One organisation's night: adherence episodes and reassessment reminders."""
    now = utcnow()
    with tenant_context(org_id):
        # What is already missed first, so last night's routines count as the rule says.
        missed.mark_missed(db.session, now=now)
        adherence = alerts.check_adherence(db.session, now=now)
        due = alerts.check_reassessment_due(db.session, now=now)
        db.session.commit()
    _finish(
        job,
        period,
        f"adherence: {len(adherence.opened)} opened, {len(adherence.closed)} closed; "
        f"reassessment rows {due}",
    )
    return {"opened": len(adherence.opened), "closed": len(adherence.closed), "reassessment": due}


@shared_task(name="routines.roll_up_adherence")
def roll_up_adherence(
    org_id: int, job: str | None = None, period: str | None = None
) -> dict[str, object]:
    """One organisation's night: bring its adherence rollups up to yesterday (the new day and
    every earlier day that changed). Idempotent: a repeat rebuilds the same rows."""
    now = utcnow()
    with tenant_context(org_id):
        missed.mark_missed(db.session, now=now)
        built = rollups.roll_up(db.session, now=now)
        db.session.commit()
    _finish(job, period, f"rolled up through {built.through.isoformat()}: {built.rows} rows")
    return {"through": built.through.isoformat(), "rows": built.rows}
