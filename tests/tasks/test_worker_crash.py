"""Kill -9 a Celery worker in the middle of sending 1,000 email reminders, start another:
every reminder reaches the SMTP server, and nothing is left unsent.

Real processes throughout: a private Redis as the broker, `celery -A tasks worker` (prefork,
two processes) as in production, aiosmtpd as the SMTP server, PostgreSQL.

Recovery does not come from the broker: a killed worker's unacknowledged tasks return only
after Redis's visibility timeout (an hour). It comes from the delivery rows: a row left
"sending" by the dead worker is claimed again once its claim lapses (CLAIM_FOR), which the
test reaches by running the next sweeps with the clock moved past it.

Duplicates: a worker killed after the SMTP server accepted a message but before its row was
committed as sent sends that message again (same Message-ID) when the claim lapses. At most
the messages in flight at the kill, so at most the worker's concurrency."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, insert, select

from routines import deliveries
from routines import models as m
from tenants.context import cross_tenant, tenant_context
from tenants.db import utcnow
from tenants.organisations import membership_for
from tests.api.conftest import EVERY_HALF_HOUR, kid_with_plan, second_carer
from tests.conftest import make_org
from tests.tasks.workers import Stack, stack, wait_for

pytestmark = [pytest.mark.postgres_only, pytest.mark.private_redis]

logger = logging.getLogger(__name__)

REMINDERS = 1000
KILL_AFTER = 300  # messages received before worker A is killed
CONCURRENCY = 2


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with stack(tmp_path_factory.mktemp("worker-crash")) as running:
        yield running


def _due_email_reminders(app: Flask, count: int) -> set[str]:
    """`count` email deliveries due now (reminders and nudges of a child's pending routines
    to five people of one organisation), committed; returns their Message-IDs."""
    session = app.extensions["cadence.db"].session
    try:
        org = make_org(session, "crash-" + uuid.uuid4().hex[:8])
        extra = second_carer(session, org)
        kid = kid_with_plan(session, org, times=EVERY_HALF_HOUR, days_back=1, horizon_days=3)
        people = [org.admin, org.clinician, org.carer, org.teacher, extra]
        kinds = ("reminder", "nudge")
        per_occurrence = len(people) * len(kinds)
        assert len(kid.occurrence_ids) * per_occurrence >= count
        now = utcnow()
        with tenant_context(org.id):
            members = [membership_for(session, person).id for person in people]
            session.add_all(
                m.NotificationPreference(membership_id=member, channels=["email"])
                for member in members
            )
            rows = [
                {
                    "tenant_id": org.id,
                    "kind": kind,
                    "subject": f"occurrence:{occurrence_id}",
                    "occurrence_id": occurrence_id,
                    "child_id": kid.id,
                    "membership_id": member,
                    "channel": "email",
                    "status": "pending",
                    "not_before": now - timedelta(minutes=1),
                    "attempts": 0,
                    "payload": {},
                }
                for occurrence_id in kid.occurrence_ids
                for member in members
                for kind in kinds
            ][:count]
            session.execute(insert(m.Delivery), rows)
            ids = session.scalars(select(m.Delivery.id)).all()
            session.commit()
            assert len(ids) == count
            return {_message_id(org.id, delivery_id) for delivery_id in ids}
    finally:
        session.remove()


def _sweep(app: Flask, *, now) -> int:  # type: ignore[no-untyped-def]
    """What routines.sweep does after planning: claim due rows in batches and hand each to
    its own routines.send_delivery task, through the broker. Returns how many were sent on."""
    send = app.extensions["celery"].tasks["routines.send_delivery"]
    session = app.extensions["cadence.db"].session
    total = 0
    try:
        while claimed := deliveries.claim_due(session, now=now, limit=200):
            session.commit()
            for tenant_id, delivery_id in claimed:
                send.apply_async(kwargs={"tenant_id": tenant_id, "delivery_id": delivery_id})
            total += len(claimed)
    finally:
        session.remove()
    return total


def _statuses(app: Flask) -> dict[str, int]:
    session = app.extensions["cadence.db"].session
    try:
        with cross_tenant("test: delivery states of every organisation"):
            rows = session.execute(
                select(m.Delivery.status, func.count(m.Delivery.id)).group_by(m.Delivery.status)
            ).all()
        return {status: n for status, n in rows}
    finally:
        session.remove()


def _unsent(app: Flask) -> list[tuple[int, int, str]]:
    """(tenant, id, status) of rows not yet sent."""
    session = app.extensions["cadence.db"].session
    try:
        with cross_tenant("test: unsent deliveries of every organisation"):
            rows = session.execute(
                select(m.Delivery.tenant_id, m.Delivery.id, m.Delivery.status).where(
                    m.Delivery.status != "sent"
                )
            ).all()
        return [tuple(r) for r in rows]  # type: ignore[misc]
    finally:
        session.remove()


def test_a_worker_killed_mid_batch_loses_no_reminder(
    rig: Stack, record_property: pytest.RecordProperty
) -> None:
    expected = _due_email_reminders(rig.app, REMINDERS)
    assert _sweep(rig.app, now=utcnow()) == REMINDERS
    assert rig.redis.queue_length() > REMINDERS - 10

    a = rig.worker("a", CONCURRENCY).start()
    b = rig.worker("b", CONCURRENCY)

    # The worst moment: the SMTP server has the 300th message and worker A has not yet heard
    # "250", let alone committed the row as sent.
    def kill_a_at(received: int) -> None:
        if received == KILL_AFTER:
            a.send_kill()

    rig.smtp.on_message = kill_a_at
    try:
        a.wait_ready()
        logger.info("worker A ready")
        assert wait_for(lambda: not a.alive(), timeout=120), a.log()[-3000:]
        a.kill()
        rig.smtp.on_message = None
        time.sleep(0.5)  # a message already in the server's buffers is still taken in
        received_at_kill = rig.smtp.counts()
        held_by_a = {_message_id(tenant, row) for tenant, row, _ in _unsent(rig.app)}
        # At the SMTP server but not committed as sent: these will go out a second time.
        in_flight = {mid for mid in received_at_kill if mid in held_by_a}
        assert KILL_AFTER <= received_at_kill.total() < KILL_AFTER + CONCURRENCY
        assert 1 <= len(in_flight) <= CONCURRENCY

        logger.info("worker A killed")
        b.start().wait_ready()
        logger.info("worker B ready")
        # Worker B takes what is still queued; what A held stays out of the queue (its
        # visibility timeout is an hour) and A's rows stay "sending", claimed.
        assert wait_for(lambda: rig.redis.queue_length() == 0, timeout=120), b.log()[-3000:]
        assert wait_for(_unchanging(rig.app), timeout=60, every=0.5), _statuses(rig.app)
        stranded = _statuses(rig.app)
        assert set(stranded) == {"sent", "sending"}, stranded
        # What A's two processes were sending, and at most one prefetched task each.
        assert len(in_flight) <= stranded["sending"] <= 2 * CONCURRENCY, stranded

        # The next sweeps, once the claims have lapsed, take those rows again.
        logger.info("worker B drained the queue")
        later = utcnow() + deliveries.CLAIM_FOR + timedelta(seconds=1)
        resent = _sweep(rig.app, now=later)
        assert resent == stranded["sending"]
        assert wait_for(lambda: not _unsent(rig.app), timeout=60, every=0.2), _unsent(rig.app)
    finally:
        rig.smtp.on_message = None
        a.kill()
        b.stop()
    assert "ERROR/" not in b.log(), b.log()[-5000:]

    assert _statuses(rig.app) == {"sent": REMINDERS}
    received = rig.smtp.counts()
    assert set(received) == expected, "every reminder reached the SMTP server"
    duplicates = {mid for mid, n in received.items() if n > 1}
    record_property("stranded_rows", stranded["sending"])
    record_property("in_flight_at_kill", len(in_flight))
    record_property("duplicates", len(duplicates))
    logger.info(
        "worker crash: %s rows stranded, %s in flight at the kill, %s duplicated",
        stranded["sending"],
        len(in_flight),
        len(duplicates),
    )
    # Exactly the messages in flight at the kill went out twice; every other one once.
    assert duplicates == in_flight
    assert max(received.values()) == 2
    assert received.total() == REMINDERS + len(in_flight)


def _message_id(tenant_id: int, delivery_id: int) -> str:
    return f"<delivery-{tenant_id}-{delivery_id}@cadence.invalid>"


def _unchanging(app: Flask):  # type: ignore[no-untyped-def]
    """A condition that holds once the rows' states are the same as at the last look."""
    seen: list[dict[str, int]] = []

    def check() -> bool:
        now = _statuses(app)
        same = bool(seen) and seen[-1] == now
        seen.append(now)
        return same

    return check
