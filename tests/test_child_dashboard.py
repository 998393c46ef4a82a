"""The child's adherence dashboard: its numbers equal a count of the raw occurrences and
logs (nightly rollups plus today's live logs), every chart has a table with the same
numbers, only the child's clinicians and admins see it, bad ranges get a 400, and a year of
logs costs the same number of SQL statements as two weeks."""

from __future__ import annotations

import html
import random
import re
import uuid
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from routines import child_dashboard as dash
from routines import metrics, rollups
from routines import models as m
from tenants import accounts, organisations
from tenants.db import utcnow
from tenants.models import AuditEvent
from tests import routine_factories as f
from tests.conftest import PASSWORD, count_statements, sign_in
from tests.e2e.test_browser import browser, console, live_server  # noqa: F401  (fixtures)

STATES = list(m.AROUSAL_STATES)
NOTES = ["Settled well after the bath", "Tired today", "Asked for it again!"]
TODAY_NOTE = "Logged <today> & straight away"


def london_today() -> date:
    return utcnow().astimezone(ZoneInfo("Europe/London")).date()


def url(org, child_id: int, query: str = "") -> str:  # type: ignore[no-untyped-def]
    return f"/o/{org.slug}/children/{child_id}/adherence" + (f"?{query}" if query else "")


def _log(db, occ, status: str, rng: random.Random, author, **fixed) -> m.RoutineLog:  # type: ignore[no-untyped-def]
    values = {
        "reason": "no_time" if status == "skipped" else None,
        "minutes": rng.choice([None, 3, 8, 15]),
        "state_before": rng.choice([None, *STATES]),
        "state_after": rng.choice([None, *STATES]),
        "note": rng.choice(["", "", *NOTES]),
        "logged_at": occ.due_at,
        **fixed,
    }
    log = m.RoutineLog(
        client_uuid=uuid.uuid4(),
        payload_hash="x" * 64,
        occurrence_id=occ.id,
        child_id=occ.child_id,
        status=status,
        source="web",
        author_id=author.id,
        **values,
    )
    db.add(log)
    return log


def build_child(db, org, days: int, rng: random.Random, name: str = "Robin"):  # type: ignore[no-untyped-def]
    """A plan in effect for `days` days up to today: rocking and a bath at home every day,
    a movement break at school on weekdays; every routine before today has an outcome (the
    last five days all done, the day before missed), today's are still pending. Then the
    night's rollup."""
    today = london_today()
    start = today - timedelta(days=days - 1)
    fam = f.child(db, org, name=name)
    rocking, bath, movement = (
        f.activity(db, f"Rocking {name}", 5),
        f.activity(db, f"Bath time {name}", 10),
        f.activity(db, f"Movement break {name}", 10),
    )
    every_day = {"days": f.EVERY_DAY, "mode": "times"}
    f.publish(
        db,
        fam.child,
        [
            f.item(rocking, frequency={**every_day, "times": ["07:30"]}, start=start),
            f.item(
                bath,
                frequency={**every_day, "times": ["19:30"]},
                minutes=10,
                domain="relational",
                start=start,
            ),
            f.item(
                movement,
                assignee="classroom",
                frequency={"days": [0, 1, 2, 3, 4], "mode": "times", "times": ["10:15"]},
                minutes=10,
                domain="self_regulation",
                start=start,
            ),
        ],
        effective_from=start,
        now=datetime.combine(start, time(), UTC),
        horizon_days=days + 2,
    )
    rows = db.scalars(
        select(m.Occurrence).where(
            m.Occurrence.child_id == fam.child.id, m.Occurrence.local_date < today
        )
    ).all()
    for occ in rows:
        if occ.local_date >= today - timedelta(days=5):
            occ.status = "done"
        elif occ.local_date == today - timedelta(days=6):
            occ.status = "missed"
        else:
            occ.status = rng.choice(["done", "done", "partly", "skipped", "missed", "excused"])
        if occ.status in ("done", "partly", "skipped"):
            _log(db, occ, occ.status, rng, org.teacher if occ.side == "school" else org.carer)
    db.flush()
    db.execute(
        update(m.Occurrence)
        .where(m.Occurrence.child_id == fam.child.id)
        .values(updated_at=utcnow() - timedelta(hours=3))
        .execution_options(synchronize_session=False)
    )
    rollups.roll_up(db, now=utcnow())
    return fam


