"""A teacher on a classroom tablet logs a group activity with one child absent: the others
get done logs on the server, and the absent child's routine is excused, not missed."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from routines import models as m
from tenants.context import tenant_context
from tenants.db import utcnow
from tenants.demo import seed_demo_organisation
from tests.e2e.test_browser import (  # noqa: F401  (fixtures)
    ARTIFACTS,
    DEMO_PASSWORD,
    browser,
    console,
    live_server,
    new_page,
)
from tests.routines.test_classroom_ops import make_class
from tests.test_classroom import next_school_day

pytestmark = pytest.mark.e2e


def test_a_teacher_logs_a_group_activity_with_one_child_absent(browser, live_server, console):  # type: ignore[no-untyped-def]  # noqa: F811
    from playwright.sync_api import expect

    db = live_server.app.extensions["cadence.db"]
    day = next_school_day()
    try:
        seeded = seed_demo_organisation(db.session, slug="riverside", password=DEMO_PASSWORD)
        org = SimpleNamespace(slug="riverside", **seeded.people)
        with tenant_context(seeded.org.id):
            group = make_class(db.session, org, 3, own=False, now=utcnow())
            classroom_id = group.classroom.id
            names = [c.display_name for c in group.children]
            child_ids = [c.id for c in group.children]
            activity_id = group.group_activity.id
        org_id = seeded.org.id
        db.session.commit()
    finally:
        db.session.remove()

    page = new_page(
        browser, live_server, console, viewport={"width": 1024, "height": 768}, has_touch=True
    )
    page.goto("/auth/sign-in")
    page.get_by_label("Email").fill("teacher@riverside.example")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Classroom").click()
    # One class: straight to its day.
    expect(page).to_have_url(f"{live_server.url}/o/riverside/classroom/{classroom_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Year 3")
    page.get_by_label("Go to a day").fill(day.isoformat())
    page.get_by_role("button", name="Show").click()
    expect(page.locator(".routine-count")).to_have_text("3 children")
    # The small script offers its convenience (and the CSP lets it run).
    expect(page.get_by_role("button", name="Mark all present and done")).to_be_visible()

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "classroom-tablet.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")

    absent = names[1]
    page.get_by_role("group", name=absent).get_by_text("Absent").click()
    expect(page.get_by_role("group", name=absent).get_by_label("Absent")).to_be_checked()
    page.get_by_role("button", name="Log Movement break for 3 children").click()
    expect(page.get_by_role("status")).to_have_text("Group activity logged: 2 done, 1 absent.")
    expect(page.locator("form.group-log")).to_have_count(0)
    expect(page.locator(".logged-list li").filter(has_text=absent)).to_contain_text("Absent")
    console.assert_no_csp_violations()

    try:
        with tenant_context(org_id):
            rows = db.session.execute(
                select(m.Occurrence, m.RoutineLog)
                .outerjoin(m.RoutineLog, m.RoutineLog.occurrence_id == m.Occurrence.id)
                .where(
                    m.Occurrence.child_id.in_(child_ids),
                    m.Occurrence.local_date == day,
                    m.Occurrence.activity_id == activity_id,
                )
                .order_by(m.Occurrence.child_id)
            ).all()
            seen = [
                (
                    o.child_id,
                    o.status,
                    o.excused_reason,
                    log.status if log else None,
                    log.source if log else None,
                )
                for o, log in rows
            ]
    finally:
        db.session.remove()
    assert seen == [
        (child_ids[0], "done", None, "done", "classroom"),
        (child_ids[1], "excused", "absent", None, None),
        (child_ids[2], "done", None, "done", "classroom"),
    ]
