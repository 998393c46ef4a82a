"""The shipped default framework and activity library are valid, and the validators
catch each kind of problem with a message that names the offending item or row."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest

from routines import content
from routines.content import (
    DOMAINS,
    SCALE_MAX,
    SETTINGS,
    SIX_RS,
    ContentError,
    load_default_activities,
    load_default_framework,
    validate_activities,
    validate_framework,
)

# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def framework() -> dict[str, Any]:
    return load_default_framework()


@pytest.fixture
def activities() -> list[dict[str, Any]]:
    return load_default_activities()


def _item(data: dict[str, Any], code: str) -> dict[str, Any]:
    return next(item for item in data["items"] if item["code"] == code)


def _assert_problem(problems: list[str], *needles: str) -> None:
    assert problems, "expected at least one problem"
    assert any(all(n in p for n in needles) for p in problems), problems


# --------------------------------------------------------------------------- constants


def test_constants() -> None:
    assert list(DOMAINS) == [
        "sensory_integration",
        "self_regulation",
        "relational",
        "cognitive",
    ]
    assert DOMAINS["sensory_integration"] == "Sensory integration (brainstem)"
    assert DOMAINS["self_regulation"] == "Self-regulation (diencephalon and cerebellum)"
    assert DOMAINS["relational"] == "Relational (limbic)"
    assert DOMAINS["cognitive"] == "Cognitive (cortex)"
    assert SIX_RS == ("relational", "relevant", "repetitive", "rewarding", "rhythmic", "respectful")
    assert SETTINGS == ("home", "school", "clinic")
    assert SCALE_MAX == 12


# --------------------------------------------------------------------------- shipped files


def test_shipped_framework_validates(framework: dict[str, Any]) -> None:
    assert validate_framework(framework) == []
    assert framework["key"] == "cadence-default"
    assert framework["name"] == "Cadence functional map"
    assert framework["version"] == 1
    assert framework["scale_max"] == SCALE_MAX


def test_shipped_framework_shape(framework: dict[str, Any]) -> None:
    bands = framework["age_bands"]
    assert bands[0]["from_months"] == 0
    assert bands[-1]["to_months"] == 216
    assert [b["code"] for b in bands] == [
        "0-2m",
        "2-6m",
        "6-12m",
        "1-2y",
        "2-3y",
        "3-4y",
        "4-6y",
        "6-8y",
        "8-11y",
        "11-14y",
        "14-18y",
    ]
    items = framework["items"]
    assert len(items) >= 20
    for key in DOMAINS:
        assert sum(1 for item in items if item["domain"] == key) >= 4
    # bottom-up order in the file
    order = [list(DOMAINS).index(item["domain"]) for item in items]
    assert order == sorted(order)


def test_shipped_framework_maturation_profile(framework: dict[str, Any]) -> None:
    codes = [b["code"] for b in framework["age_bands"]]

    def mature_from(domain: str) -> str:
        items = [i for i in framework["items"] if i["domain"] == domain]
        for code in codes:
            if all(i["expected"][code] == SCALE_MAX for i in items):
                return code
        raise AssertionError(f"{domain} never matures")

    # brainstem functions first, cortex last
    mature = [codes.index(mature_from(d)) for d in DOMAINS]
    assert mature == sorted(mature) and len(set(mature)) == len(mature)
    assert codes.index(mature_from("sensory_integration")) <= codes.index("4-6y")
    assert mature_from("cognitive") == "14-18y"
    for item in framework["items"]:
        if item["domain"] == "cognitive":
            assert item["expected"]["11-14y"] < SCALE_MAX, item["code"]


def test_shipped_activities_validate(activities: list[dict[str, Any]]) -> None:
    assert validate_activities(activities) == []
    assert len(activities) >= 32
    for key in DOMAINS:
        assert sum(1 for a in activities if key in a["domains"]) >= 6, key
    short = sum(1 for a in activities if 3 <= a["typical_minutes"] <= 15)
    assert short > len(activities) / 2
    assert any(a["regulating"] for a in activities)
    assert not all(a["regulating"] for a in activities)
    assert {s for a in activities for s in a["settings"]} == set(SETTINGS)


def test_loaders_return_fresh_copies() -> None:
    first = load_default_framework()
    first["items"].clear()
    assert load_default_framework()["items"]
    acts = load_default_activities()
    acts.clear()
    assert load_default_activities()


def test_shipped_files_are_utf8_json() -> None:
    folder = resources.files("routines.data")
    for name in (content.FRAMEWORK_FILE, content.ACTIVITIES_FILE):
        json.loads(folder.joinpath(name).read_text(encoding="utf-8"))


def test_loader_refuses_invalid_shipped_file(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = [{"name": "Broken"}]
    monkeypatch.setattr(content, "_read_json", lambda filename: copy.deepcopy(broken))
    with pytest.raises(ContentError, match="Broken") as excinfo:
        load_default_activities()
    assert excinfo.value.problems


# --------------------------------------------------------------------------- framework problems


def test_framework_must_be_an_object() -> None:
    assert validate_framework([]) == ["the framework must be a JSON object"]


def test_item_missing_domain(framework: dict[str, Any]) -> None:
    del _item(framework, "SI2")["domain"]
    _assert_problem(validate_framework(framework), "SI2", "missing domain")


def test_framework_missing_a_whole_domain(framework: dict[str, Any]) -> None:
    framework["items"] = [i for i in framework["items"] if i["domain"] != "relational"]
    problems = validate_framework(framework)
    _assert_problem(problems, "relational", "no items")
    assert len(problems) == 1, problems


def test_unknown_domain(framework: dict[str, Any]) -> None:
    _item(framework, "RE3")["domain"] = "limbic"
    _assert_problem(validate_framework(framework), "RE3", "unknown domain", "limbic")


@pytest.mark.parametrize("score", [-1, 13, 99])
def test_score_out_of_range(framework: dict[str, Any], score: int) -> None:
    _item(framework, "CO4")["expected"]["14-18y"] = score
    _assert_problem(validate_framework(framework), "CO4", str(score), "14-18y", "0..12")


@pytest.mark.parametrize("score", [1.5, "7", True, None])
def test_score_not_a_whole_number(framework: dict[str, Any], score: Any) -> None:
    _item(framework, "SR1")["expected"]["0-2m"] = score
    _assert_problem(validate_framework(framework), "SR1", "0-2m", "whole number")


def test_duplicate_item_code(framework: dict[str, Any]) -> None:
    _item(framework, "SR4")["code"] = "SR3"
    problems = validate_framework(framework)
    _assert_problem(problems, "SR3", "duplicate item code")
    assert sum("duplicate" in p for p in problems) == 1


def test_expected_scores_missing_a_band(framework: dict[str, Any]) -> None:
    del _item(framework, "SI5")["expected"]["6-8y"]
    _assert_problem(validate_framework(framework), "SI5", "missing", "6-8y")


def test_expected_scores_for_unknown_band(framework: dict[str, Any]) -> None:
    _item(framework, "SI5")["expected"]["18-25y"] = 12
    _assert_problem(validate_framework(framework), "SI5", "unknown age band", "18-25y")


def test_expected_scores_must_not_fall_with_age(framework: dict[str, Any]) -> None:
    item = _item(framework, "RE1")
    item["expected"]["3-4y"] = item["expected"]["2-3y"] - 1
    _assert_problem(validate_framework(framework), "RE1", "must not fall", "2-3y", "3-4y")


def test_domain_total_must_rise_until_mature(framework: dict[str, Any]) -> None:
    # Flatten every cognitive item between two bands: each item is still non-decreasing,
    # but the domain total no longer tells 6-8y and 8-11y apart.
    for item in framework["items"]:
        if item["domain"] == "cognitive":
            item["expected"]["8-11y"] = item["expected"]["6-8y"]
    problems = validate_framework(framework)
    _assert_problem(problems, "cognitive", "6-8y", "8-11y")
    assert len(problems) == 1, problems


def test_domain_total_may_stay_at_maximum(framework: dict[str, Any]) -> None:
    # Sensory integration is fully mature from early childhood: a plateau at the top is fine.
    item = _item(framework, "SI1")
    assert item["expected"]["6-8y"] == item["expected"]["8-11y"] == SCALE_MAX
    assert validate_framework(framework) == []


def test_age_bands_must_be_contiguous(framework: dict[str, Any]) -> None:
    framework["age_bands"][4]["from_months"] = 30
    _assert_problem(validate_framework(framework), "2-3y", "contiguous")


def test_age_bands_must_reach_eighteen(framework: dict[str, Any]) -> None:
    framework["age_bands"][-1]["to_months"] = 204
    _assert_problem(validate_framework(framework), "216")


def test_scale_max_is_fixed(framework: dict[str, Any]) -> None:
    framework["scale_max"] = 10
    _assert_problem(validate_framework(framework), "scale_max")


def test_item_without_code_is_named_by_position(framework: dict[str, Any]) -> None:
    del framework["items"][0]["code"]
    _assert_problem(validate_framework(framework), "item #1", "missing code")


# --------------------------------------------------------------------------- activity problems


def _row(activities: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(a for a in activities if a["name"] == name)


def test_activities_must_be_a_list() -> None:
    assert validate_activities({}) == ["the activity library must be a JSON list"]
    assert validate_activities([]) == ["the activity library is empty"]


@pytest.mark.parametrize("minutes", [0, -5, 61, 2.5, "5", True])
def test_activity_minutes_out_of_range(activities: list[dict[str, Any]], minutes: Any) -> None:
    _row(activities, "Swinging")["typical_minutes"] = minutes
    _assert_problem(validate_activities(activities), "'Swinging'", "typical_minutes")


def test_activity_with_zero_minutes(activities: list[dict[str, Any]]) -> None:
    _row(activities, "Mirror game")["typical_minutes"] = 0
    problems = validate_activities(activities)
    _assert_problem(problems, "'Mirror game'", "typical_minutes", "got 0")
    assert len(problems) == 1, problems


def test_activity_unknown_r(activities: list[dict[str, Any]]) -> None:
    _row(activities, "Water play")["rs"].append("resilient")
    _assert_problem(validate_activities(activities), "'Water play'", "unknown rs", "resilient")


def test_activity_too_few_rs(activities: list[dict[str, Any]]) -> None:
    _row(activities, "Water play")["rs"] = ["relational", "rhythmic"]
    _assert_problem(validate_activities(activities), "'Water play'", "at least 3")


def test_activity_unknown_setting(activities: list[dict[str, Any]]) -> None:
    _row(activities, "Gardening together")["settings"] = ["home", "park"]
    _assert_problem(
        validate_activities(activities), "'Gardening together'", "unknown settings", "park"
    )


def test_activity_unknown_domain(activities: list[dict[str, Any]]) -> None:
    _row(activities, "Dance together")["domains"] = ["limbic"]
    _assert_problem(
        validate_activities(activities), "'Dance together'", "unknown domains", "limbic"
    )


def test_activity_min_age_above_max_age(activities: list[dict[str, Any]]) -> None:
    row = _row(activities, "Feelings faces")
    row["dev_age_min_months"], row["dev_age_max_months"] = 120, 30
    _assert_problem(
        validate_activities(activities), "'Feelings faces'", "dev_age_min_months", "greater"
    )


@pytest.mark.parametrize("age", [-1, 217, "12"])
def test_activity_age_out_of_range(activities: list[dict[str, Any]], age: Any) -> None:
    _row(activities, "Feelings faces")["dev_age_max_months"] = age
    _assert_problem(validate_activities(activities), "'Feelings faces'", "dev_age_max_months")


def test_duplicate_activity_name(activities: list[dict[str, Any]]) -> None:
    clone = copy.deepcopy(_row(activities, "Rocking together"))
    clone["name"] = "rocking  Together"
    activities.append(clone)
    problems = validate_activities(activities)
    _assert_problem(problems, "'rocking  Together'", "duplicate activity name", "#1")
    assert len(problems) == 1, problems


def test_activity_missing_and_unknown_fields(activities: list[dict[str, Any]]) -> None:
    row = _row(activities, "Heavy work jobs")
    del row["why"]
    row["minutes"] = 5
    problems = validate_activities(activities)
    _assert_problem(problems, "'Heavy work jobs'", "missing field", "why")
    _assert_problem(problems, "'Heavy work jobs'", "unknown field", "minutes")


def test_activity_regulating_must_be_boolean(activities: list[dict[str, Any]]) -> None:
    _row(activities, "Rhythmic walk")["regulating"] = "yes"
    _assert_problem(validate_activities(activities), "'Rhythmic walk'", "regulating")


def test_activity_without_name_is_named_by_position(activities: list[dict[str, Any]]) -> None:
    activities[2]["name"] = ""
    _assert_problem(validate_activities(activities), "activity #3", "missing name")