def log_today(db, org, child_id: int, status: str = "done"):  # type: ignore[no-untyped-def]
    """After the night's build: a routine of today logged, read live."""
    occ = db.scalars(
        select(m.Occurrence)
        .where(
            m.Occurrence.child_id == child_id,
            m.Occurrence.local_date == london_today(),
            m.Occurrence.status == "pending",
        )
        .order_by(m.Occurrence.id)
    ).first()
    occ.status = status
    fixed = {"minutes": 7, "state_before": "alarm", "state_after": "calm", "note": TODAY_NOTE}
    _log(db, occ, status, random.Random(0), org.carer, logged_at=utcnow(), **fixed)
    db.flush()
    return occ


# --- the independent count ------------------------------------------------------------------


def independent(db, child_id: int, first: date, last: date, threshold: float):  # type: ignore[no-untyped-def]
    """The dashboard's numbers from the raw occurrences and logs, with routines.metrics."""
    found = db.execute(
        select(m.Occurrence, m.RoutineLog, m.PlanItem.domain)
        .outerjoin(m.RoutineLog, m.RoutineLog.occurrence_id == m.Occurrence.id)
        .join(m.PlanItem, m.PlanItem.id == m.Occurrence.plan_item_id)
        .where(
            m.Occurrence.child_id == child_id,
            m.Occurrence.local_date >= first - timedelta(days=27),
            m.Occurrence.local_date <= last,
            m.Occurrence.status != "withdrawn",
        )
    ).all()
    outcomes, sides, states = [], defaultdict(list), defaultdict(list)
    for occ, log, domain in found:
        outcome = metrics.Outcome(
            occ.local_date,
            occ.status,
            domain,
            occ.activity_id,
            occ.minutes,
            log.minutes if log else None,
        )
        outcomes.append(outcome)
        if first <= occ.local_date:
            sides[occ.side].append(occ.status)
            if log and log.state_before and log.state_after:
                states[metrics.week_of(occ.local_date)].append(
                    (STATES.index(log.state_before), STATES.index(log.state_after))
                )
    inside = [o for o in outcomes if first <= o.local_date]

    def since(days: int) -> Fraction | None:
        return metrics.adherence(
            o.status for o in outcomes if o.local_date >= last - timedelta(days=days - 1)
        )

    weeks = metrics.adherent_weeks(inside, threshold)
    pairs = [p for week in states.values() for p in week]
    return SimpleNamespace(
        overall=metrics.adherence(o.status for o in inside),
        last_7=since(7),
        last_28=since(28),
        dose=sum(metrics.dose_minutes(o) for o in inside),
        weeks_adherent=sum(weeks.values()),
        weeks_counted=len(weeks),
        streak=metrics.streak(inside, last),
        by_day={
            d: t.adherence
            for d, t in metrics.tally_by(inside, lambda o: o.local_date).items()
            if t.counted
        },
        by_activity={
            a: t.adherence for a, t in metrics.tally_by(inside, lambda o: o.activity_id).items()
        },
        by_side={side: metrics.adherence(statuses) for side, statuses in sides.items()},
        dose_per_week=metrics.dose_per_week(inside),
        calmer=sum(1 for before, after in pairs if after < before),
        pairs=len(pairs),
        states={
            week: (
                Fraction(sum(b for b, _ in ps), len(ps)),
                Fraction(sum(a for _, a in ps), len(ps)),
            )
            for week, ps in states.items()
        },
    )


