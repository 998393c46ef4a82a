"""The carer's pages: Today, logging without scripts (idempotent by the page's UUID),
corrections, the week, away periods, household times, the device token and the service
worker, with their access rules and a fixed number of queries."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import event, func, select

from routines import children, logs
from routines import models as m
from routines.recurrence import local_to_utc
from tenants import accounts, api_tokens, organisations
from tenants.db import utcnow
from tenants.organisations import membership_for
from tests import routine_factories as f
from tests.conftest import PASSWORD, csrf_token, post_form, sign_in

LONDON = ZoneInfo("Europe/London")


def _today() -> date:
    return utcnow().astimezone(LONDON).date()


def _times(*clock: str) -> dict:
    return {"days": f.EVERY_DAY, "mode": "times", "times": list(clock)}


def _family(db, org, *, name="Robin", times=("19:00", "07:30"), carer=None, school=False):  # type: ignore[no-untyped-def]
    """A child of `org` with home routines at `times` every day, published from the start
    of today (London), so today's occurrences exist whatever the time now."""
    with f.in_org(org):
        fam = f.child(db, org, name=name, household=f"{name} household", carer=carer)
        items = [
            f.item(f.activity(db, f"{name} activity {clock}"), frequency=_times(clock))
            for clock in times
        ]
        if school:
            items.append(
                f.item(
                    f.activity(db, f"{name} classroom drumming"),
                    assignee="teacher",
                    frequency=_times("10:00"),
                )
            )
        f.publish(
            db,
            fam.child,
            items,
            effective_from=_today() - timedelta(days=7),
            now=local_to_utc(_today(), time(0, 0), LONDON),
        )
    db.commit()
    return fam


def _person(db, org, role: str, local: str):  # type: ignore[no-untyped-def]
    with f.in_org(org):
        user = accounts.create_user(
            db,
            email=f"{local}@{org.slug}.example",
            name=f"{local.title()} Person",
            password=PASSWORD,
        )
        organisations.add_member(db, user, [role])
    db.commit()
    return user


def _add_carer(db, org, fam, user) -> None:  # type: ignore[no-untyped-def]
    with f.in_org(org):
        children.add_team_member(
            db,
            fam.child,
            membership_id=membership_for(db, user).id,
            team_role="carer",
            relationship="kinship_carer",
            actor=org.clinician,
        )
    db.commit()


def _occurrences(db, org, fam, side="home"):  # type: ignore[no-untyped-def]
    with f.in_org(org):
        return list(
            db.scalars(
                select(m.Occurrence)
                .where(
                    m.Occurrence.child_id == fam.child.id,
                    m.Occurrence.local_date == _today(),
                    m.Occurrence.side == side,
                )
                .order_by(m.Occurrence.due_at)
            )
        )


def _as(app, user):  # type: ignore[no-untyped-def]
    """A browser of its own, signed in as `user`."""
    browser = app.test_client()
    sign_in(browser, user.email)
    return browser


def _count(db, org, model) -> int:  # type: ignore[no-untyped-def]
    with f.in_org(org):
        return db.scalar(select(func.count()).select_from(model))


def _form_uuid(html: str, occurrence_id: int) -> str:
    match = re.search(
        r'name="client_uuid" value="([0-9a-f-]{36})">\s*'
        rf'<input type="hidden" name="occurrence_id" value="{occurrence_id}">',
        html,
    )
    assert match, f"no log form for occurrence {occurrence_id}"
    return match.group(1)


def _log_form(client, slug: str, occurrence_id: int, **fields):  # type: ignore[no-untyped-def]
    page = client.get(f"/o/{slug}/today").get_data(as_text=True)
    data = {
        "client_uuid": _form_uuid(page, occurrence_id),
        "occurrence_id": str(occurrence_id),
        "date": "",
        "status": "done",
        **fields,
    }
    return data


