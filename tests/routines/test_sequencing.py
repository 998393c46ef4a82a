"""Proposing and checking a bottom-up plan on small, hand-made maps."""

from __future__ import annotations

import pytest

from routines.metrics import AgeBand, Item, MapResult, compute_map
from routines.sequencing import ActivityInfo, PlannedItem, check_plan, propose_plan

BANDS = (
    AgeBand("0-1y", "0–1 year", 0, 12),
    AgeBand("1-4y", "1–4 years", 12, 48),
    AgeBand("4-8y", "4–8 years", 48, 96),
    AgeBand("8-18y", "8–18 years", 96, 216),
)
# One item per domain, typical score 2, 4, 8, 12 by band. The child is 10 years old, so
# a score of 12 is green (developmental age 96 months), 8 yellow (48), 4 red (12),
# 2 red (0) and 1 red with no developmental band at all (read as 0).
GREEN, YELLOW, RED, RED_INFANT, RED_NONE = 12, 8, 4, 2, 1
ITEMS = tuple(
    Item(code, domain, {"0-1y": 2, "1-4y": 4, "4-8y": 8, "8-18y": 12})
    for code, domain in (
        ("S", "sensory_integration"),
        ("R", "self_regulation"),
        ("L", "relational"),
        ("C", "cognitive"),
    )
)
ALL_RS = ("relational", "relevant", "repetitive", "rewarding", "rhythmic", "respectful")


def make_map(s: int, r: int, rel: int, c: int) -> MapResult:
    return compute_map(ITEMS, {"S": s, "R": r, "L": rel, "C": c}, age_months=120, bands=BANDS)


def act(
    name: str,
    *domains: str,
    rs: tuple[str, ...] = ("relational", "repetitive", "rhythmic"),
    age: tuple[int, int] = (0, 216),
    regulating: bool = False,
    retired: bool = False,
    minutes: int = 5,
) -> ActivityInfo:
    return ActivityInfo(
        name, name, tuple(domains), rs, minutes, age[0], age[1], regulating, retired
    )


def planned(activity: ActivityInfo, domain: str, minutes: int, doses: int = 7) -> PlannedItem:
    return PlannedItem(activity, domain, doses, minutes)


def codes(warnings: list) -> list[str]:  # type: ignore[type-arg]
    return [w.code for w in warnings]


ROCKING = act("Rocking", "sensory_integration", regulating=True)


def test_the_hand_made_map_reads_as_intended():
    result = make_map(GREEN, YELLOW, RED, RED_NONE)
    assert [d.band for d in result.domains] == ["green", "yellow", "red", "red"]
    assert [d.developmental_band and d.developmental_band.from_months for d in result.domains] == [
        96,
        48,
        12,
        None,
    ]


# --------------------------------------------------------------------------- propose_plan


def test_propose_starts_at_the_lowest_compromised_domain_and_goes_up():
    result = make_map(GREEN, YELLOW, GREEN, RED)
    library = [
        act("Cards", "cognitive"),
        act("Swing", "sensory_integration", regulating=True),
        act("Tag", "relational"),
        act("Breathing", "self_regulation", regulating=True),
    ]
    plan = propose_plan(result, library)
    # sensory is green and below the start; relational is green: neither gets activities
    assert [(p.activity.name, p.domain) for p in plan] == [
        ("Breathing", "self_regulation"),
        ("Cards", "cognitive"),
    ]


def test_propose_defaults_to_daily_doses_of_typical_length():
    plan = propose_plan(
        make_map(RED, GREEN, GREEN, GREEN), [act("Swing", "sensory_integration", minutes=8)]
    )
    assert [(p.doses_per_week, p.minutes) for p in plan] == [(7, 8)]


def test_propose_prefers_regulating_then_more_rs_then_name_and_caps_per_domain():
    library = [
        act("Zeta", "sensory_integration", rs=ALL_RS),
        act("Beta", "sensory_integration", rs=ALL_RS[:3]),
        act("Alpha", "sensory_integration", rs=ALL_RS[:3]),
        act("Omega", "sensory_integration", rs=ALL_RS[:3], regulating=True),
    ]
    plan = propose_plan(make_map(RED, GREEN, GREEN, GREEN), library)
    assert [p.activity.name for p in plan] == ["Omega", "Zeta", "Alpha"]
    plan = propose_plan(make_map(RED, GREEN, GREEN, GREEN), library, per_domain=1)
    assert [p.activity.name for p in plan] == ["Omega"]


