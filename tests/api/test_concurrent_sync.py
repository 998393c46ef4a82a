"""The same batch of 500 logs sent 5 times at once, as a phone retrying over a bad
connection might: PostgreSQL stores each log exactly once, every answer is 200 with 201 or
200 per item, never a 5xx; then a changed payload under a used UUID gets 409.

Concurrent requests need committed data that other connections can see, so this test has
a database of its own (the shared one is rolled back per test and its session is bound to
one connection), dropped at the end."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from routines import models as m
from tenants.context import tenant_context
from tenants.db import utcnow
from tests import services
from tests.api.conftest import EVERY_HALF_HOUR, bearer, kid_with_plan, token_for
from tests.conftest import make_org, make_test_app

pytestmark = pytest.mark.postgres_only

COPIES = 5
BATCH = 500


@pytest.fixture
def own_app(db_kind: str, tmp_path: Path, redis_url: str) -> Iterator[Flask]:
    database = services.provision(db_kind, tmp_path)
    application = make_test_app(database.app_url, tmp_path / "instance", redis_url)
    try:
        yield application
    finally:
        application.extensions["cadence.db"].dispose()
        database.drop()


def _send_at_once(app: Flask, secret: str, body: dict) -> list[tuple[int, dict]]:  # type: ignore[type-arg]
    barrier = threading.Barrier(COPIES)
    answers: list[tuple[int, dict]] = []  # type: ignore[type-arg]
    failures: list[BaseException] = []
    lock = threading.Lock()

    def send() -> None:
        client = app.test_client()
        try:
            barrier.wait(timeout=30)
            response = client.post("/api/v1/logs", json=body, headers=bearer(secret))
            with lock:
                answers.append((response.status_code, response.get_json()))
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            with lock:
                failures.append(error)

    threads = [threading.Thread(target=send, name=f"copy-{n}") for n in range(COPIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    assert len(answers) == COPIES
    return answers


def test_five_concurrent_copies_of_a_batch_store_each_log_once(own_app: Flask) -> None:
    session = own_app.extensions["cadence.db"].session
    try:
        org = make_org(session, "sync-" + uuid.uuid4().hex[:8])
        kids = [
            kid_with_plan(session, org, name=name, times=EVERY_HALF_HOUR, days_back=2,
                          horizon_days=7)
            for name in ("Robin", "Sasha")
        ]  # fmt: skip
        org_id = org.id
        secret = token_for(session, org, org.carer)
        now = utcnow()
        with tenant_context(org_id):
            usable = session.scalars(
                select(m.Occurrence.id)
                .where(
                    m.Occurrence.child_id.in_([k.id for k in kids]),
                    m.Occurrence.side == "home",
                    m.Occurrence.due_at <= now + timedelta(days=6),
                )
                .order_by(m.Occurrence.id)
            ).all()
    finally:
        session.remove()
    assert len(usable) >= BATCH
    states = ["calm", "alert", "alarm", "fear", "terror"]
    logs = [
        {
            "client_uuid": str(uuid.uuid4()),
            "occurrence_id": occurrence_id,
            "status": ("done", "partly", "skipped")[n % 3],
            "reason": "no_time" if n % 3 == 2 else None,
            "state_before": states[n % 5],
            "enjoyment": 1 + n % 5,
            "note": f"Log {n}",
        }
        for n, occurrence_id in enumerate(usable[:BATCH])
    ]

    answers = _send_at_once(own_app, secret, {"logs": logs})

    assert [status for status, _ in answers] == [200] * COPIES, answers
    per_item = Counter(r["status"] for _, body in answers for r in body["results"])
    assert set(per_item) <= {200, 201}, per_item
    # Each log was created by exactly one of the copies; the others saw repeats of it.
    assert per_item[201] == BATCH
    assert per_item[200] == BATCH * (COPIES - 1)
    for _, body in answers:
        assert [r["client_uuid"] for r in body["results"]] == [x["client_uuid"] for x in logs]
    ids = {r["client_uuid"]: r["log"]["id"] for _, body in answers for r in body["results"]}
    assert len(set(ids.values())) == BATCH

    session = own_app.extensions["cadence.db"].session
    try:
        with tenant_context(org_id):
            assert session.scalar(select(func.count(m.RoutineLog.id))) == BATCH
            assert session.scalar(select(func.count(m.RoutineLog.client_uuid.distinct()))) == BATCH
    finally:
        session.remove()

    changed = {**logs[0], "note": "A different note"}
    client = own_app.test_client()
    response = client.post("/api/v1/logs", json={"logs": [changed]}, headers=bearer(secret))
    assert response.status_code == 200
    [result] = response.get_json()["results"]
    assert (result["status"], result["outcome"]) == (409, "conflict")
    assert result["error"]["field"] == "client_uuid"


def test_a_deadlock_with_another_transaction_is_retried_not_a_5xx(own_app: Flask, caplog) -> None:  # type: ignore[no-untyped-def]
    """Another transaction locks an occurrence the batch marks as logged, then inserts a log
    under one of the batch's UUIDs: PostgreSQL finds the deadlock and aborts the batch's
    transaction, which createLogs runs again once the way is clear."""
    import logging
    import time

    from sqlalchemy import text, update
    from sqlalchemy.dialects.postgresql import insert

    database = own_app.extensions["cadence.db"]
    session = database.session
    try:
        org = make_org(session, "deadlock-" + uuid.uuid4().hex[:8])
        kid = kid_with_plan(session, org, times=["07:30", "19:30"], days_back=1, horizon_days=3)
        org_id, carer_id = org.id, org.carer.id
        secret = token_for(session, org, org.carer)
    finally:
        session.remove()
    first, second = kid.occurrence_ids[:2]
    logs = [
        {"client_uuid": str(uuid.uuid4()), "occurrence_id": first, "status": "done"},
        {"client_uuid": str(uuid.uuid4()), "occurrence_id": second, "status": "done"},
    ]
    other = database.session_factory()
    answer: list[tuple[int, dict]] = []  # type: ignore[type-arg]
    caplog.set_level(logging.INFO, logger="portal.api.logs")
    try:
        with tenant_context(org_id):
            other.execute(
                update(m.Occurrence).where(m.Occurrence.id == first).values(updated_at=utcnow())
            )
            mine = other.scalar(text("SELECT pg_backend_pid()"))
            sender = threading.Thread(
                target=lambda: answer.append(_post_once(own_app, secret, {"logs": logs}))
            )
            sender.start()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # until the batch waits for our lock
                other.execute(text("SELECT pg_stat_clear_snapshot()"))  # a fresh view each time
                waiting = other.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE pid <> :me "
                        "AND wait_event_type = 'Lock' AND datname = current_database()"
                    ),
                    {"me": mine},
                )
                if waiting:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the batch never waited for the locked occurrence")
            # Now wait for the batch in turn: its uncommitted log holds this UUID.
            other.execute(
                insert(m.RoutineLog)
                .values(
                    tenant_id=org_id,
                    client_uuid=uuid.UUID(logs[1]["client_uuid"]),
                    payload_hash="0" * 64,
                    occurrence_id=second,
                    child_id=kid.id,
                    status="done",
                    note="",
                    source="web",
                    author_id=carer_id,
                    logged_at=utcnow(),
                )
                .on_conflict_do_nothing()
            )
            other.rollback()
    finally:
        other.close()
    sender.join(timeout=60)
    [(status, body)] = answer
    assert status == 200, body
    assert [r["status"] for r in body["results"]] == [201, 201]
    assert "attempt 1 met a concurrent batch" in caplog.text


def _post_once(app: Flask, secret: str, body: dict) -> tuple[int, dict]:  # type: ignore[type-arg]
    response = app.test_client().post("/api/v1/logs", json=body, headers=bearer(secret))
    return response.status_code, response.get_json()
