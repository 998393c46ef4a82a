"""Pure computations of Cadence's domain: no database, no Flask, no clock.

The functional brain map: each item's score as a percent of what is typical for
a child of the same age, the red/yellow/green band, per-domain results bottom-up,
and an estimated developmental age per domain. Then adherence and dose, as the
product brief defines them: done counts 1, partly 0.5, skipped and missed 0, and
excused (the child was away) leaves the denominator; dose is minutes (logged,
else planned) per domain per week.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

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


# --- adherence and dose ------------------------------------------------------------------------

# What each outcome contributes. Statuses not listed (excused: the child was away; pending:
# not yet due or not yet marked; withdrawn) are out of the denominator.
CREDIT: dict[str, Fraction] = {
    "done": Fraction(1),
    "partly": Fraction(1, 2),
    "skipped": Fraction(0),
    "missed": Fraction(0),
}
DEFAULT_ADHERENT = Fraction(4, 5)  # an "adherent" week: 80%, the medication convention


@dataclass(frozen=True)
class Outcome:
    """One scheduled routine as adherence sees it."""

    local_date: date
    status: str
    domain: str = ""
    activity_id: int | None = None
    planned_minutes: int = 0
    logged_minutes: int | None = None


@dataclass(frozen=True)
class Tally:
    credit: Fraction = Fraction(0)
    counted: int = 0  # routines in the denominator

    @property
    def adherence(self) -> Fraction | None:
        """credit / counted; None when nothing counts (no routine, or all excused)."""
        return None if self.counted == 0 else self.credit / self.counted

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.credit + other.credit, self.counted + other.counted)


def tally(statuses: Iterable[str]) -> Tally:
    return tally_counts(Counter(statuses))


def tally_counts(counts: Mapping[str, int]) -> Tally:
    """The tally of {status: how many}."""
    counted = {s: n for s, n in counts.items() if s in CREDIT}
    credit = sum((CREDIT[s] * n for s, n in counted.items()), Fraction(0))
    return Tally(credit, sum(counted.values()))


def adherence(statuses: Iterable[str]) -> Fraction | None:
    return tally(statuses).adherence


def tally_by(
    outcomes: Iterable[Outcome], key: Callable[[Outcome], Hashable]
) -> dict[Hashable, Tally]:
    """Adherence per activity, domain, day, person, classroom...: whatever `key` picks."""
    found: dict[Hashable, Tally] = defaultdict(Tally)
    for outcome in outcomes:
        found[key(outcome)] += tally([outcome.status])
    return dict(found)


def at_least(ratio: Fraction | None, threshold: Fraction | float) -> bool:
    """Whether adherence meets a threshold, exactly (4 of 5 meets 80%; no binary rounding)."""
    if ratio is None:
        return False
    limit = threshold if isinstance(threshold, Fraction) else Fraction(str(threshold))
    return ratio >= limit


def dose_minutes(outcome: Outcome) -> int:
    """Minutes an outcome contributes: the logged minutes of a done or partly routine, else
    its planned minutes (half for partly); nothing for skipped, missed or excused."""
    if outcome.status not in ("done", "partly"):
        return 0
    if outcome.logged_minutes is not None:
        return outcome.logged_minutes
    if outcome.status == "partly":
        return outcome.planned_minutes // 2
    return outcome.planned_minutes


def week_of(day: date) -> date:
    """The Monday a date's week starts on."""
    return day - timedelta(days=day.weekday())


def dose_per_week(outcomes: Iterable[Outcome]) -> dict[tuple[str, date], int]:
    """Minutes per (domain, week starting Monday)."""
    found: dict[tuple[str, date], int] = defaultdict(int)
    for outcome in outcomes:
        minutes = dose_minutes(outcome)
        if minutes:
            found[(outcome.domain, week_of(outcome.local_date))] += minutes
    return dict(found)


def adherent_weeks(
    outcomes: Iterable[Outcome], threshold: Fraction | float = DEFAULT_ADHERENT
) -> dict[date, bool]:
    """Each week that has counted routines: whether it met the threshold."""
    weeks = tally_by(outcomes, lambda o: week_of(o.local_date))
    return {
        week: at_least(t.adherence, threshold)
        for week, t in sorted(weeks.items())  # type: ignore[type-var]
        if t.counted
    }


def streak(outcomes: Iterable[Outcome], through: date) -> int:
    """Days in a row, back from `through`, on which every counted routine was at least
    partly done. A day with nothing counted (no routine, all excused, or not yet marked)
    neither breaks nor extends it; a skipped or missed routine ends it."""
    counted: dict[date, int] = defaultdict(int)
    broken: set[date] = set()
    for outcome in outcomes:
        if outcome.local_date > through or outcome.status not in CREDIT:
            continue
        counted[outcome.local_date] += 1
        if CREDIT[outcome.status] == 0:
            broken.add(outcome.local_date)
    kept = 0
    for day in sorted(counted, reverse=True):
        if day in broken:
            break
        kept += 1
    return kept