def _record(db, org, fam, occurrence, *, user=None, now=None, status="done"):  # type: ignore[no-untyped-def]
    with f.in_org(org):
        member = membership_for(db, user or org.carer)
        [result] = logs.record_logs(
            db,
            [logs.LogInput(str(uuid.uuid4()), occurrence.id, status, reason=None)],
            actor=user or org.carer,
            membership=member,
            now=now or utcnow(),
            source="web",
        )
    db.commit()
    assert result.code == 201, result
    return result.log


# --- Today -----------------------------------------------------------------------------------


def test_today_lists_the_carers_children_and_their_home_routines_in_time_order(client, db, orgs):
    alpha, _ = orgs
    robin = _family(db, alpha, school=True)
    other = _person(db, alpha, "carer", "other.carer")
    _family(db, alpha, name="Sky", carer=other)
    sign_in(client, alpha.carer.email)

    response = client.get("/o/alpha/today")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Robin Ashdown" in html
    assert "Sky Ashdown" not in html  # not on this carer's team
    assert "Robin classroom drumming" not in html  # the school side is the teacher's
    assert html.index("Robin activity 07:30") < html.index("Robin activity 19:00")
    assert _today().strftime("%A %-d %B %Y") in html
    assert "07:30" in html and "5 min" in html
    assert "Robin activity 07:30, slowly and rhythmically." in html  # the first sentence
    shown = [int(i) for i in re.findall(r'id="occ-(\d+)"', html)]
    assert shown == [o.id for o in _occurrences(db, alpha, robin)]
    assert 'href="/o/alpha/today/week"' in html
    assert f'href="/o/alpha/children/{robin.child.id}/away"' in html
    assert f'href="/o/alpha/households/{robin.child.household_id}/anchors"' in html
    # The offline script and the page's own stylesheet, no inline code.
    assert 'src="/static/today.js"' in html and 'href="/static/home.css"' in html
    assert "onclick" not in html and "<style" not in html


def test_today_for_another_day_and_a_bad_date(client, db, orgs):
    alpha, _ = orgs
    _family(db, alpha)
    sign_in(client, alpha.carer.email)
    tomorrow = _today() + timedelta(days=1)
    html = client.get(f"/o/alpha/today?date={tomorrow.isoformat()}").get_data(as_text=True)
    assert tomorrow.strftime("%A %-d %B %Y") in html
    assert "Back to today" in html
    bad = client.get("/o/alpha/today?date=23-11-2026")
    assert bad.status_code == 400
    assert "YYYY-MM-DD" in bad.get_data(as_text=True)


def test_friendly_pages_for_no_plan_no_children_and_non_carers(app, client, db, orgs):
    alpha, _ = orgs
    sign_in(client, alpha.carer.email)
    html = client.get("/o/alpha/today").get_data(as_text=True)
    assert "No children yet" in html

    with f.in_org(alpha):
        f.child(db, alpha, name="Planless")
    db.commit()
    html = client.get("/o/alpha/today").get_data(as_text=True)
    assert "There is no plan for Planless yet" in html

    for person in (alpha.teacher, alpha.clinician):
        client = _as(app, person)
        for path in ("/o/alpha/today", "/o/alpha/today/week"):
            response = client.get(path)
            assert response.status_code == 200
            assert "Today is for carers" in response.get_data(as_text=True)


