"""Today without a connection, in a real browser: a carer opens Today, the connection drops,
they log two routines, the page shows them waiting (and still opens from the service
worker's copy), the connection returns, and each log reaches the server exactly once."""

from __future__ import annotations

from datetime import time, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from routines import models as m
from routines.recurrence import local_to_utc
from tenants.context import tenant_context
from tenants.db import utcnow
from tenants.demo import seed_demo_organisation
from tenants.models import ApiToken
from tests import routine_factories as f
from tests.e2e.test_browser import (  # noqa: F401  (fixtures)
    ARTIFACTS,
    DEMO_PASSWORD,
    browser,
    console,
    live_server,
    new_page,
)

pytestmark = pytest.mark.e2e

LONDON = ZoneInfo("Europe/London")
ROUTINES = ("07:30", "12:00", "16:00", "19:30")


def _seed_today(server) -> tuple[int, int, list[int]]:  # type: ignore[no-untyped-def]
    """Robin, on Sam Taylor's (carer@riverside) care team, with four home routines today."""
    db = server.app.extensions["cadence.db"]
    today = utcnow().astimezone(LONDON).date()
    try:
        seeded = seed_demo_organisation(db.session, slug="riverside", password=DEMO_PASSWORD)
        org = SimpleNamespace(slug="riverside", **seeded.people)
        with tenant_context(seeded.org.id):
            fam = f.child(db.session, org, name="Robin", household="Taylor household")
            items = [
                f.item(
                    f.activity(db.session, name),
                    frequency={"days": f.EVERY_DAY, "mode": "times", "times": [clock]},
                )
                for name, clock in zip(
                    ("Rocking", "Drumming", "Swinging", "Bedtime story"), ROUTINES, strict=True
                )
            ]
            f.publish(
                db.session,
                fam.child,
                items,
                effective_from=today - timedelta(days=1),
                now=local_to_utc(today, time(0, 0), LONDON),
            )
            occurrence_ids = list(
                db.session.scalars(
                    select(m.Occurrence.id)
                    .where(m.Occurrence.child_id == fam.child.id, m.Occurrence.local_date == today)
                    .order_by(m.Occurrence.due_at)
                )
            )
            child_id = fam.child.id
        org_id = seeded.org.id
        db.session.commit()
    finally:
        db.session.remove()
    assert len(occurrence_ids) == len(ROUTINES)
    return org_id, child_id, occurrence_ids


def _logs(server, org_id: int, child_id: int) -> list[m.RoutineLog]:  # type: ignore[no-untyped-def]
    db = server.app.extensions["cadence.db"]
    try:
        with tenant_context(org_id):
            rows = list(
                db.session.scalars(
                    select(m.RoutineLog)
                    .where(m.RoutineLog.child_id == child_id)
                    .order_by(m.RoutineLog.occurrence_id)
                )
            )
            for row in rows:
                db.session.expunge(row)
            return rows
    finally:
        db.session.remove()


def _rename(server, org_id: int, child_id: int, name: str) -> None:  # type: ignore[no-untyped-def]
    db = server.app.extensions["cadence.db"]
    try:
        with tenant_context(org_id):
            db.session.get(m.Child, child_id).preferred_name = name
            db.session.commit()
    finally:
        db.session.remove()


def _revoke_tokens(server) -> None:  # type: ignore[no-untyped-def]
    db = server.app.extensions["cadence.db"]
    try:
        revoked = db.session.execute(update(ApiToken).values(revoked_at=utcnow()))
        assert revoked.rowcount == 1
        db.session.commit()
    finally:
        db.session.remove()


def _live_tokens(server) -> int:  # type: ignore[no-untyped-def]
    db = server.app.extensions["cadence.db"]
    try:
        return len(db.session.scalars(select(ApiToken).where(ApiToken.revoked_at.is_(None))).all())
    finally:
        db.session.remove()


