"""The next plan version starts as a copy of the current one, and the draft page shows beside
each copied activity its adherence since the current version took effect (percent and
"N of M routines", or "no routines counted yet"), marking for review those under the
organisation's threshold; the numbers equal an independent count, and the page reads the
rollups once whatever the size of the plan and its history."""

from __future__ import annotations

import html as html_lib
import re
import uuid
from dataclasses import dataclass
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from routines import metrics, plans, rollups, summaries
from routines import models as m
from routines.recurrence import local_to_utc
from tenants.db import utcnow
from tenants.models import Organisation
from tests import routine_factories as f
from tests.conftest import sign_in
from tests.test_home import Statements

LONDON = ZoneInfo("Europe/London")


def _today() -> date:
    return utcnow().astimezone(LONDON).date()


def _days_ago(n: int) -> date:
    return _today() - timedelta(days=n)


def _daily(clock: str) -> dict:
    return {"days": f.EVERY_DAY, "mode": "times", "times": [clock]}


def _publish(db, kid, items, effective: date) -> m.PlanVersion:  # type: ignore[no-untyped-def]
    return f.publish(
        db,
        kid,
        items,
        effective_from=effective,
        now=local_to_utc(effective, time(0, 0), LONDON),
        horizon_days=(_today() - effective).days + 5,
    )


def _mark(db, occ: m.Occurrence, status: str) -> None:  # type: ignore[no-untyped-def]
    occ.status = status
    if status in ("done", "partly", "skipped"):
        db.add(
            m.RoutineLog(
                client_uuid=uuid.uuid4(),
                payload_hash="x" * 64,
                occurrence_id=occ.id,
                child_id=occ.child_id,
                status=status,
                reason="no_time" if status == "skipped" else None,
                source="web",
                logged_at=occ.due_at,
            )
        )


def _occurrences(db, child_id: int, activity: m.Activity) -> list[m.Occurrence]:  # type: ignore[no-untyped-def]
    return list(
        db.scalars(
            select(m.Occurrence)
            .where(
                m.Occurrence.child_id == child_id,
                m.Occurrence.activity_id == activity.id,
                m.Occurrence.status != "withdrawn",
            )
            .order_by(m.Occurrence.local_date)
        )
    )


@dataclass
class Setup:
    child_id: int
    version_id: int
    effective: date
    names: dict[str, int]  # activity name -> id


def _build(db, org, *, extra: int = 0, suffix: str = "") -> Setup:  # type: ignore[no-untyped-def]
    """Version 1 (20 to 6 days ago): rocking, every routine missed. Version 2 (from 5 days
    ago): rocking 4 of 5 done and 1 missed (80%); drumming done, done, partly, skipped,
    missed (50%); swinging from tomorrow (nothing counted yet); `extra` more activities,
    all done. Then a draft, copied from version 2, with one new activity."""
    fam = f.child(db, org, name=f"Robin{suffix}", household=f"Robin{suffix} household")
    kid = fam.child
    rocking = f.activity(db, f"Rocking{suffix}")
    drumming = f.activity(db, f"Drumming{suffix}")
    swinging = f.activity(db, f"Swinging{suffix}")
    new = f.activity(db, f"Walking{suffix}")
    _publish(
        db,
        kid,
        [f.item(rocking, frequency=_daily("07:30"), start=_days_ago(20), end=_days_ago(6))],
        _days_ago(20),
    )
    for occ in _occurrences(db, kid.id, rocking):
        _mark(db, occ, "missed")
    extras = [f.activity(db, f"Extra {i}{suffix}") for i in range(extra)]
    effective = _days_ago(5)
    version = _publish(
        db,
        kid,
        [
            f.item(rocking, frequency=_daily("07:30"), start=effective, end=_days_ago(1)),
            f.item(drumming, frequency=_daily("08:00"), start=effective, end=_days_ago(1)),
            f.item(swinging, frequency=_daily("09:00"), start=_today() + timedelta(days=1)),
            *(
                f.item(a, frequency=_daily(f"1{i % 10}:00"), start=effective, end=_days_ago(1))
                for i, a in enumerate(extras)
            ),
        ],
        effective,
    )
    for occ, status in zip(
        _occurrences(db, kid.id, rocking)[-5:],
        ["done", "done", "missed", "done", "done"],
        strict=True,
    ):
        _mark(db, occ, status)
    for occ, status in zip(
        _occurrences(db, kid.id, drumming),
        ["done", "partly", "skipped", "done", "missed"],
        strict=True,
    ):
        _mark(db, occ, status)
    for activity in extras:
        for occ in _occurrences(db, kid.id, activity):
            _mark(db, occ, "done")
    draft = plans.draft_for(db, kid, actor=org.clinician)
    plans.add_item(
        db,
        draft,
        kid,
        new.id,
        plans.ItemDetails(
            domain="sensory_integration",
            assignee="household",
            minutes=5,
            start_date=_today(),
            days=list(f.EVERY_DAY),
            mode="times",
            times=["12:00"],
        ),
        actor=org.clinician,
    )
    db.flush()
    names = {a.name: a.id for a in (rocking, drumming, swinging, new, *extras)}
    return Setup(kid.id, version.id, effective, names)