def test_one_tap_done_stores_one_log_and_a_resubmitted_form_does_not_duplicate(client, db, orgs):
    alpha, _ = orgs
    fam = _family(db, alpha)
    first = _occurrences(db, alpha, fam)[0]
    sign_in(client, alpha.carer.email)
    data = _log_form(client, "alpha", first.id)

    token = csrf_token(client, "/o/alpha/today")
    done = client.post("/o/alpha/today/log", data={**data, "csrf_token": token})
    again = client.post("/o/alpha/today/log", data={**data, "csrf_token": token})
    assert done.status_code == again.status_code == 303
    assert _count(db, alpha, m.RoutineLog) == 1
    with f.in_org(alpha):
        log = db.scalar(select(m.RoutineLog))
        assert str(log.client_uuid) == data["client_uuid"]
        assert (log.status, log.source, log.author_id) == ("done", "web", alpha.carer.id)
        assert db.get(m.Occurrence, first.id).status == "done"
    html = client.get("/o/alpha/today").get_data(as_text=True)
    assert "That log was already saved." in html
    assert "by you at" in html

    # The same UUID with a different content is a conflict, shown, and changes nothing.
    changed = client.post(
        "/o/alpha/today/log", data={**data, "status": "partly", "csrf_token": token}
    )
    assert changed.status_code == 409
    assert "already used for a different log" in changed.get_data(as_text=True)
    with f.in_org(alpha):
        assert db.scalar(select(m.RoutineLog.status)) == "done"


def test_skipped_needs_a_reason_and_details_are_checked(client, db, orgs):
    alpha, _ = orgs
    fam = _family(db, alpha)
    first = _occurrences(db, alpha, fam)[0]
    sign_in(client, alpha.carer.email)
    data = _log_form(client, "alpha", first.id, status="skipped")
    refused = post_form(client, "/o/alpha/today/log", data, token_from="/o/alpha/today")
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "Say why it was skipped" in html
    assert '<details class="log-more" open>' in html  # the choices stay open to fix it
    bad = post_form(
        client,
        "/o/alpha/today/log",
        {**data, "status": "partly", "minutes": "900"},
        token_from="/o/alpha/today",
    )
    assert bad.status_code == 422
    assert "minutes as a whole number" in bad.get_data(as_text=True)
    assert _count(db, alpha, m.RoutineLog) == 0

    skipped = post_form(
        client,
        "/o/alpha/today/log",
        {
            **data,
            "reason": "unwell",
            "minutes": "3",
            "state_before": "alarm",
            "state_after": "calm",
            "enjoyment": "4",
            "note": "Tired after school.",
        },
        token_from="/o/alpha/today",
    )
    assert skipped.status_code == 303
    with f.in_org(alpha):
        log = db.scalar(select(m.RoutineLog))
    assert (log.status, log.reason, log.minutes, log.state_before, log.state_after) == (
        "skipped",
        "unwell",
        3,
        "alarm",
        "calm",
    )
    assert (log.enjoyment, log.note) == (4, "Tired after school.")

    # Done ignores a reason chosen before changing one's mind.
    second = _occurrences(db, alpha, fam)[1]
    data = _log_form(client, "alpha", second.id, reason="refused")
    assert (
        post_form(client, "/o/alpha/today/log", data, token_from="/o/alpha/today").status_code
        == 303
    )


def test_a_carer_logs_only_their_childrens_home_routines(client, db, orgs):
    alpha, beta = orgs
    fam = _family(db, alpha, school=True)
    school = _occurrences(db, alpha, fam, side="school")[0]
    theirs = _occurrences(db, beta, _family(db, beta))[0]
    sign_in(client, alpha.carer.email)
    data = _log_form(client, "alpha", _occurrences(db, alpha, fam)[0].id)
    for occurrence_id, status in ((school.id, 403), (theirs.id, 404), (999999, 404)):
        response = post_form(
            client,
            "/o/alpha/today/log",
            {**data, "occurrence_id": str(occurrence_id)},
            token_from="/o/alpha/today",
        )
        assert response.status_code == status
    assert _count(db, alpha, m.RoutineLog) == 0
    assert _count(db, beta, m.RoutineLog) == 0


# --- corrections -------------------------------------------------------------------------------


def _correction(**fields) -> dict:  # type: ignore[no-untyped-def]
    return {
        "status": "partly",
        "reason": "no_time",
        "minutes": "2",
        "state_before": "",
        "state_after": "",
        "enjoyment": "",
        "note": "Cut short.",
        "date": "",
        **fields,
    }


