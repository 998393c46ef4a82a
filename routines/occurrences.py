"""Occurrences: a child's published plan versions turned into dated, timed routines.

`materialise` is the one operation that writes them. It works out the occurrences the plan
wants over the rolling horizon and reconciles the stored ones with that wish:

- new ones are added, at most one per (child, activity, assignee, local date, slot);
- future pending ones a newer version no longer wants are withdrawn, not deleted;
- future pending ones whose time moved (an anchor changed, a zone changed) are moved;
- anything logged, and anything already due, is left exactly as it is.

So publishing, re-publishing, changing an anchor or a school calendar, and the nightly
horizon extension are all the same call, and none of them can duplicate or lose a log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, contains_eager

from routines import places, recurrence
from routines.models import (
    SIDE_OF_ASSIGNEE,
    AwayPeriod,
    Child,
    Occurrence,
    Plan,
    PlanItem,
    PlanVersion,
    RoutineLog,
)
from tenants.models import Organisation

logger = logging.getLogger(__name__)

HORIZON_DAYS = 14
VISIBLE = ("pending", "done", "partly", "skipped", "missed", "excused")


@dataclass(frozen=True)
class Setting:
    """Where one side of a child's routines happens: its zone, anchors and open days."""

    time_zone: str
    anchors: dict[str, Any]
    household_id: int | None = None
    classroom_id: int | None = None
    is_open: Any = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


@dataclass
class Reconciled:
    added: int = 0
    moved: int = 0
    withdrawn: int = 0
    restored: int = 0
    kept_logged: int = 0


def assignee_key(item: PlanItem) -> str:
    if item.assignee in ("carer", "teacher") and item.assignee_membership_id:
        return f"m{item.assignee_membership_id}"
    return item.assignee


def settings_for(db: Session, child: Child) -> dict[str, Setting]:
    """The home side runs in the household (else the organisation's zone, default anchors);
    the school side in the classroom, on its school days only."""
    org_zone = db.get(Organisation, child.tenant_id).time_zone  # type: ignore[union-attr]
    household, classroom = child.household, child.classroom
    home = Setting(
        time_zone=household.time_zone if household else org_zone,
        anchors=places.anchor_times(household),
        household_id=household.id if household else None,
    )
    if classroom is None:
        school = Setting(time_zone=org_zone, anchors=places.anchor_times(None))
    else:
        entries = places.calendar_entries(db, [classroom.id])[classroom.id]
        school = Setting(
            time_zone=classroom.time_zone,
            anchors=places.anchor_times(classroom),
            classroom_id=classroom.id,
            is_open=places.school_day_rule(entries),
        )
    return {"home": home, "school": school}


def version_windows(versions: Iterable[PlanVersion]) -> list[tuple[PlanVersion, date, date | None]]:
    """Each published version with the dates it is in effect (last date None: open-ended).
    Version N-1 runs until the day before N's effective date; of two versions with the same
    date, the higher number wins (as in plans.version_in_effect)."""
    published = sorted(
        (v for v in versions if v.status == "published" and v.effective_from is not None),
        key=lambda v: (v.effective_from, v.number or 0),
    )
    windows: list[tuple[PlanVersion, date, date | None]] = []
    for index, version in enumerate(published):
        later = [v.effective_from for v in published[index + 1 :]]
        if later and later[0] == version.effective_from:
            continue  # overridden on its first day by a higher number
        end = later[0] - timedelta(days=1) if later else None
        windows.append((version, version.effective_from, end))  # type: ignore[arg-type]
    return windows


