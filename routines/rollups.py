"""Adherence rollups: built nightly in set-based SQL, read with today's changes live.

One grouped query turns an organisation's occurrences (with their logs and plan items) into
one row per child, local date, activity, assignee and domain (routines.models.rollup). The
same query, not stored, gives the rows of whatever changed since the rollups were built:
the days after `rollups_through`, and any earlier day with an occurrence updated since
`rollups_as_of` (a late log from an offline phone, a correction, an away period entered
afterwards). A reader takes the stored rows of unchanged days and the live rows of the rest,
so what it sees always equals a count of the occurrences themselves, in two queries however
long the window and however many children.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    delete,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.orm import Session, aliased

from routines.metrics import Outcome, Tally, tally_counts, week_of
from routines.metrics import streak as metrics_streak
from routines.models import AdherenceRollup, Occurrence, PlanItem, RoutineLog
from tenants.context import current_tenant_id
from tenants.errors import ValidationError
from tenants.models import Organisation

# A request that stamped an occurrence's updated_at just before a build started may commit
# after the build read it: such rows are still treated as changed for this long.
SAFETY = timedelta(minutes=15)
# Levels of the arousal continuum: lower is calmer.
LEVELS = {"calm": 0, "alert": 1, "alarm": 2, "fear": 3, "terror": 4}
COUNTED = ("done", "partly", "skipped", "missed")
MAX_RANGE_YEARS = 5


@dataclass(frozen=True)
class Figures:
    """What became of a set of routines: counts by outcome, minutes, and states noted."""

    done: int = 0
    partly: int = 0
    skipped: int = 0
    missed: int = 0
    excused: int = 0
    pending: int = 0
    planned_minutes: int = 0
    dose_minutes: int = 0
    state_pairs: int = 0
    calmer: int = 0
    before_level_sum: int = 0
    after_level_sum: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(*(getattr(self, f) + getattr(other, f) for f in FIGURE_FIELDS))

    @property
    def tally(self) -> Tally:
        return tally_counts({status: getattr(self, status) for status in COUNTED})

    @property
    def adherence(self) -> Fraction | None:
        return self.tally.adherence

    @property
    def counted(self) -> int:
        return self.done + self.partly + self.skipped + self.missed

    @property
    def before_average(self) -> float | None:
        return self.before_level_sum / self.state_pairs if self.state_pairs else None

    @property
    def after_average(self) -> float | None:
        return self.after_level_sum / self.state_pairs if self.state_pairs else None


FIGURE_FIELDS = tuple(f.name for f in fields(Figures))


@dataclass(frozen=True)
class DayRow:
    child_id: int
    local_date: date
    activity_id: int
    assignee_key: str
    domain: str
    side: str
    household_id: int | None
    classroom_id: int | None
    figures: Figures


KEY_COLUMNS = (
    "child_id",
    "local_date",
    "activity_id",
    "assignee_key",
    "domain",
    "side",
    "household_id",
    "classroom_id",
)


# --- the grouped query ----------------------------------------------------------------------


def _level(column: ColumnElement[str | None]) -> ColumnElement[int | None]:
    return case(LEVELS, value=column, else_=None)


def _aggregate(scope: ColumnElement[bool], tenant: int) -> Select:
    """One row per (child, local date, activity, assignee, domain) of the occurrences in
    `scope`, in the columns of AdherenceRollup (tenant first). Explicitly confined to
    `tenant`, so it can feed an INSERT ... SELECT, which tenant filters do not reach."""
    o, log, item = Occurrence, RoutineLog, PlanItem
    before, after = _level(log.state_before), _level(log.state_after)
    both = and_(before.is_not(None), after.is_not(None))

    def count(status: str) -> ColumnElement[int]:
        return func.sum(case((o.status == status, 1), else_=0))

    return (
        select(
            literal(tenant).label("tenant_id"),
            o.child_id,
            o.local_date,
            o.activity_id,
            o.assignee_key,
            item.domain,
            func.max(o.side).label("side"),
            func.max(o.household_id).label("household_id"),
            func.max(o.classroom_id).label("classroom_id"),
            count("done").label("done"),
            count("partly").label("partly"),
            count("skipped").label("skipped"),
            count("missed").label("missed"),
            count("excused").label("excused"),
            count("pending").label("pending"),
            func.sum(case((o.status.in_(COUNTED), o.minutes), else_=0)).label("planned_minutes"),
            func.sum(
                case(
                    (o.status == "done", func.coalesce(log.minutes, o.minutes)),
                    (o.status == "partly", func.coalesce(log.minutes, o.minutes // 2)),
                    else_=0,
                )
            ).label("dose_minutes"),
            func.sum(case((both, 1), else_=0)).label("state_pairs"),
            func.sum(case((and_(both, after < before), 1), else_=0)).label("calmer"),
            func.sum(case((both, before), else_=0)).label("before_level_sum"),
            func.sum(case((both, after), else_=0)).label("after_level_sum"),
        )
        .select_from(o)
        .join(item, and_(item.id == o.plan_item_id, item.tenant_id == tenant))
        .outerjoin(log, and_(log.occurrence_id == o.id, log.tenant_id == tenant))
        .where(o.tenant_id == tenant, o.status != "withdrawn", scope)
        .group_by(o.child_id, o.local_date, o.activity_id, o.assignee_key, item.domain)
    )


def _changed_days(tenant: int, since: datetime, through: date) -> Select:
    """The (child, local date) pairs up to `through` with an occurrence updated since `since`:
    found through the updated_at index, so its cost follows the day's changes, not the
    organisation's history. Uncorrelated, so the database evaluates it once per query."""
    changed = aliased(Occurrence)
    return (
        select(changed.child_id, changed.local_date)
        .where(
            changed.tenant_id == tenant,
            changed.updated_at >= since,
            changed.local_date <= through,
        )
        .distinct()
    )