@pytest.fixture
def setup(db, orgs) -> Setup:  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with f.in_org(alpha):
        built = _build(db, alpha)
    db.commit()
    return built


def _row(html: str, name: str) -> str:
    """The text of the draft table's row for an activity."""
    for row in re.findall(r"<tr>.*?</tr>", html, flags=re.S):
        if f"{name}<" in row or f"{name} " in row:
            return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", row)).split())
    raise AssertionError(f"no row for {name}")


def _editor(client, child_id: int) -> str:  # type: ignore[no-untyped-def]
    response = client.get(f"/o/alpha/children/{child_id}/plan/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _independent(db, child_id: int, activity_id: int, first: date) -> metrics.Tally:  # type: ignore[no-untyped-def]
    statuses = db.scalars(
        select(m.Occurrence.status).where(
            m.Occurrence.child_id == child_id,
            m.Occurrence.activity_id == activity_id,
            m.Occurrence.local_date >= first,
            m.Occurrence.local_date <= _today(),
            m.Occurrence.status != "withdrawn",
        )
    )
    return metrics.tally(statuses)


# --- the copy -------------------------------------------------------------------------------


def test_the_draft_starts_as_a_copy_of_the_current_version(db, orgs, setup):
    alpha, _ = orgs
    fields = ("activity_id", "domain", "assignee", "frequency", "minutes", "start_date", "notes")
    with f.in_org(alpha):
        version = db.get(m.PlanVersion, setup.version_id)
        draft = db.scalar(
            select(m.PlanVersion).where(
                m.PlanVersion.plan_id == version.plan_id, m.PlanVersion.status == "draft"
            )
        )
        copied = [tuple(getattr(i, n) for n in fields) for i in draft.items[: len(version.items)]]
        assert copied == [tuple(getattr(i, n) for n in fields) for i in version.items]
        assert {i.id for i in draft.items}.isdisjoint({i.id for i in version.items})
        assert draft.items[-1].activity_id == setup.names["Walking"]


# --- the draft page -------------------------------------------------------------------------


def test_the_draft_shows_each_copied_activitys_adherence_since_the_version(client, db, orgs, setup):
    alpha, _ = orgs
    with f.in_org(alpha):
        expected = {
            name: _independent(db, setup.child_id, setup.names[name], setup.effective)
            for name in ("Rocking", "Drumming", "Swinging")
        }
        # Version 1's missed rocking (before version 2 took effect) is left out.
        before = _independent(db, setup.child_id, setup.names["Rocking"], _days_ago(20))
    assert before.counted == expected["Rocking"].counted + 15
    assert expected["Rocking"].adherence == metrics.Fraction(4, 5)
    assert expected["Drumming"].adherence == metrics.Fraction(1, 2)
    assert expected["Swinging"].counted == 0

    sign_in(client, alpha.clinician.email)
    html = _editor(client, setup.child_id)
    assert "Adherence since version 2" in html
    rocking = _row(html, "Rocking")
    assert "80% · 4 of 5 routines done" in rocking
    assert "Review" not in rocking  # exactly at the threshold is not under it
    drumming = _row(html, "Drumming")
    assert "50% · 2 of 5 routines done, 1 partly" in drumming
    assert "⚑ Review: under 80%" in drumming
    assert "No routines counted yet" in _row(html, "Swinging")
    walking = _row(html, "Walking")
    assert "New in this draft" in walking and "%" not in walking


def test_the_review_marker_follows_the_organisations_threshold(client, db, orgs, setup):
    alpha, _ = orgs
    sign_in(client, alpha.clinician.email)
    for threshold, flagged in ((0.5, set()), (0.81, {"Rocking", "Drumming"})):
        # A request ends the session it ran in: change the row through the current one.
        db.get(Organisation, alpha.id).adherence_threshold = threshold
        db.commit()
        html = _editor(client, setup.child_id)
        shown = {name for name in ("Rocking", "Drumming") if "Review" in _row(html, name)}
        assert shown == flagged, threshold
        assert f"under the organisation's {round(threshold * 100)}%" in html.replace("&#39;", "'")


def test_nightly_rollups_and_todays_changes_give_the_same_numbers(client, db, orgs, setup):
    alpha, _ = orgs
    with f.in_org(alpha):
        rollups.roll_up(db, now=utcnow())
        # A correction after the build: yesterday's drumming was done after all.
        last = _occurrences(db, setup.child_id, db.get(m.Activity, setup.names["Drumming"]))[-1]
        last.status = "done"
        last.updated_at = utcnow()
        db.flush()
        expected = _independent(db, setup.child_id, setup.names["Drumming"], setup.effective)
    db.commit()
    assert expected.adherence == metrics.Fraction(7, 10)
    sign_in(client, alpha.clinician.email)
    assert "70% · 3 of 5 routines done, 1 partly" in _row(
        _editor(client, setup.child_id), "Drumming"
    )


def test_carers_see_the_plain_plan_without_adherence(client, orgs, setup):
    alpha, _ = orgs
    sign_in(client, alpha.carer.email)
    html = client.get(f"/o/alpha/children/{setup.child_id}/plan/").get_data(as_text=True)
    assert "Rocking" in html
    assert "Adherence since" not in html and "Review" not in html and "%" not in html


def test_without_a_published_version_the_draft_has_no_adherence_column(client, db, orgs):
    alpha, _ = orgs
    with f.in_org(alpha):
        kid = f.child(db, alpha, name="Sam", household="Sam household").child
        plans.draft_for(db, kid, actor=alpha.clinician)
        child_id = kid.id
        assert summaries.draft_adherence(db, kid, None, _today(), 0.8) is None
    db.commit()
    sign_in(client, alpha.clinician.email)
    assert "Adherence since" not in _editor(client, child_id)


# --- statements -----------------------------------------------------------------------------


def _statements(app, email: str, child_id: int) -> int:  # type: ignore[no-untyped-def]
    browser = app.test_client()
    sign_in(browser, email)
    _editor(browser, child_id)  # warm
    with Statements(app.extensions["cadence.db"].engine) as seen:
        _editor(browser, child_id)
    return seen.count


def test_the_draft_page_runs_a_fixed_number_of_statements(app, db, orgs, setup):
    alpha, _ = orgs
    small = _statements(app, alpha.clinician.email, setup.child_id)
    with f.in_org(alpha):
        larger = _build(db, alpha, extra=8, suffix=" B")
        rollups.roll_up(db, now=utcnow())
    db.commit()
    html = _editor(_signed_in(app, alpha.clinician.email), larger.child_id)
    assert html.count("5 of 5 routines done") == 8
    assert _statements(app, alpha.clinician.email, larger.child_id) == small


def _signed_in(app, email: str):  # type: ignore[no-untyped-def]
    browser = app.test_client()
    sign_in(browser, email)
    return browser