def wanted_occurrences(
    windows: list[tuple[PlanVersion, date, date | None]],
    settings: dict[str, Setting],
    *,
    child_id: int,
    start: date,
    end: date,
) -> dict[tuple[int, str, date, str], dict[str, Any]]:
    """What the plan asks for between two local dates, keyed like the unique constraint."""
    wanted: dict[tuple[int, str, date, str], dict[str, Any]] = {}
    for version, first, last in windows:
        for item in version.items:
            side = SIDE_OF_ASSIGNEE[item.assignee]
            setting = settings[side]
            lo = max(first, item.start_date, start)
            hi = min(d for d in (last, item.end_date, end) if d is not None)
            if lo > hi:
                continue
            key_who = assignee_key(item)
            for occ in recurrence.expand(
                item.frequency,
                start=lo,
                end=hi,
                zone=setting.zone,
                anchor_times=setting.anchors,
                is_open=setting.is_open if side == "school" else None,
            ):
                wanted[(item.activity_id, key_who, occ.local_date, occ.slot)] = {
                    "child_id": child_id,
                    "plan_item_id": item.id,
                    "activity_id": item.activity_id,
                    "side": side,
                    "assignee": item.assignee,
                    "assignee_membership_id": item.assignee_membership_id,
                    "assignee_key": key_who,
                    "household_id": setting.household_id,
                    "classroom_id": setting.classroom_id,
                    "local_date": occ.local_date,
                    "slot": occ.slot,
                    "local_time": occ.local_time,
                    "time_zone": setting.time_zone,
                    "due_at": occ.due_utc,
                    "minutes": item.minutes,
                }
    return wanted


def _published(db: Session, child: Child) -> list[PlanVersion]:
    return list(
        db.scalars(
            select(PlanVersion)
            .join(Plan, PlanVersion.plan_id == Plan.id)
            .where(Plan.child_id == child.id, PlanVersion.status == "published")
        )
    )


def _away_covering(aways: list[AwayPeriod], due_at: datetime) -> AwayPeriod | None:
    for away in aways:
        if away.starts_at <= due_at < away.ends_at:
            return away
    return None


_MOVABLE = (
    "plan_item_id",
    "side",
    "assignee",
    "assignee_membership_id",
    "household_id",
    "classroom_id",
    "local_time",
    "time_zone",
    "due_at",
    "minutes",
)


def materialise(
    db: Session, child: Child, *, now: datetime, horizon_days: int = HORIZON_DAYS
) -> Reconciled:
    """Bring the child's occurrences from `now` to the end of the horizon in line with the
    published plan (see the module docstring). Idempotent: a second call changes nothing."""
    result = Reconciled()
    windows = version_windows(_published(db, child))
    # A day either side of UTC's date covers every zone's "today".
    start = now.date() - timedelta(days=1)
    end = now.date() + timedelta(days=horizon_days)
    wanted = (
        wanted_occurrences(
            windows, settings_for(db, child), child_id=child.id, start=start, end=end
        )
        if windows
        else {}
    )
    rows = db.execute(
        select(Occurrence, RoutineLog.id)
        .outerjoin(RoutineLog, RoutineLog.occurrence_id == Occurrence.id)
        .where(
            Occurrence.child_id == child.id,
            Occurrence.local_date >= start,
            Occurrence.local_date <= end,
        )
    ).all()
    aways = list(
        db.scalars(
            select(AwayPeriod).where(
                AwayPeriod.child_id == child.id,
                AwayPeriod.cancelled_at.is_(None),
                AwayPeriod.ends_at > now,
            )
        )
    )
    stored = {
        (o.activity_id, o.assignee_key, o.local_date, o.slot): (o, log_id) for o, log_id in rows
    }

    for key, values in wanted.items():
        found = stored.get(key)
        if found is None:
            if values["due_at"] < now:
                continue  # the past is not rewritten
            away = _away_covering(aways, values["due_at"])
            db.add(
                Occurrence(
                    **values,
                    status="excused" if away else "pending",
                    away_id=away.id if away else None,
                    excused_reason=away.kind if away else None,
                )
            )
            result.added += 1
            continue
        occurrence, log_id = found
        if log_id is not None:
            result.kept_logged += 1
            continue
        if occurrence.due_at < now or values["due_at"] < now:
            continue
        if occurrence.status not in ("pending", "excused", "withdrawn"):
            continue
        moved = False
        for name in _MOVABLE:
            if getattr(occurrence, name) != values[name]:
                setattr(occurrence, name, values[name])
                moved = True
        if moved:
            result.moved += 1
        if occurrence.status == "withdrawn":
            occurrence.status = "pending"
            result.restored += 1
        if occurrence.excused_reason != "absent":
            away = _away_covering(aways, occurrence.due_at)
            occurrence.status = "excused" if away else "pending"
            occurrence.away_id = away.id if away else None
            occurrence.excused_reason = away.kind if away else None

    for key, (occurrence, log_id) in stored.items():
        if key in wanted or log_id is not None or occurrence.due_at < now:
            continue
        if occurrence.status in ("pending", "excused"):
            occurrence.status = "withdrawn"
            result.withdrawn += 1
    db.flush()
    if result.added or result.moved or result.withdrawn or result.restored:
        logger.info(
            "materialised child %s: +%d moved %d withdrawn %d restored %d",
            child.id,
            result.added,
            result.moved,
            result.withdrawn,
            result.restored,
        )
    return result


