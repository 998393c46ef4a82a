"""The clinician's caseload dashboard: numbers equal to an independent count of the raw
occurrences (rolled up, plus today's live logs), bands, trends, alerts and reassessment,
sorting and filtering with clear refusals, who may see it, and a fixed number of queries for
300 children with a year of rollups."""

from __future__ import annotations

import random
import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select, update

from routines import caseload, children, metrics, rollups
from routines import models as m
from tenants import accounts, organisations
from tenants.db import utcnow
from tenants.models import AuditEvent
from tenants.organisations import membership_for
from tests import routine_factories as f
from tests.conftest import PASSWORD, count_statements, sign_in

URL = "/o/{}/dashboard/"
NAME_RE = re.compile(r'class="caseload-name"><a href="([^"]+)">([^<]+)</a>')


def _today(zone: str = "Europe/London") -> date:
    return utcnow().astimezone(ZoneInfo(zone)).date()


def _as(app, email: str):  # type: ignore[no-untyped-def]
    browser = app.test_client()
    sign_in(browser, email)
    return browser


def _names(html: str) -> list[str]:
    return [name.split()[0] for _, name in NAME_RE.findall(html)]


def _person(db, org, role: str, local: str):  # type: ignore[no-untyped-def]
    user = accounts.create_user(
        db, email=f"{local}@{org.slug}.example", name=local.title(), password=PASSWORD
    )
    organisations.add_member(db, user, [role])
    return user


def _framework(db) -> m.Framework:  # type: ignore[no-untyped-def]
    band = {"code": "all", "label": "Any age", "from_months": 0, "to_months": 216}
    framework = m.Framework(
        key="caseload", version=1, name="Test", scale_max=12, age_bands=[band], source="import"
    )
    db.add(framework)
    db.flush()
    return framework


def _assessed(db, framework, child_id: int, on: date, status: str = "complete") -> None:  # type: ignore[no-untyped-def]
    db.add(
        m.Assessment(child_id=child_id, framework_id=framework.id, assessed_on=on, status=status)
    )


def _rolled_up_through_yesterday(db, org) -> None:  # type: ignore[no-untyped-def]
    """As if the nightly build ran a moment ago: stored rows are read up to yesterday."""
    org.org.rollups_through = _today(org.org.time_zone) - timedelta(days=1)
    org.org.rollups_as_of = utcnow()
    db.flush()


def _rollup_row(org, child_id: int, activity_id: int, age: int, **counts: int) -> dict:  # type: ignore[no-untyped-def]
    """A stored rollup row `age` days before today, with these outcomes."""
    return {
        "tenant_id": org.id,
        "child_id": child_id,
        "local_date": _today() - timedelta(days=age),
        "activity_id": activity_id,
        "assignee_key": "household",
        "domain": "sensory_integration",
        "side": "home",
        **{k: 0 for k in rollups.FIGURE_FIELDS},
        **counts,
    }


def _rollup(db, org, child_id: int, activity_id: int, age: int, **counts: int) -> None:  # type: ignore[no-untyped-def]
    db.execute(insert(m.AdherenceRollup), [_rollup_row(org, child_id, activity_id, age, **counts)])


# --- pure parts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ratio", "threshold", "band"),
    [
        (Fraction(4, 5), 0.8, "on_track"),  # exactly at the threshold is on track
        (Fraction(79, 100), 0.8, "slipping"),
        (Fraction(3, 5), 0.8, "slipping"),  # exactly 20 points under
        (Fraction(59, 100), 0.8, "low"),
        (Fraction(0), 0.8, "low"),
        (None, 0.8, "none"),
        (Fraction(7, 10), 0.7, "on_track"),
        (Fraction(1, 2), 0.7, "slipping"),
        (Fraction(49, 100), 0.7, "low"),
    ],
)
def test_bands_follow_the_organisations_threshold(ratio, threshold, band):  # type: ignore[no-untyped-def]
    assert caseload.band_of(ratio, threshold) == band