def assert_matches(data: dash.Dashboard, raw) -> None:  # type: ignore[no-untyped-def]
    h = data.headline
    assert h.overall == raw.overall and raw.overall is not None
    assert (h.last_7, h.last_28) == (raw.last_7, raw.last_28)
    span = (data.date_to - data.date_from).days + 1
    assert h.dose_per_week == round(raw.dose * 7 / max(7, span))
    assert (h.weeks_adherent, h.weeks_counted) == (raw.weeks_adherent, raw.weeks_counted)
    assert h.streak == raw.streak
    assert {d: fig.adherence for d, fig in data.days} == raw.by_day
    assert {a.activity_id: a.figures.adherence for a in data.activities} == raw.by_activity
    assert {s: fig.adherence for s, fig in data.sides.items() if fig.counted} == raw.by_side
    weekly = {(d, w.week): w.minutes[d] for w in data.weeks for d in data.domains if w.minutes[d]}
    assert weekly == raw.dose_per_week
    assert data.breakdown.overall.calmer == raw.calmer
    assert data.breakdown.overall.state_pairs == raw.pairs
    assert {
        w.week: (
            Fraction(w.figures.before_level_sum, w.figures.state_pairs),
            Fraction(w.figures.after_level_sum, w.figures.state_pairs),
        )
        for w in data.states
        if w.figures.state_pairs
    } == raw.states


def page_text(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.get_data(as_text=True))


def headline(body: str, key: str) -> str:
    match = re.search(rf'<dd id="dash-{key}">(.*?)</dd>', body, re.S)
    assert match, f"no {key} on the page"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


# --- the numbers ----------------------------------------------------------------------------


