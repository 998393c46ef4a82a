"""Cadence's default assessment framework and activity library: loaders and validation.

The framework and the activities are Cadence's own, written in its own words for the
Neurosequential Model's four domains (bottom-up: sensory integration, self-regulation,
relational, cognitive). They are not the licensed official item list and carry no
clinical endorsement. Tenants may define their own; the validators below report every
problem they find as a plain sentence naming the item or row, so a form or an import
can show them as they are.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

# Bottom-up order matters: plans are sequenced from the first compromised domain.
DOMAINS: dict[str, str] = {
    "sensory_integration": "Sensory integration (brainstem)",
    "self_regulation": "Self-regulation (diencephalon and cerebellum)",
    "relational": "Relational (limbic)",
    "cognitive": "Cognitive (cortex)",
}
DOMAIN_KEYS: tuple[str, ...] = tuple(DOMAINS)

SIX_RS: tuple[str, ...] = (
    "relational",
    "relevant",
    "repetitive",
    "rewarding",
    "rhythmic",
    "respectful",
)
SETTINGS: tuple[str, ...] = ("home", "school", "clinic")

SCALE_MAX = 12
MAX_AGE_MONTHS = 216  # 18 years
MIN_RS_PER_ACTIVITY = 3
MINUTES_RANGE = (1, 60)

_DATA_PACKAGE = "routines.data"
FRAMEWORK_FILE = "default_framework.json"
ACTIVITIES_FILE = "default_activities.json"

_ACTIVITY_FIELDS = (
    "name",
    "instructions",
    "why",
    "domains",
    "rs",
    "typical_minutes",
    "settings",
    "dev_age_min_months",
    "dev_age_max_months",
    "regulating",
)


class ContentError(ValueError):
    """Shipped or imported content failed validation; ``problems`` lists why."""

    def __init__(self, what: str, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(f"{what} is not valid: " + "; ".join(self.problems))


# --------------------------------------------------------------------------- loaders


def _read_json(filename: str) -> Any:
    text = resources.files(_DATA_PACKAGE).joinpath(filename).read_text(encoding="utf-8")
    return json.loads(text)


def load_default_framework() -> dict[str, Any]:
    """The shipped default framework, freshly parsed (callers may mutate it).

    Raises ContentError if the shipped file does not validate."""
    data = _read_json(FRAMEWORK_FILE)
    problems = validate_framework(data)
    if problems:
        raise ContentError("default framework", problems)
    return data  # type: ignore[no-any-return]


def load_default_activities() -> list[dict[str, Any]]:
    """The shipped default activity library, freshly parsed (callers may mutate it).

    Raises ContentError if the shipped file does not validate."""
    data = _read_json(ACTIVITIES_FILE)
    problems = validate_activities(data)
    if problems:
        raise ContentError("default activities", problems)
    return data  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- helpers


def _is_int(value: Any) -> bool:
    # bool is an int subclass in Python; a JSON true/false is never a score or an age.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _item_ref(index: int, item: Any) -> str:
    code = item.get("code") if isinstance(item, dict) else None
    if _is_text(code):
        return f"item {code}"
    return f"item #{index + 1} (no code)"


def _activity_ref(index: int, row: Any) -> str:
    name = row.get("name") if isinstance(row, dict) else None
    if _is_text(name):
        return f"activity #{index + 1} {name!r}"
    return f"activity #{index + 1} (no name)"


# --------------------------------------------------------------------------- framework


def _validate_bands(bands: Any, problems: list[str]) -> list[str]:
    """Check the age bands; return their codes in order (only the well-formed ones)."""
    if not isinstance(bands, list) or not bands:
        problems.append("age_bands must be a non-empty list")
        return []
    codes: list[str] = []
    previous_to: int | None = None
    for index, band in enumerate(bands):
        if not isinstance(band, dict):
            problems.append(f"age band #{index + 1}: must be an object")
            previous_to = None
            continue
        code = band.get("code")
        ref = f"age band {code}" if _is_text(code) else f"age band #{index + 1} (no code)"
        if not _is_text(code):
            problems.append(f"{ref}: missing code")
        elif code in codes:
            problems.append(f"{ref}: duplicate band code")
        else:
            codes.append(code)
        if not _is_text(band.get("label")):
            problems.append(f"{ref}: missing label")
        start, end = band.get("from_months"), band.get("to_months")
        if not (_is_int(start) and _is_int(end)):
            problems.append(f"{ref}: from_months and to_months must be whole numbers")
            previous_to = None
            continue
        if not 0 <= start < end <= MAX_AGE_MONTHS:
            problems.append(
                f"{ref}: needs 0 <= from_months < to_months <= {MAX_AGE_MONTHS} "
                f"(got {start}..{end})"
            )
        if index == 0 and start != 0:
            problems.append(f"{ref}: the first band must start at 0 months (got {start})")
        if previous_to is not None and start != previous_to:
            problems.append(
                f"{ref}: bands must be contiguous; starts at {start} months but the "
                f"previous band ends at {previous_to}"
            )
        previous_to = end
    last = bands[-1]
    if isinstance(last, dict) and _is_int(last.get("to_months")):
        if last["to_months"] != MAX_AGE_MONTHS:
            problems.append(
                f"age bands must reach {MAX_AGE_MONTHS} months (18 years); the last ends at "
                f"{last['to_months']}"
            )
    return codes


def _validate_expected(
    ref: str, expected: Any, band_codes: list[str], scale_max: int, problems: list[str]
) -> bool:
    """Check one item's expected scores; True when they are complete and usable."""
    if not isinstance(expected, dict):
        problems.append(f"{ref}: expected must map each age band to a score")
        return False
    ok = True
    missing = [code for code in band_codes if code not in expected]
    if missing:
        problems.append(f"{ref}: expected scores missing for age band(s) {', '.join(missing)}")
        ok = False
    unknown = [code for code in expected if code not in band_codes]
    if unknown:
        problems.append(f"{ref}: expected scores for unknown age band(s) {', '.join(unknown)}")
        ok = False
    for code in band_codes:
        if code not in expected:
            continue
        score = expected[code]
        if not _is_int(score):
            problems.append(f"{ref}: expected score for {code} must be a whole number")
            ok = False
        elif not 0 <= score <= scale_max:
            problems.append(f"{ref}: expected score {score} for {code} is outside 0..{scale_max}")
            ok = False
    if not ok:
        return False
    for before, after in zip(band_codes, band_codes[1:], strict=False):
        if expected[after] < expected[before]:
            problems.append(
                f"{ref}: expected scores must not fall with age, but go from "
                f"{expected[before]} at {before} to {expected[after]} at {after}"
            )
            ok = False
    return ok