_HAS_TOKEN = """() => new Promise((resolve) => {
  const open = indexedDB.open("cadence-today", 1);
  open.onsuccess = () => {
    const tx = open.result.transaction("tokens", "readonly");
    const count = tx.objectStore("tokens").count();
    count.onsuccess = () => resolve(count.result > 0);
    count.onerror = () => resolve(false);
  };
  open.onerror = () => resolve(false);
})"""


def test_logs_made_offline_wait_on_the_device_and_arrive_once(browser, live_server, console):  # type: ignore[no-untyped-def]  # noqa: F811
    from playwright.sync_api import expect

    org_id, child_id, occurrence_ids = _seed_today(live_server)
    page = new_page(
        browser,
        live_server,
        console,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        service_workers="allow",
    )
    context = page.context
    page.goto("/auth/sign-in")
    page.get_by_label("Email").fill("carer@riverside.example")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Today").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")
    expect(page.get_by_role("heading", name="Robin Ashdown")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), (
        "Today scrolls sideways on a phone"
    )

    # The page is ready for offline use: a device token, and a service worker in control.
    page.wait_for_function(_HAS_TOKEN, polling=100)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", polling=100)

    first, second = (page.locator(f"#occ-{i}") for i in occurrence_ids[:2])
    context.set_offline(True)
    expect(page.locator("#offline-note")).to_be_visible()

    first.get_by_role("button", name="Done", exact=True).click()
    expect(first.locator("[data-sync]")).to_have_text("Waiting to send")
    second.get_by_text("Partly, skipped or details").click()
    second.get_by_label("Refused").check()
    second.get_by_role("button", name="Skipped", exact=True).click()
    expect(second.locator("[data-sync]")).to_have_text("Waiting to send")
    expect(page.locator("#sync-banner")).to_contain_text("2 logs waiting to send")
    assert _logs(live_server, org_id, child_id) == []

    # Opening Today again without a connection: the service worker's copy (not the server,
    # where the child is now called Robbie), and the queue.
    _rename(live_server, org_id, child_id, "Robbie")
    page.reload()
    expect(page.get_by_role("heading", name="Robin Ashdown")).to_be_visible()
    expect(page.locator("#sync-banner")).to_contain_text("2 logs waiting to send")
    expect(first.locator("[data-sync]")).to_have_text("Waiting to send")
    expect(second.locator("[data-sync]")).to_have_text("Waiting to send")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "today-offline-phone.png"), full_page=True)

    context.set_offline(False)
    expect(page.locator("#sync-banner")).to_have_text("All logs sent", timeout=15_000)
    expect(first.locator("[data-sync]")).to_have_text("Sent")
    expect(first.locator("[data-status]")).to_have_text("Done")
    expect(second.locator("[data-status]")).to_have_text("Skipped")

    stored = _logs(live_server, org_id, child_id)
    assert [(log.occurrence_id, log.status, log.reason) for log in stored] == [
        (occurrence_ids[0], "done", None),
        (occurrence_ids[1], "skipped", "refused"),
    ]
    assert {log.source for log in stored} == {"api"}
    assert len({log.client_uuid for log in stored}) == 2

    # A fresh page from the server shows them logged; nothing is queued or sent twice.
    page.reload()
    expect(page.get_by_role("heading", name="Robbie Ashdown")).to_be_visible()
    expect(page.locator("#sync-banner")).to_be_hidden()
    expect(first.locator(".occ-log")).to_contain_text("Done")
    expect(second.locator(".occ-log")).to_contain_text("Skipped (refused)")
    assert len(_logs(live_server, org_id, child_id)) == 2

    # The device token is revoked (say, from the profile page): the next send gets 401, the
    # page fetches a new token with its session and the log still arrives.
    _revoke_tokens(live_server)
    third = page.locator(f"#occ-{occurrence_ids[2]}")
    third.get_by_role("button", name="Done", exact=True).click()
    expect(third.locator("[data-sync]")).to_have_text("Sent")
    assert len(_logs(live_server, org_id, child_id)) == 3
    assert _live_tokens(live_server) == 1  # the new one
    console.assert_no_csp_violations()