def test_the_author_corrects_a_log_and_every_correction_is_kept(client, db, orgs):
    alpha, _ = orgs
    fam = _family(db, alpha)
    log = _record(db, alpha, fam, _occurrences(db, alpha, fam)[0])
    sign_in(client, alpha.carer.email)
    html = client.get("/o/alpha/today").get_data(as_text=True)
    assert f'action="/o/alpha/today/logs/{log.id}/correct"' in html

    url = f"/o/alpha/today/logs/{log.id}/correct"
    response = post_form(client, url, _correction(), token_from="/o/alpha/today")
    assert response.status_code == 303
    with f.in_org(alpha):
        db.expire_all()
        stored = db.get(m.RoutineLog, log.id)
        assert (stored.status, stored.reason, stored.minutes) == ("partly", "no_time", 2)
        assert db.get(m.Occurrence, stored.occurrence_id).status == "partly"
        [kept] = db.scalars(select(m.LogCorrection)).all()
        assert kept.before["status"] == "done" and kept.after["status"] == "partly"
    html = client.get("/o/alpha/today").get_data(as_text=True)
    assert "Corrected 1 time" in html
    assert "status done → partly" in html

    bad = post_form(
        client, url, _correction(status="skipped", reason=""), token_from="/o/alpha/today"
    )
    assert bad.status_code == 422
    assert "Say why it was skipped" in bad.get_data(as_text=True)
    assert _count(db, alpha, m.LogCorrection) == 1


def test_someone_else_cannot_correct_and_the_window_is_48_hours(app, client, db, orgs):
    alpha, _ = orgs
    fam = _family(db, alpha)
    partner = _person(db, alpha, "carer", "partner")
    _add_carer(db, alpha, fam, partner)
    first, second = _occurrences(db, alpha, fam)
    mine = _record(db, alpha, fam, first)
    old = _record(db, alpha, fam, second, now=utcnow() - timedelta(hours=49))

    sign_in(client, partner.email)
    html = client.get("/o/alpha/today").get_data(as_text=True)
    assert f"/logs/{mine.id}/correct" not in html  # not the partner's log
    assert "by alpha carer" in html
    refused = post_form(
        client, f"/o/alpha/today/logs/{mine.id}/correct", _correction(), token_from="/o/alpha/today"
    )
    assert refused.status_code == 403

    client = _as(app, alpha.carer)
    html = client.get("/o/alpha/today").get_data(as_text=True)
    assert f"/logs/{mine.id}/correct" in html
    assert f"/logs/{old.id}/correct" not in html  # made 49 hours ago
    late = post_form(
        client, f"/o/alpha/today/logs/{old.id}/correct", _correction(), token_from="/o/alpha/today"
    )
    assert late.status_code == 403
    assert "48 hours" in late.get_data(as_text=True)
    assert _count(db, alpha, m.LogCorrection) == 0
    with f.in_org(alpha):
        assert {log.status for log in db.scalars(select(m.RoutineLog))} == {"done"}


# --- the week ----------------------------------------------------------------------------------


def test_the_week_shows_whats_coming_and_whats_done(client, db, orgs):
    alpha, _ = orgs
    fam = _family(db, alpha)
    _record(db, alpha, fam, _occurrences(db, alpha, fam)[0])
    sign_in(client, alpha.carer.email)
    today = _today()
    monday = today - timedelta(days=today.weekday())
    response = client.get("/o/alpha/today/week")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"Week from {monday.strftime('%A %-d %B')}" in html
    assert html.count('<li class="week-day') == 7
    assert "Robin activity 07:30" in html
    assert ">Done<" in html
    assert "(today)" in html
    previous = (monday - timedelta(days=7)).isoformat()
    assert f'href="/o/alpha/today/week?start={previous}"' in html

    later = client.get(f"/o/alpha/today/week?start={(today + timedelta(days=1)).isoformat()}")
    html = later.get_data(as_text=True)
    assert html.count(">To do<") == 14  # two a day for seven days, none logged yet
    assert client.get("/o/alpha/today/week?start=soon").status_code == 400