def test_the_page_equals_a_count_of_the_raw_logs_rollups_plus_today(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with f.in_org(alpha):
        fam = build_child(db, alpha, 120, random.Random(11))
        child_id = fam.child.id
        db.commit()
    today = london_today()
    first = today - timedelta(days=119)
    threshold = 0.8
    sign_in(client, alpha.clinician.email)

    def check() -> tuple[dash.Dashboard, str]:
        response = client.get(url(alpha, child_id))
        assert response.status_code == 200
        body = page_text(response)
        raw = response.get_data(as_text=True)
        with f.in_org(alpha):
            counted = independent(db, child_id, first, today, threshold)
            data = dash.load(
                db, fam.child, date_from=first, date_to=today, today=today, threshold=threshold
            )
        assert (data.date_from, data.date_to) == (first, today)  # since the plan started
        assert_matches(data, counted)
        for key, ratio in (
            ("overall", counted.overall),
            ("last-7", counted.last_7),
            ("last-28", counted.last_28),
        ):
            assert headline(body, key) == dash.percent_words(ratio, threshold)
        assert headline(body, "weeks") == f"{counted.weeks_adherent} of {counted.weeks_counted}"
        assert headline(body, "streak") == f"{counted.streak} days"
        return data, raw

    before, _ = check()
    assert before.headline.streak == 5  # the last five days all done; today not yet marked
    with f.in_org(alpha):
        log_today(db, alpha, child_id)
        db.commit()
    after, raw = check()  # today's log counts at once, before any night's build
    assert after.headline.streak == 6
    assert after.breakdown.overall.done == before.breakdown.overall.done + 1
    assert after.notes[0].note == TODAY_NOTE
    assert after.notes[0].local_date == today and after.notes[0].who == alpha.carer.name
    assert "Logged &lt;today&gt; &amp; straight away" in raw  # escaped on the page


def test_every_chart_has_a_table_with_the_same_numbers(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with f.in_org(alpha):
        fam = build_child(db, alpha, 60, random.Random(12), name="Kit")
        data_child = fam.child
        db.commit()
    sign_in(client, alpha.clinician.email)
    response = client.get(url(alpha, data_child.id))
    assert response.status_code == 200
    raw_body = response.get_data(as_text=True)
    body = html.unescape(raw_body)
    # Five charts, each followed by a table in a <details> with a "Table: ..." summary.
    figures = re.findall(
        r'<figure class="chart-figure[^"]*"[^>]*>(.*?)</figure>\s*<details>\s*<summary>'
        r"Table: ([^<]+)</summary>",
        raw_body,
        re.S,
    )
    assert [summary for _, summary in figures] == [
        "adherence day by day",
        "adherence per activity",
        "minutes per domain per week",
        "state before and after activities per week",
        "home and school adherence",
    ]
    for svg, _ in figures:
        root = ET.fromstring(svg.strip())  # noqa: S314 - our own output
        assert root.get("role") == "img"
    assert " style=" not in raw_body and "<script" not in raw_body
    today = london_today()
    with f.in_org(alpha):
        data = dash.load(
            db,
            data_child,
            date_from=today - timedelta(days=59),
            date_to=today,
            today=today,
            threshold=0.8,
        )
    table = re.search(r'<table id="table-activities">(.*?)</table>', body, re.S).group(1)
    for row in data.activities:
        assert re.search(
            rf"{re.escape(row.name)}</th><td data-label=\"Adherence\">"
            rf"{re.escape(dash.percent_words(row.figures.adherence, 0.8))}</td>",
            table,
        )
    sides = re.search(r'<table id="table-sides">(.*?)</table>', body, re.S).group(1)
    home = dash.percent_words(data.sides["home"].adherence, 0.8)
    assert f'At home</th><td data-label="Adherence">{home}</td>' in sides
    days = re.search(r'<table id="table-days">(.*?)</table>', body, re.S).group(1)
    assert days.count("<tr>") - 1 == len(data.days)  # a row per counted day, plus the header
    dose = re.search(r'<table id="table-dose">(.*?)</table>', body, re.S).group(1)
    # The plan's weekly targets: rocking 5 min x 7, bath 10 x 7, movement break 10 x 5.
    assert data.targets == {"sensory_integration": 35, "self_regulation": 50, "relational": 70}
    assert "35 (at least 28)" in dose and "70 (at least 56)" in dose
    assert data.headline.target_per_week == 155
    # the chart draws the same targets and the same whole percents
    assert 'data-y="' in figures[2][0] and "Target 35 min" in figures[2][0]
    for row in data.activities:
        shown = dash.whole_percent(row.figures.adherence, 0.8)
        assert f'data-value="{shown / 100:g}"' in figures[1][0]
    # notes: newest first, at most 50, each on the page
    assert data.notes and all(n.note in body for n in data.notes)
    assert [n.local_date for n in data.notes] == sorted(
        (n.local_date for n in data.notes), reverse=True
    )
    assert len(data.notes) <= dash.NOTES_LIMIT


def test_a_year_of_logs_costs_the_same_statements_as_two_weeks(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with f.in_org(alpha):
        year = build_child(db, alpha, 365, random.Random(13), name="Ash")
        fortnight = build_child(db, alpha, 14, random.Random(14), name="Bo")
        ids = (year.child.id, fortnight.child.id)
        db.commit()
    sign_in(client, alpha.clinician.email)
    assert client.get(url(alpha, ids[1])).status_code == 200  # warm up the signed-in session
    counts = []
    for child_id in ids:
        with count_statements(db) as counted:
            response = client.get(url(alpha, child_id))
        assert response.status_code == 200
        counts.append(counted.total)
    assert counts[0] == counts[1], counts
    assert counts[0] <= 30, counts  # the request, the tenant, the child, then 7 reads
    body = page_text(client.get(url(alpha, ids[0])))
    assert headline(body, "weeks").endswith(" of 53") or headline(body, "weeks").endswith(" of 52")


# --- who may see it -------------------------------------------------------------------------


def test_clinicians_and_admins_see_it_and_each_view_is_audited(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with f.in_org(alpha):
        fam = f.child(db, alpha)  # no plan yet: the page says so, kindly
        db.commit()
    for person in (alpha.clinician, alpha.admin):
        viewer = client.application.test_client()
        sign_in(viewer, person.email)
        response = viewer.get(url(alpha, fam.child.id))
        assert response.status_code == 200
        body = page_text(response)
        assert headline(body, "overall") == "no routines counted"
        assert "No routines recorded yet" in body
    with f.in_org(alpha):
        views = db.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "adherence.viewed",
                AuditEvent.object_id == str(fam.child.id),
            )
        ).all()
    assert [v.actor_id for v in views] == [alpha.clinician.id, alpha.admin.id]
    today = london_today()
    assert views[0].object_type == "child"
    assert views[0].detail == {
        "date_from": (today - timedelta(days=364)).isoformat(),
        "date_to": today.isoformat(),
    }


@pytest.mark.parametrize("who", ["carer", "teacher"])
def test_carers_and_teachers_on_the_team_are_refused(client, db, orgs, who):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with f.in_org(alpha):
        fam = f.child(db, alpha)
        db.commit()
    sign_in(client, getattr(alpha, who).email)
    response = client.get(url(alpha, fam.child.id))
    assert response.status_code == 403
    assert "only the child's clinicians and admins" in page_text(response)


def test_other_clinicians_and_other_organisations_are_refused(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    with f.in_org(alpha):
        fam = f.child(db, alpha)
        other = accounts.create_user(
            db, email="second.clinician@alpha.example", name="Second", password=PASSWORD
        )
        organisations.add_member(db, other, ["clinician"])
        db.commit()
    sign_in(client, "second.clinician@alpha.example")
    assert client.get(url(alpha, fam.child.id)).status_code == 404  # not on the team
    outsider = client.application.test_client()
    sign_in(outsider, beta.clinician.email)
    assert outsider.get(url(beta, fam.child.id)).status_code == 404
    assert outsider.get(url(alpha, fam.child.id)).status_code == 404
    anonymous = client.application.test_client()
    assert anonymous.get(url(alpha, fam.child.id)).status_code in (302, 303)


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-02-30&to=2026-03-10", "The first date must look like 2026-03-01"),
        ("from=2026-03-01&to=soon", "The last date must look like 2026-03-01"),
        ("from=2026-03-10&to=2026-03-01", "The range ends (2026-03-01) before it starts"),
        ("from=2019-01-01&to=2026-03-01", "The range spans more than 5 years"),
    ],
)
def test_bad_ranges_get_400_with_the_message_and_change_nothing(client, db, orgs, query, message):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with f.in_org(alpha):
        fam = f.child(db, alpha)
        db.commit()
    sign_in(client, alpha.clinician.email)
    response = client.get(url(alpha, fam.child.id, query))
    assert response.status_code == 400
    body = page_text(response)
    assert message in body
    assert 'aria-invalid="true"' in body and "dash-overall" not in body
    with f.in_org(alpha):
        assert (
            db.scalars(select(AuditEvent).where(AuditEvent.action == "adherence.viewed")).all()
            == []
        )


def test_a_chosen_window_and_a_blank_end(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with f.in_org(alpha):
        fam = build_child(db, alpha, 40, random.Random(15), name="Lee")
        db.commit()
    today = london_today()
    sign_in(client, alpha.clinician.email)
    first, last = today - timedelta(days=20), today - timedelta(days=10)
    body = page_text(
        client.get(url(alpha, fam.child.id, f"from={first.isoformat()}&to={last.isoformat()}"))
    )
    with f.in_org(alpha):
        raw = independent(db, fam.child.id, first, last, 0.8)
    assert headline(body, "overall") == dash.percent_words(raw.overall, 0.8)
    assert headline(body, "last-7") == dash.percent_words(raw.last_7, 0.8)
    assert f"Streak to {last.strftime('%-d %b %Y')}" in body
    response = client.get(url(alpha, fam.child.id, f"from={first.isoformat()}&to="))
    assert response.status_code == 200
    assert f'name="to" value="{today.isoformat()}"' in response.get_data(as_text=True)


# --- pure parts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ratio", "threshold", "shown"),
    [
        (None, 0.8, None),
        (Fraction(4, 5), 0.8, 80),
        (Fraction(199, 250), 0.8, 79),  # 79.6% stays below the 80% threshold
        (Fraction(161, 200), 0.8, 81),  # 80.5% rounds half up
        (Fraction(996, 1000), 0.8, 99),  # short of everything never reads 100%
        (Fraction(1, 300), 0.8, 1),  # something done never reads 0%
        (Fraction(0), 0.8, 0),
        (Fraction(1), 0.8, 100),
        (Fraction(149, 200), 0.75, 74),  # 74.5% is below a 75% threshold
    ],
)
def test_whole_percents_never_cross_a_line_that_matters(ratio, threshold, shown) -> None:  # type: ignore[no-untyped-def]
    assert dash.whole_percent(ratio, threshold) == shown


def test_default_window_and_targets() -> None:
    today = date(2026, 11, 23)
    assert dash.default_from(today, None) == date(2025, 11, 24)
    assert dash.default_from(today, date(2020, 1, 1)) == date(2025, 11, 24)
    assert dash.default_from(today, date(2026, 9, 1)) == date(2026, 9, 1)
    assert dash.default_from(today, date(2026, 12, 1)) == today  # a plan not started yet

    def item(domain, minutes, frequency, end=None):  # type: ignore[no-untyped-def]
        return SimpleNamespace(domain=domain, minutes=minutes, frequency=frequency, end_date=end)

    spread = {"count": 3, "from": "09:00", "to": "17:00"}
    items = [
        item("relational", 10, {"days": [0, 2, 4], "mode": "times", "times": ["07:00", "18:00"]}),
        item("relational", 5, {"days": f.EVERY_DAY, "mode": "anchors", "anchors": ["a", "b"]}),
        item("cognitive", 4, {"days": [5, 6], "mode": "spread", "spread": spread}),
        item("cognitive", 30, {"days": [0]}, end=date(2026, 11, 22)),  # ended: not counted
    ]
    assert dash.weekly_targets(items, today) == {"relational": 60 + 70, "cognitive": 24}


def test_streak_from_daily_figures() -> None:
    day = date(2026, 11, 23)
    by_day = {
        day: rollups.Figures(pending=2),  # nothing counted yet: neither breaks nor adds
        day - timedelta(days=1): rollups.Figures(done=1, partly=1),
        day - timedelta(days=2): rollups.Figures(excused=3),
        day - timedelta(days=3): rollups.Figures(done=2),
        day - timedelta(days=4): rollups.Figures(done=1, missed=1),
        day - timedelta(days=5): rollups.Figures(done=3),
    }
    assert dash.streak(by_day, day) == 2
    assert dash.streak(by_day, day - timedelta(days=4)) == 0
    assert dash.streak(by_day, day - timedelta(days=5)) == 1


# --- in a real browser ----------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize("width", [390, 1280])
def test_the_page_fits_a_phone_and_a_desktop(browser, live_server, console, width):  # type: ignore[no-untyped-def]  # noqa: F811
    from playwright.sync_api import expect

    from tenants.context import tenant_context
    from tenants.demo import seed_demo_organisation
    from tests.e2e.test_browser import ARTIFACTS, DEMO_PASSWORD, new_page

    db = live_server.app.extensions["cadence.db"]
    try:
        seeded = seed_demo_organisation(db.session, slug="riverside", password=DEMO_PASSWORD)
        org = SimpleNamespace(slug="riverside", **seeded.people)
        with tenant_context(seeded.org.id):
            fam = build_child(db.session, org, 365, random.Random(21), name="Alexandra-Rose")
            child_id = fam.child.id
        db.session.commit()
    finally:
        db.session.remove()

    page = new_page(browser, live_server, console, viewport={"width": width, "height": 900})
    page.goto("/auth/sign-in")
    page.get_by_label("Email").fill("clinician@riverside.example")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(url(org, child_id))
    expect(page.get_by_role("heading", level=1)).to_have_text("Adherence")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"child-dash-{width}.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    for summary in page.locator("details > summary").all():
        summary.click()  # open every table alternative: they must fit too
    expect(page.locator("#table-days")).to_be_visible()
    page.locator("#table-dose").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"child-dash-{width}-tables.png"))
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    # every chart's frame is inside the viewport (on a phone a wide chart scrolls inside it)
    edges = page.locator("figure.chart-figure").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().right)"
    )
    assert len(edges) == 5 and max(edges) <= width + 1
    console.assert_no_csp_violations()
    assert console.errors == []