def test_propose_matches_developmental_age_with_both_ends_included():
    # self-regulation is yellow with a developmental age of 48 months (child is 120)
    library = [
        act("Too young", "self_regulation", age=(0, 47)),
        act("Too old", "self_regulation", age=(49, 216)),
        act("Ends at 48", "self_regulation", age=(0, 48)),
        act("Starts at 48", "self_regulation", age=(48, 120)),
        act("Chronological", "self_regulation", age=(100, 216)),
    ]
    plan = propose_plan(make_map(GREEN, YELLOW, GREEN, GREEN), library, per_domain=10)
    assert sorted(p.activity.name for p in plan) == ["Ends at 48", "Starts at 48"]


def test_propose_reads_no_developmental_band_as_zero_months():
    library = [act("Newborn", "cognitive", age=(0, 12)), act("Toddler", "cognitive", age=(1, 48))]
    plan = propose_plan(make_map(GREEN, GREEN, GREEN, RED_NONE), library)
    assert [p.activity.name for p in plan] == ["Newborn"]


def test_propose_skips_retired_activities():
    library = [
        act("Old swing", "sensory_integration", retired=True, regulating=True),
        act("New swing", "sensory_integration"),
    ]
    plan = propose_plan(make_map(RED, GREEN, GREEN, GREEN), library)
    assert [p.activity.name for p in plan] == ["New swing"]


def test_propose_never_repeats_an_activity_and_gives_it_to_the_lower_domain():
    drum = act("Drum", "sensory_integration", "self_regulation", regulating=True)
    library = [drum, act("Walk", "self_regulation")]
    plan = propose_plan(make_map(RED, YELLOW, GREEN, GREEN), library)
    assert [(p.activity.name, p.domain) for p in plan] == [
        ("Drum", "sensory_integration"),
        ("Walk", "self_regulation"),
    ]
    assert len({p.activity.id for p in plan}) == len(plan)


def test_an_all_green_map_proposes_nothing():
    assert propose_plan(make_map(GREEN, GREEN, GREEN, GREEN), [ROCKING]) == []


def test_a_proposed_plan_passes_its_own_age_check():
    library = [
        ROCKING,
        act("Drum", "sensory_integration", "self_regulation", age=(12, 216), regulating=True),
        act("Peekaboo", "relational", age=(0, 24)),
        act("Debate", "relational", age=(120, 216)),
    ]
    result = make_map(RED_INFANT, YELLOW, RED, GREEN)
    plan = propose_plan(result, library)
    assert "Debate" not in [p.activity.name for p in plan]
    assert "age_mismatch" not in codes(check_plan(result, plan))


# --------------------------------------------------------------------------- above_red


def test_above_red_fires_when_more_minutes_go_above_a_red_domain():
    result = make_map(RED, GREEN, GREEN, GREEN)
    plan = [
        planned(ROCKING, "sensory_integration", 5),
        planned(act("Tag", "relational"), "relational", 6),
    ]
    warnings = [w for w in check_plan(result, plan) if w.code == "above_red"]
    assert len(warnings) == 1
    assert "relational" in warnings[0].message and "sensory integration" in warnings[0].message
    assert "42 minutes a week to relational" in warnings[0].message
    assert "only 35 minutes to sensory integration" in warnings[0].message
    assert warnings[0].activity is None


def test_above_red_counts_doses_not_just_minutes():
    result = make_map(RED, GREEN, GREEN, GREEN)
    tag = act("Tag", "relational")
    # 10 minutes once a week (10) against 5 minutes daily (35): the red domain has the weight
    plan = [planned(ROCKING, "sensory_integration", 5), planned(tag, "relational", 10, doses=1)]
    assert "above_red" not in codes(check_plan(result, plan))


def test_above_red_does_not_fire_on_equal_minutes():
    result = make_map(RED, GREEN, GREEN, GREEN)
    plan = [
        planned(ROCKING, "sensory_integration", 5),
        planned(act("Tag", "relational"), "relational", 5),
    ]
    assert "above_red" not in codes(check_plan(result, plan))


def test_above_red_fires_when_nothing_is_planned_for_the_red_domain():
    result = make_map(GREEN, RED, GREEN, GREEN)
    plan = [
        planned(ROCKING, "sensory_integration", 5),
        planned(act("Cards", "cognitive"), "cognitive", 1),
    ]
    assert codes(check_plan(result, plan)) == ["above_red"]


def test_a_red_domain_at_the_top_cannot_fire_above_red():
    result = make_map(GREEN, GREEN, GREEN, RED)
    plan = [planned(ROCKING, "sensory_integration", 30)]
    assert check_plan(result, plan) == []


def test_yellow_domains_do_not_fire_above_red():
    result = make_map(YELLOW, YELLOW, YELLOW, GREEN)
    plan = [
        planned(ROCKING, "sensory_integration", 1),
        planned(act("Cards", "cognitive"), "cognitive", 30),
    ]
    assert "above_red" not in codes(check_plan(result, plan))