@pytest.mark.parametrize(
    ("week", "before", "trend"),
    [
        (Fraction(85, 100), Fraction(80, 100), "steady"),  # +5 points: inside the dead band
        (Fraction(75, 100), Fraction(80, 100), "steady"),
        (Fraction(86, 100), Fraction(80, 100), "up"),
        (Fraction(74, 100), Fraction(80, 100), "down"),
        (Fraction(1, 2), None, None),
        (None, Fraction(1, 2), None),
    ],
)
def test_trend_has_a_five_point_dead_band(week, before, trend):  # type: ignore[no-untyped-def]
    assert caseload.trend_of(week, before)[0] == trend


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"sort": "age"}, "sort"),
        ({"dir": "up"}, "dir"),
        ({"band": "great"}, "band"),
        ({"alert": "closed"}, "alert"),
        ({"place": "school:1"}, "place"),
        ({"place": "household:abc"}, "place"),
        ({"place": "household:-1"}, "place"),
    ],
)
def test_unknown_options_are_refused(args, field):  # type: ignore[no-untyped-def]
    with pytest.raises(caseload.ValidationError) as caught:
        caseload.parse_options(args)
    assert caught.value.field == field


def test_empty_options_mean_any():  # type: ignore[no-untyped-def]
    assert caseload.parse_options({"band": "", "alert": "", "place": ""}) == caseload.Options()


# --- numbers against the raw occurrences ----------------------------------------------------


def _log(db, occ, status: str, rng: random.Random) -> None:  # type: ignore[no-untyped-def]
    db.add(
        m.RoutineLog(
            client_uuid=uuid.uuid4(),
            payload_hash="x" * 64,
            occurrence_id=occ.id,
            child_id=occ.child_id,
            status=status,
            reason="no_time" if status == "skipped" else None,
            minutes=rng.choice([None, 4, 12]),
            source="web",
            logged_at=occ.due_at,
        )
    )


def _real_family(db, org, rng: random.Random, name: str, zone: str):  # type: ignore[no-untyped-def]
    """Rocking at home twice a day and a movement break at school on weekdays, for the 40
    days before today (in the child's zone) and a few after; every routine before today
    has an outcome, and nothing counts as changed since long ago."""
    today = _today(zone)
    start = today - timedelta(days=40)
    fam = f.child(db, org, name=name, time_zone=zone, household=f"{name} household")
    rocking = f.activity(db, f"Rocking {name}", 5)
    movement = f.activity(db, f"Movement {name}", 10)
    twice = {"days": f.EVERY_DAY, "mode": "times", "times": ["07:30", "18:00"]}
    f.publish(
        db,
        fam.child,
        [
            f.item(rocking, frequency=twice, start=start),
            f.item(
                movement,
                assignee="classroom",
                frequency={"days": [0, 1, 2, 3, 4], "mode": "times", "times": ["10:15"]},
                minutes=10,
                start=start,
                domain="self_regulation",
            ),
        ],
        effective_from=start,
        now=datetime.combine(start, time(0), tzinfo=UTC),
        horizon_days=45,
    )
    for occ in db.scalars(
        select(m.Occurrence).where(
            m.Occurrence.child_id == fam.child.id, m.Occurrence.local_date < today
        )
    ):
        occ.status = rng.choice(["done", "done", "done", "partly", "skipped", "missed", "excused"])
        if occ.status in ("done", "partly", "skipped"):
            _log(db, occ, occ.status, rng)
    db.flush()
    db.execute(
        update(m.Occurrence)
        .where(m.Occurrence.child_id == fam.child.id)
        .values(updated_at=utcnow() - timedelta(days=60))
        .execution_options(synchronize_session=False)
    )
    return fam


def _independent(db, child_id: int, today: date) -> dict[str, metrics.Tally]:
    """The windows counted from the occurrences themselves, with routines.metrics."""
    windows: dict[str, list[str]] = {"week": [], "before": [], "month": []}
    for day, status in db.execute(
        select(m.Occurrence.local_date, m.Occurrence.status).where(
            m.Occurrence.child_id == child_id, m.Occurrence.status != "withdrawn"
        )
    ):
        age = (today - day).days
        if 0 <= age < 28:
            windows["month"].append(status)
        if 0 <= age < 7:
            windows["week"].append(status)
        elif 7 <= age < 14:
            windows["before"].append(status)
    return {name: metrics.tally(statuses) for name, statuses in windows.items()}


