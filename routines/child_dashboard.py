"""One child's adherence dashboard: the numbers behind the page, over a window of local dates.

Everything is read in a fixed handful of queries whatever the window holds: the rollups plus
today's live rows (routines.rollups.daily_rows, two queries), the names of the activities in
them, the plan version in effect today and its items, the date the first plan took effect,
and the latest notes. The rest is pure arithmetic on routines.rollups.Figures, kept apart
(`build`) so it can be checked without a database.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from routines.metrics import DOMAINS, at_least, week_of
from routines.models import (
    Activity,
    Child,
    Occurrence,
    Plan,
    PlanItem,
    PlanVersion,
    RoutineLog,
)
from routines.plans import PUBLISHED, doses_per_week, version_in_effect
from routines.rollups import (
    Breakdown,
    DayRow,
    Figures,
    breakdown_of,
    daily_rows,
    parse_range,
    streak,
    sum_by,
)
from tenants import audit
from tenants.models import User

DEFAULT_DAYS = 365
NOTES_LIMIT = 50
SIDES = ("home", "school")
SIDE_LABELS = {"home": "At home", "school": "At school"}


# --- the window ------------------------------------------------------------------------------


def default_from(today: date, first_effective: date | None) -> date:
    """The last 365 days to today, or since the first plan took effect if that is later."""
    start = today - timedelta(days=DEFAULT_DAYS - 1)
    if first_effective is not None and first_effective > start:
        start = min(first_effective, today)
    return start


def window(
    raw_from: str | None, raw_to: str | None, *, today: date, first_effective: date | None
) -> tuple[date, date]:
    """The dates asked for in the query string; a blank end takes its default (from: see
    `default_from`, to: today). Raises ValidationError (field "from" or "to") otherwise."""
    raw_from = (raw_from or "").strip() or default_from(today, first_effective).isoformat()
    raw_to = (raw_to or "").strip() or today.isoformat()
    return parse_range(raw_from, raw_to)


# --- how numbers read ------------------------------------------------------------------------


def whole_percent(ratio: Fraction | None, threshold: float) -> int | None:
    """A ratio as a whole percent, rounded half up, but never rounded across a line that
    matters: below the threshold never reads as meeting it, something short of everything
    never reads 100%, and something done never reads 0%."""
    if ratio is None:
        return None
    shown = math.floor(ratio * 100 + Fraction(1, 2))
    if not at_least(ratio, threshold) and at_least(Fraction(shown, 100), threshold):
        shown = math.floor(ratio * 100)
    if ratio < 1:
        shown = min(shown, 99)
    if ratio > 0:
        shown = max(shown, 1)
    return shown


def percent_words(ratio: Fraction | None, threshold: float) -> str:
    shown = whole_percent(ratio, threshold)
    return "no routines counted" if shown is None else f"{shown}%"


def chart_value(ratio: Fraction | None, threshold: float) -> float | None:
    """The value a chart draws: the same whole percent the tables show, as 0..1."""
    shown = whole_percent(ratio, threshold)
    return None if shown is None else shown / 100


# --- the page's data -------------------------------------------------------------------------


@dataclass(frozen=True)
class Headline:
    overall: Fraction | None
    last_7: Fraction | None
    last_28: Fraction | None
    dose_per_week: int  # minutes, on average over the window
    target_per_week: int  # the plan's minutes a week, all domains
    weeks_adherent: int
    weeks_counted: int
    streak: int  # days in a row, back from the window's last day


@dataclass(frozen=True)
class ActivityRow:
    activity_id: int
    name: str
    figures: Figures


@dataclass(frozen=True)
class DoseWeek:
    week: date  # Monday
    days: int  # days of the week inside the window (7 unless at an edge)
    minutes: dict[str, int]  # per domain


@dataclass(frozen=True)
class StateWeek:
    week: date
    figures: Figures

    @property
    def calmer_share(self) -> Fraction | None:
        pairs = self.figures.state_pairs
        return Fraction(self.figures.calmer, pairs) if pairs else None


@dataclass(frozen=True)
class NoteRow:
    local_date: date
    logged_at: datetime
    activity: str
    status: str
    who: str | None
    note: str


@dataclass(frozen=True)
class Dashboard:
    date_from: date
    date_to: date
    today: date
    threshold: float
    breakdown: Breakdown
    headline: Headline
    activities: list[ActivityRow]
    domains: list[str]  # the dose chart's panels, bottom-up
    targets: dict[str, int]  # minutes a week per domain, from the plan in effect today
    weeks: list[DoseWeek]
    states: list[StateWeek]
    sides: dict[str, Figures]
    notes: list[NoteRow]

    @property
    def days(self) -> list[tuple[date, Figures]]:
        """The days of the window on which some routine counted, oldest first."""
        return sorted((d, f) for d, f in self.breakdown.by_day.items() if f.counted)

    @property
    def calmer_share(self) -> Fraction | None:
        overall = self.breakdown.overall
        return Fraction(overall.calmer, overall.state_pairs) if overall.state_pairs else None


def weekly_targets(items: Iterable[PlanItem], today: date) -> dict[str, int]:
    """Minutes a week per domain: each item's minutes times its slots a week (days times
    times, anchors or spread count), for the items that have not ended before today."""
    targets: dict[str, int] = {}
    for item in items:
        if item.end_date is not None and item.end_date < today:
            continue
        minutes = item.minutes * doses_per_week(item.frequency)
        targets[item.domain] = targets.get(item.domain, 0) + minutes
    return targets


def _adherence(rows: Sequence[DayRow], first: date, last: date) -> Fraction | None:
    total = Figures()
    for row in rows:
        if first <= row.local_date <= last:
            total += row.figures
    return total.adherence


def build(
    rows: Sequence[DayRow],
    *,
    date_from: date,
    date_to: date,
    today: date,
    threshold: float,
    names: Mapping[int, str],
    targets: Mapping[str, int],
    notes: Sequence[NoteRow] = (),
) -> Dashboard:
    """The dashboard from a child's daily rows. `rows` may start before the window (the last
    28 days are read back from its end); everything else counts only the window."""
    inside = [r for r in rows if date_from <= r.local_date <= date_to]
    cut = breakdown_of(inside, date_from, date_to)
    span_days = (date_to - date_from).days + 1

    by_week = sum_by(inside, lambda r: week_of(r.local_date))
    counted_weeks = {w: f for w, f in by_week.items() if f.counted}
    adherent = sum(1 for f in counted_weeks.values() if at_least(f.adherence, threshold))
    headline = Headline(
        overall=cut.overall.adherence,
        last_7=_adherence(rows, date_to - timedelta(days=6), date_to),
        last_28=_adherence(rows, date_to - timedelta(days=27), date_to),
        dose_per_week=round(cut.overall.dose_minutes * 7 / max(7, span_days)),
        target_per_week=sum(targets.values()),
        weeks_adherent=adherent,
        weeks_counted=len(counted_weeks),
        streak=streak(cut.by_day, date_to),
    )

    activities = [
        ActivityRow(activity_id, names.get(activity_id, "An activity no longer listed"), figures)
        for activity_id, figures in cut.by_activity.items()
    ]
    activities.sort(key=lambda a: (a.name.casefold(), a.activity_id))

    seen = {domain for (domain, _week), f in cut.by_domain_week.items() if f.counted}
    seen |= {d for d, minutes in targets.items() if minutes}
    domains = [d for d in DOMAINS if d in seen] + sorted(seen - set(DOMAINS))

    weeks, states = [], []
    monday = week_of(date_from)
    while monday <= date_to:
        first, last = max(monday, date_from), min(monday + timedelta(days=6), date_to)
        minutes = {d: cut.by_domain_week.get((d, monday), Figures()).dose_minutes for d in domains}
        weeks.append(DoseWeek(monday, (last - first).days + 1, minutes))
        states.append(StateWeek(monday, by_week.get(monday, Figures())))
        monday += timedelta(days=7)

    return Dashboard(
        date_from=date_from,
        date_to=date_to,
        today=today,
        threshold=threshold,
        breakdown=cut,
        headline=headline,
        activities=activities,
        domains=domains,
        targets={d: int(targets.get(d, 0)) for d in domains},
        weeks=weeks,
        states=states,
        sides={side: cut.by_side.get(side, Figures()) for side in SIDES},
        notes=list(notes),
    )


# --- reading ---------------------------------------------------------------------------------


def first_effective(db: Session, child: Child) -> date | None:
    """The date the child's first published plan took effect (None without a plan)."""
    return db.scalar(
        select(func.min(PlanVersion.effective_from))
        .join(Plan, PlanVersion.plan_id == Plan.id)
        .where(Plan.child_id == child.id, PlanVersion.status == PUBLISHED)
    )


