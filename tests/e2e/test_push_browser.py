"""Web Push in a real browser: a carer turns push on from the reminder settings page, the
browser's own PushSubscription reaches the server, the service worker shows a pushed
reminder, and turning it off forgets the device on both sides.

Headless Chromium has no route to Google's push service here (no network, and
--disable-background-networking), so Chromium's GCM client is pointed at a small local
stand-in (its --gcm-checkin-url and --gcm-registration-url switches): checkin and
registration are answered locally, and subscribe() resolves with a real subscription made
by the browser (its own P-256 key pair and auth secret; an fcm.googleapis-style endpoint
with the token we gave). A push message is then delivered to the service worker through the
DevTools protocol (ServiceWorker.deliverPushMessage), as the push service would.

In Playwright's default contexts (incognito profiles) Chromium refuses push outright; the
second test checks the page says so clearly and stores nothing."""

from __future__ import annotations

import os
import re
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select

from routines.deliveries import Message
from routines.models import PushSubscription
from tasks.channels import push
from tenants.context import tenant_context
from tenants.models import Organisation, User
from tenants.organisations import membership_for
from tests.e2e.test_browser import (  # noqa: F401  (fixtures)
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    DEMO_PASSWORD,
    ConsoleWatch,
    browser,
    console,
    live_server,
    new_page,
)

pytestmark = pytest.mark.e2e

CARER = "carer@riverside.example"
SETTINGS = "/o/riverside/notifications/settings"


# --- a local stand-in for Chromium's push service (GCM checkin and registration) ------------


def _varint(n: int) -> bytes:
    out = b""
    while True:
        low, n = n & 0x7F, n >> 7
        if not n:
            return out + bytes([low])
        out += bytes([low | 0x80])


# AndroidCheckinResponse (protobuf): stats_ok = true, time_msec, android_id (fixed64),
# security_token (fixed64): all Chromium needs before it may register.
CHECKIN_RESPONSE = (
    b"\x08\x01"
    + b"\x18"
    + _varint(1_700_000_000_000)
    + b"\x39"
    + struct.pack("<Q", 4_242_424_242)
    + b"\x41"
    + struct.pack("<Q", 7_777_777_777)
)


@dataclass
class FakeGcm:
    base: str
    registrations: list[dict[str, str]] = field(default_factory=list)
    deletions: list[dict[str, str]] = field(default_factory=list)

    @property
    def switches(self) -> list[str]:
        return [
            f"--gcm-checkin-url={self.base}/checkin",
            f"--gcm-registration-url={self.base}/register",
            # Nothing listens here: the connection for incoming messages never comes up,
            # which registration does not need (pushes arrive through DevTools instead).
            "--gcm-mcs-endpoint=https://127.0.0.1:9",
        ]