def validate_framework(data: Any) -> list[str]:
    """Problems with an assessment framework, one sentence each; [] means valid."""
    if not isinstance(data, dict):
        return ["the framework must be a JSON object"]
    problems: list[str] = []
    if not _is_text(data.get("key")):
        problems.append("framework: missing key")
    if not _is_text(data.get("name")):
        problems.append("framework: missing name")
    version = data.get("version")
    if not _is_int(version) or version < 1:
        problems.append("framework: version must be a whole number of at least 1")
    scale_max = data.get("scale_max")
    if scale_max != SCALE_MAX or not _is_int(scale_max):
        problems.append(f"framework: scale_max must be {SCALE_MAX} (got {scale_max!r})")
        scale_max = SCALE_MAX

    band_codes = _validate_bands(data.get("age_bands"), problems)

    items = data.get("items")
    if not isinstance(items, list) or not items:
        problems.append("framework: items must be a non-empty list")
        return problems

    seen_codes: dict[str, int] = {}
    usable: dict[str, list[dict[str, Any]]] = {key: [] for key in DOMAIN_KEYS}
    present: set[str] = set()
    incomplete: set[str] = set()  # domains with an item whose scores cannot be summed
    for index, item in enumerate(items):
        ref = _item_ref(index, item)
        if not isinstance(item, dict):
            problems.append(f"{ref}: must be an object")
            continue
        code = item.get("code")
        if not _is_text(code):
            problems.append(f"{ref}: missing code")
        elif code in seen_codes:
            problems.append(
                f"{ref}: duplicate item code {code!r} (item #{index + 1} repeats "
                f"item #{seen_codes[code]})"
            )
        else:
            seen_codes[code] = index + 1
        domain = item.get("domain")
        domain_ok = False
        if domain is None or domain == "":
            problems.append(f"{ref}: missing domain")
        elif domain not in DOMAINS:
            problems.append(
                f"{ref}: unknown domain {domain!r} (expected one of {', '.join(DOMAIN_KEYS)})"
            )
        else:
            domain_ok = True
            present.add(domain)
        if not _is_text(item.get("label")):
            problems.append(f"{ref}: missing label")
        if not _is_text(item.get("description")):
            problems.append(f"{ref}: missing description")
        expected_ok = _validate_expected(ref, item.get("expected"), band_codes, scale_max, problems)
        if domain_ok and expected_ok:
            usable[domain].append(item)
        elif domain_ok:
            incomplete.add(domain)

    for key, label in DOMAINS.items():
        if key not in present:
            problems.append(f"framework: no items for domain {key!r} ({label})")

    # A developmental-age estimate compares a child's domain total with each band's
    # expected total, so until a domain is fully mature consecutive bands must differ.
    if band_codes:
        for key, domain_items in usable.items():
            if not domain_items or key in incomplete:
                continue
            ceiling = scale_max * len(domain_items)
            totals = [sum(it["expected"][code] for it in domain_items) for code in band_codes]
            for i in range(1, len(band_codes)):
                if totals[i - 1] < ceiling and totals[i] <= totals[i - 1]:
                    problems.append(
                        f"domain {key!r}: expected total must rise until it reaches "
                        f"{ceiling}, but stays at {totals[i - 1]} from {band_codes[i - 1]} "
                        f"to {band_codes[i]}"
                    )
    return problems


