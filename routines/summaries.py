"""Encouraging summaries, and adherence beside the next plan version's copied activities.

Carers and teachers see what went well: routines done this week (partly counts as done
here: the person at home did it with the child), the current streak of days, and the
moments a child ended an activity calmer than they began it. Nothing about routines that
did not happen, no percentages and no red: those are the clinician's tools, not theirs.

Clinicians editing the next plan version see, beside each activity copied from the current
version, that activity's adherence since the current version took effect, with the ones
under the organisation's threshold marked for review.

Everything is read with routines.rollups.daily_rows: one call (two queries) per page,
whatever the number of children, days and logs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from math import floor

from sqlalchemy.orm import Session

from routines import rollups
from routines.metrics import at_least, week_of
from routines.models import Child, PlanVersion
from routines.rollups import DayRow, Figures
from routines.rollups import streak as streak_of

# How far back a streak is looked for (the week so far is always read). A streak longer
# than this shows as the part of it inside the window: still true, never more than was done.
STREAK_LOOKBACK_DAYS = 12 * 7

# Gentle words under each summary, one per child (or class) and week: varied, but the same
# each time the page is opened that week.
ENCOURAGEMENTS = (
    "Every routine counts.",
    "Small, steady moments add up.",
    "Rhythm grows one routine at a time.",
    "Each calm, repeated moment helps.",
    "Thank you for every routine you share.",
    "Little and often makes a difference.",
)


def encouragement(key: int, week_start: date) -> str:
    """The same words for the same child (or class) all week; other words another week."""
    return ENCOURAGEMENTS[(key + week_start.toordinal() // 7) % len(ENCOURAGEMENTS)]


def routines_done(figures: Figures) -> int:
    """Done and partly both count as done for the people at home and in class."""
    return figures.done + figures.partly


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


# --- carers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChildWeek:
    """A child's home routines this week (Monday to today, the child's own time zone)."""

    child_id: int
    name: str
    week_start: date
    today: date
    done: int
    streak: int
    calmer: int

    @property
    def done_text(self) -> str:
        if self.done == 0:
            return "This week's routines are ready whenever you are."
        return f"{_plural(self.done, 'routine', 'routines')} done this week."

    @property
    def streak_text(self) -> str | None:
        if self.streak == 0:
            return None
        if self.streak == 1:
            return "1 day with every routine done: a streak has begun."
        return f"{self.streak} days in a row with every routine done."

    @property
    def calmer_text(self) -> str | None:
        if self.calmer == 0:
            return None
        return (
            f"{self.name} ended calmer after "
            f"{_plural(self.calmer, 'activity', 'activities')} this week."
        )

    @property
    def encouragement(self) -> str:
        return encouragement(self.child_id, self.week_start)


def child_weeks(
    db: Session, kids: Sequence[Child], todays: Mapping[int, date]
) -> dict[int, ChildWeek]:
    """Each child's week at home, from one read of the rollups for all of them. `todays`
    holds each child's local today."""
    if not kids:
        return {}
    starts = {kid.id: week_of(todays[kid.id]) for kid in kids}
    rows = rollups.daily_rows(
        db,
        [kid.id for kid in kids],
        min(starts.values()) - timedelta(days=STREAK_LOOKBACK_DAYS),
        max(todays.values()),
    )
    days: dict[int, dict[date, Figures]] = defaultdict(lambda: defaultdict(Figures))
    for row in rows:
        if row.side == "home" and row.local_date <= todays[row.child_id]:
            days[row.child_id][row.local_date] += row.figures
    weeks = {}
    for kid in kids:
        by_day = days.get(kid.id, {})
        week = sum((fig for day, fig in by_day.items() if day >= starts[kid.id]), start=Figures())
        weeks[kid.id] = ChildWeek(
            child_id=kid.id,
            name=kid.preferred_name or kid.given_name,
            week_start=starts[kid.id],
            today=todays[kid.id],
            done=routines_done(week),
            streak=streak_of(by_day, todays[kid.id]),
            calmer=week.calmer,
        )
    return weeks