# --- away ---------------------------------------------------------------------------------------


def test_away_excuses_the_routines_and_cancelling_restores_them(client, db, orgs):
    alpha, _ = orgs
    fam = _family(db, alpha)
    sign_in(client, alpha.carer.email)
    url = f"/o/alpha/children/{fam.child.id}/away"
    assert client.get(url).status_code == 200
    today = _today()
    added = post_form(
        client,
        url,
        {
            "kind": "hospital",
            "starts_on": today.isoformat(),
            "ends_on": (today + timedelta(days=1)).isoformat(),
            "start_time": "",
            "end_time": "",
            "note": "Tonsils",
        },
    )
    assert added.status_code == 303
    assert {o.status for o in _occurrences(db, alpha, fam)} == {"excused"}
    html = client.get("/o/alpha/today").get_data(as_text=True)
    assert html.count("Away: hospital") == 2
    assert "Away (hospital) until" in html

    page = client.get(url).get_data(as_text=True)
    assert "Tonsils" in page
    with f.in_org(alpha):
        away_id = db.scalar(select(m.AwayPeriod.id))
    cancelled = post_form(client, f"{url}/{away_id}/cancel", token_from=url)
    assert cancelled.status_code == 303
    assert {o.status for o in _occurrences(db, alpha, fam)} == {"pending"}
    assert "Away: hospital" not in client.get("/o/alpha/today").get_data(as_text=True)

    bad = post_form(
        client,
        url,
        {
            "kind": "hospital",
            "starts_on": today.isoformat(),
            "ends_on": (today - timedelta(days=1)).isoformat(),
        },
    )
    assert bad.status_code == 400
    assert "The last day cannot be before the first." in bad.get_data(as_text=True)
    assert _count(db, alpha, m.AwayPeriod) == 1


def test_away_is_for_the_childs_carers_and_clinicians(app, client, db, orgs):
    alpha, _ = orgs
    fam = _family(db, alpha)
    other = _person(db, alpha, "carer", "other.carer")
    stranger = _family(db, alpha, name="Sky", carer=other)
    sign_in(client, alpha.carer.email)
    assert client.get(f"/o/alpha/children/{stranger.child.id}/away").status_code == 404
    refused = post_form(
        client,
        f"/o/alpha/children/{stranger.child.id}/away",
        {"kind": "holiday", "starts_on": _today().isoformat(), "ends_on": _today().isoformat()},
        token_from="/o/alpha/today",
    )
    assert refused.status_code == 404

    client = _as(app, alpha.teacher)  # on the team, but teachers do not mark away
    assert client.get(f"/o/alpha/children/{fam.child.id}/away").status_code == 403

    client = _as(app, alpha.clinician)  # the lead clinician
    assert client.get(f"/o/alpha/children/{fam.child.id}/away").status_code == 200
    assert _count(db, alpha, m.AwayPeriod) == 0


# --- household times ------------------------------------------------------------------------