def _organisation(db: Session) -> Organisation:
    org = db.get(Organisation, current_tenant_id())
    if org is None:
        raise RuntimeError("rollups need an organisation's tenant context")
    return org


# --- building -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Built:
    through: date
    rows: int  # rollup rows the organisation now holds


def roll_up(db: Session, *, now: datetime, rebuild: bool = False) -> Built:
    """Bring the current organisation's rollups up to yesterday (its own time zone): the new
    days, and every earlier day that changed since the last build; or everything, with
    `rebuild` or on the first build. Idempotent; one transaction's worth of statements."""
    org = _organisation(db)
    tenant = org.id
    through = now.astimezone(ZoneInfo(org.time_zone)).date() - timedelta(days=1)
    o = Occurrence
    if rebuild or org.rollups_through is None or org.rollups_as_of is None:
        scope: ColumnElement[bool] = o.local_date <= through
        db.execute(delete(AdherenceRollup))
    else:
        since = org.rollups_as_of - SAFETY
        scope = and_(
            o.local_date <= through,
            or_(
                o.local_date > org.rollups_through,
                tuple_(o.child_id, o.local_date).in_(_changed_days(tenant, since, through)),
            ),
        )
        days = select(o.child_id, o.local_date).where(o.tenant_id == tenant, scope).distinct()
        db.execute(
            delete(AdherenceRollup)
            .where(tuple_(AdherenceRollup.child_id, AdherenceRollup.local_date).in_(days))
            .execution_options(synchronize_session=False)
        )
    aggregate = _aggregate(scope, tenant)
    db.execute(
        insert(AdherenceRollup)
        .from_select([c.name for c in aggregate.selected_columns], aggregate)
        .execution_options(cadence_insert_select_tenant=tenant)
    )
    org.rollups_through = through
    org.rollups_as_of = now
    db.flush()
    held = db.scalar(select(func.count()).select_from(AdherenceRollup))
    return Built(through, held or 0)


# --- reading --------------------------------------------------------------------------------


def _rows_of(result: Iterable) -> list[DayRow]:
    rows = []
    for r in result:
        m = r._mapping
        rows.append(
            DayRow(
                *(m[k] for k in KEY_COLUMNS),
                figures=Figures(*(int(m[f] or 0) for f in FIGURE_FIELDS)),
            )
        )
    return rows


def _children_filter(column: ColumnElement[int], child_ids: Collection[int] | Select | None):
    if child_ids is None:
        return true()
    if isinstance(child_ids, Select):
        return column.in_(child_ids)
    return column.in_(list(child_ids)) if child_ids else false()


