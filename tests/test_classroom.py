"""The classroom pages: a class's day, group and one-tap logging, the school calendar,
anchor times, who may open them, bad input, and the page's fixed number of queries."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select

from routines import models as m
from tenants.context import tenant_context
from tenants.db import utcnow
from tests import routine_factories as f
from tests.conftest import csrf_token, post_form, sign_in
from tests.routines.test_classroom_ops import make_class, school_item, teacher_user


def next_school_day() -> date:
    """A weekday after today in London: its 10:15 is still to come and within a week."""
    day = utcnow().astimezone(ZoneInfo("Europe/London")).date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


@dataclass
class Setup:
    slug: str
    org_id: int
    classroom_id: int
    child_ids: list[int]
    day: date

    @property
    def url(self) -> str:
        return f"/o/{self.slug}/classroom/{self.classroom_id}"

    @property
    def day_url(self) -> str:
        return f"{self.url}?date={self.day.isoformat()}"


@pytest.fixture
def klass(db, orgs) -> Setup:  # type: ignore[no-untyped-def]
    """alpha's Year 3: three children with alpha's teacher on their teams, the class's 10:15
    movement break, Pupil Aa's own 11:00 swing, and Pupil Ab's own 09:05 breathing."""
    alpha, _ = orgs
    with f.in_org(alpha):
        group = make_class(db, alpha, 3, now=utcnow())
        f.publish(
            db,
            group.children[1],
            [
                school_item(group.group_activity, assignee="classroom"),
                school_item(
                    f.activity(db, "Breathing"),
                    at="09:05",
                    assignee="teacher",
                    membership_id=group.families[1].teacher_membership.id,
                ),
            ],
            effective_from=date(2026, 1, 2),
            now=utcnow(),
        )
        setup = Setup(
            alpha.slug,
            alpha.id,
            group.classroom.id,
            [c.id for c in group.children],
            next_school_day(),
        )
    db.commit()
    return setup


def _occurrences(db, setup: Setup, day: date | None = None) -> list[m.Occurrence]:  # type: ignore[no-untyped-def]
    with tenant_context(setup.org_id):
        db.expire_all()
        return list(
            db.scalars(
                select(m.Occurrence)
                .where(
                    m.Occurrence.child_id.in_(setup.child_ids),
                    m.Occurrence.local_date == (day or setup.day),
                )
                .order_by(m.Occurrence.local_time, m.Occurrence.child_id)
            )
        )


def _group_form(html: str) -> dict[str, object]:
    """The group log form's fields as the page rendered them (all children done)."""
    form = html[html.index('class="group-log"') :]
    form = form[: form.index("</form>")]
    data: dict[str, object] = {
        "occurrence_id": re.findall(r'name="occurrence_id" value="(\d+)"', form)
    }
    for name, value in re.findall(r'name="((?:child|uuid)-\d+)" value="([^"]+)"', form):
        data[name] = value
    data["date"] = re.search(r'name="date" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    return data


CSRF_INPUT = re.compile(r"<input[^>]*name=\"csrf_token\"[^>]*>")


def _without_csrf(response) -> str:  # type: ignore[no-untyped-def]
    return CSRF_INPUT.sub("<csrf_token>", response.get_data(as_text=True))


# --- which classes -------------------------------------------------------------------------


def test_a_teacher_with_one_class_goes_straight_to_it(client, orgs, klass):
    sign_in(client, "teacher@alpha.example")
    response = client.get("/o/alpha/classroom/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/o/alpha/classroom/{klass.classroom_id}")


def test_a_member_with_no_classes_gets_a_friendly_page(client, orgs, klass):
    sign_in(client, "carer@alpha.example")
    response = client.get("/o/alpha/classroom/")
    assert response.status_code == 200
    assert "No classes yet" in response.get_data(as_text=True)


def test_an_admin_sees_every_class(client, db, orgs, klass):
    alpha, _ = orgs
    with f.in_org(alpha):
        make_class(db, alpha, 1, classroom="Year 4", own=False, prefix="Kid", now=utcnow())
    db.commit()
    sign_in(client, "admin@alpha.example")
    page = client.get("/o/alpha/classroom/").get_data(as_text=True)
    assert "Year 3" in page and "Year 4" in page
    assert client.get(klass.day_url).status_code == 200


# --- the day -------------------------------------------------------------------------------


def test_the_day_shows_group_rows_and_child_rows_in_time_order(client, klass):
    sign_in(client, "teacher@alpha.example")
    response = client.get(klass.day_url)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'href="/static/classroom.css' in page
    order = [page.index(name) for name in ("Breathing", "Movement break", "Swing Year 3")]
    assert order == sorted(order)
    assert "3 children" in page
    assert (
        page.count('name="occurrence_id"') == 3 + 2 * 3
    )  # the group; two rows of done, partly, skipped
    for label in ("Done", "Absent", "Partly", "Refused"):
        assert f"<span>{label}</span>" in page


@pytest.mark.parametrize("who", ["carer", "clinician", "other-teacher", "beta-teacher"])
def test_people_who_do_not_teach_the_class_get_404(client, db, orgs, klass, who):
    alpha, beta = orgs
    with tenant_context(klass.org_id):
        other = make_class(
            db,
            alpha,
            1,
            classroom="Year 4",
            teacher=teacher_user(db, alpha, "other"),
            own=False,
            prefix="Kid",
            now=utcnow(),
        )
        other_id = other.classroom.id
    db.commit()
    email = {
        "carer": "carer@alpha.example",
        "clinician": "clinician@alpha.example",
        "other-teacher": "other@alpha.example",
        "beta-teacher": "teacher@beta.example",
    }[who]
    slug = "beta" if who == "beta-teacher" else "alpha"
    sign_in(client, email)
    missing = client.get(f"/o/{slug}/classroom/999999")
    assert missing.status_code == 404
    for suffix in ("", "/calendar", "/anchors", f"?date={klass.day.isoformat()}"):
        response = client.get(f"/o/{slug}/classroom/{klass.classroom_id}{suffix}")
        assert response.status_code == 404, suffix
        assert _without_csrf(response) == _without_csrf(missing)
    token = csrf_token(client, "/profile/")
    for suffix in ("/group", "/log", "/calendar", "/anchors", "/calendar/1/remove"):
        response = client.post(
            f"/o/{slug}/classroom/{klass.classroom_id}{suffix}", data={"csrf_token": token}
        )
        assert response.status_code == 404, suffix
    if who == "other-teacher":
        assert client.get(f"/o/alpha/classroom/{other_id}").status_code == 200


# --- logging -------------------------------------------------------------------------------


def test_a_group_log_with_one_child_absent(client, db, orgs, klass):
    alpha, _ = orgs
    sign_in(client, "teacher@alpha.example")
    page = client.get(klass.day_url).get_data(as_text=True)
    data = _group_form(page)
    ids = data["occurrence_id"]
    assert isinstance(ids, list) and len(ids) == 3
    absent_id = int(ids[1])
    data[f"choice-{absent_id}"] = "absent"
    data[f"choice-{ids[2]}"] = "refused"
    token = csrf_token(client, klass.day_url)
    response = client.post(f"{klass.url}/group", data={**data, "csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(klass.day_url)
    shown = client.get(klass.day_url).get_data(as_text=True)
    assert "Group activity logged: 1 done, 1 absent, 1 refused." in shown
    again = client.post(f"{klass.url}/group", data={**data, "csrf_token": token})
    assert again.status_code == 303  # a double submit repeats; nothing is stored twice
    with tenant_context(klass.org_id):
        logs = list(
            db.scalars(
                select(m.RoutineLog).where(m.RoutineLog.occurrence_id.in_([int(i) for i in ids]))
            )
        )
        absent = db.get(m.Occurrence, absent_id)
        assert sorted((log.status, log.reason) for log in logs) == [
            ("done", None),
            ("skipped", "refused"),
        ]
        assert {log.source for log in logs} == {"classroom"}
        assert (absent.status, absent.excused_reason) == ("excused", "absent")
    # Logged children leave the form; the page lists them with their state.
    after = client.get(klass.day_url).get_data(as_text=True)
    assert 'class="group-log"' not in after
    assert "Absent</span>" in after and "Skipped: refused" in after


def test_one_tap_logs_a_childs_own_activity(client, db, orgs, klass):
    alpha, _ = orgs
    occs = _occurrences(db, klass)
    swing = next(o for o in occs if o.local_time == time(11, 0))
    breathing = next(o for o in occs if o.local_time == time(9, 5))
    sign_in(client, "teacher@alpha.example")
    base = {"date": klass.day.isoformat()}
    done = post_form(
        client,
        f"{klass.url}/log",
        {**base, "occurrence_id": swing.id, "client_uuid": str(uuid.uuid4()), "status": "done"},
        token_from=klass.day_url,
    )
    assert done.status_code == 303
    no_reason = post_form(
        client,
        f"{klass.url}/log",
        {
            **base,
            "occurrence_id": breathing.id,
            "client_uuid": str(uuid.uuid4()),
            "status": "skipped",
        },
        token_from=klass.day_url,
    )
    assert no_reason.status_code == 400
    assert "Say why it was skipped" in no_reason.get_data(as_text=True)
    skipped = post_form(
        client,
        f"{klass.url}/log",
        {
            **base,
            "occurrence_id": breathing.id,
            "client_uuid": str(uuid.uuid4()),
            "status": "skipped",
            "reason": "unwell",
        },
        token_from=klass.day_url,
    )
    assert skipped.status_code == 303
    with tenant_context(klass.org_id):
        logs = {
            log.occurrence_id: (log.status, log.reason, log.source)
            for log in db.scalars(select(m.RoutineLog))
        }
    assert logs == {
        swing.id: ("done", None, "classroom"),
        breathing.id: ("skipped", "unwell", "classroom"),
    }


def test_one_tap_for_another_class_is_404(client, db, orgs, klass):
    alpha, _ = orgs
    with f.in_org(alpha):
        other = make_class(db, alpha, 1, classroom="Year 4", own=False, prefix="Kid", now=utcnow())
        theirs = next(
            o
            for o in db.scalars(
                select(m.Occurrence).where(m.Occurrence.child_id == other.children[0].id)
            )
            if o.local_date == klass.day
        )
    db.commit()
    sign_in(client, "teacher@alpha.example")  # teaches both classes
    response = post_form(
        client,
        f"{klass.url}/log",
        {"occurrence_id": theirs.id, "client_uuid": str(uuid.uuid4()), "status": "done"},
        token_from=klass.day_url,
    )
    assert response.status_code == 404
    with tenant_context(klass.org_id):
        assert db.scalar(select(func.count(m.RoutineLog.id))) == 0


# --- the school calendar and anchors -------------------------------------------------------


def test_a_closure_withdraws_the_days_routines_and_removing_it_restores_them(
    client, db, orgs, klass
):
    alpha, _ = orgs
    sign_in(client, "teacher@alpha.example")
    day = klass.day.isoformat()
    added = post_form(
        client,
        f"{klass.url}/calendar",
        {"kind": "closure", "starts_on": day, "ends_on": day, "label": "INSET day"},
    )
    assert added.status_code == 303
    listing = client.get(f"{klass.url}/calendar").get_data(as_text=True)
    assert "INSET day" in listing and "every weekday is a school day" in listing
    assert {o.status for o in _occurrences(db, klass)} == {"withdrawn"}
    assert "No school routines on this day" in client.get(klass.day_url).get_data(as_text=True)
    with tenant_context(klass.org_id):
        entry_id = db.scalar(select(m.SchoolCalendarEntry.id))
    removed = post_form(
        client, f"{klass.url}/calendar/{entry_id}/remove", token_from=f"{klass.url}/calendar"
    )
    assert removed.status_code == 303
    assert {o.status for o in _occurrences(db, klass)} == {"pending"}
    assert "Movement break" in client.get(klass.day_url).get_data(as_text=True)


def test_calendar_entries_are_listed_in_date_order(client, klass):
    sign_in(client, "teacher@alpha.example")
    for start, end, label in (
        ("2027-04-12", "2027-07-21", "Summer term"),
        ("2027-01-04", "2027-03-26", "Spring term"),
    ):
        response = post_form(
            client,
            f"{klass.url}/calendar",
            {"kind": "term", "starts_on": start, "ends_on": end, "label": label},
        )
        assert response.status_code == 303
    page = client.get(f"{klass.url}/calendar").get_data(as_text=True)
    assert page.index("Spring term") < page.index("Summer term")


def test_anchor_times_move_the_classs_future_routines(client, db, orgs, klass):
    alpha, _ = orgs
    with f.in_org(alpha):
        kid = db.get(m.Child, klass.child_ids[2])
        f.publish(
            db,
            kid,
            [
                school_item(
                    f.activity(db, "Drumming"),
                    assignee="classroom",
                ),
            ],
            effective_from=date(2026, 1, 3),
            now=utcnow(),
        )
        item = f.item(
            f.activity(db, "Humming"),
            assignee="classroom",
            frequency={"days": [0, 1, 2, 3, 4], "mode": "anchors", "anchors": ["before_school"]},
        )
        f.publish(db, kid, [item], effective_from=date(2026, 1, 4), now=utcnow())
    db.commit()
    sign_in(client, "teacher@alpha.example")
    form = client.get(f"{klass.url}/anchors").get_data(as_text=True)
    assert 'placeholder="08:15"' in form
    response = post_form(client, f"{klass.url}/anchors", {"before_school": "08:40"})
    assert response.status_code == 303
    humming = [
        o
        for o in _occurrences(db, klass)
        if o.child_id == klass.child_ids[2] and o.status == "pending"
    ]
    assert [o.local_time for o in humming] == [time(8, 40)]
    with tenant_context(klass.org_id):
        assert db.get(m.Classroom, klass.classroom_id).anchor_times == {"before_school": "08:40"}


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["2026-02-30", "tomorrow", "2026-1-5x"])
def test_a_bad_date_is_a_400_with_a_message(client, klass, value):
    sign_in(client, "teacher@alpha.example")
    response = client.get(f"{klass.url}?date={value}")
    assert response.status_code == 400
    assert "is not a date: use YYYY-MM-DD" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"kind": "closure", "starts_on": "2027-13-01", "ends_on": "2027-01-02"},
            "Not a valid date",
        ),
        (
            {"kind": "closure", "starts_on": "2027-01-05", "ends_on": "2027-01-02"},
            "The last day cannot be before the first.",
        ),
        ({"kind": "closure", "starts_on": "", "ends_on": "2027-01-02"}, "Enter the first day"),
        (
            {"kind": "holiday", "starts_on": "2027-01-01", "ends_on": "2027-01-02"},
            "Choose a term or a closure.",
        ),
    ],
    ids=["impossible-date", "backwards", "missing", "unknown-kind"],
)
def test_bad_calendar_entries_change_nothing(client, db, orgs, klass, data, message):
    alpha, _ = orgs
    before = [o.status for o in _occurrences(db, klass)]
    sign_in(client, "teacher@alpha.example")
    response = post_form(client, f"{klass.url}/calendar", data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with tenant_context(klass.org_id):
        assert db.scalar(select(func.count(m.SchoolCalendarEntry.id))) == 0
    assert [o.status for o in _occurrences(db, klass)] == before


def test_a_bad_anchor_time_changes_nothing(client, db, orgs, klass):
    alpha, _ = orgs
    sign_in(client, "teacher@alpha.example")
    response = post_form(
        client, f"{klass.url}/anchors", {"before_school": "25:00", "after_school": "16:00"}
    )
    assert response.status_code == 400
    assert "Give before school as a 24-hour time such as 19:30." in response.get_data(as_text=True)
    with tenant_context(klass.org_id):
        assert db.get(m.Classroom, klass.classroom_id).anchor_times == {}


def test_a_bad_group_submission_changes_nothing(client, db, orgs, klass):
    alpha, _ = orgs
    sign_in(client, "teacher@alpha.example")
    data = _group_form(client.get(klass.day_url).get_data(as_text=True))
    ids = data["occurrence_id"]
    assert isinstance(ids, list)
    token = csrf_token(client, klass.day_url)
    for change in ({f"choice-{ids[0]}": "late"}, {"date": "2026-02-30"}, {f"child-{ids[0]}": "x"}):
        response = client.post(f"{klass.url}/group", data={**data, **change, "csrf_token": token})
        assert response.status_code == 400, change
    with tenant_context(klass.org_id):
        assert db.scalar(select(func.count(m.RoutineLog.id))) == 0
    assert {o.status for o in _occurrences(db, klass)} == {"pending"}


# --- speed ---------------------------------------------------------------------------------


def _statements(app, client, url: str) -> int:  # type: ignore[no-untyped-def]
    engine = app.extensions["cadence.db"].engine
    seen: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200
    return len(seen)


def test_the_day_runs_a_fixed_number_of_queries_whatever_the_class_size(app, client, db, orgs):
    alpha, _ = orgs
    day = next_school_day()
    with f.in_org(alpha):
        group = make_class(db, alpha, 2, now=utcnow())
        classroom_id = group.classroom.id
    db.commit()
    url = f"/o/alpha/classroom/{classroom_id}?date={day.isoformat()}"
    sign_in(client, "teacher@alpha.example")
    client.get(url)  # warm: first-request work is not the page's
    small = _statements(app, client, url)
    with f.in_org(alpha):
        for index in range(33):
            fam = f.child(db, alpha, name=f"Later {index}", classroom="Year 3")
            f.publish(
                db,
                fam.child,
                [school_item(group.group_activity, assignee="classroom")],
                now=utcnow(),
            )
    db.commit()
    page = client.get(url).get_data(as_text=True)
    assert "35 children" in page
    large = _statements(app, client, url)
    assert small == large
    # The page's queries, the audit row, the nav's unread count, and the class's week read
    # from the rollups (two: stored rows and today's live rows) (on PostgreSQL each
    # transaction also sets the tenant, and the test's savepoints show up too).
    assert small <= 26
