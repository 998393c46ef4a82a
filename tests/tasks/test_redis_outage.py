"""Stop Redis for a minute while carers post logs: every log is stored once, no request waits
on Redis for as much as a second, the scheduler keeps ticking (its periods are recorded and
wait in the outbox), and once Redis is back the reminders that fell due meanwhile are each
sent once.

Redis here is a private server that comes back empty, as a Redis without persistence
would: whatever the broker held is gone, and only the database (outbox rows, periodic runs,
occurrences) carries the work across. CADENCE_OUTAGE_SECONDS shortens the outage for a
quick local run (CI uses the full 60 seconds)."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from routines import models as m
from tasks import outbox, scheduler
from tenants.context import tenant_context
from tenants.db import utcnow
from tenants.models import PeriodicRun
from tenants.organisations import membership_for
from tests import routine_factories as f
from tests.api.conftest import EVERY_HALF_HOUR, bearer, kid_with_plan, second_carer, token_for
from tests.conftest import PASSWORD, csrf_token, make_org, sign_in
from tests.tasks.workers import Stack, stack, wait_for

pytestmark = [pytest.mark.postgres_only, pytest.mark.private_redis]

logger = logging.getLogger(__name__)

OUTAGE_SECONDS = float(os.environ.get("CADENCE_OUTAGE_SECONDS", "60"))
REQUEST_BUDGET = 1.0  # no request may wait on Redis this long
TICK_BUDGET = 3.0  # a tick gives up on the broker after its 2 s connection timeout
PACE = 0.15  # seconds between one poster's requests
LOGGING_CHILDREN = 5
ZONE = "Europe/London"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with stack(tmp_path_factory.mktemp("redis-outage")) as running:
        yield running


@dataclass
class World:
    slug: str
    org_id: int
    secret: str  # the carer's API token
    carer_email: str
    to_log: deque[int]  # future home occurrences, each logged at most once
    reminded_kid: int  # a child whose routines come due every minute around the outage


@dataclass
class Timed:
    what: str
    started: float
    seconds: float
    status: int
    items: list[int] = field(default_factory=list)


def _world(app: Flask, outage_ends: datetime) -> World:
    """An organisation whose carer logs (API token and a signed-in browser) for five
    children with routines every half hour, reminders off; and a second carer with in-app
    and email reminders for a child whose routine is due every minute from just before the
    outage to just after it."""
    session = app.extensions["cadence.db"].session
    try:
        org = make_org(session, "outage-" + uuid.uuid4().hex[:8])
        reminded = second_carer(session, org)
        kids = [
            kid_with_plan(
                session, org, name=f"Kid{n}", times=EVERY_HALF_HOUR, days_back=1, horizon_days=8
            )
            for n in range(LOGGING_CHILDREN)
        ]
        secret = token_for(session, org, org.carer)
        now = utcnow()
        with f.in_org(org):
            session.add_all(
                [
                    m.NotificationPreference(
                        membership_id=membership_for(session, org.carer).id, channels=[]
                    ),
                    m.NotificationPreference(
                        membership_id=membership_for(session, reminded).id,
                        channels=["in_app", "email"],
                    ),
                ]
            )
            fam = f.child(
                session,
                org,
                name="Minute",
                time_zone=ZONE,
                carer=reminded,
                school=None,
                classroom=None,
            )
            zone = ZoneInfo(ZONE)
            first = (now - timedelta(minutes=2)).astimezone(zone).replace(second=0, microsecond=0)
            minutes = int((outage_ends - now).total_seconds() // 60) + 4
            times = sorted(
                {(first + timedelta(minutes=k)).strftime("%H:%M") for k in range(minutes)}
            )
            f.publish(
                session,
                fam.child,
                [
                    f.item(
                        f.activity(session, "Swinging"),
                        frequency={"days": f.EVERY_DAY, "mode": "times", "times": times},
                    )
                ],
                now=now - timedelta(days=1),
                horizon_days=3,
            )
            # Far enough ahead that no reminder is planned for them during the test.
            to_log = session.scalars(
                select(m.Occurrence.id)
                .where(
                    m.Occurrence.child_id.in_([k.id for k in kids]),
                    m.Occurrence.side == "home",
                    m.Occurrence.due_at > now + timedelta(hours=2),
                    m.Occurrence.due_at < now + timedelta(days=6, hours=12),
                )
                .order_by(m.Occurrence.due_at, m.Occurrence.id)
            ).all()
            world = World(
                org.slug,
                org.id,
                secret,
                org.carer.email,
                deque(to_log),
                fam.child.id,
            )
        session.commit()
        return world
    finally:
        session.remove()


class Posters:
    """Two carers' devices logging routines as fast as people plausibly would: the phone
    app through the API (two logs a request), and a browser through the Today form."""

    def __init__(self, app: Flask, world: World, browser: FlaskClient) -> None:
        self.app, self.world, self.browser = app, world, browser
        self.timings: list[Timed] = []
        self.posted: dict[str, int] = {}  # client_uuid -> occurrence id
        self.failures: list[BaseException] = []
        self._lock = threading.Lock()
        self._form_token = csrf_token(browser, f"/o/{world.slug}/today")

    def _take(self, n: int) -> list[int]:
        taken = []
        for _ in range(n):
            try:
                taken.append(self.world.to_log.popleft())
            except IndexError:
                break
        return taken

    def api_once(self, client: FlaskClient) -> bool:
        batch = self._take(2)
        if not batch:
            return False
        logs = [
            {"client_uuid": str(uuid.uuid4()), "occurrence_id": occ, "status": "done"}
            for occ in batch
        ]
        started = time.monotonic()
        response = client.post(
            "/api/v1/logs", json={"logs": logs}, headers=bearer(self.world.secret)
        )
        seconds = time.monotonic() - started
        body = response.get_json(silent=True) or {}
        with self._lock:
            self.posted.update({log["client_uuid"]: log["occurrence_id"] for log in logs})
            self.timings.append(
                Timed(
                    "api",
                    started,
                    seconds,
                    response.status_code,
                    [r.get("status") for r in body.get("results", [])],
                )
            )
        return True

    def form_once(self) -> bool:
        batch = self._take(1)
        if not batch:
            return False
        client_uuid = str(uuid.uuid4())
        data = {
            "csrf_token": self._form_token,
            "client_uuid": client_uuid,
            "occurrence_id": str(batch[0]),
            "status": "done",
        }
        started = time.monotonic()
        response = self.browser.post(f"/o/{self.world.slug}/today/log", data=data)
        seconds = time.monotonic() - started
        with self._lock:
            self.posted[client_uuid] = batch[0]
            self.timings.append(Timed("form", started, seconds, response.status_code))
        return True

    def run_until(self, deadline: float) -> list[threading.Thread]:
        def loop(once: Any) -> None:
            try:
                while time.monotonic() < deadline:
                    if not once():
                        raise AssertionError("ran out of routines to log")
                    time.sleep(PACE)
            except BaseException as error:  # noqa: BLE001 - reported by the test
                with self._lock:
                    self.failures.append(error)

        api_client = self.app.test_client()
        threads = [
            threading.Thread(target=loop, args=(lambda: self.api_once(api_client),), name="api"),
            threading.Thread(target=loop, args=(self.form_once,), name="form"),
        ]
        for thread in threads:
            thread.start()
        return threads


def _tick(app: Flask, publish: outbox.Publish, timings: list[Timed], what: str) -> None:
    session = app.extensions["cadence.db"].session
    started = time.monotonic()
    try:
        leading = scheduler.tick(session, publish, holder="outage-test", now=utcnow())
    finally:
        session.remove()
    timings.append(Timed(what, started, time.monotonic() - started, 1 if leading else 0))


def _query(app: Flask, build: Any) -> Any:
    session = app.extensions["cadence.db"].session
    try:
        return build(session)
    finally:
        session.remove()


def _waiting(app: Flask) -> int:
    return _query(app, outbox.waiting_count)


def _reminders(app: Flask, world: World) -> list[m.Delivery]:
    def build(session):  # type: ignore[no-untyped-def]
        with tenant_context(world.org_id):
            rows = session.scalars(select(m.Delivery).order_by(m.Delivery.id)).all()
            session.expunge_all()
            return rows

    return _query(app, build)


def _due_occurrences(app: Flask, world: World, until: datetime) -> list[int]:
    def build(session):  # type: ignore[no-untyped-def]
        with tenant_context(world.org_id):
            return session.scalars(
                select(m.Occurrence.id).where(
                    m.Occurrence.child_id == world.reminded_kid,
                    m.Occurrence.due_at <= until,
                    m.Occurrence.due_at >= until - timedelta(hours=1),
                )
            ).all()

    return _query(app, build)


def _periods(app: Flask, start: datetime, end: datetime, *, unfinished: bool = False) -> list[str]:
    """ "job@period" of the periodic runs the scheduler recorded between start and end
    (only those whose task has not finished yet, with unfinished=True)."""
    query = select(PeriodicRun.job + "@" + PeriodicRun.period).where(
        PeriodicRun.started_at >= start, PeriodicRun.started_at < end
    )
    if unfinished:
        query = query.where(PeriodicRun.finished_at.is_(None))
    return _query(app, lambda session: session.scalars(query).all())


def _all_sent(app: Flask, world: World, occurrence_ids: list[int]) -> bool:
    sent = {
        (d.occurrence_id, d.channel)
        for d in _reminders(app, world)
        if d.kind == "reminder" and d.status == "sent"
    }
    return all((o, c) in sent for o in occurrence_ids for c in ("in_app", "email"))


def test_a_minute_without_redis_loses_no_log_and_no_reminder(
    rig: Stack, record_property: pytest.RecordProperty
) -> None:
    app = rig.app
    world = _world(app, utcnow() + timedelta(seconds=OUTAGE_SECONDS + 30))
    assert len(world.to_log) > 3 * OUTAGE_SECONDS / PACE + 20
    browser = app.test_client()
    assert sign_in(browser, world.carer_email).status_code == 302
    posters = Posters(app, world, browser)
    publish = scheduler.celery_publisher(app.extensions["celery"])
    ticks: list[Timed] = []

    # Before: everything up. No worker runs yet, so what the first tick publishes sits in
    # Redis, and is lost with it.
    assert posters.api_once(app.test_client()) and posters.form_once()
    _tick(app, publish, ticks, "before")
    assert _waiting(app) == 0

    # The outage.
    rig.redis.stop()
    stopped_at = utcnow()
    outage_start = time.monotonic()
    deadline = outage_start + OUTAGE_SECONDS
    threads = posters.run_until(deadline)
    # Signing in and making a token are rate-limited through Redis: they fail open.
    newcomer = app.test_client()
    form = {"email": world.carer_email, "password": PASSWORD, "csrf_token": csrf_token(newcomer)}
    started = time.monotonic()
    signed_in = newcomer.post("/auth/sign-in", data=form)
    limited = [Timed("sign-in", started, time.monotonic() - started, signed_in.status_code)]
    started = time.monotonic()
    token = newcomer.post(
        "/api/v1/tokens",
        json={"email": world.carer_email, "password": PASSWORD, "organisation": world.slug},
    )
    limited.append(Timed("token", started, time.monotonic() - started, token.status_code))
    while time.monotonic() < deadline:
        _tick(app, publish, ticks, "outage")
        time.sleep(max(0.0, min(2.0, deadline - time.monotonic())))
    for thread in threads:
        thread.join(timeout=30)
    recorded_in_outage = _periods(app, stopped_at, utcnow())
    waiting_at_end = _waiting(app)

    # Redis comes back empty; a worker starts; the scheduler carries on.
    rig.redis.start()
    restarted_at = utcnow()
    worker = rig.worker("after").start()
    try:
        worker.wait_ready()
        due = _due_occurrences(app, world, restarted_at)

        def drained() -> bool:
            _tick(app, publish, ticks, "after")
            return _waiting(app) == 0 and _all_sent(app, world, due)

        # A period that started during the outage is relayed at once; with a short outage
        # the next sweep may be up to a minute away.
        assert wait_for(drained, timeout=90, every=1.0), (
            _waiting(app),
            [(d.occurrence_id, d.channel, d.status) for d in _reminders(app, world)],
        )
        # Every period recorded during the outage ran to its end once Redis was back.
        assert wait_for(
            lambda: not _periods(app, stopped_at, restarted_at, unfinished=True), timeout=60
        ), _periods(app, stopped_at, restarted_at, unfinished=True)
        # Let any sweep still queued finish before looking for a second send.
        wait_for(lambda: rig.redis.queue_length() == 0, timeout=30)
        time.sleep(1)
    finally:
        worker.stop()
    assert "ERROR/" not in worker.log(), worker.log()[-5000:]

    # --- every log stored exactly once, every answer prompt --------------------------
    assert not posters.failures, posters.failures
    during = [t for t in posters.timings if t.started >= outage_start]
    at_least = int(OUTAGE_SECONDS / (PACE + REQUEST_BUDGET))  # each poster kept posting
    assert len([t for t in during if t.what == "api"]) >= at_least
    assert len([t for t in during if t.what == "form"]) >= at_least
    assert Counter(t.status for t in posters.timings if t.what == "api") == {
        200: len([t for t in posters.timings if t.what == "api"])
    }
    assert {s for t in posters.timings for s in t.items} == {201}
    assert {t.status for t in posters.timings if t.what == "form"} == {303}
    slowest = max(posters.timings + limited, key=lambda t: t.seconds)
    record_property("slowest_request", f"{slowest.what} {slowest.seconds:.3f}s")
    assert slowest.seconds < REQUEST_BUDGET, slowest

    def stored(session):  # type: ignore[no-untyped-def]
        with tenant_context(world.org_id):
            return session.execute(
                select(m.RoutineLog.client_uuid, m.RoutineLog.occurrence_id)
            ).all()

    logs = _query(app, stored)
    assert len(logs) == len(posters.posted)
    assert {str(u): o for u, o in logs} == posters.posted

    # --- the rate-limited routes failed open -----------------------------------------
    assert [t.status for t in limited] == [302, 201], limited

    # --- the scheduler kept its rhythm and lost nothing ------------------------------
    outage_ticks = [t for t in ticks if t.what == "outage"]
    assert outage_ticks and all(t.status == 1 for t in ticks), ticks
    slowest_tick = max(ticks, key=lambda t: t.seconds)
    record_property("slowest_tick", f"{slowest_tick.what} {slowest_tick.seconds:.3f}s")
    assert slowest_tick.seconds < TICK_BUDGET, slowest_tick
    # What the outage recorded waited in the outbox, then ran.
    assert waiting_at_end == len(recorded_in_outage), recorded_in_outage
    if OUTAGE_SECONDS >= 60:
        assert any(r.startswith("sweep@") for r in recorded_in_outage)

    # --- the reminders due during the outage, each sent once -------------------------
    rows = _reminders(app, world)
    sent = [d for d in rows if d.status == "sent"]
    in_outage = [
        d for d in sent if d.kind == "reminder" and stopped_at <= d.not_before <= restarted_at
    ]
    if OUTAGE_SECONDS >= 60:
        assert len(in_outage) >= 2  # a minute's routine, in the app and by email
    assert all(d.sent_at is not None and d.sent_at >= restarted_at for d in in_outage)
    assert {d.status for d in rows if d.not_before <= restarted_at} == {"sent"}

    def notifications(session):  # type: ignore[no-untyped-def]
        with tenant_context(world.org_id):
            return Counter(session.scalars(select(m.Notification.delivery_id)).all())

    assert _query(app, notifications) == {d.id: 1 for d in sent if d.channel == "in_app"}
    assert rig.smtp.counts() == {
        f"<delivery-{world.org_id}-{d.id}@cadence.invalid>": 1 for d in sent if d.channel == "email"
    }
    logger.info(
        "outage of %ss: %s requests (slowest %.3fs), %s ticks (slowest %.3fs), %s reminders "
        "fell due in it",
        OUTAGE_SECONDS,
        len(posters.timings) + len(limited),
        slowest.seconds,
        len(ticks),
        slowest_tick.seconds,
        len(in_outage),
    )
