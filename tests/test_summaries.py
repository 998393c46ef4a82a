"""Encouraging summaries: a carer's Today shows each child's week at home (routines done,
partly counting as done; the streak; calmer moments) and a teacher's class day the class's
week; the numbers equal an independent count of the raw routines, the words never speak of
missed routines or percentages, the rollups are read once whatever the data, and a teacher
sees only their own class's children."""

from __future__ import annotations

import html as html_lib
import re
import uuid
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from routines import metrics, rollups, summaries
from routines import models as m
from routines.recurrence import local_to_utc
from routines.rollups import Figures
from tenants.db import utcnow
from tests import routine_factories as f
from tests.conftest import sign_in
from tests.routines.test_classroom_ops import teacher_user
from tests.test_home import Statements

LONDON = ZoneInfo("Europe/London")
CALMER = ("alarm", "calm")  # before, after: ended calmer
SAME = ("alert", "alert")
HISTORY_DAYS = 20


def _today() -> date:
    return utcnow().astimezone(LONDON).date()


def _monday() -> date:
    return metrics.week_of(_today())


def _midnight(day: date):  # type: ignore[no-untyped-def]
    return local_to_utc(day, time(0, 0), LONDON)


def _every_day(*clock: str) -> dict:
    return {"days": f.EVERY_DAY, "mode": "times", "times": list(clock)}


def _mark(db, occ: m.Occurrence, status: str, states=(None, None)) -> None:  # type: ignore[no-untyped-def]
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
                state_before=states[0],
                state_after=states[1],
                source="web",
                logged_at=occ.due_at,
            )
        )


def _occurrences(db, child_id: int, side: str | None = None) -> list[m.Occurrence]:  # type: ignore[no-untyped-def]
    query = select(m.Occurrence).where(
        m.Occurrence.child_id == child_id, m.Occurrence.status != "withdrawn"
    )
    if side is not None:
        query = query.where(m.Occurrence.side == side)
    return list(db.scalars(query.order_by(m.Occurrence.due_at)))


def _publish_from(db, kid, items, days_back: int = HISTORY_DAYS) -> None:  # type: ignore[no-untyped-def]
    """Published `days_back` days ago, materialised from then to a few days ahead."""
    f.publish(
        db,
        kid,
        items,
        effective_from=_today() - timedelta(days=days_back),
        now=_midnight(_today() - timedelta(days=days_back)),
        horizon_days=days_back + 5,
    )