def daily_rows(
    db: Session,
    child_ids: Collection[int] | Select | None,
    date_from: date,
    date_to: date,
) -> list[DayRow]:
    """Every (child, day, activity, assignee, domain) row between the dates, inclusive, for
    the given children (None: all the organisation's): stored rows for unchanged days,
    live rows for the rest. Two queries (and the organisation, usually already loaded)."""
    org = _organisation(db)
    tenant = org.id
    r = AdherenceRollup
    through, as_of = org.rollups_through, org.rollups_as_of
    if through is None or as_of is None:
        stored_scope: ColumnElement[bool] = false()
        live_scope: ColumnElement[bool] = true()
    else:
        since = as_of - SAFETY
        changed = _changed_days(tenant, since, through)
        stored_scope = and_(
            r.local_date <= through, tuple_(r.child_id, r.local_date).not_in(changed)
        )
        o = Occurrence
        live_scope = or_(o.local_date > through, tuple_(o.child_id, o.local_date).in_(changed))
    stored = db.execute(
        select(*(getattr(r, k) for k in KEY_COLUMNS), *(getattr(r, f) for f in FIGURE_FIELDS))
        .where(
            _children_filter(r.child_id, child_ids),
            r.local_date >= date_from,
            r.local_date <= date_to,
            stored_scope,
        )
        .order_by(r.local_date, r.child_id)
    )
    rows = _rows_of(stored)
    o = Occurrence
    live = db.execute(
        _aggregate(
            and_(
                _children_filter(o.child_id, child_ids),
                o.local_date >= date_from,
                o.local_date <= date_to,
                live_scope,
            ),
            tenant,
        )
    )
    rows.extend(_rows_of(live))
    return rows


def sum_by(rows: Iterable[DayRow], key: Callable[[DayRow], Hashable]) -> dict[Hashable, Figures]:
    found: dict[Hashable, Figures] = defaultdict(Figures)
    for row in rows:
        found[key(row)] += row.figures
    return dict(found)


def streak(by_day: Mapping[date, Figures], through: date) -> int:
    """routines.metrics.streak over daily figures: days in a row, back from `through`, on
    which every counted routine was at least partly done; days with nothing counted neither
    break nor extend it. (One outcome per status present is all the rule needs.)"""
    outcomes = [
        Outcome(day, status)
        for day, figures in by_day.items()
        for status in COUNTED
        if getattr(figures, status)
    ]
    return metrics_streak(outcomes, through)


def total(rows: Iterable[DayRow]) -> Figures:
    found = Figures()
    for row in rows:
        found += row.figures
    return found


@dataclass(frozen=True)
class Breakdown:
    """A child's (or a group's) adherence and dose between two dates, every way it is cut."""

    date_from: date
    date_to: date
    overall: Figures
    by_activity: dict[int, Figures]
    by_domain: dict[str, Figures]
    by_side: dict[str, Figures]
    by_assignee: dict[str, Figures]
    by_day: dict[date, Figures]
    by_domain_week: dict[tuple[str, date], Figures]


def breakdown_of(rows: list[DayRow], date_from: date, date_to: date) -> Breakdown:
    return Breakdown(
        date_from=date_from,
        date_to=date_to,
        overall=total(rows),
        by_activity=sum_by(rows, lambda r: r.activity_id),  # type: ignore[arg-type]
        by_domain=sum_by(rows, lambda r: r.domain),  # type: ignore[arg-type]
        by_side=sum_by(rows, lambda r: r.side),  # type: ignore[arg-type]
        by_assignee=sum_by(rows, lambda r: r.assignee_key),  # type: ignore[arg-type]
        by_day=sum_by(rows, lambda r: r.local_date),  # type: ignore[arg-type]
        by_domain_week=sum_by(rows, lambda r: (r.domain, week_of(r.local_date))),  # type: ignore[arg-type]
    )


def breakdown(db: Session, child_id: int, date_from: date, date_to: date) -> Breakdown:
    """One child's figures between two dates (inclusive); check the range first."""
    check_range(date_from, date_to)
    return breakdown_of(daily_rows(db, [child_id], date_from, date_to), date_from, date_to)


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def check_range(date_from: date | None, date_to: date | None) -> tuple[date, date]:
    """A window of whole local dates: both ends given, not reversed, at most five years."""
    if date_from is None:
        raise ValidationError("Give the first date of the range (from).", "from")
    if date_to is None:
        raise ValidationError("Give the last date of the range (to).", "to")
    if date_to < date_from:
        raise ValidationError(
            f"The range ends ({date_to.isoformat()}) before it starts ({date_from.isoformat()}).",
            "to",
        )
    if date_to > _years_later(date_from, MAX_RANGE_YEARS):
        raise ValidationError(
            f"The range spans more than {MAX_RANGE_YEARS} years; ask for a shorter one.", "to"
        )
    return date_from, date_to


def parse_range(raw_from: str | None, raw_to: str | None) -> tuple[date, date]:
    """`from` and `to` as given in a query string (YYYY-MM-DD), checked."""

    def parse(raw: str | None, field: str, label: str) -> date | None:
        if raw is None or raw.strip() == "":
            return None
        try:
            return date.fromisoformat(raw.strip())
        except ValueError:
            raise ValidationError(
                f"The {label} date must look like 2026-03-01 (year-month-day).", field
            ) from None

    return check_range(parse(raw_from, "from", "first"), parse(raw_to, "to", "last"))