def children_with_plans(db: Session) -> list[Child]:
    """Children of the current organisation that have a published plan."""
    return list(
        db.scalars(
            select(Child)
            .where(
                Child.id.in_(
                    select(Plan.child_id)
                    .join(PlanVersion, PlanVersion.plan_id == Plan.id)
                    .where(PlanVersion.status == "published")
                )
            )
            .order_by(Child.id)
        )
    )


def extend_horizon(db: Session, *, now: datetime, horizon_days: int = HORIZON_DAYS) -> int:
    """Materialise every child with a plan in the current organisation (the nightly job)."""
    count = 0
    for child in children_with_plans(db):
        materialise(db, child, now=now, horizon_days=horizon_days)
        count += 1
    return count


# --- reading -------------------------------------------------------------------------------


def between(
    db: Session,
    *,
    child_ids: Iterable[int],
    start: date,
    end: date,
    side: str | None = None,
) -> list[Occurrence]:
    """Visible occurrences of these children between two local dates, each with its log
    loaded (`occurrence.log`), in due order. One query whatever the numbers."""
    ids = sorted(set(child_ids))
    if not ids:
        return []
    query = (
        select(Occurrence)
        .outerjoin(Occurrence.log)
        .options(contains_eager(Occurrence.log))
        .where(
            Occurrence.child_id.in_(ids),
            Occurrence.local_date >= start,
            Occurrence.local_date <= end,
            Occurrence.status.in_(VISIBLE),
        )
        .order_by(Occurrence.due_at, Occurrence.child_id, Occurrence.id)
    )
    if side is not None:
        query = query.where(Occurrence.side == side)
    return list(db.scalars(query).unique())


def for_local_day(
    db: Session, *, child_ids: Iterable[int], day: date, side: str | None = None
) -> list[Occurrence]:
    return between(db, child_ids=child_ids, start=day, end=day, side=side)


def due_between(
    db: Session,
    *,
    child_ids: Iterable[int],
    start: datetime,
    end: datetime,
    sides: dict[int, set[str]] | None = None,
) -> list[Occurrence]:
    """Visible occurrences due between two instants (the calendar feed), with logs."""
    ids = sorted(set(child_ids))
    if not ids:
        return []
    query = (
        select(Occurrence)
        .outerjoin(Occurrence.log)
        .options(contains_eager(Occurrence.log))
        .where(
            Occurrence.child_id.in_(ids),
            Occurrence.due_at >= start,
            Occurrence.due_at < end,
            Occurrence.status.in_(VISIBLE),
        )
        .order_by(Occurrence.due_at, Occurrence.id)
    )
    if sides is not None:
        query = query.where(
            or_(
                *(
                    and_(Occurrence.child_id == cid, Occurrence.side.in_(sorted(s)))
                    for cid, s in sides.items()
                    if s
                )
            )
        )
    return list(db.scalars(query).unique())