def activity_names(db: Session, ids: Iterable[int]) -> dict[int, str]:
    """One query, run even when there is nothing to name (a fixed count of statements)."""
    found = db.execute(select(Activity.id, Activity.name).where(Activity.id.in_(sorted(set(ids)))))
    return {activity_id: name for activity_id, name in found}


def latest_notes(
    db: Session, child: Child, date_from: date, date_to: date, limit: int = NOTES_LIMIT
) -> list[NoteRow]:
    """The window's latest logs that carry a note, newest first: one query."""
    found = db.execute(
        select(
            Occurrence.local_date,
            RoutineLog.logged_at,
            Activity.name,
            RoutineLog.status,
            User.name,
            RoutineLog.note,
        )
        .select_from(RoutineLog)
        .join(Occurrence, Occurrence.id == RoutineLog.occurrence_id)
        .join(Activity, Activity.id == Occurrence.activity_id)
        .outerjoin(User, User.id == RoutineLog.author_id)
        .where(
            RoutineLog.child_id == child.id,
            Occurrence.child_id == child.id,
            RoutineLog.note != "",
            Occurrence.local_date >= date_from,
            Occurrence.local_date <= date_to,
        )
        .order_by(Occurrence.local_date.desc(), RoutineLog.logged_at.desc(), RoutineLog.id.desc())
        .limit(limit)
    )
    return [NoteRow(*row) for row in found]


