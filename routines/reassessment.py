"""Reassessment: how a child has changed between two complete assessments, beside what the
carers and teachers did in the meantime.

A reassessment is compared with the previous complete assessment of the same child (see
routines.assessments.previous_complete). Domain scores are sums of item scores, as
routines.metrics.compute_map adds them; items are matched by code, so an item new in the
current framework has no score then. Adherence and dose come from routines.rollups for the
window from the previous assessment's date to this one's (to today while it is a draft),
so the numbers are those of the dashboards. Every function acts in the current tenant; the
caller has checked access (routines.access.can_change_clinical_record).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from math import floor

from sqlalchemy import select
from sqlalchemy.orm import Session

from routines import rollups
from routines.assessments import COMPLETE, map_for, previous_complete, scores_of
from routines.map_svg import domain_label
from routines.metrics import DOMAINS, MapResult, at_least
from routines.models import Activity, Assessment, Child, Framework
from tenants.errors import NotFound, ValidationError
from tenants.isolation import get_scoped
from tenants.models import Organisation

REVIEW_LIMIT = 10  # activities listed for review on the one-page report


def long_date(day: date) -> str:
    """3 March 2026."""
    return f"{day.day} {day:%B %Y}"


def age_words(months: int | None) -> str:
    if months is None:
        return ""
    years, rest = divmod(months, 12)
    parts = []
    if years:
        parts.append(f"{years} year{'s' if years != 1 else ''}")
    if rest or not years:
        parts.append(f"{rest} month{'s' if rest != 1 else ''}")
    return " ".join(parts)


def adherence_words(ratio: Fraction | None) -> str:
    """82.5%, exactly truncated to a tenth (so 79.96% never reads as 80%)."""
    if ratio is None:
        return "no routines counted"
    tenths = floor(ratio * 1000)
    whole, tenth = divmod(tenths, 10)
    return f"{whole}%" if tenth == 0 else f"{whole}.{tenth}%"


def minutes_words(minutes: Fraction) -> str:
    rounded = floor(minutes + Fraction(1, 2))
    return f"{rounded} minute{'s' if rounded != 1 else ''} a week"


# --- changes in scores --------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One item's or one domain's score then and now (None: not rated, or not in the
    framework, at that time) and, for complete assessments, percent of age-typical."""

    key: str  # item code or domain
    label: str
    domain: str
    before: int | None
    after: int | None
    before_percent: float | None = None
    after_percent: float | None = None
    whole: bool = True  # False: a draft's domain with items still unrated

    @property
    def change(self) -> int | None:
        if self.before is None or self.after is None or not self.whole:
            return None
        return self.after - self.before

    @property
    def words(self) -> str:
        """The change in words, never in colour alone."""
        if self.before is None and self.after is None:
            return "not rated"
        if self.before is None:
            return "not rated then"
        if self.after is None:
            return "not rated now"
        if not self.whole:
            return "shown once every item is rated"
        change = self.after - self.before
        if change > 0:
            return f"up {change}"
        if change < 0:
            return f"down {-change}"
        return "no change"

    @property
    def direction(self) -> str:
        change = self.change
        if change is None:
            return "none"
        return "up" if change > 0 else "down" if change < 0 else "same"


def _ordered(domains: Iterable[str]) -> list[str]:
    found = set(domains)
    return [d for d in DOMAINS if d in found] + sorted(found - set(DOMAINS))


def _domain_totals(framework: Framework, scores: Mapping[str, int]) -> dict[str, int]:
    """Per domain of the framework: the sum of the rated items' scores."""
    totals: dict[str, int] = {}
    for item in framework.items:
        totals.setdefault(item.domain, 0)
        if item.code in scores:
            totals[item.domain] += scores[item.code]
    return totals


def _percents(result: MapResult | None) -> dict[str, float]:
    return {d.domain: d.percent for d in result.domains} if result is not None else {}


