"""Recurrence expansion across DST changes: hand-checked transitions and properties."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routines.recurrence import expand, local_to_utc, slots_for

ZONES = [
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "Australia/Sydney",
    "Australia/Lord_Howe",  # a 30-minute change
    "Pacific/Auckland",
]
EVERY_DAY = [0, 1, 2, 3, 4, 5, 6]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "day", "at", "expected"),
    [
        # London springs forward at 01:00 on 29 March 2026: 01:30 does not exist; it moves
        # forward by the gap to 02:30 BST, which is 01:30 UTC.
        ("Europe/London", date(2026, 3, 29), time(1, 30), utc(2026, 3, 29, 1, 30)),
        # ... and falls back at 02:00 BST on 25 October 2026: 01:30 happens twice; the first
        # (BST) is 00:30 UTC.
        ("Europe/London", date(2026, 10, 25), time(1, 30), utc(2026, 10, 25, 0, 30)),
        # New York: 02:30 on 8 March 2026 is in the gap, becomes 03:30 EDT = 07:30 UTC.
        ("America/New_York", date(2026, 3, 8), time(2, 30), utc(2026, 3, 8, 7, 30)),
        # New York: 01:30 on 1 November 2026 repeats; the first is EDT, 05:30 UTC.
        ("America/New_York", date(2026, 11, 1), time(1, 30), utc(2026, 11, 1, 5, 30)),
        # Lord Howe moves 30 minutes on 4 October 2026 at 02:00: 02:15 becomes 02:45 (+11).
        ("Australia/Lord_Howe", date(2026, 10, 4), time(2, 15), utc(2026, 10, 3, 15, 45)),
        # An ordinary evening is untouched: 19:30 in Auckland's winter (+12).
        ("Pacific/Auckland", date(2026, 7, 1), time(19, 30), utc(2026, 7, 1, 7, 30)),
    ],
)
def test_dst_transitions_follow_rfc_5545(zone, day, at, expected):  # type: ignore[no-untyped-def]
    assert local_to_utc(day, at, ZoneInfo(zone)) == expected


def test_spring_forward_gap_moves_forward_by_the_gap():
    zone = ZoneInfo("Europe/Berlin")  # 02:00 → 03:00 on 29 March 2026
    due = local_to_utc(date(2026, 3, 29), time(2, 30), zone)
    assert due.astimezone(zone).time() == time(3, 30)


def test_anchors_use_the_household_times_and_unset_anchors_are_an_error():
    frequency = {"days": EVERY_DAY, "mode": "anchors", "anchors": ["before_bed", "after_waking"]}
    slots = slots_for(frequency, {"before_bed": time(19, 30), "after_waking": time(7, 0)})
    assert [s.at for s in slots] == [time(7, 0), time(19, 30)]
    with pytest.raises(KeyError, match="before_bed"):
        slots_for(frequency, {"after_waking": time(7, 0)})


@pytest.mark.parametrize(
    ("count", "times"),
    [(1, ["12:00"]), (2, ["09:00", "15:00"]), (3, ["09:00", "12:00", "15:00"])],
)
def test_spread_spaces_doses_evenly(count, times):  # type: ignore[no-untyped-def]
    frequency = {
        "days": EVERY_DAY,
        "mode": "spread",
        "spread": {"count": count, "from": "09:00", "to": "15:00"},
    }
    assert [s.at.strftime("%H:%M") for s in slots_for(frequency, {})] == times


def test_days_of_week_and_closed_days():
    frequency = {"days": [0, 2, 4], "mode": "times", "times": ["10:15"]}  # Mon, Wed, Fri
    closed = {date(2026, 11, 25)}  # a Wednesday the school is shut
    found = expand(
        frequency,
        start=date(2026, 11, 23),
        end=date(2026, 11, 29),
        zone=ZoneInfo("Europe/London"),
        is_open=lambda d: d not in closed,
    )
    assert [o.local_date for o in found] == [date(2026, 11, 23), date(2026, 11, 27)]


frequencies = st.one_of(
    st.builds(
        lambda times: {"days": EVERY_DAY, "mode": "times", "times": times},
        st.lists(
            st.times().map(lambda t: t.strftime("%H:%M")), min_size=1, max_size=4, unique=True
        ),
    ),
    st.builds(
        lambda n: {
            "days": EVERY_DAY,
            "mode": "spread",
            "spread": {"count": n, "from": "00:30", "to": "03:30"},
        },
        st.integers(1, 6),
    ),
)


@settings(max_examples=60, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    start=st.dates(date(2025, 1, 1), date(2030, 12, 1)),
    span=st.integers(0, 40),
    frequency=frequencies,
)
def test_exactly_one_occurrence_per_local_date_per_slot(zone, start, span, frequency):  # type: ignore[no-untyped-def]
    tz = ZoneInfo(zone)
    end = start + timedelta(days=span)
    found = expand(frequency, start=start, end=end, zone=tz)
    slots = slots_for(frequency, {})
    counts = Counter((o.local_date, o.slot) for o in found)
    assert set(counts.values()) == {1}
    assert len(found) == (span + 1) * len(slots)
    for occurrence in found:
        local = occurrence.due_utc.astimezone(tz)
        # The instant lands on its own local date, at the planned time or moved forward
        # by at most the gap (an hour anywhere in these zones).
        assert local.date() == occurrence.local_date
        planned = datetime.combine(occurrence.local_date, occurrence.local_time)
        shift = local.replace(tzinfo=None) - planned
        assert timedelta(0) <= shift <= timedelta(hours=1)


def test_a_gap_time_and_the_time_after_the_gap_stay_two_occurrences():
    """02:30 moves to 03:30 on Berlin's spring-forward day, the instant of the 03:30 slot;
    RFC 5545 keeps both: one occurrence per slot, even when two fall at the same moment."""
    frequency = {"days": EVERY_DAY, "mode": "times", "times": ["02:30", "03:30"]}
    found = expand(
        frequency, start=date(2026, 3, 29), end=date(2026, 3, 29), zone=ZoneInfo("Europe/Berlin")
    )
    assert [o.slot for o in found] == ["t02:30", "t03:30"]
    assert {o.due_utc for o in found} == {utc(2026, 3, 29, 1, 30)}


@st.composite
def school_calendars(draw, start: date):  # type: ignore[no-untyped-def]
    """A few terms and closures around `start`, as the classroom calendar stores them."""
    from routines.models import SchoolCalendarEntry

    entries = []
    for kind, count in (("term", draw(st.integers(0, 2))), ("closure", draw(st.integers(0, 3)))):
        for _ in range(count):
            first = start + timedelta(days=draw(st.integers(-10, 50)))
            last = first + timedelta(days=draw(st.integers(0, 20)))
            entries.append(SchoolCalendarEntry(kind=kind, starts_on=first, ends_on=last))
    return entries


@settings(max_examples=60, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    start=st.dates(date(2025, 1, 1), date(2030, 11, 1)),
    span=st.integers(0, 60),
    frequency=frequencies,
    data=st.data(),
)
def test_school_day_schedules_skip_weekends_closures_and_days_out_of_term(  # type: ignore[no-untyped-def]
    zone, start, span, frequency, data
):
    from routines.places import school_day_rule

    entries = data.draw(school_calendars(start))
    terms = [(e.starts_on, e.ends_on) for e in entries if e.kind == "term"]
    closures = [(e.starts_on, e.ends_on) for e in entries if e.kind == "closure"]
    end = start + timedelta(days=span)
    found = expand(
        frequency, start=start, end=end, zone=ZoneInfo(zone), is_open=school_day_rule(entries)
    )
    slots = slots_for(frequency, {})
    counts = Counter((o.local_date, o.slot) for o in found)
    assert set(counts.values()) <= {1}

    def expected_open(day: date) -> bool:
        in_term = not terms or any(a <= day <= b for a, b in terms)
        closed = any(a <= day <= b for a, b in closures)
        return day.weekday() < 5 and in_term and not closed

    days = [start + timedelta(days=i) for i in range(span + 1)]
    assert {o.local_date for o in found} == {d for d in days if expected_open(d)}
    assert len(found) == sum(expected_open(d) for d in days) * len(slots)