# --------------------------------------------------------------------------- activities


def _check_subset(
    ref: str, field: str, value: Any, allowed: tuple[str, ...], problems: list[str]
) -> list[str]:
    if not isinstance(value, list) or not value:
        problems.append(f"{ref}: {field} must be a non-empty list")
        return []
    unknown = [v for v in value if v not in allowed]
    if unknown:
        shown = ", ".join(repr(v) for v in unknown)
        problems.append(f"{ref}: unknown {field} {shown} (expected some of {', '.join(allowed)})")
    if len(set(map(repr, value))) != len(value):
        problems.append(f"{ref}: {field} lists the same value twice")
    return [v for v in value if v in allowed]


def validate_activities(data: Any) -> list[str]:
    """Problems with an activity library, one sentence each; [] means valid."""
    if not isinstance(data, list):
        return ["the activity library must be a JSON list"]
    if not data:
        return ["the activity library is empty"]
    problems: list[str] = []
    seen_names: dict[str, int] = {}
    for index, row in enumerate(data):
        ref = _activity_ref(index, row)
        if not isinstance(row, dict):
            problems.append(f"{ref}: must be an object")
            continue
        missing = [f for f in _ACTIVITY_FIELDS if f not in row]
        if missing:
            problems.append(f"{ref}: missing field(s) {', '.join(missing)}")
        extra = sorted(set(row) - set(_ACTIVITY_FIELDS))
        if extra:
            problems.append(f"{ref}: unknown field(s) {', '.join(extra)}")

        name = row.get("name")
        if not _is_text(name):
            problems.append(f"{ref}: missing name")
        else:
            folded = " ".join(name.split()).casefold()
            if folded in seen_names:
                problems.append(
                    f"{ref}: duplicate activity name (same as activity #{seen_names[folded]})"
                )
            else:
                seen_names[folded] = index + 1
        for field in ("instructions", "why"):
            if field in row and not _is_text(row[field]):
                problems.append(f"{ref}: {field} must be non-empty text")

        if "domains" in row:
            _check_subset(ref, "domains", row["domains"], DOMAIN_KEYS, problems)
        if "rs" in row:
            known_rs = _check_subset(ref, "rs", row["rs"], SIX_RS, problems)
            if (
                isinstance(row["rs"], list)
                and row["rs"]
                and len(set(known_rs)) < (MIN_RS_PER_ACTIVITY)
            ):
                problems.append(
                    f"{ref}: rs should name at least {MIN_RS_PER_ACTIVITY} of the 6 Rs "
                    f"(got {len(set(known_rs))})"
                )
        if "settings" in row:
            _check_subset(ref, "settings", row["settings"], SETTINGS, problems)

        if "typical_minutes" in row:
            minutes = row["typical_minutes"]
            low, high = MINUTES_RANGE
            if not _is_int(minutes) or not low <= minutes <= high:
                problems.append(
                    f"{ref}: typical_minutes must be a whole number from {low} to {high} "
                    f"(got {minutes!r})"
                )

        ages_ok = True
        for field in ("dev_age_min_months", "dev_age_max_months"):
            if field not in row:
                ages_ok = False
                continue
            age = row[field]
            if not _is_int(age) or not 0 <= age <= MAX_AGE_MONTHS:
                problems.append(
                    f"{ref}: {field} must be a whole number from 0 to {MAX_AGE_MONTHS} "
                    f"(got {age!r})"
                )
                ages_ok = False
        if ages_ok and row["dev_age_min_months"] > row["dev_age_max_months"]:
            problems.append(
                f"{ref}: dev_age_min_months ({row['dev_age_min_months']}) is greater than "
                f"dev_age_max_months ({row['dev_age_max_months']})"
            )

        if "regulating" in row and not isinstance(row["regulating"], bool):
            problems.append(f"{ref}: regulating must be true or false")
    return problems