def domain_changes(
    before: Assessment, after: Assessment, org: Organisation
) -> tuple[list[Change], dict[str, tuple[int, int]]]:
    """Per domain, bottom-up: the score then and now; and per domain of `after`, how many
    of its items are rated (rated, of). Percents of age-typical where complete."""
    then_scores, now_scores = scores_of(before), scores_of(after)
    then = _domain_totals(before.framework, then_scores)
    now = _domain_totals(after.framework, now_scores)
    then_pct = _percents(map_for(before, org))
    now_pct = _percents(map_for(after, org) if after.status == COMPLETE else None)
    rated: dict[str, tuple[int, int]] = {}
    for item in after.framework.items:
        done, of = rated.get(item.domain, (0, 0))
        rated[item.domain] = (done + (item.code in now_scores), of + 1)
    changes = []
    for d in _ordered([*then, *now]):
        done, of = rated.get(d, (0, 0))
        changes.append(
            Change(
                d,
                domain_label(d),
                d,
                then.get(d),
                now.get(d) if done else None,
                then_pct.get(d),
                now_pct.get(d),
                whole=done == of,
            )
        )
    return changes, rated


def item_changes(before: Assessment, after: Assessment, org: Organisation) -> list[Change]:
    """Per item, in the later framework's order, then any item only the earlier one had."""
    then_map, now_map = map_for(before, org), map_for(after, org)
    then = {i.code: i for i in then_map.items}
    now = {i.code: i for i in now_map.items}
    labels = {i.code: (i.label, i.domain) for i in before.framework.items}
    labels.update({i.code: (i.label, i.domain) for i in after.framework.items})
    codes = [i.code for i in after.framework.items]
    codes += [i.code for i in before.framework.items if i.code not in now]
    changes = []
    for code in codes:
        label, domain = labels[code]
        was, is_ = then.get(code), now.get(code)
        changes.append(
            Change(
                code,
                label,
                domain,
                was.score if was else None,
                is_.score if is_ else None,
                was.percent if was else None,
                is_.percent if is_ else None,
            )
        )
    order = {d: n for n, d in enumerate(_ordered(c.domain for c in changes))}
    return sorted(changes, key=lambda c: order[c.domain])


# --- the reassessment: changes beside adherence and dose -----------------------------------


@dataclass(frozen=True)
class DomainReview:
    change: Change
    rated: int  # items of the domain rated now
    items: int  # items of the domain now
    figures: rollups.Figures  # the domain's routines in the window
    days: int

    @property
    def adherence(self) -> Fraction | None:
        return self.figures.adherence

    @property
    def dose_per_week(self) -> Fraction:
        """Average minutes a week over the window (logged, else planned)."""
        return Fraction(self.figures.dose_minutes * 7, self.days)


@dataclass(frozen=True)
class ActivityReview:
    activity_id: int
    name: str
    figures: rollups.Figures

    @property
    def adherence(self) -> Fraction | None:
        return self.figures.adherence

    @property
    def scheduled(self) -> int:
        """Routines scheduled in the window, excused ones included (not yet due ones not)."""
        return self.figures.counted + self.figures.excused


@dataclass(frozen=True)
class Reassessment:
    previous: Assessment
    current: Assessment
    date_from: date
    date_to: date
    clipped: bool  # the window was cut to the rollups' longest range
    domains: tuple[DomainReview, ...]
    breakdown: rollups.Breakdown

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1


def window(previous: Assessment, current: Assessment, today: date) -> tuple[date, date, bool]:
    """From the previous assessment's date to this one's (today, while it is a draft), at
    most the longest range adherence is read over (the latest part of it)."""
    end = current.assessed_on if current.status == COMPLETE else max(today, current.assessed_on)
    start = min(previous.assessed_on, end)
    try:
        rollups.check_range(start, end)
    except ValidationError:
        try:
            earliest = end.replace(year=end.year - rollups.MAX_RANGE_YEARS)
        except ValueError:  # 29 February
            earliest = end.replace(year=end.year - rollups.MAX_RANGE_YEARS, day=28)
        return earliest, end, True
    return start, end, False