# --- teachers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassWeek:
    """A class's school routines this week, for the children the teacher sees."""

    classroom_id: int
    week_start: date
    today: date
    done: int
    calmer_children: list[str]  # names, in the page's order
    calmer: int  # activities after which a child ended calmer

    @property
    def done_text(self) -> str:
        if self.done == 0:
            return "This week's class routines are ready whenever you are."
        return f"{_plural(self.done, 'routine', 'routines')} done in class this week."

    @property
    def calmer_text(self) -> str | None:
        if not self.calmer_children:
            return None
        names = self.calmer_children
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        return f"Calmer moments this week: {listed} ended calmer after an activity."

    @property
    def encouragement(self) -> str:
        return encouragement(self.classroom_id, self.week_start)


def class_week(db: Session, classroom_id: int, kids: Sequence[Child], today: date) -> ClassWeek:
    """The class's week so far (Monday to `today`, the class's time zone): school routines
    of these children logged with this class. One read of the rollups."""
    start = week_of(today)
    rows: Iterable[DayRow] = (
        rollups.daily_rows(db, [kid.id for kid in kids], start, today) if kids else []
    )
    per_child: dict[int, Figures] = defaultdict(Figures)
    for row in rows:
        if row.side == "school" and row.classroom_id == classroom_id:
            per_child[row.child_id] += row.figures
    week = sum(per_child.values(), start=Figures())
    return ClassWeek(
        classroom_id=classroom_id,
        week_start=start,
        today=today,
        done=routines_done(week),
        calmer_children=[
            kid.preferred_name or kid.given_name
            for kid in kids
            if per_child.get(kid.id, Figures()).calmer
        ],
        calmer=week.calmer,
    )


# --- the next plan version ------------------------------------------------------------------


@dataclass(frozen=True)
class ItemAdherence:
    """An activity's adherence since the current version took effect."""

    figures: Figures
    review: bool  # counted, and under the organisation's threshold

    @property
    def counted(self) -> int:
        return self.figures.counted

    @property
    def percent(self) -> int | None:
        """Whole percent, rounded down, so what is shown agrees with the review marker."""
        ratio = self.figures.adherence
        return None if ratio is None else floor(ratio * 100)


@dataclass(frozen=True)
class DraftAdherence:
    """What the draft page shows beside items copied from the current version."""

    version: PlanVersion  # the current (latest published) version the draft copies
    date_from: date
    date_to: date
    threshold_percent: int
    by_activity: dict[int, ItemAdherence]

    def for_item(self, activity_id: int) -> ItemAdherence | None:
        """None for an activity not in the current version (new in the draft)."""
        return self.by_activity.get(activity_id)


def draft_adherence(
    db: Session,
    child: Child,
    current: PlanVersion | None,
    today: date,
    threshold: float,
) -> DraftAdherence | None:
    """Each of the current version's activities' adherence from its effective date to today
    (at most five years back). None without a current version. One read of the rollups, and
    none when the version has not taken effect yet."""
    if current is None or current.effective_from is None:
        return None
    start = max(current.effective_from, _years_before(today, rollups.MAX_RANGE_YEARS))
    found: dict[int, Figures] = {}
    if start <= today:
        found = rollups.breakdown(db, child.id, start, today).by_activity
    limit = Fraction(str(threshold))
    by_activity = {}
    for item in current.items:
        figures = found.get(item.activity_id, Figures())
        by_activity[item.activity_id] = ItemAdherence(
            figures=figures,
            review=figures.counted > 0 and not at_least(figures.adherence, limit),
        )
    return DraftAdherence(
        version=current,
        date_from=start,
        date_to=today,
        threshold_percent=round(limit * 100),
        by_activity=by_activity,
    )


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February: 1 March, so the range stays within five years
        return date(day.year - years, 3, 1)
