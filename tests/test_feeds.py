"""Private calendar feeds: the ICS document (local times across DST changes, who sees which
side) and the /feeds/<token>.ics address (forged, revoked, regenerated, deactivated)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import event, select

from routines import calendar_ics
from tenants import accounts, api_tokens, organisations
from tenants.db import utcnow
from tenants.models import AuditEvent, CalendarFeed
from tests import routine_factories as f
from tests.conftest import PASSWORD, SECRET

EVERY_DAY = f.EVERY_DAY


def _events(ics: bytes) -> list:  # type: ignore[type-arg]
    calendar = Calendar.from_ical(ics)
    return sorted(calendar.walk("VEVENT"), key=lambda e: e.decoded("dtstart"))


def _daily(act, *, assignee="household", at="07:30", start=None, end=None, minutes=5):  # type: ignore[no-untyped-def]
    return f.item(
        act,
        assignee=assignee,
        frequency={"days": EVERY_DAY, "mode": "times", "times": [at]},
        start=start or date(2026, 1, 1),
        end=end,
        minutes=minutes,
    )


@pytest.mark.parametrize(
    ("zone", "first", "last", "change", "before", "after"),
    [
        # UK clocks go forward on Sunday 28 March 2027: 07:30 GMT, then 07:30 BST (06:30 UTC)
        ("Europe/London", date(2027, 3, 25), date(2027, 4, 2), date(2027, 3, 28), "07:30", "06:30"),
        # US clocks go back on Sunday 1 November 2026: 07:30 EDT (11:30 UTC), then EST (12:30)
        (
            "America/New_York",
            date(2026, 10, 28),
            date(2026, 11, 4),
            date(2026, 11, 1),
            "11:30",
            "12:30",
        ),
    ],
)
def test_events_keep_local_wall_time_across_a_dst_change(  # type: ignore[no-untyped-def]
    db, orgs, zone, first, last, change, before, after
):
    alpha, _ = orgs
    published = datetime.combine(first - timedelta(days=1), time(12), tzinfo=UTC)
    with f.in_org(alpha):
        fam = f.child(db, alpha, time_zone=zone)
        act = f.activity(db, "Drumming", minutes=10)
        f.publish(
            db,
            fam.child,
            [_daily(act, start=first, end=last, minutes=10)],
            effective_from=first,
            now=published,
            horizon_days=(last - first).days + 3,
        )
        ics = calendar_ics.feed_for(db, fam.carer_membership, now=published + timedelta(days=2))
    calendar = Calendar.from_ical(ics)
    assert str(calendar["PRODID"]) == "-//Cadence//Routines//EN"
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["X-WR-CALNAME"]) == "Cadence routines (Alpha Services)"
    assert str(calendar["X-WR-TIMEZONE"]) == zone
    assert [tz.tz_name for tz in calendar.timezones] == [zone]
    assert b"X-PUBLISHED-TTL:PT1H" in ics
    events = _events(ics)
    assert len(events) == (last - first).days + 1
    for ev in events:
        start = ev.decoded("dtstart")
        assert ev["DTSTART"].params["TZID"] == zone
        assert (start.hour, start.minute) == (7, 30)
        assert ev.decoded("duration") == timedelta(minutes=10)
        utc = f"{start.astimezone(UTC):%H:%M}"
        assert utc == (before if start.date() < change else after), start
        assert str(ev["SUMMARY"]) == "Drumming · Robin Ashdown"
        assert str(ev["STATUS"]) == "CONFIRMED"
        assert "Drumming, slowly and rhythmically." in str(ev["DESCRIPTION"])
        assert "Status: to do" in str(ev["DESCRIPTION"])
    assert [e.decoded("dtstart").date() for e in events] == [
        first + timedelta(days=i) for i in range(len(events))
    ]
    # the raw text carries local time with the TZID, not a UTC "Z" time
    assert f"DTSTART;TZID={zone}:{first:%Y%m%d}T073000".encode() in ics.replace(b"\r\n ", b"")
    # stable UIDs: the same occurrence has the same UID in every fetch
    with f.in_org(alpha):
        again = calendar_ics.feed_for(db, fam.carer_membership, now=published + timedelta(days=3))
    assert [str(e["UID"]) for e in _events(again)] == [str(e["UID"]) for e in events]
    assert all(str(e["UID"]).startswith("occurrence-") for e in events)


def _member(db, org, email, roles):  # type: ignore[no-untyped-def]
    with f.in_org(org):
        user = accounts.create_user(db, email=email, name=email.split("@")[0], password=PASSWORD)
        organisations.add_member(db, user, roles)
    return user


NOW = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)


@pytest.fixture
def two_sides(db, orgs):  # type: ignore[no-untyped-def]
    """Robin (alpha's carer and teacher on the team) and Sam (another carer, and a person who
    is a carer in one family and a teacher in another), each with home and school routines."""
    alpha, beta = orgs
    other = _member(db, alpha, "other@alpha.example", ["carer"])
    both = _member(db, alpha, "both@alpha.example", ["carer", "teacher"])
    with f.in_org(alpha):
        rocking = f.activity(db, "Rocking")
        singing = f.activity(db, "Singing")
        robin = f.child(db, alpha, name="Robin")
        sam = f.child(db, alpha, name="Sam", carer=other, teacher=both)
        # `both` is a carer on Robin's team too
        from routines import children

        children.add_team_member(
            db,
            robin.child,
            membership_id=organisations.membership_for(db, both).id,
            team_role="carer",
            relationship="foster_carer",
            actor=alpha.clinician,
        )
        for fam in (robin, sam):
            f.publish(
                db,
                fam.child,
                [_daily(rocking), _daily(singing, assignee="classroom", at="10:00")],
                now=NOW,
            )
    with f.in_org(beta):
        stranger = f.child(db, beta, name="Kim")
        f.publish(db, stranger.child, [_daily(f.activity(db, "Swinging"))], now=NOW)
    return alpha, robin, sam, other, both


def _summaries(db, org, user) -> set[str]:  # type: ignore[no-untyped-def]
    with f.in_org(org):
        membership = organisations.membership_for(db, user)
        ics = calendar_ics.feed_for(db, membership, now=NOW)
    return {str(e["SUMMARY"]) for e in _events(ics)}


def test_a_carer_sees_the_home_routines_of_their_own_children_only(db, two_sides):  # type: ignore[no-untyped-def]
    alpha, *_ = two_sides
    assert _summaries(db, alpha, alpha.carer) == {"Rocking · Robin Ashdown"}


def test_a_teacher_sees_the_school_routines_of_their_own_children_only(db, two_sides):  # type: ignore[no-untyped-def]
    alpha, *_ = two_sides
    assert _summaries(db, alpha, alpha.teacher) == {"Singing · Robin Ashdown"}


def test_a_carer_in_one_family_and_teacher_in_another_gets_both(db, two_sides):  # type: ignore[no-untyped-def]
    alpha, _, _, other, both = two_sides
    assert _summaries(db, alpha, both) == {"Rocking · Robin Ashdown", "Singing · Sam Ashdown"}
    assert _summaries(db, alpha, other) == {"Rocking · Sam Ashdown"}


def test_a_clinician_or_admin_has_an_empty_calendar(db, two_sides):  # type: ignore[no-untyped-def]
    alpha, *_ = two_sides
    assert _summaries(db, alpha, alpha.clinician) == set()
    assert _summaries(db, alpha, alpha.admin) == set()


def test_window_is_two_weeks_back_to_the_horizon(db, two_sides):  # type: ignore[no-untyped-def]
    alpha, robin, *_ = two_sides
    with f.in_org(alpha):
        later = NOW + timedelta(days=20)
        f.publish(db, robin.child, [_daily(f.activity(db, "Walk"))], now=later)
        ics = calendar_ics.feed_for(db, robin.carer_membership, now=later)
    dates = sorted(e.decoded("dtstart").date() for e in _events(ics))
    assert dates[0] >= (later - timedelta(days=14)).date()
    assert dates[-1] >= (later + timedelta(days=13)).date()


def test_a_logged_or_excused_occurrence_shows_its_status(db, two_sides):  # type: ignore[no-untyped-def]
    import uuid

    from routines import logs
    from routines import models as m

    alpha, robin, *_ = two_sides
    with f.in_org(alpha):
        home = list(
            db.scalars(
                select(m.Occurrence)
                .where(m.Occurrence.child_id == robin.child.id, m.Occurrence.side == "home")
                .order_by(m.Occurrence.due_at)
            )
        )
        [result] = logs.record_logs(
            db,
            [logs.LogInput(str(uuid.uuid4()), home[0].id, "skipped", reason="refused")],
            actor=alpha.carer,
            membership=robin.carer_membership,
            now=home[0].due_at + timedelta(minutes=5),
            source="web",
        )
        assert result.code == 201, result
        home[1].status, home[1].excused_reason = "excused", "hospital"
        db.flush()
        ics = calendar_ics.feed_for(db, robin.carer_membership, now=NOW)
    by_uid = {str(e["UID"]): e for e in _events(ics)}
    skipped = by_uid[f"occurrence-{home[0].id}@cadence"]
    assert "Status: skipped (refused)" in str(skipped["DESCRIPTION"])
    assert str(skipped["STATUS"]) == "CONFIRMED"
    excused = by_uid[f"occurrence-{home[1].id}@cadence"]
    assert str(excused["STATUS"]) == "CANCELLED"
    assert "Status: excused (hospital)" in str(excused["DESCRIPTION"])


def _count_statements(app, db, membership):  # type: ignore[no-untyped-def]
    engine = app.extensions["cadence.db"].engine
    seen: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        seen.append(statement)

    db.expire_all()  # nothing answered from the identity map
    event.listen(engine, "before_cursor_execute", count)
    try:
        feed = calendar_ics.build_feed(db, membership, now=NOW)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen), feed


def test_the_feed_runs_a_fixed_number_of_queries(db, orgs, app):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with f.in_org(alpha):
        acts = [f.activity(db, name) for name in ("Rocking", "Singing", "Drumming", "Walk")]
        first = f.child(db, alpha, name="Ada")
        f.publish(db, first.child, [_daily(acts[0])], now=NOW)
        few, small = _count_statements(app, db, first.carer_membership)
        for name in ("Bea", "Cal", "Dee"):
            fam = f.child(db, alpha, name=name)
            items = [_daily(a, at=f"{8 + i:02d}:00") for i, a in enumerate(acts)]
            items.append(_daily(acts[0], assignee="classroom", at="11:00"))
            f.publish(db, fam.child, items, now=NOW)
        many, large = _count_statements(app, db, first.carer_membership)
    assert (len(small.child_ids), len(large.child_ids)) == (1, 4)
    assert large.events > 10 * small.events
    assert few == many
    assert few <= 8


# --- the address ---------------------------------------------------------------------------


@pytest.fixture
def feed(db, two_sides):  # type: ignore[no-untyped-def]
    alpha, robin, *_ = two_sides
    with f.in_org(alpha):
        row = api_tokens.regenerate_feed(db, alpha.carer, robin.carer_membership, now=utcnow())
    db.commit()
    return alpha, robin, row


def _url(row) -> str:  # type: ignore[no-untyped-def]
    return f"/feeds/{api_tokens.feed_token(SECRET, row)}.ics"


def test_the_address_serves_the_calendar_without_signing_in(client, db, feed):  # type: ignore[no-untyped-def]
    alpha, robin, row = feed
    response = client.get(_url(row))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert "private" in response.headers["Cache-Control"]
    assert "Set-Cookie" not in response.headers
    summaries = {str(e["SUMMARY"]) for e in _events(response.data)}
    assert summaries == {"Rocking · Robin Ashdown"}
    assert row.last_fetched_at is not None


def test_fetches_are_audited_once_an_hour_per_feed(client, db, feed):  # type: ignore[no-untyped-def]
    alpha, robin, row = feed
    for _ in range(3):
        assert client.get(_url(row)).status_code == 200
    with f.in_org(alpha):
        fetched = list(
            db.scalars(select(AuditEvent).where(AuditEvent.action == "calendar_feed.fetched"))
        )
    assert len(fetched) == 1
    assert fetched[0].actor_id == alpha.carer.id
    assert fetched[0].object_id == str(row.id)
    assert fetched[0].detail["children"] == [robin.child.id]
    # an hour later it is recorded again
    # (each request ends the session: load the feed again)
    db.get(CalendarFeed, row.id).last_fetched_at = utcnow() - timedelta(hours=1)
    db.commit()
    assert client.get(_url(row)).status_code == 200
    with f.in_org(alpha):
        again = db.scalars(
            select(AuditEvent).where(AuditEvent.action == "calendar_feed.fetched")
        ).all()
    assert len(again) == 2


def test_a_regenerated_address_replaces_the_old_one_at_once(client, db, feed):  # type: ignore[no-untyped-def]
    alpha, robin, old = feed
    old_url = _url(old)
    assert client.get(old_url).status_code == 200
    with f.in_org(alpha):
        new = api_tokens.regenerate_feed(db, alpha.carer, robin.carer_membership, now=utcnow())
    db.commit()
    assert client.get(old_url).status_code == 404
    assert client.get(_url(new)).status_code == 200


def test_a_revoked_address_is_not_found(client, db, feed):  # type: ignore[no-untyped-def]
    alpha, robin, row = feed
    url = _url(row)
    with f.in_org(alpha):
        api_tokens.revoke_feed(db, alpha.carer, robin.carer_membership, now=utcnow())
    db.commit()
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    "forge",
    [
        lambda token: token[:-1] + ("0" if token[-1] != "0" else "1"),  # a wrong hmac
        lambda token: token.split("-")[0] + "-",  # no hmac
        lambda token: str(int(token.split("-")[0]) + 1) + "-" + token.split("-")[1],  # other id
        lambda token: "abc-" + token.split("-")[1],
        lambda token: "9" * 40 + "-" + token.split("-")[1],
    ],
)
def test_a_forged_address_is_not_found(client, db, feed, forge):  # type: ignore[no-untyped-def]
    _, _, row = feed
    token = api_tokens.feed_token(SECRET, row)
    assert client.get(f"/feeds/{forge(token)}.ics").status_code == 404


def test_a_deactivated_members_address_is_not_found(client, db, feed):  # type: ignore[no-untyped-def]
    alpha, robin, row = feed
    url = _url(row)
    with f.in_org(alpha):
        organisations.deactivate_member(db, robin.carer_membership, actor=alpha.admin, ip=None)
    db.commit()
    assert client.get(url).status_code == 404


def test_another_organisations_feed_shows_only_its_own_children(client, db, two_sides, orgs):  # type: ignore[no-untyped-def]
    _, beta = orgs
    with f.in_org(beta):
        membership = organisations.membership_for(db, beta.carer)
        row = api_tokens.regenerate_feed(db, beta.carer, membership, now=utcnow())
    db.commit()
    response = client.get(_url(row))
    assert response.status_code == 200
    calendar = Calendar.from_ical(response.data)
    assert str(calendar["X-WR-CALNAME"]) == "Cadence routines (Beta Services)"
    assert {str(e["SUMMARY"]) for e in _events(response.data)} == {"Swinging · Kim Ashdown"}