def load(
    db: Session,
    child: Child,
    *,
    date_from: date,
    date_to: date,
    today: date,
    threshold: float,
) -> Dashboard:
    """The child's dashboard over a checked window (see `window`)."""
    rows = daily_rows_for(db, child, date_from, date_to)
    names = activity_names(db, (r.activity_id for r in rows if r.local_date >= date_from))
    version = version_in_effect(db, child, today)
    targets = weekly_targets(version.items, today) if version is not None else {}
    return build(
        rows,
        date_from=date_from,
        date_to=date_to,
        today=today,
        threshold=threshold,
        names=names,
        targets=targets,
        notes=latest_notes(db, child, date_from, date_to),
    )


def daily_rows_for(db: Session, child: Child, date_from: date, date_to: date) -> list[DayRow]:
    """The window's rows, starting early enough for the last 28 days before its end."""
    return daily_rows(db, [child.id], min(date_from, date_to - timedelta(days=27)), date_to)


def record_view(
    db: Session,
    child: Child,
    *,
    actor: User,
    date_from: date,
    date_to: date,
    ip: str | None = None,
) -> None:
    """Reading a child's adherence is reading their record: one audit row per view."""
    audit.record(
        db,
        "adherence.viewed",
        actor=actor,
        object_type="child",
        object_id=child.id,
        ip_address=ip,
        date_from=date_from.isoformat(),
        date_to=date_to.isoformat(),
    )
