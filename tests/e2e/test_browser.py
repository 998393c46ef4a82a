"""Cadence in a real browser: an admin invites a teacher, the teacher joins from the emailed
link, the admin deactivates them and their open page goes back to sign-in. Also: the pages
fit a phone, and the Content Security Policy blocks nothing Cadence itself needs."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tenants.demo import seed_demo_organisation
from tests import services
from tests.conftest import make_test_app

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"  # gitignored
DEMO_PASSWORD = "riverside demo passphrase"
ORG_NAME = "Riverside Family Services"
ADMIN_EMAIL = "admin@riverside.example"
TEACHER_EMAIL = "new.teacher@riverside.example"
TEACHER_NAME = "Robin Newteacher"
TEACHER_PASSWORD = "chalk and blackboard 7"


# --- the browser --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        reason = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI") == "true" or os.environ.get("CADENCE_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason}; browser tests must run in CI")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class ConsoleWatch:
    """Console errors and uncaught page errors of every page in the watched contexts."""

    errors: list[str] = field(default_factory=list)

    def watch(self, context) -> None:  # type: ignore[no-untyped-def]
        context.on("console", self._console)
        context.on("weberror", lambda error: self.errors.append(f"pageerror: {error.error}"))

    def _console(self, message) -> None:  # type: ignore[no-untyped-def]
        if message.type == "error":
            self.errors.append(message.text)

    @property
    def csp_violations(self) -> list[str]:
        return [e for e in self.errors if "Content Security Policy" in e]

    def assert_no_csp_violations(self) -> None:
        assert self.csp_violations == [], (
            f"the Content Security Policy blocked part of a page: {self.csp_violations}"
        )


@pytest.fixture
def console() -> ConsoleWatch:
    return ConsoleWatch()


# --- a live server on its own database ----------------------------------------------------


@dataclass
class LiveServer:
    url: str
    app: Flask
    outbox: Path

    def invitation_link(self, to: str) -> str:
        found = []
        for path in sorted(self.outbox.glob("*.eml")):
            message = message_from_bytes(path.read_bytes(), policy=policy.default)
            if message["To"] == to:
                found.append(message.get_content())
        assert found, f"no email to {to} in the outbox"
        match = re.search(r"https?://\S+/auth/invitation/\S+", found[-1])
        assert match, "no invitation link in the email"
        return match.group(0)


@pytest.fixture
def live_server(db_kind: str, tmp_path: Path, redis_url: str) -> Iterator[LiveServer]:
    database = services.provision(db_kind, tmp_path)
    instance = tmp_path / "instance"
    app = make_test_app(database.app_url, instance, redis_url)
    db = app.extensions["cadence.db"]
    try:
        seed_demo_organisation(db.session, slug="riverside", password=DEMO_PASSWORD)
        db.session.commit()
    finally:
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="cadence-live", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app, instance / "outbox")
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        db.dispose()
        database.drop()


def new_page(browser, server: LiveServer, console: ConsoleWatch, **options):  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=server.url, **options)
    context.set_default_timeout(10_000)
    console.watch(context)
    return context.new_page()


def sign_in(page, email: str, password: str) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.goto("/auth/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(ORG_NAME)


# --- tests --------------------------------------------------------------------------------


def test_invited_teacher_joins_and_loses_access_when_deactivated(browser, live_server, console):  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    server = live_server
    admin = new_page(browser, server, console)
    first = admin.goto("/auth/sign-in")
    assert first is not None
    assert "default-src 'self'" in first.headers["content-security-policy"]
    sign_in(admin, ADMIN_EMAIL, DEMO_PASSWORD)
    expect(admin).to_have_url(f"{server.url}/o/riverside/")
    # The stylesheet is allowed by the policy: the top bar has its colour.
    assert (
        admin.locator("header.topbar").evaluate("el => getComputedStyle(el).backgroundColor")
        == "rgb(47, 93, 98)"
    )

    # Admin → Invitations: invite a new teacher.
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    expect(admin).to_have_url(f"{server.url}/o/riverside/admin/members")
    admin.get_by_role("navigation", name="Administration").get_by_role(
        "link", name="Invitations"
    ).click()
    expect(admin.get_by_role("heading", level=1)).to_have_text("Invitations")
    admin.get_by_label("Email").fill(TEACHER_EMAIL)
    admin.get_by_label("Teacher", exact=True).check()
    admin.get_by_role("button", name="Send invitation").click()
    expect(admin.get_by_role("status")).to_have_text(f"Invitation sent to {TEACHER_EMAIL}.")
    invited = admin.get_by_role("row").filter(has_text=TEACHER_EMAIL)
    expect(invited).to_contain_text("Pending")
    expect(invited).to_contain_text("Teacher")

    link = server.invitation_link(TEACHER_EMAIL)
    assert link.startswith(f"{server.url}/auth/invitation/")
    admin.get_by_role("button", name="Sign out").click()
    expect(admin.get_by_role("status")).to_have_text("You have signed out.")
    expect(admin.get_by_role("heading", level=1)).to_have_text("Sign in")

    # The teacher opens the link in a browser of their own and creates the account.
    teacher = new_page(browser, server, console)
    teacher.goto(link)
    expect(teacher.get_by_role("heading", level=1)).to_have_text(f"Join {ORG_NAME}")
    expect(teacher.get_by_text(TEACHER_EMAIL)).to_be_visible()
    teacher.get_by_label("Your name").fill(TEACHER_NAME)
    teacher.get_by_label("Choose a password").fill(TEACHER_PASSWORD)
    teacher.get_by_label("Repeat the password").fill(TEACHER_PASSWORD)
    teacher.get_by_role("button", name="Create account and join").click()
    expect(teacher).to_have_url(f"{server.url}/o/riverside/")
    expect(teacher.get_by_role("status")).to_have_text(f"Welcome to {ORG_NAME}.")
    expect(teacher.get_by_role("heading", level=1)).to_have_text(ORG_NAME)
    expect(teacher.locator(".eyebrow")).to_have_text("Teacher")
    expect(teacher.get_by_role("link", name="Admin")).to_have_count(0)

    # The admin signs in again and deactivates the teacher.
    sign_in(admin, ADMIN_EMAIL, DEMO_PASSWORD)
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    row = admin.get_by_role("row").filter(has_text=TEACHER_EMAIL)
    expect(row).to_contain_text(TEACHER_NAME)
    expect(row).to_contain_text("Active")
    row.get_by_role("button", name="Deactivate").click()
    expect(admin.get_by_role("status")).to_have_text(
        f"{TEACHER_NAME} is deactivated and has been signed out."
    )
    expect(admin.get_by_role("row").filter(has_text=TEACHER_EMAIL)).to_contain_text("Deactivated")

    # The teacher's open page, on reload, is sent to sign in.
    teacher.reload()
    expect(teacher).to_have_url(re.compile(r"/auth/sign-in\?next="))
    expect(teacher.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(teacher.get_by_role("status")).to_have_text("Please sign in to continue.")
    expect(teacher.get_by_role("button", name="Sign out")).to_have_count(0)
    console.assert_no_csp_violations()


def test_pages_fit_a_phone(browser, live_server, console):  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    phone = new_page(
        browser,
        live_server,
        console,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
    sign_in(phone, ADMIN_EMAIL, DEMO_PASSWORD)
    phone.goto("/o/riverside/admin/members")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Members")
    expect(phone.get_by_text("teacher@riverside.example")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    phone.screenshot(
        path=str(ARTIFACTS / f"members-phone-{live_server_kind(live_server)}.png"), full_page=True
    )
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), (
        "the members page scrolls sideways on a phone"
    )
    for path in (
        "/o/riverside/",
        "/o/riverside/admin/invitations",
        "/o/riverside/admin/settings",
        "/profile/",
    ):
        phone.goto(path)
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), (
            f"{path} scrolls sideways on a phone"
        )
    console.assert_no_csp_violations()


def live_server_kind(server: LiveServer) -> str:
    return server.app.extensions["cadence.db"].dialect


def test_member_roles_can_be_changed_in_the_browser(browser, live_server, console):  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    admin = new_page(browser, live_server, console)
    sign_in(admin, ADMIN_EMAIL, DEMO_PASSWORD)
    admin.goto("/o/riverside/admin/members")
    admin.get_by_role("row").filter(has_text="carer@riverside.example").get_by_role(
        "link", name="Roles"
    ).click()
    expect(admin.get_by_role("heading", level=1)).to_have_text("Sam Taylor")
    admin.get_by_label("Teacher", exact=True).check()
    admin.get_by_role("button", name="Save roles").click()
    expect(admin.get_by_role("status")).to_have_text("Roles of Sam Taylor saved.", timeout=3000)
    expect(admin.get_by_role("row").filter(has_text="carer@riverside.example")).to_contain_text(
        "Carer, Teacher"
    )
    console.assert_no_csp_violations()


def test_assessment_ratings_save_as_they_go(browser, live_server, console):  # type: ignore[no-untyped-def]
    """A clinician starts an assessment and changes one rating; without pressing any button
    the rating is stored (the page's script posts the draft), and a reload shows it."""
    from playwright.sync_api import expect
    from sqlalchemy import select

    from routines.demo import seed_children
    from routines.models import Assessment, Child, FrameworkItem, ItemRating
    from tenants.context import tenant_context

    db = live_server.app.extensions["cadence.db"]
    try:
        seeded = seed_demo_organisation(db.session, slug="riverside", password=DEMO_PASSWORD)
        with tenant_context(seeded.org.id):
            seed_children(db.session, seeded.org, seeded.people, date(2026, 11, 23))
            mia = db.session.scalar(select(Child.id).where(Child.given_name == "Mia"))
        db.session.commit()
    finally:
        db.session.remove()

    page = new_page(browser, live_server, console)
    page.goto("/auth/sign-in")
    page.get_by_label("Email").fill("clinician@riverside.example")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"/o/riverside/children/{mia}/assessments/")
    page.get_by_label("Date of the assessment").fill("2026-11-20")
    page.get_by_role("button", name="Start assessment").click()
    expect(page.locator("form[data-autosave]")).to_be_visible()

    first = page.locator("form[data-autosave] select").first
    first.select_option("5")
    expect(page.locator("#autosave-status")).to_contain_text("Draft saved")

    with tenant_context(seeded.org.id):
        draft = db.session.scalar(
            select(Assessment).where(Assessment.child_id == mia, Assessment.status == "draft")
        )
        scores = list(
            db.session.scalars(
                select(ItemRating.score)
                .join(FrameworkItem, FrameworkItem.id == ItemRating.item_id)
                .where(ItemRating.assessment_id == draft.id)
                .order_by(FrameworkItem.position)
            )
        )
        items = len(draft.framework.items)
    db.session.remove()
    # The draft started from Mia's latest assessment (every item rated); the first item now
    # holds the 5 just chosen.
    assert len(scores) == items and scores[0] == 5
    page.reload()
    expect(page.locator("form[data-autosave] select").first).to_have_value("5")
    console.assert_no_csp_violations()