def test_changing_an_anchor_moves_the_future_routines_that_use_it(client, db, orgs):
    alpha, _ = orgs
    with f.in_org(alpha):
        fam = f.child(db, alpha)
        bedtime = {"days": f.EVERY_DAY, "mode": "anchors", "anchors": ["before_bed"]}
        f.publish(
            db,
            fam.child,
            [f.item(f.activity(db, "Bath"), frequency=bedtime)],
            now=local_to_utc(_today(), time(0, 0), LONDON),
        )
    db.commit()
    sign_in(client, alpha.carer.email)
    url = f"/o/alpha/households/{fam.child.household_id}/anchors"
    page = client.get(url).get_data(as_text=True)
    assert 'placeholder="19:30"' in page and 'placeholder="07:00"' in page

    assert post_form(client, url, {"before_bed": "20:15"}).status_code == 303
    tomorrow = _today() + timedelta(days=1)
    with f.in_org(alpha):
        db.expire_all()
        later = db.scalars(
            select(m.Occurrence.local_time).where(m.Occurrence.local_date >= tomorrow)
        ).all()
        household = db.get(m.Household, fam.child.household_id)
        assert household.anchor_times == {"before_bed": "20:15"}
    assert later and set(later) == {time(20, 15)}

    bad = post_form(client, url, {"before_bed": "25:00"})
    assert bad.status_code == 400
    assert "24-hour time" in bad.get_data(as_text=True)
    with f.in_org(alpha):
        db.expire_all()
        assert db.get(m.Household, fam.child.household_id).anchor_times == {"before_bed": "20:15"}


def test_household_times_are_for_its_carers_clinicians_and_admins(app, client, db, orgs):
    alpha, _ = orgs
    fam = _family(db, alpha)
    url = f"/o/alpha/households/{fam.child.household_id}/anchors"
    expected = {
        alpha.carer: 200,
        alpha.clinician: 200,
        alpha.admin: 200,
        alpha.teacher: 404,
        _person(db, alpha, "carer", "other.carer"): 404,
    }
    for person, status in expected.items():
        client = _as(app, person)
        assert client.get(url).status_code == status, person.email


# --- isolation ---------------------------------------------------------------------------------


def test_another_organisations_ids_are_not_found(client, db, orgs):
    alpha, beta = orgs
    mine = _family(db, alpha)
    theirs = _family(db, beta)
    their_log = _record(db, beta, theirs, _occurrences(db, beta, theirs)[0])
    with f.in_org(beta):
        from routines import away

        their_away = away.add_away(
            db,
            theirs.child,
            kind="respite",
            starts_on=_today() + timedelta(days=3),
            ends_on=_today() + timedelta(days=4),
            note="",
            time_zone="Europe/London",
            actor=beta.carer,
        )
    db.commit()
    sign_in(client, alpha.carer.email)
    token = {"token_from": "/o/alpha/today"}
    assert client.get(f"/o/alpha/children/{theirs.child.id}/away").status_code == 404
    assert client.get(f"/o/alpha/households/{theirs.child.household_id}/anchors").status_code == 404
    assert (
        post_form(
            client,
            f"/o/alpha/households/{theirs.child.household_id}/anchors",
            {"before_bed": "18:00"},
            **token,
        ).status_code
        == 404
    )
    assert (
        post_form(
            client, f"/o/alpha/today/logs/{their_log.id}/correct", _correction(), **token
        ).status_code
        == 404
    )
    cancel = f"/o/alpha/children/{mine.child.id}/away/{their_away.id}/cancel"
    assert post_form(client, cancel, **token).status_code == 404
    # Their organisation's own URLs: not a member.
    assert client.get("/o/beta/today").status_code == 404
    with f.in_org(beta):
        assert db.get(m.AwayPeriod, their_away.id).cancelled_at is None
        assert db.get(m.Household, theirs.child.household_id).anchor_times == {}
    assert _count(db, beta, m.LogCorrection) == 0


# --- the offline machinery's server side -------------------------------------------------------


def test_device_token_needs_the_session_and_csrf_and_works_for_the_api(app, client, db, orgs):
    alpha, _ = orgs
    sign_in(client, alpha.carer.email)
    assert client.post("/o/alpha/today/device-token").status_code == 400  # no CSRF token
    response = client.post(
        "/o/alpha/today/device-token",
        headers={
            "X-CSRFToken": csrf_token(client, "/o/alpha/today"),
            "User-Agent": "Mozilla/5.0 (Linux; Android 14) Chrome/131.0 Mobile Safari/537.36",
        },
    )
    assert response.status_code == 201
    secret = response.get_json()["token"]
    with f.in_org(alpha):
        token = api_tokens.authenticate(db, secret, now=utcnow())
        assert token is not None
        assert token.name == "Today on Chrome, Android"
        assert token.membership_id == membership_for(db, alpha.carer).id
        assert token.expires_at - utcnow() > timedelta(days=89)

    client = _as(app, alpha.teacher)
    refused = client.post(
        "/o/alpha/today/device-token",
        headers={"X-CSRFToken": csrf_token(client, "/o/alpha/today")},
    )
    assert refused.status_code == 403