def test_numbers_equal_an_independent_count_of_the_occurrences(db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    rng = random.Random(61)
    zones = {"Ada": "Europe/London", "Bo": "America/Los_Angeles", "Cy": "Pacific/Auckland"}
    with f.in_org(beta):
        _real_family(db, beta, rng, "Other", "Europe/London")
        rollups.roll_up(db, now=utcnow())
    with f.in_org(alpha):
        kids = {
            name: _real_family(db, alpha, rng, name, zone).child for name, zone in zones.items()
        }
        rollups.roll_up(db, now=utcnow())
        # After the night: today's logs, and a late change to an earlier day, count at once.
        for name, kid in kids.items():
            today = _today(zones[name])
            todays = db.scalars(
                select(m.Occurrence)
                .where(m.Occurrence.child_id == kid.id, m.Occurrence.local_date == today)
                .order_by(m.Occurrence.id)
            ).all()
            todays[0].status = "done"
            _log(db, todays[0], "done", rng)
            earlier = db.scalars(
                select(m.Occurrence).where(
                    m.Occurrence.child_id == kid.id,
                    m.Occurrence.local_date == today - timedelta(days=3),
                    m.Occurrence.status.in_(("done", "partly")),
                )
            ).first()
            if earlier is not None:
                earlier.status = "missed"
        db.flush()
        clinician = membership_for(db, alpha.clinician)
        entries = caseload.caseload(db, clinician, alpha.org, now=utcnow())
        assert [e.child.given_name for e in entries] == ["Ada", "Bo", "Cy"]  # not beta's
        for entry in entries:
            zone = zones[entry.child.given_name]
            assert entry.today == _today(zone)
            expected = _independent(db, entry.child.id, entry.today)
            assert entry.week.tally == expected["week"]
            assert entry.previous_week.tally == expected["before"]
            assert entry.month.tally == expected["month"]
            assert entry.week.done >= 1  # today's live log
            week, before = expected["week"].adherence, expected["before"].adherence
            assert week is not None and before is not None
            if week >= Fraction(4, 5):
                assert entry.band == "on_track"
            elif week >= Fraction(3, 5):
                assert entry.band == "slipping"
            else:
                assert entry.band == "low"
            change = week - before
            assert entry.change == change
            assert entry.trend == (
                "up" if change * 100 > 5 else "down" if change * 100 < -5 else "steady"
            )


# --- the page -------------------------------------------------------------------------------


@pytest.fixture
def caseload_page(db, orgs):  # type: ignore[no-untyped-def]
    """Four children of alpha's clinician with known figures (stored rollups), alerts and
    assessments; a child only the admin sees; a second clinician on Ada's team only; and a
    child of beta's."""
    alpha, beta = orgs
    today = _today()
    with f.in_org(alpha):
        second = _person(db, alpha, "clinician", "second")
        act = f.activity(db, "Rocking", 5)
        north = {"household": "North house"}
        south = {"household": "South house"}
        ada = f.child(db, alpha, name="Ada", **north).child
        bea = f.child(db, alpha, name="Bea", **north).child
        cal = f.child(db, alpha, name="Cal", **south).child
        dee = f.child(db, alpha, name="Dee", school=None, classroom=None, **south).child
        admin_m = membership_for(db, alpha.admin)
        eve = children.add_child(
            db,
            children.ChildDetails("Eve", "Ashdown", date(2017, 1, 1)),
            actor=alpha.admin,
            actor_membership=admin_m,
            default_time_zone="Europe/London",
            today=today,
        )
        children.add_team_member(
            db,
            ada,
            membership_id=membership_for(db, second).id,
            team_role="clinician",
            relationship=None,
            actor=alpha.clinician,
        )
        # Ada: 6 of 6 this week, 7 of 14 the week before: on track, up 50 points.
        for age in range(1, 7):
            _rollup(db, alpha, ada.id, act.id, age, done=1)
        for age in range(7, 14):
            _rollup(db, alpha, ada.id, act.id, age, done=1, missed=1)
        # Bea: 70% both weeks (steady, slipping); an excused routine changes nothing.
        _rollup(db, alpha, bea.id, act.id, 1, done=7, missed=3, excused=4)
        _rollup(db, alpha, bea.id, act.id, 8, done=6, partly=2, skipped=2)
        # Cal: 1 of 5 this week, 5 of 5 before: low, down 80 points. Old rows are outside.
        _rollup(db, alpha, cal.id, act.id, 2, done=1, missed=4)
        _rollup(db, alpha, cal.id, act.id, 9, done=5)
        _rollup(db, alpha, cal.id, act.id, 40, missed=50)
        # Dee: nothing counted this week, only pending and excused routines.
        _rollup(db, alpha, dee.id, act.id, 3, excused=2, pending=1)
        _rollup(db, alpha, eve.id, act.id, 3, done=1)
        _rolled_up_through_yesterday(db, alpha)
        framework = _framework(db)
        _assessed(db, framework, ada.id, today - timedelta(days=200))
        _assessed(db, framework, ada.id, today - timedelta(days=100))
        _assessed(db, framework, bea.id, today - timedelta(days=30))
        _assessed(db, framework, bea.id, today - timedelta(days=5), status="draft")
        _assessed(db, framework, cal.id, today - timedelta(days=5), status="draft")
        _assessed(db, framework, dee.id, today - timedelta(days=90))
        db.add_all(
            [
                m.AlertEpisode(child_id=cal.id, kind="adherence_low", opened_value=0.2),
                m.AlertEpisode(
                    child_id=bea.id, kind="adherence_low", closed_at=utcnow() - timedelta(days=1)
                ),
            ]
        )
        db.flush()
    with f.in_org(beta):
        zed = f.child(db, beta, name="Zed").child
        _rollup(db, beta, zed.id, f.activity(db, "Beta rocking").id, 1, done=1)
    ids = {
        "ada": ada.id,
        "bea": bea.id,
        "cal": cal.id,
        "dee": dee.id,
        "eve": eve.id,
        "north": ada.household_id,
        "south": cal.household_id,
        "class": ada.classroom_id,
    }
    people = {
        role: getattr(alpha, role).email for role in ("admin", "clinician", "carer", "teacher")
    }
    people["second"] = second.email
    people["beta_clinician"] = beta.clinician.email
    db.commit()
    return ids, people


def _row(html: str, name: str) -> str:
    start = html.index(f">{name} Ashdown</a>")
    return html[start : html.index("</tr>", start)]


def test_the_clinician_sees_their_caseload_with_its_figures(app, db, caseload_page):  # type: ignore[no-untyped-def]
    ids, people = caseload_page
    page = _as(app, people["clinician"]).get(URL.format("alpha"))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert _names(html) == ["Ada", "Bea", "Cal", "Dee"]  # not Eve (admin's), not beta's Zed
    assert "Zed" not in html and "Eve" not in html
    links = dict((name.split()[0], href) for href, name in NAME_RE.findall(html))
    assert links["Ada"] == f"/o/alpha/children/{ids['ada']}/adherence"
    ada, bea, cal, dee = (_row(html, n) for n in ("Ada", "Bea", "Cal", "Dee"))
    assert "100%" in ada and "65%" in ada  # 28 days: 13 of 20
    assert "up 50 points" in ada and "↑" in ada and "On track" in ada
    assert "overdue by 10 days" in ada  # the later of two complete assessments
    assert "North house" in ada and "Brook Primary, Year 3" in ada
    assert "70%" in bea and "steady" in bea and "Slipping" in bea
    assert "due in 60 days" in bea and "7-day adherence under the threshold" not in bea
    assert "20%" in cal and "60%" in cal and "down 80 points" in cal and "↓" in cal
    assert "Low" in cal and "7-day adherence under the threshold" in cal
    assert "no assessment yet" in cal  # a draft is not an assessment
    assert "No routines counted" in dee and "not enough to compare" in dee
    assert "0 routines counted" in dee and "6 routines counted" in ada
    assert "due today" in dee
    with f.in_org(_org_of(db, "alpha")):
        event_row = db.scalars(
            select(AuditEvent).where(AuditEvent.action == "adherence.caseload_viewed")
        ).one()
    assert event_row.detail["child_ids"] == [ids[n] for n in ("ada", "bea", "cal", "dee")]


def _org_of(db, slug: str):  # type: ignore[no-untyped-def]
    return organisations.organisation_by_slug(db, slug)


def test_admins_see_every_child_and_other_clinicians_only_their_own(app, db, caseload_page):  # type: ignore[no-untyped-def]
    _, people = caseload_page
    admin = _as(app, people["admin"]).get(URL.format("alpha")).get_data(as_text=True)
    assert _names(admin) == ["Ada", "Bea", "Cal", "Dee", "Eve"]
    assert "Adherence across the organisation" in admin
    second = _as(app, people["second"]).get(URL.format("alpha")).get_data(as_text=True)
    assert _names(second) == ["Ada"]
    beta = _as(app, people["beta_clinician"])
    html = beta.get(URL.format("beta")).get_data(as_text=True)
    assert _names(html) == ["Zed"]
    assert beta.get(URL.format("alpha")).status_code == 404  # not a member of alpha


def test_carers_and_teachers_are_refused(app, db, caseload_page):  # type: ignore[no-untyped-def]
    _, people = caseload_page
    for role in ("carer", "teacher"):
        browser = _as(app, people[role])
        response = browser.get(URL.format("alpha"))
        assert response.status_code == 403, role
        assert "Ada" not in response.get_data(as_text=True)
        assert 'href="/o/alpha/dashboard/"' not in browser.get("/o/alpha/").get_data(as_text=True)
    nav = _as(app, people["clinician"]).get("/o/alpha/").get_data(as_text=True)
    assert '<a href="/o/alpha/dashboard/">Adherence</a>' in nav


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("", ["Ada", "Bea", "Cal", "Dee"]),
        ("?sort=name&dir=desc", ["Dee", "Cal", "Bea", "Ada"]),
        ("?sort=adherence_7", ["Cal", "Bea", "Ada", "Dee"]),  # nothing counted: last
        ("?sort=adherence_7&dir=desc", ["Ada", "Bea", "Cal", "Dee"]),
        ("?sort=adherence_28", ["Cal", "Ada", "Bea", "Dee"]),
        ("?sort=trend", ["Cal", "Bea", "Ada", "Dee"]),
        ("?sort=trend&dir=desc", ["Ada", "Bea", "Cal", "Dee"]),
        ("?sort=due", ["Ada", "Dee", "Bea", "Cal"]),  # most overdue first, none last
        ("?sort=due&dir=desc", ["Bea", "Dee", "Ada", "Cal"]),
        ("?band=on_track", ["Ada"]),
        ("?band=slipping", ["Bea"]),
        ("?band=low", ["Cal"]),
        ("?band=none", ["Dee"]),
        ("?alert=open", ["Cal"]),  # Bea's episode is closed
        ("?band=&alert=&place=", ["Ada", "Bea", "Cal", "Dee"]),
        ("?place=household:{north}", ["Ada", "Bea"]),
        ("?place=household:{south}&sort=adherence_7&dir=desc", ["Cal", "Dee"]),
        ("?place=classroom:{class}", ["Ada", "Bea", "Cal"]),
        ("?place=household:{south}&band=on_track", []),
    ],
)
def test_sorting_and_filtering(app, db, caseload_page, query, names):  # type: ignore[no-untyped-def]
    ids, people = caseload_page
    response = _as(app, people["clinician"]).get(URL.format("alpha") + query.format(**ids))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert _names(html) == names
    if not names:
        assert "No child matches these filters." in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?sort=age", "Sort by name, adherence_7, adherence_28, trend or due."),
        ("?dir=sideways", "The sort direction is asc or desc."),
        ("?band=great", "The band is on_track, slipping, low or none."),
        ("?alert=closed", "The alert filter is alert=open."),
        ("?place=school:3", "household:&lt;number&gt; or classroom:&lt;number&gt;"),
        ("?place=household:99999999", "No child on this caseload lives in that household"),
        ("?place=household:{beta_home}", "No child on this caseload lives in that household"),
    ],
)
def test_unknown_values_get_a_clear_400(app, db, caseload_page, query, message):  # type: ignore[no-untyped-def]
    ids, people = caseload_page
    browser = _as(app, people["clinician"])
    with f.in_org(_org_of(db, "beta")):
        beta_home = db.scalar(select(m.Household.id))
    response = browser.get(URL.format("alpha") + query.format(beta_home=beta_home))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html
    assert _names(html) == []


