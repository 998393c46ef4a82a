"""Adherence and dose: properties (excused never lowers adherence, a done log never lowers
it, dose sums match the logs) and hand-checked examples at the threshold edges."""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from routines.metrics import (
    Outcome,
    adherence,
    adherent_weeks,
    at_least,
    dose_minutes,
    dose_per_week,
    streak,
    tally,
    tally_by,
    week_of,
)

STATUSES = ("done", "partly", "skipped", "missed", "excused", "pending")
MONDAY = date(2026, 11, 23)

outcomes = st.builds(
    Outcome,
    local_date=st.dates(MONDAY, MONDAY + timedelta(days=27)),
    status=st.sampled_from(STATUSES),
    domain=st.sampled_from(("sensory_integration", "self_regulation", "relational")),
    activity_id=st.integers(1, 4),
    planned_minutes=st.integers(1, 30),
    logged_minutes=st.one_of(st.none(), st.integers(0, 60)),
)


def test_hand_checked_examples():
    assert adherence(["done", "partly", "skipped", "missed"]) == Fraction(3, 8)
    assert adherence(["done", "excused", "pending"]) == 1
    assert adherence(["excused", "pending"]) is None
    assert adherence([]) is None
    # the threshold edge: 4 of 5 is exactly 80%, an adherent week; 7 of 9 is not
    assert at_least(adherence(["done"] * 4 + ["missed"]), 0.8)
    assert not at_least(adherence(["done"] * 7 + ["missed"] * 2), 0.8)
    assert at_least(adherence(["done"] * 3 + ["partly"] * 2), 0.8)  # 4/5 again
    assert not at_least(None, 0.8)


def test_dose_is_logged_minutes_else_planned():
    day = MONDAY
    assert dose_minutes(Outcome(day, "done", planned_minutes=10)) == 10
    assert dose_minutes(Outcome(day, "done", planned_minutes=10, logged_minutes=14)) == 14
    assert dose_minutes(Outcome(day, "partly", planned_minutes=10)) == 5
    assert dose_minutes(Outcome(day, "partly", planned_minutes=10, logged_minutes=3)) == 3
    for status in ("skipped", "missed", "excused", "pending"):
        assert dose_minutes(Outcome(day, status, planned_minutes=10, logged_minutes=9)) == 0
    week = [
        Outcome(MONDAY, "done", "sensory_integration", planned_minutes=10),
        Outcome(MONDAY + timedelta(days=6), "done", "sensory_integration", planned_minutes=5),
        Outcome(MONDAY + timedelta(days=7), "done", "sensory_integration", planned_minutes=5),
        Outcome(MONDAY, "partly", "relational", planned_minutes=20, logged_minutes=12),
    ]
    assert dose_per_week(week) == {
        ("sensory_integration", MONDAY): 15,
        ("sensory_integration", MONDAY + timedelta(days=7)): 5,
        ("relational", MONDAY): 12,
    }


def test_adherent_weeks_and_streaks():
    week1 = [Outcome(MONDAY + timedelta(days=i), "done") for i in range(4)]
    week1.append(Outcome(MONDAY + timedelta(days=4), "missed"))  # 4/5: adherent
    week2 = [Outcome(MONDAY + timedelta(days=7 + i), s) for i, s in enumerate(("done", "skipped"))]
    assert adherent_weeks(week1 + week2) == {MONDAY: True, MONDAY + timedelta(days=7): False}
    days = [
        Outcome(MONDAY, "done"),
        Outcome(MONDAY + timedelta(days=1), "skipped"),
        Outcome(MONDAY + timedelta(days=2), "done"),
        Outcome(MONDAY + timedelta(days=3), "excused"),  # passed over
        Outcome(MONDAY + timedelta(days=4), "partly"),
        Outcome(MONDAY + timedelta(days=5), "pending"),  # today, not marked yet
    ]
    assert streak(days, MONDAY + timedelta(days=5)) == 2
    assert streak(days, MONDAY + timedelta(days=1)) == 0
    assert streak([], MONDAY) == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(outcomes, max_size=40), st.integers(0, 5))
def test_excused_routines_never_lower_adherence(found, extra):  # type: ignore[no-untyped-def]
    before = adherence(o.status for o in found)
    after = adherence([o.status for o in found] + ["excused"] * extra)
    assert after == before


@settings(max_examples=200, deadline=None)
@given(st.lists(outcomes, max_size=40))
def test_a_done_log_never_lowers_adherence(found):  # type: ignore[no-untyped-def]
    statuses = [o.status for o in found]
    before = adherence(statuses)
    after = adherence([*statuses, "done"])
    assert after is not None and (before is None or after >= before)
    # and turning any counted routine into done never lowers it either
    for index, status in enumerate(statuses):
        changed = [*statuses[:index], "done", *statuses[index + 1 :]]
        if status in ("partly", "skipped", "missed"):
            assert adherence(changed) >= before  # type: ignore[operator]


@settings(max_examples=200, deadline=None)
@given(st.lists(outcomes, max_size=40))
def test_breakdowns_add_up_and_dose_sums_match_the_logs(found):  # type: ignore[no-untyped-def]
    whole = tally(o.status for o in found)
    for key in (lambda o: o.domain, lambda o: o.activity_id, lambda o: o.local_date):
        parts = tally_by(found, key)
        assert sum((t.credit for t in parts.values()), Fraction(0)) == whole.credit
        assert sum(t.counted for t in parts.values()) == whole.counted
    assert sum(dose_per_week(found).values()) == sum(dose_minutes(o) for o in found)
    logged = [o for o in found if o.status in ("done", "partly") and o.logged_minutes is not None]
    weekly = dose_per_week(logged)
    assert sum(weekly.values()) == sum(o.logged_minutes for o in logged)  # type: ignore[misc]
    assert all(week.weekday() == 0 for _, week in weekly)
    assert all(week_of(o.local_date) <= o.local_date for o in found)
