"""What Today and the week show: a carer's children and their home routines, read with a
fixed number of queries whatever the number of children and occurrences."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from routines import away, logs, occurrences
from routines.children import child_time_zone
from routines.models import (
    AwayPeriod,
    CareTeamMember,
    Child,
    LogCorrection,
    Occurrence,
    Plan,
    PlanVersion,
    RoutineLog,
    TeamRole,
)
from routines.recurrence import local_to_utc
from tenants.models import Membership, User

SUMMARY_MAX = 160
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def summary(instructions: str | None) -> str:
    """The instructions' first sentence, short enough to read at a glance."""
    text = " ".join((instructions or "").split())
    first = _SENTENCE_END.split(text, maxsplit=1)[0]
    if len(first) > SUMMARY_MAX:
        first = first[: SUMMARY_MAX - 1].rsplit(" ", 1)[0] + "…"
    return first


def carer_children(db: Session, membership: Membership) -> list[Child]:
    """The children on whose care team this member is a carer (admins included: being an
    admin does not make one a child's carer)."""
    return list(
        db.scalars(
            select(Child)
            .where(
                Child.id.in_(
                    select(CareTeamMember.child_id).where(
                        CareTeamMember.membership_id == membership.id,
                        CareTeamMember.team_role == TeamRole.CARER.value,
                    )
                )
            )
            .order_by(func.lower(Child.given_name), func.lower(Child.family_name), Child.id)
        )
    )


def local_today(zone: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(zone)).date()


@dataclass
class Row:
    """One occurrence as a line on the page."""

    occurrence: Occurrence
    log: RoutineLog | None
    client_uuid: str
    corrections: list[LogCorrection] = field(default_factory=list)
    author: str | None = None
    can_correct: bool = False

    @property
    def summary(self) -> str:
        return summary(self.occurrence.activity.instructions)

    @property
    def status_label(self) -> str:
        return logs.STATUS_LABELS.get(self.occurrence.status, self.occurrence.status.title())


@dataclass
class ChildDays:
    """A child and their home routines for one or more local days."""

    child: Child
    time_zone: str
    days: list[date]
    has_plan: bool
    rows: dict[date, list[Row]]
    away: list[AwayPeriod]

    @property
    def day(self) -> date:
        return self.days[0]

    def rows_on(self, day: date) -> list[Row]:
        return self.rows.get(day, [])


def _children_with_plans(db: Session, child_ids: list[int]) -> set[int]:
    if not child_ids:
        return set()
    return set(
        db.scalars(
            select(Plan.child_id)
            .join(PlanVersion, PlanVersion.plan_id == Plan.id)
            .where(Plan.child_id.in_(child_ids), PlanVersion.status == "published")
            .distinct()
        )
    )


def _authors(db: Session, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = db.execute(select(User.id, User.name).where(User.id.in_(user_ids)))
    return {user_id: name for user_id, name in rows}


def home_days(
    db: Session,
    kids: list[Child],
    *,
    first_days: dict[int, date],
    span: int,
    org_zone: str,
    viewer: User,
    now: datetime,
) -> list[ChildDays]:
    """Each child's home-side occurrences for `span` local days from its first day, with
    logs, corrections, authors and away periods: six queries at most for any number."""
    ids = [c.id for c in kids]
    zones = {c.id: child_time_zone(c, org_zone) for c in kids}
    windows = {
        cid: [first + timedelta(days=i) for i in range(span)] for cid, first in first_days.items()
    }
    found = (
        occurrences.between(
            db,
            child_ids=ids,
            start=min(first_days.values()),
            end=max(first_days.values()) + timedelta(days=span - 1),
            side="home",
        )
        if ids
        else []
    )
    mine = [o for o in found if o.local_date in windows[o.child_id]]
    logged = [o.log for o in mine if o.log is not None]
    corrections = logs.corrections_of(db, [log.id for log in logged])
    names = _authors(db, {log.author_id for log in logged if log.author_id is not None})
    with_plans = _children_with_plans(db, ids)

    bounds = {
        cid: (
            local_to_utc(days[0], time(0, 0), ZoneInfo(zones[cid])),
            local_to_utc(days[-1] + timedelta(days=1), time(0, 0), ZoneInfo(zones[cid])),
        )
        for cid, days in windows.items()
    }
    aways = (
        away.away_now(
            db,
            ids,
            min(b[0] for b in bounds.values()),
            max(b[1] for b in bounds.values()),
        )
        if ids
        else {}
    )

    rows: dict[int, dict[date, list[Row]]] = defaultdict(lambda: defaultdict(list))
    for o in mine:
        log = o.log
        row = Row(o, log, str(uuid.uuid4()))
        if log is not None:
            row.corrections = corrections.get(log.id, [])
            row.author = (
                "you"
                if log.author_id == viewer.id
                else names.get(log.author_id or 0, "someone else")
            )
            row.can_correct = logs.can_correct(log, viewer, now)
        rows[o.child_id][o.local_date].append(row)

    result = []
    for kid in kids:
        start, end = bounds[kid.id]
        result.append(
            ChildDays(
                child=kid,
                time_zone=zones[kid.id],
                days=windows[kid.id],
                has_plan=kid.id in with_plans,
                rows=dict(rows[kid.id]),
                away=[a for a in aways.get(kid.id, []) if a.starts_at < end and a.ends_at > start],
            )
        )
    return result
