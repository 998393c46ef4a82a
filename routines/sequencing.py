"""Sequencing a plan bottom-up: proposing activities and checking a plan's order.

Pure computations on a completed functional brain map (routines.metrics.MapResult):
no database, no Flask, no clock. The model sequences interventions bottom-up
(regulate, then relate, then reason): a plan starts at the lowest compromised domain
and uses activities matched to the child's *developmental* age in that domain, not
the chronological age. `propose_plan` drafts such a plan; `check_plan` reviews any
plan (drafted or edited by a clinician) and explains, in plain sentences, where it
departs from that sequence. Warnings advise; they never block a plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from routines.content import DOMAINS as DOMAIN_LABELS
from routines.metrics import DOMAINS, DomainResult, MapResult

DAILY = 7  # doses per week proposed by default: many short doses beat one long session

# What makes an activity count as regulating for the "no_regulating" check: flagged as
# regulating in the library AND patterned AND rhythmic (two of the 6 Rs). The flag alone
# is not enough, because an edited library may mark an activity regulating without
# the repetition and rhythm that make it settle the lower brain.
REGULATING_RS: frozenset[str] = frozenset({"repetitive", "rhythmic"})


@dataclass(frozen=True)
class ActivityInfo:
    """What sequencing needs to know about one library activity."""

    id: int | str
    name: str
    domains: tuple[str, ...]
    rs: tuple[str, ...]
    typical_minutes: int
    dev_age_min_months: int
    dev_age_max_months: int
    regulating: bool
    retired: bool = False

    def suits_age(self, months: int) -> bool:
        """Both ends of the range count: an activity from 12 months suits a 12-month age."""
        return self.dev_age_min_months <= months <= self.dev_age_max_months

    def is_rhythmic_regulating(self) -> bool:
        return self.regulating and REGULATING_RS <= set(self.rs)


@dataclass(frozen=True)
class PlannedItem:
    """One activity in a plan, for one domain (an activity may serve several)."""

    activity: ActivityInfo
    domain: str
    doses_per_week: int
    minutes: int

    def __post_init__(self) -> None:
        if self.domain not in DOMAINS:
            raise ValueError(f"unknown domain {self.domain!r}")
        if self.doses_per_week < 0 or self.minutes < 0:
            raise ValueError("doses per week and minutes cannot be negative")

    @property
    def minutes_per_week(self) -> int:
        return self.doses_per_week * self.minutes


@dataclass(frozen=True)
class Warning:  # shadows the builtin on purpose: a plan warning, never raised or emitted
    """One way a plan departs from bottom-up sequencing, said for a clinician."""

    code: str  # "above_red", "age_mismatch" or "no_regulating"
    message: str
    activity: str | None  # the activity's name when the warning is about one activity


def developmental_months(result: DomainResult) -> int:
    """The child's developmental age in a domain, in months: the start of the estimated
    band. Below the earliest band's typical total (no band) reads as 0 months."""
    band = result.developmental_band
    return band.from_months if band is not None else 0


def _label(domain: str) -> str:
    return DOMAIN_LABELS.get(domain, domain.replace("_", " ")).lower()


def _height(domain: str) -> int:
    return DOMAINS.index(domain)


def _preference(activity: ActivityInfo) -> tuple[bool, int, str]:
    """Regulating first, then more of the 6 Rs, then by name so the order is stable."""
    return (not activity.regulating, -len(set(activity.rs)), activity.name)


def propose_plan(
    map_result: MapResult, activities: Sequence[ActivityInfo], *, per_domain: int = 3
) -> list[PlannedItem]:
    """Draft a plan from a completed assessment, bottom-up.

    Starts at the lowest red or yellow domain and covers it and every red or yellow
    domain above it, in bottom-up order (green domains are skipped: they need
    enrichment, not intervention). For each, up to `per_domain` active activities for
    that domain whose developmental-age range holds the child's developmental age in
    it. No activity is proposed twice: one serving two domains goes to the lower one,
    where it is needed first. Each item defaults to a daily dose of the activity's
    typical length. An all-green map gives an empty plan.
    """
    start = map_result.lowest_compromised()
    if start is None:
        return []
    ranked = sorted((a for a in activities if not a.retired), key=_preference)
    used: set[int | str] = set()
    plan: list[PlannedItem] = []
    for result in map_result.domains:
        if _height(result.domain) < _height(start.domain) or result.band == "green":
            continue
        months = developmental_months(result)
        chosen = [
            a
            for a in ranked
            if a.id not in used and result.domain in a.domains and a.suits_age(months)
        ][: max(per_domain, 0)]
        for activity in chosen:
            used.add(activity.id)
            plan.append(PlannedItem(activity, result.domain, DAILY, activity.typical_minutes))
    return plan


def check_plan(map_result: MapResult, items: Sequence[PlannedItem]) -> list[Warning]:
    """Review a plan against the map; an empty list means nothing to flag.

    Three rules, in this order:
    - above_red: for each red domain, the weekly minutes (minutes x doses per week)
      planned for domains above it exceed those planned for it. Equal minutes do not
      fire; a red domain at the top has nothing above it and cannot fire.
    - age_mismatch: an item's activity range (both ends included) misses the child's
      developmental age in the item's domain. Domains the map did not assess are skipped.
    - no_regulating: no item's activity is flagged regulating with both "repetitive"
      and "rhythmic" among its Rs (an empty plan fires too: it has none).
    """
    warnings: list[Warning] = []
    minutes: dict[str, int] = {}
    for item in items:
        minutes[item.domain] = minutes.get(item.domain, 0) + item.minutes_per_week

    for result in map_result.domains:
        if result.band != "red":
            continue
        at = minutes.get(result.domain, 0)
        above = {d: m for d, m in minutes.items() if _height(d) > _height(result.domain) and m}
        if sum(above.values()) > at:
            names = ", ".join(_label(d) for d in sorted(above, key=_height))
            warnings.append(
                Warning(
                    "above_red",
                    f"The plan gives {sum(above.values())} minutes a week to {names} but "
                    f"only {at} minutes to {_label(result.domain)}, which is still red. "
                    "Work on the lower domain usually needs to come first.",
                    None,
                )
            )

    assessed = {result.domain: result for result in map_result.domains}
    for item in items:
        result = assessed.get(item.domain)
        if result is None:
            continue
        months = developmental_months(result)
        act = item.activity
        if not act.suits_age(months):
            warnings.append(
                Warning(
                    "age_mismatch",
                    f"{act.name} suits a developmental age of {act.dev_age_min_months} to "
                    f"{act.dev_age_max_months} months, but the child's {_label(item.domain)} "
                    f"development is around {months} months.",
                    act.name,
                )
            )

    if not any(item.activity.is_rhythmic_regulating() for item in items):
        warnings.append(
            Warning(
                "no_regulating",
                "The plan has no repetitive, rhythmic regulating activity (such as rocking, "
                "drumming or walking). Regulation usually needs to come first.",
                None,
            )
        )
    return warnings