@contextmanager
def fake_gcm() -> Iterator[FakeGcm]:
    state: dict[str, FakeGcm] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            gcm = state["gcm"]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.startswith("/checkin"):
                reply, kind = CHECKIN_RESPONSE, "application/x-protobuf"
            else:
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                if form.get("delete") == "true":
                    gcm.deletions.append(form)
                    reply = f"deleted={form.get('app', '')}".encode()
                else:
                    form["token"] = f"cadence-test-token-{len(gcm.registrations) + 1}"
                    gcm.registrations.append(form)
                    reply = f"token={form['token']}".encode()
                kind = "text/plain"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state["gcm"] = FakeGcm(f"http://127.0.0.1:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["gcm"]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


# --- helpers --------------------------------------------------------------------------------


def _configure_vapid(server) -> str:  # type: ignore[no-untyped-def]
    private, public = push.generate_vapid_keys()
    server.app.config.update(
        VAPID_PRIVATE_KEY=private, VAPID_PUBLIC_KEY=public, VAPID_SUBJECT="mailto:ops@x.example"
    )
    return public


def _subscriptions(server) -> list[PushSubscription]:  # type: ignore[no-untyped-def]
    db = server.app.extensions["cadence.db"]
    try:
        org = db.session.scalar(select(Organisation).where(Organisation.slug == "riverside"))
        user = db.session.scalar(select(User).where(User.email == CARER))
        with tenant_context(org.id):
            carer = membership_for(db.session, user)
            found = list(
                db.session.scalars(
                    select(PushSubscription).where(PushSubscription.membership_id == carer.id)
                )
            )
            for row in found:
                db.session.expunge(row)
            return found
    finally:
        db.session.remove()


def _sign_in_and_open_settings(page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.goto("/auth/sign-in")
    page.get_by_label("Email").fill(CARER)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/o/riverside/$"))
    page.goto(SETTINGS)
    expect(page.get_by_role("heading", name="Push notifications on this device")).to_be_visible()


_NOTIFICATIONS = """async () => {
  const registration = await navigator.serviceWorker.ready;
  const shown = await registration.getNotifications();
  return shown.map((n) => ({ title: n.title, body: n.body, url: n.data && n.data.url }));
}"""


_ACTIVE_STATE = """async () => {
  const registration = await navigator.serviceWorker.ready;
  return registration.active ? registration.active.state : null;
}"""


def _wait_until_activated(page) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 10
    while page.evaluate(_ACTIVE_STATE) != "activated":
        assert time.monotonic() < deadline, "the service worker never activated"
        page.wait_for_timeout(100)


def _wait_for_notifications(page, count: int) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    # (wait_for_function takes a Promise for a truthy answer, so poll from here.)
    deadline = time.monotonic() + 10
    while True:
        shown = page.evaluate(_NOTIFICATIONS)
        if len(shown) >= count or time.monotonic() > deadline:
            return sorted(shown, key=lambda n: n["title"])
        page.wait_for_timeout(100)


@pytest.fixture
def persistent_chromium(tmp_path: Path) -> Iterator[Any]:
    """Playwright and a fake GCM; the test launches Chromium with a profile on disk
    (push is refused in the incognito profiles of ordinary contexts)."""
    if not Path(CHROMIUM).exists():
        reason = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI") == "true" or os.environ.get("CADENCE_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason}; browser tests must run in CI")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, fake_gcm() as gcm:
        yield playwright, gcm, tmp_path / "profile"


# --- tests ----------------------------------------------------------------------------------


def test_a_carer_turns_push_on_and_the_browser_shows_a_pushed_reminder(  # type: ignore[no-untyped-def]
    persistent_chromium,
    live_server,  # noqa: F811
    console,  # noqa: F811
):
    from playwright.sync_api import expect

    playwright, gcm, profile = persistent_chromium
    server = live_server
    public = _configure_vapid(server)
    context = playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS + gcm.switches,
        base_url=server.url,
        service_workers="allow",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
    )
    try:
        context.set_default_timeout(15_000)
        context.grant_permissions(["notifications"], origin=server.url)
        console.watch(context)
        page = context.pages[0] if context.pages else context.new_page()
        _sign_in_and_open_settings(page)
        section = page.locator("#push")
        state = section.locator("[data-push-state]")
        expect(state).to_have_text("Push is off on this device.")
        expect(section.locator("[data-push-count]")).to_have_text("0")

        section.get_by_role("button", name="Turn on push on this device").click()
        expect(state).to_have_text("Push is on for you on this device.")
        expect(section.locator("[data-push-count]")).to_have_text("1")
        expect(section.get_by_role("button", name="Turn off")).to_be_visible()
        expect(section.get_by_role("button", name="Turn on push on this device")).to_be_hidden()

        # The browser registered with the push service for this site, under our VAPID key...
        # (Chromium also registers itself once: app com.google.android.gms.)
        [registration] = [r for r in gcm.registrations if r.get("X-subtype", "").startswith("wp:")]
        assert server.url + "/" in registration["X-subtype"].replace("%23", "#")
        assert registration["sender"].rstrip("=") == public
        # ...and the subscription it made is the one stored for the carer.
        browser_side = page.evaluate(
            """async () => {
              const registration = await navigator.serviceWorker.ready;
              return (await registration.pushManager.getSubscription()).toJSON();
            }"""
        )
        [row] = _subscriptions(server)
        assert row.endpoint == browser_side["endpoint"]
        assert row.endpoint.startswith("https://")
        assert row.endpoint.endswith("/" + registration["token"])
        assert (row.p256dh, row.auth) == (
            browser_side["keys"]["p256dh"].rstrip("="),
            browser_side["keys"]["auth"].rstrip("="),
        )
        assert "HeadlessChrome" in (row.user_agent or "")

        # Opening the page again: it knows this browser is on for this person.
        page.reload()
        expect(state).to_have_text("Push is on for you on this device.")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "push-on-phone.png"), full_page=True)

        # A push arrives (as the push service would hand it to the service worker), with the
        # payload the push channel sends: the worker shows it, linking on this origin.
        cdp = context.new_cdp_session(page)
        registrations: list[str] = []
        cdp.on(
            "ServiceWorker.workerRegistrationUpdated",
            lambda event: registrations.extend(
                r["registrationId"] for r in event["registrations"] if not r.get("isDeleted")
            ),
        )
        cdp.send("ServiceWorker.enable")
        # Pushes handed to a worker that is still installing can be dropped on the DevTools
        # path: deliver only once the page's worker is activated and its registration known.
        _wait_until_activated(page)
        deadline = time.monotonic() + 10
        while not registrations and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert registrations, "no service worker registration reported"
        reminder = Message(
            delivery_id=1,
            tenant_id=1,
            kind="reminder",
            membership=None,  # type: ignore[arg-type]  # not used by the payload
            title="07:30 Rocking with Robin",
            body="10 minutes. Log it when it's done.",
            link=f"{server.url}/o/riverside/today#occurrence-1",
            message_id="<x@cadence.invalid>",
        )
        foreign = Message(
            **{
                **reminder.__dict__,
                "title": "Tomorrow",
                "link": "https://cadence.example/o/riverside/week",
            }
        )
        # One at a time, as pushes arrive (two handed over at the same instant while the
        # worker is starting can lose one in Chromium's DevTools path).
        for number, message in enumerate((reminder, foreign), start=1):
            cdp.send(
                "ServiceWorker.deliverPushMessage",
                {
                    "origin": server.url,
                    "registrationId": registrations[-1],
                    "data": push.payload_of(message),
                },
            )
            shown = _wait_for_notifications(page, number)
        assert shown == [
            {
                "title": "07:30 Rocking with Robin",
                "body": "10 minutes. Log it when it's done.",
                "url": f"{server.url}/o/riverside/today#occurrence-1",
            },
            {
                "title": "Tomorrow",
                "body": "10 minutes. Log it when it's done.",
                # A link made for another address of Cadence opens on this one.
                "url": f"{server.url}/o/riverside/week",
            },
        ]

        # Turning off forgets the device on the server and in the browser.
        section.get_by_role("button", name="Turn off").click()
        expect(state).to_have_text("Push is off on this device.")
        expect(section.locator("[data-push-count]")).to_have_text("0")
        assert _subscriptions(server) == []
        assert page.evaluate(
            """async () => {
              const registration = await navigator.serviceWorker.ready;
              return (await registration.pushManager.getSubscription()) === null;
            }"""
        )
        console.assert_no_csp_violations()
        assert [e for e in console.errors if e.startswith("pageerror")] == []
    finally:
        context.close()


def test_without_a_push_service_the_page_says_so_and_nothing_is_stored(  # type: ignore[no-untyped-def]
    browser,  # noqa: F811
    live_server,  # noqa: F811
    console: ConsoleWatch,  # noqa: F811
):
    from playwright.sync_api import expect

    _configure_vapid(live_server)
    page = new_page(browser, live_server, console, service_workers="allow")
    page.context.grant_permissions(["notifications"], origin=live_server.url)
    _sign_in_and_open_settings(page)
    section = page.locator("#push")
    section.get_by_role("button", name="Turn on push on this device").click()
    state = section.locator("[data-push-state]")
    expect(state).to_contain_text("Push could not be turned on in this browser")
    # Chromium's own reason is kept for whoever helps the person.
    expect(state).to_contain_text("AbortError")
    expect(state).to_contain_text("choose another way of being reminded")
    expect(section.get_by_role("button", name="Turn on push on this device")).to_be_enabled()
    expect(section.locator("[data-push-count]")).to_have_text("0")
    assert _subscriptions(live_server) == []
    console.assert_no_csp_violations()
    assert [e for e in console.errors if e.startswith("pageerror")] == []