def test_above_red_fires_once_per_red_domain():
    result = make_map(RED, GREEN, RED, GREEN)
    plan = [
        planned(ROCKING, "sensory_integration", 5),
        planned(act("Tag", "relational"), "relational", 5),
        planned(act("Cards", "cognitive"), "cognitive", 20),
    ]
    warnings = [w for w in check_plan(result, plan) if w.code == "above_red"]
    assert len(warnings) == 2
    assert "only 35 minutes to relational (limbic)" in warnings[1].message


# --------------------------------------------------------------------------- age_mismatch


def test_age_mismatch_names_each_activity_outside_the_developmental_age():
    result = make_map(GREEN, YELLOW, GREEN, GREEN)  # self-regulation at 48 months
    plan = [
        planned(ROCKING, "sensory_integration", 5),
        planned(act("Puzzle", "self_regulation", age=(60, 216)), "self_regulation", 5),
        planned(act("Rattle", "self_regulation", age=(0, 24)), "self_regulation", 5),
        planned(act("Edge low", "self_regulation", age=(48, 60)), "self_regulation", 5),
        planned(act("Edge high", "self_regulation", age=(24, 48)), "self_regulation", 5),
    ]
    warnings = check_plan(result, plan)
    assert codes(warnings) == ["age_mismatch", "age_mismatch"]
    assert [w.activity for w in warnings] == ["Puzzle", "Rattle"]
    assert "60 to 216 months" in warnings[0].message and "around 48 months" in warnings[0].message


def test_age_mismatch_uses_the_planned_domains_developmental_age():
    # sensory is green at 96 months, relational red at 12: the same activity fits one only
    result = make_map(GREEN, GREEN, RED, GREEN)
    drum = act("Drum", "sensory_integration", "relational", age=(60, 216), regulating=True)
    assert check_plan(result, [planned(drum, "sensory_integration", 5)]) == []
    warnings = check_plan(result, [planned(drum, "relational", 5)])
    assert codes(warnings) == ["age_mismatch"]


def test_age_mismatch_reads_no_developmental_band_as_zero_months():
    result = make_map(RED_NONE, GREEN, GREEN, GREEN)
    assert (
        check_plan(
            result,
            [
                planned(
                    act("R", "sensory_integration", age=(0, 6), regulating=True),
                    "sensory_integration",
                    5,
                )
            ],
        )
        == []
    )
    bad = act("Later", "sensory_integration", age=(1, 6), regulating=True)
    assert codes(check_plan(result, [planned(bad, "sensory_integration", 5)])) == ["age_mismatch"]


# --------------------------------------------------------------------------- no_regulating


@pytest.mark.parametrize(
    ("regulating", "rs", "fires"),
    [
        (True, ("repetitive", "rhythmic", "relational"), False),
        (True, ("repetitive", "relational", "rewarding"), True),  # not rhythmic
        (True, ("rhythmic", "relational", "rewarding"), True),  # not repetitive
        (False, ("repetitive", "rhythmic", "relational"), True),  # not flagged regulating
    ],
)
def test_no_regulating_needs_a_flagged_repetitive_rhythmic_activity(regulating, rs, fires):  # type: ignore[no-untyped-def]
    result = make_map(GREEN, GREEN, GREEN, GREEN)
    activity = act("A", "sensory_integration", rs=rs, regulating=regulating)
    warnings = check_plan(result, [planned(activity, "sensory_integration", 5)])
    assert codes(warnings) == (["no_regulating"] if fires else [])
    if fires:
        assert warnings[0].activity is None
        assert "rhythmic" in warnings[0].message


def test_an_empty_plan_has_no_regulating_activity():
    assert codes(check_plan(make_map(GREEN, GREEN, GREEN, GREEN), [])) == ["no_regulating"]


def test_one_regulating_activity_anywhere_in_the_plan_is_enough():
    result = make_map(GREEN, GREEN, GREEN, GREEN)
    plan = [
        planned(act("Cards", "cognitive", rs=("relevant",)), "cognitive", 5),
        planned(ROCKING, "sensory_integration", 5),
    ]
    assert check_plan(result, plan) == []


# --------------------------------------------------------------------------- items


def test_a_planned_item_needs_a_known_domain_and_no_negative_amounts():
    with pytest.raises(ValueError, match="domain"):
        PlannedItem(ROCKING, "motor", 7, 5)
    with pytest.raises(ValueError, match="negative"):
        PlannedItem(ROCKING, "sensory_integration", -1, 5)