def _age_rows(db, child_ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    """As if the rows were last touched long ago, so the nightly build's rows are read."""
    db.flush()
    db.execute(
        update(m.Occurrence)
        .where(m.Occurrence.child_id.in_(child_ids))
        .values(updated_at=_midnight(_today() - timedelta(days=HISTORY_DAYS + 5)))
        .execution_options(synchronize_session=False)
    )


def _blocks(html: str) -> list[str]:
    return re.findall(r'<div class="week-summary".*?</div>', html, flags=re.S)


def _text(block: str) -> str:
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", block)).split())


def _independent(db, child_id: int, side: str, first: date, last: date, classroom_id=None):  # type: ignore[no-untyped-def]
    """Routines done (done or partly), calmer moments and the streak, from the raw rows."""
    query = (
        select(m.Occurrence, m.RoutineLog)
        .outerjoin(m.RoutineLog, m.RoutineLog.occurrence_id == m.Occurrence.id)
        .where(
            m.Occurrence.child_id == child_id,
            m.Occurrence.side == side,
            m.Occurrence.status != "withdrawn",
            m.Occurrence.local_date <= last,
        )
    )
    if classroom_id is not None:
        query = query.where(m.Occurrence.classroom_id == classroom_id)
    levels = list(m.AROUSAL_STATES)
    done = calmer = 0
    outcomes = []
    for occ, log in db.execute(query):
        outcomes.append(metrics.Outcome(occ.local_date, occ.status))
        if occ.local_date < first:
            continue
        done += occ.status in ("done", "partly")
        if log is not None and log.state_before and log.state_after:
            calmer += levels.index(log.state_after) < levels.index(log.state_before)
    return done, calmer, metrics.streak(outcomes, last)


def _routines(count: int) -> str:
    return f"{count} routine{'' if count == 1 else 's'}"


# --- the pure parts -----------------------------------------------------------------------


def test_the_streak_follows_the_metrics_semantics():
    today = date(2026, 11, 26)

    def day(back: int) -> date:
        return today - timedelta(days=back)

    by_day = {
        day(0): Figures(pending=2),  # not yet marked: neither breaks nor extends
        day(1): Figures(done=1, partly=1),
        day(2): Figures(excused=2),  # away all day: neither breaks nor extends
        day(3): Figures(done=2, excused=1),
        day(4): Figures(partly=2),
        day(5): Figures(done=1, skipped=1),  # the streak ends here
        day(6): Figures(done=5),
    }
    assert summaries.streak_of(by_day, today) == 3
    assert summaries.streak_of(by_day, day(5)) == 0
    assert summaries.streak_of(by_day, day(6)) == 1
    assert summaries.streak_of({day(1): Figures(missed=1)}, today) == 0
    assert summaries.streak_of({}, today) == 0


def test_encouragement_is_the_same_all_week_and_varies_gently():
    monday = date(2026, 11, 23)
    assert summaries.encouragement(7, monday) == summaries.encouragement(7, monday)
    weeks = {summaries.encouragement(7, monday + timedelta(weeks=w)) for w in range(6)}
    assert weeks == set(summaries.ENCOURAGEMENTS)
    children = {summaries.encouragement(c, monday) for c in range(6)}
    assert children == set(summaries.ENCOURAGEMENTS)


def test_partly_counts_as_done_for_carers_and_the_words_stay_kind():
    week = summaries.ChildWeek(1, "Mia", date(2026, 11, 23), date(2026, 11, 26), 1, 1, 1)
    assert week.done_text == "1 routine done this week."
    assert week.calmer_text == "Mia ended calmer after 1 activity this week."
    assert week.streak_text is not None and "streak" in week.streak_text
    none = summaries.ChildWeek(1, "Mia", date(2026, 11, 23), date(2026, 11, 26), 0, 0, 0)
    assert none.done_text == "This week's routines are ready whenever you are."
    assert none.streak_text is None and none.calmer_text is None
    assert summaries.routines_done(Figures(done=3, partly=2, skipped=4, missed=5)) == 5


# --- the carer's Today ----------------------------------------------------------------------


def _home_family(db, org, name: str = "Mia"):  # type: ignore[no-untyped-def]
    """Two home routines a day (07:30, 19:00) and a classroom one, for HISTORY_DAYS days:
    day 6 back has a skipped routine, day 3 back was away, the days between were done or
    partly done; today's morning routine was done and ended calmer, the evening is to come."""
    fam = f.child(db, org, name=name, household=f"{name} household")
    _publish_from(
        db,
        fam.child,
        [
            f.item(f.activity(db, f"{name} rocking"), frequency=_every_day("07:30")),
            f.item(f.activity(db, f"{name} bath"), frequency=_every_day("19:00"), minutes=10),
            f.item(
                f.activity(db, f"{name} drumming"),
                assignee="classroom",
                frequency=_every_day("10:15"),
            ),
        ],
    )
    today = _today()
    for occ in _occurrences(db, fam.child.id):
        back = (today - occ.local_date).days
        if occ.side == "school":
            if back >= 0:
                _mark(db, occ, "done", CALMER)  # calmer at school: not the carer's summary
            continue
        if back < 0:
            continue
        if back == 0:
            if occ.local_time == time(7, 30):
                _mark(db, occ, "done", CALMER)
        elif back == 3:
            _mark(db, occ, "excused")
        elif back == 6 and occ.local_time == time(19, 0):
            _mark(db, occ, "skipped", SAME)
        elif back < 6:
            _mark(db, occ, "partly" if back % 2 else "done", CALMER if back == 1 else SAME)
        else:
            _mark(db, occ, ["done", "missed", "partly", "done"][back % 4], CALMER)
    db.flush()
    return fam


def test_today_shows_each_childs_week_from_the_rollups_plus_todays_logs(client, db, orgs):
    alpha, _ = orgs
    with f.in_org(alpha):
        mia = _home_family(db, alpha, "Mia")
        _age_rows(db, [mia.child.id])
        rollups.roll_up(db, now=utcnow())
        # A late log for the day before yesterday, after the nightly build: read live.
        late = next(
            o
            for o in _occurrences(db, mia.child.id, "home")
            if o.local_date == _today() - timedelta(days=2) and o.local_time == time(19, 0)
        )
        db.execute(
            update(m.RoutineLog)
            .where(m.RoutineLog.occurrence_id == late.id)
            .values(state_before="fear", state_after="alert")
        )
        late.updated_at = utcnow()
        db.flush()
        done, calmer, streak = _independent(db, mia.child.id, "home", _monday(), _today())
    db.commit()
    # Today, then days 1, 2, 4 and 5 back (3 back was away; 6 back had a skipped routine).
    assert streak == 5
    assert calmer >= 1 and done >= 1

    sign_in(client, alpha.carer.email)
    html = client.get("/o/alpha/today").get_data(as_text=True)
    [block] = _blocks(html)
    text = _text(block)
    assert f"{_routines(done)} done this week." in text
    assert "5 days in a row with every routine done." in text
    activities = f"{calmer} activit{'y' if calmer == 1 else 'ies'}"
    assert f"Mia ended calmer after {activities} this week." in text
    assert any(words in text for words in summaries.ENCOURAGEMENTS)
    assert client.get("/o/alpha/today").get_data(as_text=True).count(block) == 1  # the same


def test_carers_never_see_missed_counts_percentages_or_red(client, db, orgs):
    """A week of nothing but missed and skipped routines still reads kindly."""
    alpha, _ = orgs
    with f.in_org(alpha):
        fam = f.child(db, alpha, name="Noor", household="Noor household")
        _publish_from(
            db, fam.child, [f.item(f.activity(db, "Swinging"), frequency=_every_day("06:00"))]
        )
        for occ in _occurrences(db, fam.child.id):
            if occ.local_date < _today():
                _mark(db, occ, "missed" if occ.local_date.day % 2 else "skipped", SAME)
            elif occ.local_date == _today():
                _mark(db, occ, "missed")
        _home_family(db, alpha, "Mia")
    db.commit()
    sign_in(client, alpha.carer.email)
    html = client.get("/o/alpha/today").get_data(as_text=True)
    blocks = _blocks(html)
    assert len(blocks) == 2
    noor = next(b for b in blocks if "Noor" in html[: html.index(b)].rsplit("<h2", 1)[-1])
    assert "This week's routines are ready whenever you are." in _text(noor)
    assert "in a row" not in _text(noor) and "calmer" not in _text(noor)
    for block in blocks:
        lowered = block.lower()
        for word in ("missed", "skipped", "%", "percent", "danger", "error", "warn"):
            assert word not in lowered, (word, block)
        assert not re.search(r"\bred\b", lowered)


def test_a_carer_sees_only_their_own_childrens_weeks(client, db, orgs):
    alpha, beta = orgs
    with f.in_org(alpha):
        _home_family(db, alpha, "Mia")
    with f.in_org(beta):
        _home_family(db, beta, "Zed")
    db.commit()
    sign_in(client, alpha.carer.email)
    html = client.get("/o/alpha/today").get_data(as_text=True)
    assert len(_blocks(html)) == 1 and "Zed" not in html


def _today_statements(app, email: str) -> int:  # type: ignore[no-untyped-def]
    browser = app.test_client()
    sign_in(browser, email)
    browser.get("/o/alpha/today")
    with Statements(app.extensions["cadence.db"].engine) as seen:
        assert browser.get("/o/alpha/today").status_code == 200
    return seen.count


def test_today_reads_the_week_in_a_fixed_number_of_statements(app, db, orgs):
    alpha, _ = orgs
    with f.in_org(alpha):
        _home_family(db, alpha, "Mia")
    db.commit()
    small = _today_statements(app, alpha.carer.email)
    with f.in_org(alpha):
        for name in ("Ash", "Bo", "Cy"):
            _home_family(db, alpha, name)
        rollups.roll_up(db, now=utcnow())
    db.commit()
    large = _today_statements(app, alpha.carer.email)
    assert small == large


# --- the teacher's class --------------------------------------------------------------------


def _school_child(db, org, name: str, classroom: str = "Year 3", teacher=None):  # type: ignore[no-untyped-def]
    """A child in `classroom` with a class movement break every day at 10:15 for the last
    HISTORY_DAYS days, all done; the break ended calmer on even days."""
    fam = f.child(db, org, name=name, classroom=classroom, teacher=teacher)
    _publish_from(
        db,
        fam.child,
        [
            f.item(
                f.activity(db, f"Movement {name}"),
                assignee="classroom",
                frequency=_every_day("10:15"),
            ),
            f.item(f.activity(db, f"Home {name}"), frequency=_every_day("18:00")),
        ],
    )
    for occ in _occurrences(db, fam.child.id):
        if occ.local_date <= _today():
            calm = occ.local_date.day % 2 == 0 and name != "Pupil Quiet"
            status = "partly" if occ.local_date.day % 3 == 0 else "done"
            _mark(db, occ, status, CALMER if calm else SAME)
    db.flush()
    return fam


def test_teachers_see_their_class_week_for_their_children_only(client, db, orgs):
    alpha, _ = orgs
    with f.in_org(alpha):
        mine = [_school_child(db, alpha, name) for name in ("Pupil Amy", "Pupil Quiet")]
        other_teacher = teacher_user(db, alpha, "other")
        theirs = _school_child(db, alpha, "Pupil Hidden", teacher=other_teacher)
        elsewhere = _school_child(db, alpha, "Pupil Away", classroom="Year 5")
        # A calmer school moment every day this week for Amy, so the list is never empty.
        for occ in _occurrences(db, mine[0].child.id, "school"):
            if _monday() <= occ.local_date <= _today():
                db.execute(
                    update(m.RoutineLog)
                    .where(m.RoutineLog.occurrence_id == occ.id)
                    .values(state_before="fear", state_after="calm")
                )
        classroom_id = mine[0].child.classroom_id
        assert theirs.child.classroom_id == classroom_id
        assert elsewhere.child.classroom_id != classroom_id
        expected = [
            _independent(db, fam.child.id, "school", _monday(), _today(), classroom_id)
            for fam in mine
        ]
    db.commit()
    done = sum(e[0] for e in expected)
    assert done >= 2

    sign_in(client, alpha.teacher.email)
    html = client.get(f"/o/alpha/classroom/{classroom_id}").get_data(as_text=True)
    start = html.index('class="week-summary card"')
    block = html[start : html.index("</section>", start)]
    text = _text(block)
    assert f"{_routines(done)} done in class this week." in text
    assert expected[0][1] >= 1 and expected[1][1] == 0  # Amy ended calmer; Quiet never did
    assert "Calmer moments this week: Pupil Amy ended calmer after an activity." in text
    assert "Hidden" not in text and "Away" not in text and "Quiet" not in text
    for word in ("missed", "skipped", "%", "danger"):
        assert word not in block.lower()


def test_a_teacher_of_another_class_does_not_get_this_classs_summary(client, db, orgs):
    alpha, _ = orgs
    with f.in_org(alpha):
        other_teacher = teacher_user(db, alpha, "other")
        fam = _school_child(db, alpha, "Pupil Amy")
        _school_child(db, alpha, "Pupil Bea", classroom="Year 5", teacher=other_teacher)
        classroom_id = fam.child.classroom_id
    db.commit()
    sign_in(client, other_teacher.email)
    assert client.get(f"/o/alpha/classroom/{classroom_id}").status_code == 404


def test_the_class_week_reads_the_rollups_once_whatever_the_class_size(app, client, db, orgs):
    alpha, _ = orgs
    with f.in_org(alpha):
        fam = _school_child(db, alpha, "Pupil Amy")
        classroom_id = fam.child.classroom_id
    db.commit()
    url = f"/o/alpha/classroom/{classroom_id}"
    sign_in(client, alpha.teacher.email)
    client.get(url)
    with Statements(app.extensions["cadence.db"].engine) as seen:
        client.get(url)
    small = seen.count
    with f.in_org(alpha):
        for index in range(6):
            _school_child(db, alpha, f"Pupil {chr(66 + index)}x")
        rollups.roll_up(db, now=utcnow())
    db.commit()
    client.get(url)  # warm: the test's own reads leave rows in the session
    with Statements(app.extensions["cadence.db"].engine) as seen:
        page = client.get(url).get_data(as_text=True)
    assert "done in class this week" in page
    assert seen.count == small