def test_the_service_worker_is_served_inside_the_organisation(client, db, orgs):
    alpha, _ = orgs
    assert client.get("/o/alpha/sw.js").status_code == 302  # signed-in members only
    sign_in(client, alpha.carer.email)
    response = client.get("/o/alpha/sw.js")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/javascript")
    assert response.headers["Service-Worker-Allowed"] == "/o/alpha/"
    assert "cadence-today" in response.get_data(as_text=True)


# --- queries ------------------------------------------------------------------------------------


class Statements:
    def __init__(self, engine) -> None:  # type: ignore[no-untyped-def]
        self.engine = engine
        self.count = 0

    def _seen(self, *args) -> None:  # type: ignore[no-untyped-def]
        self.count += 1

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc) -> None:  # type: ignore[no-untyped-def]
        event.remove(self.engine, "before_cursor_execute", self._seen)


def _queries(app, client, path: str) -> int:  # type: ignore[no-untyped-def]
    client.get(path)  # warm
    with Statements(app.extensions["cadence.db"].engine) as seen:
        assert client.get(path).status_code == 200
    return seen.count


def test_today_and_the_week_run_a_fixed_number_of_queries(app, client, db, orgs):
    alpha, beta = orgs
    small = _family(db, alpha)
    _record(db, alpha, small, _occurrences(db, alpha, small)[0])

    partner = _person(db, beta, "carer", "partner")
    for index, name in enumerate(("Ash", "Bo", "Cy", "Di")):
        fam = _family(db, beta, name=name, times=("07:00", "12:00", "16:30", "19:00"))
        occurrences = _occurrences(db, beta, fam)
        log = _record(db, beta, fam, occurrences[0])
        if index % 2:
            _add_carer(db, beta, fam, partner)
            _record(db, beta, fam, occurrences[1], user=partner)
        with f.in_org(beta):
            logs.correct_log(db, log, {"status": "partly"}, actor=beta.carer, now=utcnow())
            f.child(db, beta, name=f"{name}kid", household=None, school=None, classroom=None)
        db.commit()

    counts = {}
    for org in (alpha, beta):
        client = _as(app, org.carer)
        counts[org.slug] = (
            _queries(app, client, f"/o/{org.slug}/today"),
            _queries(app, client, f"/o/{org.slug}/today/week"),
        )
    page = client.get("/o/beta/today").get_data(as_text=True)
    assert page.count('class="occurrence ') == 16
    assert counts["alpha"] == counts["beta"], counts


def test_logged_at_is_shown_in_the_viewers_zone(client, db, orgs):
    """The time of a log is the viewer's local time (London here), not UTC."""
    alpha, _ = orgs
    fam = _family(db, alpha)
    first = _occurrences(db, alpha, fam)[0]
    moment = datetime.combine(_today(), time(0, 0), tzinfo=UTC) + timedelta(hours=12)
    with f.in_org(alpha):
        [result] = logs.record_logs(
            db,
            [logs.LogInput(str(uuid.uuid4()), first.id, "done", logged_at=moment.isoformat())],
            actor=alpha.carer,
            membership=membership_for(db, alpha.carer),
            now=max(utcnow(), moment),
            source="api",
        )
    db.commit()
    sign_in(client, alpha.carer.email)
    html = client.get("/o/alpha/today").get_data(as_text=True)
    assert f"at {moment.astimezone(LONDON).strftime('%H:%M')}" in html