def reassess(
    db: Session, assessment: Assessment, org: Organisation, *, today: date
) -> Reassessment | None:
    """The assessment beside the previous complete one, with adherence and dose per domain
    since then; None when there is no previous complete assessment to compare with."""
    previous = previous_complete(db, assessment)
    if previous is None:
        return None
    start, end, clipped = window(previous, assessment, today)
    found = rollups.breakdown(db, assessment.child_id, start, end)
    changes, rated = domain_changes(previous, assessment, org)
    days = (end - start).days + 1
    domains = tuple(
        DomainReview(
            change,
            *rated.get(change.domain, (0, 0)),
            found.by_domain.get(change.domain, rollups.Figures()),
            days,
        )
        for change in changes
    )
    return Reassessment(previous, assessment, start, end, clipped, domains, found)


def activities_to_review(
    db: Session, summary: Reassessment, threshold: float
) -> list[ActivityReview]:
    """Activities whose adherence in the window is below the threshold, lowest first."""
    low = {
        activity_id: figures
        for activity_id, figures in summary.breakdown.by_activity.items()
        if figures.adherence is not None and not at_least(figures.adherence, threshold)
    }
    # Asked even when nothing is low, so the report's statements never depend on the data.
    names = dict(db.execute(select(Activity.id, Activity.name).where(Activity.id.in_(low))).all())
    found = [ActivityReview(a, names.get(a, "An activity"), f) for a, f in low.items()]
    return sorted(found, key=lambda r: (r.adherence, r.name.casefold(), r.activity_id))


# --- choosing assessments -----------------------------------------------------------------


def complete_assessments(db: Session, child: Child) -> list[Assessment]:
    """The child's complete assessments, oldest first."""
    return list(
        db.scalars(
            select(Assessment)
            .where(Assessment.child_id == child.id, Assessment.status == COMPLETE)
            .order_by(Assessment.assessed_on, Assessment.id)
        )
    )


def complete_assessment_of(db: Session, child: Child, assessment_id: int) -> Assessment:
    """The child's assessment; NotFound for another organisation's or child's (or none),
    ValidationError for a draft."""
    assessment = get_scoped(db, Assessment, assessment_id)
    if assessment is None or assessment.child_id != child.id:
        raise NotFound("assessment")
    if assessment.status != COMPLETE:
        raise ValidationError(
            f"The assessment of {long_date(assessment.assessed_on)} is still a draft: "
            "complete it first."
        )
    return assessment


MAX_ID = 2**31 - 1


def parse_pair(raw_a: str | None, raw_b: str | None) -> tuple[int, int]:
    """The ids of two assessments to compare, from a query string (a and b)."""
    ids = []
    for raw, name in ((raw_a, "a"), (raw_b, "b")):
        text = (raw or "").strip()
        if not text:
            raise ValidationError("Choose two complete assessments to compare (a and b).", name)
        if not text.isascii() or not text.isdigit() or not 0 < int(text) <= MAX_ID:
            raise ValidationError(
                f"{name} must be the number of one of the child's assessments.", name
            )
        ids.append(int(text))
    if ids[0] == ids[1]:
        raise ValidationError("Choose two different assessments to compare.", "b")
    return ids[0], ids[1]


def comparable(
    db: Session, child: Child, raw_a: str | None, raw_b: str | None
) -> tuple[Assessment, Assessment]:
    """Two complete assessments of the child, older first, whichever order they came in."""
    a, b = parse_pair(raw_a, raw_b)
    first, second = complete_assessment_of(db, child, a), complete_assessment_of(db, child, b)
    if (second.assessed_on, second.id) < (first.assessed_on, first.id):
        first, second = second, first
    return first, second


# --- the audit trail ----------------------------------------------------------------------