# --- speed ---------------------------------------------------------------------------------


def _statements(app, db, browser, url: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    browser.get(url)  # warm
    with count_statements(db) as counted:
        response = browser.get(url)
    assert response.status_code == 200
    return counted.total, response.get_data(as_text=True)


def _bulk_caseload(db, org, clinician_m: int, activity_id: int, framework_id: int, places) -> list:  # type: ignore[no-untyped-def]
    """297 more children on the clinician's caseload, each with a year of stored rollups;
    every 7th with an open alert, every 3rd with two complete assessments."""
    today, homes, classroom = _today(), places[0], places[1]
    db.execute(
        insert(m.Child),
        [
            {
                "tenant_id": org.id,
                "given_name": f"Kid{n:03d}",
                "family_name": "Bulk",
                "date_of_birth": date(2016, 1, 1),
                "household_id": homes[n % len(homes)],
                "classroom_id": classroom if n % 2 else None,
            }
            for n in range(297)
        ],
    )
    ids = list(db.scalars(select(m.Child.id).where(m.Child.family_name == "Bulk")))
    team = [
        {"child_id": i, "membership_id": clinician_m, "team_role": "lead_clinician"} for i in ids
    ]
    db.execute(insert(m.CareTeamMember), [{"tenant_id": org.id, **row} for row in team])
    outcomes = ("done", "partly", "missed", "skipped", "excused")
    db.execute(
        insert(m.AdherenceRollup),
        [
            _rollup_row(org, i, activity_id, age, **{outcomes[(i + age) % 5]: 2})
            for i in ids
            for age in range(1, 366)
        ],
    )
    db.execute(
        insert(m.AlertEpisode),
        [{"tenant_id": org.id, "child_id": i, "kind": "adherence_low"} for i in ids[::7]],
    )
    db.execute(
        insert(m.Assessment),
        [
            {
                "tenant_id": org.id,
                "child_id": i,
                "framework_id": framework_id,
                "assessed_on": today - timedelta(days=(i % 120) + j * 120),
                "status": "complete",
            }
            for i in ids[::3]
            for j in (0, 1)
        ],
    )
    return ids


def test_300_children_with_a_year_of_rollups_take_as_many_queries_as_3(app, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    rng = random.Random(62)
    with f.in_org(alpha):
        real = [_real_family(db, alpha, rng, n, "Europe/London").child for n in ("Al", "Bi", "Ce")]
        framework = _framework(db)
        _assessed(db, framework, real[0].id, _today() - timedelta(days=20))
        db.add(m.AlertEpisode(child_id=real[1].id, kind="adherence_low"))
        rollups.roll_up(db, now=utcnow())
        activity_id = f.activity(db, "Bulk rocking").id
        clinician_m = membership_for(db, alpha.clinician).id
        places = ([real[0].household_id, real[1].household_id, None], real[0].classroom_id)
    db.commit()
    browser = _as(app, alpha.clinician.email)
    url = URL.format("alpha")
    small, html = _statements(app, db, browser, url)
    assert len(_names(html)) == 3

    with f.in_org(alpha):
        ids = _bulk_caseload(db, alpha, clinician_m, activity_id, framework.id, places)
    db.commit()
    large, html = _statements(app, db, browser, url)
    assert len(_names(html)) == 300
    assert html.count("7-day adherence under the threshold") == 1 + len(ids[::7])
    assert large == small, (small, large)
