"""The functional brain map on small, hand-checked examples."""

from __future__ import annotations

from datetime import date

import pytest

from routines.metrics import (
    AgeBand,
    Item,
    Thresholds,
    age_band_for,
    age_in_months,
    band_for,
    compute_map,
    developmental_band,
    percent_of_typical,
)

BANDS = (
    AgeBand("0-1y", "0–1 year", 0, 12),
    AgeBand("1-4y", "1–4 years", 12, 48),
    AgeBand("4-8y", "4–8 years", 48, 96),
    AgeBand("8-18y", "8–18 years", 96, 216),
)


def item(code: str, domain: str, *expected: int) -> Item:
    return Item(code, domain, dict(zip([b.code for b in BANDS], expected, strict=True)))


ITEMS = (
    item("S1", "sensory_integration", 4, 10, 12, 12),
    item("S2", "sensory_integration", 2, 8, 12, 12),
    item("R1", "self_regulation", 1, 6, 10, 12),
    item("L1", "relational", 1, 4, 8, 12),
    item("C1", "cognitive", 0, 2, 6, 10),
)


@pytest.mark.parametrize(
    ("born", "on", "months"),
    [
        (date(2020, 3, 15), date(2020, 3, 15), 0),
        (date(2020, 3, 15), date(2020, 4, 14), 0),
        (date(2020, 3, 15), date(2020, 4, 15), 1),
        (date(2020, 1, 31), date(2020, 2, 29), 0),  # no 31 February: not yet a month
        (date(2020, 1, 31), date(2020, 3, 1), 1),
        (date(2018, 11, 23), date(2026, 11, 23), 96),
    ],
)
def test_age_in_whole_months(born, on, months):  # type: ignore[no-untyped-def]
    assert age_in_months(born, on) == months


def test_age_before_birth_is_refused():
    with pytest.raises(ValueError):
        age_in_months(date(2020, 1, 2), date(2020, 1, 1))


@pytest.mark.parametrize(
    ("months", "code"),
    [(0, "0-1y"), (11, "0-1y"), (12, "1-4y"), (95, "4-8y"), (96, "8-18y"), (400, "8-18y")],
)
def test_age_band_edges(months, code):  # type: ignore[no-untyped-def]
    assert age_band_for(months, BANDS).code == code


@pytest.mark.parametrize(
    ("score", "expected", "percent"),
    [(6, 12, 50.0), (12, 12, 100.0), (12, 10, 100.0), (0, 0, 100.0), (3, 4, 75.0)],
)
def test_percent_of_typical(score, expected, percent):  # type: ignore[no-untyped-def]
    assert percent_of_typical(score, expected) == pytest.approx(percent)


@pytest.mark.parametrize("score", [-1, 13])
def test_score_outside_the_scale_is_refused(score):  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="outside"):
        percent_of_typical(score, 12)


@pytest.mark.parametrize(
    ("percent", "band"),
    [(0, "red"), (59.99, "red"), (60, "yellow"), (84.99, "yellow"), (85, "green"), (100, "green")],
)
def test_bands_at_the_default_thresholds(percent, band):  # type: ignore[no-untyped-def]
    assert band_for(percent, Thresholds()) == band


def test_bands_follow_organisation_thresholds():
    strict = Thresholds(red_below=70, green_from=90)
    assert band_for(69.9, strict) == "red"
    assert band_for(70, strict) == "yellow"
    assert band_for(89.9, strict) == "yellow"
    assert band_for(90, strict) == "green"


@pytest.mark.parametrize(("red", "green"), [(0, 85), (85, 85), (90, 85), (50, 101)])
def test_inconsistent_thresholds_are_refused(red, green):  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        Thresholds(red_below=red, green_from=green)


def test_developmental_band_is_the_oldest_band_reached():
    sensory = [i for i in ITEMS if i.domain == "sensory_integration"]
    # typical totals: 0-1y 6, 1-4y 18, 4-8y 24, 8-18y 24
    assert developmental_band(sensory, {"S1": 3, "S2": 2}, BANDS) is None  # 5 < 6
    assert developmental_band(sensory, {"S1": 4, "S2": 2}, BANDS).code == "0-1y"  # 6
    assert developmental_band(sensory, {"S1": 10, "S2": 7}, BANDS).code == "0-1y"  # 17 < 18
    assert developmental_band(sensory, {"S1": 10, "S2": 8}, BANDS).code == "1-4y"  # 18
    assert developmental_band(sensory, {"S1": 12, "S2": 12}, BANDS).code == "8-18y"


def test_developmental_band_is_capped_at_the_childs_own_band():
    sensory = [i for i in ITEMS if i.domain == "sensory_integration"]
    full = {"S1": 12, "S2": 12}
    assert developmental_band(sensory, full, BANDS, up_to=BANDS[1]).code == "1-4y"


def test_map_of_a_six_year_old():
    """Age 6 (band 4-8y). Sensory 12+9 of 24 = 87.5% green; self-regulation 6 of 10 = 60%
    yellow; relational 4 of 8 = 50% red; cognitive 6 of 6 = 100% green."""
    scores = {"S1": 12, "S2": 9, "R1": 6, "L1": 4, "C1": 6}
    result = compute_map(ITEMS, scores, age_months=72, bands=BANDS)
    assert result.age_band.code == "4-8y"
    s1, s2, r1, l1, c1 = result.items
    assert (s2.expected, s2.percent, s2.band) == (12, 75.0, "yellow")
    assert (l1.percent, l1.band) == (50.0, "red")
    sensory = result.domain("sensory_integration")
    assert (sensory.score, sensory.expected, sensory.percent, sensory.band) == (
        21,
        24,
        87.5,
        "green",
    )
    assert sensory.developmental_band.code == "1-4y"  # 21 reaches 18, not 24
    regulation = result.domain("self_regulation")
    assert (regulation.percent, regulation.band) == (60.0, "yellow")
    assert regulation.developmental_band.code == "1-4y"  # 6 reaches 1-4y's 6, not 10
    relational = result.domain("relational")
    assert (relational.percent, relational.band) == (50.0, "red")
    assert relational.developmental_band.code == "1-4y"
    assert result.domain("cognitive").developmental_band.code == "4-8y"  # capped at own band
    # bottom-up: the plan starts at the lowest domain that is not green
    assert result.lowest_compromised().domain == "self_regulation"
    assert [d.domain for d in result.domains] == [
        "sensory_integration",
        "self_regulation",
        "relational",
        "cognitive",
    ]


def test_map_needs_every_item_rated():
    with pytest.raises(ValueError, match="C1"):
        compute_map(ITEMS, {"S1": 1, "S2": 1, "R1": 1, "L1": 1}, age_months=72, bands=BANDS)


def test_all_green_map_has_nothing_compromised():
    scores = {"S1": 12, "S2": 12, "R1": 12, "L1": 12, "C1": 12}
    assert compute_map(ITEMS, scores, age_months=100, bands=BANDS).lowest_compromised() is None
