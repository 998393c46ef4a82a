"""Pure computations of Cadence's domain: no database, no Flask, no clock.

This module starts with the functional brain map: each item's score as a
percent of what is typical for a child of the same age, the red/yellow/green
band, per-domain results bottom-up, and an estimated developmental age per
domain. Adherence and dose (issue "Adherence that feeds the next
reassessment") will live here too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

SCALE_MAX = 12

DOMAINS: tuple[str, ...] = ("sensory_integration", "self_regulation", "relational", "cognitive")


@dataclass(frozen=True)
class AgeBand:
    code: str
    label: str
    from_months: int  # inclusive
    to_months: int  # exclusive

    def contains(self, months: int) -> bool:
        return self.from_months <= months < self.to_months


@dataclass(frozen=True)
class Item:
    code: str
    domain: str
    expected: Mapping[str, int]  # age band code -> age-typical score


@dataclass(frozen=True)
class Thresholds:
    """Percent of age-typical: below `red_below` is red, from `green_from` on is green."""

    red_below: float = 60.0
    green_from: float = 85.0

    def __post_init__(self) -> None:
        if not 0 < self.red_below < self.green_from <= 100:
            raise ValueError("thresholds need 0 < red_below < green_from <= 100")


@dataclass(frozen=True)
class ItemResult:
    code: str
    domain: str
    score: int
    expected: int
    percent: float
    band: str


@dataclass(frozen=True)
class DomainResult:
    domain: str
    score: int
    expected: int
    percent: float
    band: str
    developmental_band: AgeBand | None  # None: below what is typical for the earliest band


@dataclass(frozen=True)
class MapResult:
    age_band: AgeBand
    items: tuple[ItemResult, ...]
    domains: tuple[DomainResult, ...]  # bottom-up

    def domain(self, name: str) -> DomainResult:
        for result in self.domains:
            if result.domain == name:
                return result
        raise KeyError(name)

    def lowest_compromised(self) -> DomainResult | None:
        """The lowest domain, bottom-up, that is red or yellow: where a plan starts."""
        for result in self.domains:
            if result.band != "green":
                return result
        return None


def age_in_months(born: date, on: date) -> int:
    """Whole months of age on a date (a birthday month counts once the day is reached)."""
    if on < born:
        raise ValueError("date is before the date of birth")
    months = (on.year - born.year) * 12 + (on.month - born.month)
    if on.day < born.day:
        months -= 1
    return months


def age_band_for(months: int, bands: Sequence[AgeBand]) -> AgeBand:
    for band in bands:
        if band.contains(months):
            return band
    if bands and months >= bands[-1].to_months:
        return bands[-1]  # past the last band, compare with the oldest
    raise ValueError(f"no age band holds {months} months")


def percent_of_typical(score: float, expected: float) -> float:
    """Score as a percent of the age-typical score, capped at 100 (ahead counts as typical).
    An expected score of 0 means nothing is expected yet: any score is typical."""
    if not 0 <= score <= SCALE_MAX:
        raise ValueError(f"score {score} is outside 0–{SCALE_MAX}")
    if expected <= 0:
        return 100.0
    return min(100.0, 100.0 * score / expected)


def band_for(percent: float, thresholds: Thresholds) -> str:
    if percent >= thresholds.green_from:
        return "green"
    if percent < thresholds.red_below:
        return "red"
    return "yellow"


def developmental_band(
    items: Iterable[Item],
    scores: Mapping[str, int],
    bands: Sequence[AgeBand],
    up_to: AgeBand | None = None,
) -> AgeBand | None:
    """The oldest age band whose typical total for these items the child's total reaches.

    With items of one domain this estimates the domain's developmental age; None means
    the child's total is below even the earliest band's typical total. `up_to` (the
    child's own age band) caps the estimate: a domain that is fully developed reads as
    age-typical, not as older than the child.
    """
    items = list(items)
    total = sum(scores[item.code] for item in items)
    matched: AgeBand | None = None
    for band in bands:
        typical = sum(item.expected[band.code] for item in items)
        if total < typical:
            break
        matched = band
        if up_to is not None and band == up_to:
            break
    return matched


def compute_map(
    items: Sequence[Item],
    scores: Mapping[str, int],
    *,
    age_months: int,
    bands: Sequence[AgeBand],
    thresholds: Thresholds | None = None,
) -> MapResult:
    """The functional brain map of one complete assessment, compared with the age-typical map."""
    thresholds = thresholds or Thresholds()
    missing = [item.code for item in items if item.code not in scores]
    if missing:
        raise ValueError(f"items not rated: {', '.join(missing)}")
    age_band = age_band_for(age_months, bands)
    item_results = []
    for item in items:
        expected = item.expected[age_band.code]
        percent = percent_of_typical(scores[item.code], expected)
        item_results.append(
            ItemResult(
                item.code,
                item.domain,
                scores[item.code],
                expected,
                percent,
                band_for(percent, thresholds),
            )
        )
    domain_results = []
    for domain in DOMAINS:
        in_domain = [item for item in items if item.domain == domain]
        if not in_domain:
            continue
        score = sum(scores[item.code] for item in in_domain)
        expected = sum(item.expected[age_band.code] for item in in_domain)
        percent = 100.0 if expected == 0 else min(100.0, 100.0 * score / expected)
        domain_results.append(
            DomainResult(
                domain,
                score,
                expected,
                percent,
                band_for(percent, thresholds),
                developmental_band(in_domain, scores, bands, up_to=age_band),
            )
        )
    return MapResult(age_band, tuple(item_results), tuple(domain_results))
