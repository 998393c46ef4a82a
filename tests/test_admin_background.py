"""The admin's background-work page: queue depth (real Redis), the scheduler's heartbeat, the
outbox, and this organisation's deliveries and failures only."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import delete

from routines import models as m
from tasks import outbox
from tenants.db import utcnow
from tenants.models import SchedulerLease
from tenants.organisations import membership_for
from tests import routine_factories as f
from tests.conftest import sign_in

PATH = "/o/alpha/admin/background"


def _delivery(db, org, person, status: str, error: str | None = None, attempts: int = 1):  # type: ignore[no-untyped-def]
    with f.in_org(org):
        row = m.Delivery(
            kind="reminder" if status != "failed" else "digest",
            subject=f"test:{uuid.uuid4().hex[:8]}",
            membership_id=membership_for(db, person).id,
            channel="sms" if error else "in_app",
            status=status,
            not_before=utcnow() - timedelta(minutes=5),
            attempts=attempts,
            last_error=error,
        )
        db.add(row)
        db.flush()
        return row


def test_admins_see_their_own_deliveries_failures_and_the_shared_state(db, orgs, client):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    for status in ("sent", "sent", "pending", "skipped"):
        _delivery(db, alpha, alpha.carer, status)
    _delivery(db, alpha, alpha.carer, "failed", "no phone number for text messages", 1)
    _delivery(db, alpha, alpha.teacher, "failed", "Twilio refused the text (400): bad To", 6)
    _delivery(db, beta, beta.carer, "failed", "beta's own secret failure")
    _delivery(db, beta, beta.carer, "sent")
    db.execute(delete(SchedulerLease))
    db.add(
        SchedulerLease(
            name="scheduler",
            holder="worker-7:4242",
            renewed_at=utcnow() - timedelta(seconds=4),
            expires_at=utcnow() + timedelta(seconds=26),
        )
    )
    outbox.enqueue(db, "routines.sweep", {}, organisation_id=None)
    db.commit()

    sign_in(client, "admin@alpha.example")
    response = client.get(PATH)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Tasks run in-process" in html  # no REDIS_URL in the test app
    assert "worker-7:4242" in html and "leading" in html
    assert "Last heartbeat 4 s ago" in html or "Last heartbeat 5 s ago" in html
    assert "1 message waiting" in html
    for status, count in {"sent": 2, "pending": 1, "skipped": 1, "failed": 2, "sending": 0}.items():
        assert f'id="status-{status}">{count}</td>' in html
    assert "no phone number for text messages" in html
    assert "Twilio refused the text (400): bad To" in html
    assert "alpha carer &lt;carer@alpha.example&gt;" in html
    assert "Daily digest" in html and "Text message" in html
    assert "beta&#39;s own secret failure" not in html and "beta's own" not in html
    assert "Background work</a>" in html  # the tab in the admin nav


def test_a_stopped_scheduler_and_no_scheduler_at_all_are_said_plainly(db, orgs, client):  # type: ignore[no-untyped-def]
    db.execute(delete(SchedulerLease))
    db.commit()
    sign_in(client, "admin@alpha.example")
    assert "No scheduler has run yet" in client.get(PATH).get_data(as_text=True)
    db.add(
        SchedulerLease(
            name="scheduler",
            holder="old-host:1",
            renewed_at=utcnow() - timedelta(minutes=10),
            expires_at=utcnow() - timedelta(minutes=9),
        )
    )
    db.commit()
    html = client.get(PATH).get_data(as_text=True)
    assert "not running" in html and "old-host:1" in html


def test_only_admins_of_the_organisation_see_it(db, orgs, client):  # type: ignore[no-untyped-def]
    sign_in(client, "clinician@alpha.example")
    assert client.get(PATH).status_code == 403
    other = client.application.test_client()
    sign_in(other, "admin@beta.example")
    assert other.get(PATH).status_code == 404
    assert other.get("/o/beta/admin/background").status_code == 200
    anonymous = client.application.test_client()
    assert anonymous.get(PATH).status_code in (302, 401)


def test_queue_depth_is_read_from_redis(db, orgs, client, app, redis_url, monkeypatch):  # type: ignore[no-untyped-def]
    import redis

    queue = f"cadence-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setitem(app.config, "REDIS_URL", redis_url)
    monkeypatch.setitem(app.extensions["celery"].conf, "task_default_queue", queue)
    store = redis.Redis.from_url(redis_url)
    try:
        store.rpush(queue, "a", "b", "c")
        sign_in(client, "admin@alpha.example")
        html = client.get(PATH).get_data(as_text=True)
        assert f"3 tasks waiting in queue “{queue}”" in html
    finally:
        store.delete(queue)
        store.close()


def test_an_unreachable_redis_is_reported_not_raised(db, orgs, client, app, monkeypatch):  # type: ignore[no-untyped-def]
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setitem(app.config, "REDIS_URL", f"redis://127.0.0.1:{port}/0")
    sign_in(client, "admin@alpha.example")
    response = client.get(PATH)
    assert response.status_code == 200
    assert "Redis could not be reached" in response.get_data(as_text=True)


@pytest.mark.parametrize("email", ["carer@alpha.example", "teacher@alpha.example"])
def test_carers_and_teachers_are_refused(db, orgs, client, email):  # type: ignore[no-untyped-def]
    sign_in(client, email)
    assert client.get(PATH).status_code == 403
