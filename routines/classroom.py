"""The teacher's classroom: which classes a member sees, a class's school day as group rows
and child rows, and logging a group activity for the whole class in one step.

A teacher sees a class through the children in it: the classrooms of the children on whose
care team they are a teacher or teaching assistant (admins see every class of the
organisation), and inside a class only those children. Reading a class's day runs a fixed
number of queries whatever the size of the class.

Group logging (`log_group`) turns one submission into a log per present child through
`routines.logs.record_logs`, so it is idempotent by the client UUIDs the page carried:
a double submit answers with the stored logs. A child marked absent gets no log: their
occurrence is excused ("absent"), because absence from school is not a missed routine.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session, contains_eager

from routines import logs, occurrences
from routines.access import logging_side
from routines.models import (
    Activity,
    CareTeamMember,
    Child,
    Classroom,
    Occurrence,
    RoutineLog,
    TeamRole,
)
from tenants import audit
from tenants.errors import NotFound, ValidationError
from tenants.isolation import get_scoped
from tenants.models import Membership, User
from tenants.roles import Role

logger = logging.getLogger(__name__)

SCHOOL_TEAM_ROLES = (TeamRole.TEACHER.value, TeamRole.TEACHING_ASSISTANT.value)
# What a teacher can say about one child in a group activity. "done" is the default.
EXCEPTIONS: dict[str, str] = {
    "done": "Done",
    "absent": "Absent",
    "partly": "Partly",
    "refused": "Refused",
}
# Statuses a group log may still change: not logged yet. "missed" is included because the
# sweeper may have marked the routine missed before the teacher got to log it.
OPEN_STATUSES = ("pending", "missed")


# --- which classes, which children ---------------------------------------------------------


def _taught_children(membership: Membership):  # type: ignore[no-untyped-def]
    """Ids of the children on whose team the member is a teacher or teaching assistant."""
    return select(CareTeamMember.child_id).where(
        CareTeamMember.membership_id == membership.id,
        CareTeamMember.team_role.in_(SCHOOL_TEAM_ROLES),
    )


def _is_admin(membership: Membership) -> bool:
    return membership.has_role(Role.ADMIN)


def visible_classrooms(db: Session, membership: Membership) -> list[Classroom]:
    """The classes the member teaches children in (an admin: every class), by name."""
    query = select(Classroom).order_by(
        func.lower(Classroom.school_name), func.lower(Classroom.name), Classroom.id
    )
    if not _is_admin(membership):
        query = query.where(
            Classroom.id.in_(
                select(Child.classroom_id).where(Child.id.in_(_taught_children(membership)))
            )
        )
    return list(db.scalars(query))


def get_classroom(db: Session, classroom_id: int, membership: Membership) -> Classroom:
    """The class, if it is in this organisation and the member sees it; else NotFound, the
    same answer either way."""
    classroom = get_scoped(db, Classroom, classroom_id)
    if classroom is None:
        raise NotFound("classroom")
    if not _is_admin(membership):
        teaches = db.scalar(
            select(
                exists().where(
                    Child.classroom_id == classroom.id,
                    Child.id.in_(_taught_children(membership)),
                )
            )
        )
        if not teaches:
            raise NotFound("classroom")
    return classroom


def class_children(db: Session, classroom: Classroom, membership: Membership) -> list[Child]:
    """The children of the class the member sees (an admin: all), by name."""
    query = (
        select(Child)
        .where(Child.classroom_id == classroom.id)
        .order_by(func.lower(Child.given_name), func.lower(Child.family_name), Child.id)
    )
    if not _is_admin(membership):
        query = query.where(Child.id.in_(_taught_children(membership)))
    return list(db.scalars(query))


def can_log(membership: Membership, child: Child) -> bool:
    """Only the child's teachers log school routines (an admin who is not one only reads)."""
    return logging_side(membership, child) == "school"


# --- a class's day -------------------------------------------------------------------------


@dataclass
class Entry:
    """One child's occurrence on the page."""

    occurrence: Occurrence
    child: Child
    loggable: bool

    @property
    def is_open(self) -> bool:
        return self.occurrence.log is None and self.occurrence.status in OPEN_STATUSES

    @property
    def is_absent(self) -> bool:
        return self.occurrence.status == "excused" and self.occurrence.excused_reason == "absent"


@dataclass
class Row:
    """A line of the day: a group activity of the class (kind "group", several children)
    or one child's own activity (kind "child", one entry)."""

    kind: str
    local_time: time
    activity: Activity
    minutes: int
    entries: list[Entry] = field(default_factory=list)

    @property
    def open_entries(self) -> list[Entry]:
        return [e for e in self.entries if e.is_open and e.loggable]

    @property
    def other_entries(self) -> list[Entry]:
        """Logged, absent, away, or not the member's to log."""
        return [e for e in self.entries if not (e.is_open and e.loggable)]

    @property
    def children_count(self) -> int:
        return len(self.entries)


@dataclass
class ClassDay:
    classroom: Classroom
    day: date
    children: list[Child]
    rows: list[Row]


def class_day(db: Session, classroom: Classroom, membership: Membership, day: date) -> ClassDay:
    """The school-side routines of the class's (visible) children on one local date, in
    time order. Occurrences the whole class does ("classroom") at the same time are one group
    row; a child's own ("teacher") activities are a row each."""
    kids = class_children(db, classroom, membership)
    by_id = {c.id: c for c in kids}
    found = occurrences.for_local_day(db, child_ids=by_id, day=day, side="school")
    groups: dict[tuple[time, int], Row] = {}
    rows: list[Row] = []
    for occurrence in found:
        # A child who changed class keeps their past routines with the class they were in.
        if occurrence.classroom_id != classroom.id:
            continue
        child = by_id[occurrence.child_id]
        entry = Entry(occurrence, child, can_log(membership, child))
        if occurrence.assignee == "classroom":
            key = (occurrence.local_time, occurrence.activity_id)
            row = groups.get(key)
            if row is None:
                row = groups[key] = Row(
                    "group", occurrence.local_time, occurrence.activity, occurrence.minutes
                )
                rows.append(row)
            row.entries.append(entry)
        else:
            rows.append(
                Row(
                    "child", occurrence.local_time, occurrence.activity, occurrence.minutes, [entry]
                )
            )
    order = {c.id: index for index, c in enumerate(kids)}
    for row in rows:
        row.entries.sort(key=lambda e: order[e.child.id])
    # Groups before single children at the same time; then by activity, then by child.
    rows.sort(
        key=lambda r: (
            r.local_time,
            r.kind != "group",
            r.activity.name.lower(),
            order[r.entries[0].child.id],
        )
    )
    return ClassDay(classroom, day, kids, rows)


def record_class_view(db: Session, day: ClassDay, *, actor: User, ip: str | None = None) -> None:
    """One audit row names every child whose routines the page showed (a row per child
    would make the page's cost grow with the class)."""
    audit.record(
        db,
        "classroom.viewed",
        actor=actor,
        object_type="classroom",
        object_id=day.classroom.id,
        ip_address=ip,
        day=day.day.isoformat(),
        child_ids=sorted(c.id for c in day.children),
    )


# --- group logging -------------------------------------------------------------------------


@dataclass
class ChildResult:
    """What happened to one child's occurrence in a group log."""

    occurrence_id: int
    child_id: int | None
    choice: str | None  # done | absent | partly | refused, None when refused outright
    code: int  # 201 logged, 200 repeat / already so, 4xx refused
    outcome: str  # created | repeat | absent | conflict | refused
    message: str | None = None
    log_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.code < 300


def _check_exceptions(exceptions: dict[int, str] | None) -> dict[int, str]:
    checked: dict[int, str] = {}
    for child_id, choice in (exceptions or {}).items():
        if choice not in EXCEPTIONS:
            raise ValidationError(
                f"Unknown choice {choice!r} for a child: use done, absent, partly or refused.",
                "exceptions",
            )
        try:
            checked[int(child_id)] = choice
        except (TypeError, ValueError):
            raise ValidationError("Children are named by their ids.", "exceptions") from None
    return checked


def _check_ids(occurrence_ids: Iterable[int]) -> list[int]:
    ids: list[int] = []
    for value in occurrence_ids:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**31:
            raise ValidationError("Occurrence ids must be whole numbers.", "occurrence_id")
        if value not in ids:
            ids.append(value)
    if not ids:
        raise ValidationError("Choose the routine to log.", "occurrence_id")
    if len(ids) > logs.MAX_BATCH:
        raise ValidationError(f"Log at most {logs.MAX_BATCH} children at a time.", "occurrence_id")
    return ids


def log_group(
    db: Session,
    classroom: Classroom,
    occurrence_ids: Iterable[int],
    exceptions: dict[int, str] | None,
    *,
    actor: User,
    membership: Membership,
    now: datetime,
    client_uuids: dict[int, str | uuid.UUID],
    ip: str | None = None,
) -> list[ChildResult]:
    """Log one group activity for the class: done for every child unless `exceptions` says
    absent, partly or refused (skipped, reason "refused"). One result per occurrence, in
    the order given. A malformed submission raises ValidationError and changes nothing;
    an occurrence that is unknown, another organisation's, not this class's, or of a child
    the member does not teach is refused (404) on its own and the rest are still logged."""
    ids = _check_ids(occurrence_ids)
    choices = _check_exceptions(exceptions)
    found = {
        o.id: o
        for o in db.scalars(
            select(Occurrence)
            .outerjoin(Occurrence.log)
            .options(contains_eager(Occurrence.log))
            .where(Occurrence.id.in_(ids))
        ).unique()
    }
    kids = {
        c.id: c
        for c in db.scalars(select(Child).where(Child.id.in_({o.child_id for o in found.values()})))
    }
    results: dict[int, ChildResult] = {}
    to_log: list[tuple[int, str, logs.LogInput]] = []
    absent: list[Occurrence] = []
    for occurrence_id in ids:
        occurrence = found.get(occurrence_id)
        child = kids.get(occurrence.child_id) if occurrence is not None else None
        if (
            occurrence is None
            or child is None
            or child.classroom_id != classroom.id
            or occurrence.classroom_id != classroom.id
            or occurrence.side != "school"
            or not can_log(membership, child)
        ):
            results[occurrence_id] = ChildResult(
                occurrence_id,
                None,
                None,
                404,
                "refused",
                f"No routine {occurrence_id} in this class that you log.",
            )
            continue
        choice = choices.get(child.id, "done")
        if choice == "absent":
            absent.append(occurrence)
            continue
        status, reason = {
            "done": ("done", None),
            "partly": ("partly", None),
            "refused": ("skipped", "refused"),
        }[choice]
        to_log.append(
            (
                occurrence_id,
                choice,
                logs.LogInput(
                    client_uuid=_uuid_text(client_uuids.get(occurrence_id)),
                    occurrence_id=occurrence_id,
                    status=status,
                    reason=reason,
                    child_id=child.id,
                ),
            )
        )
    # Only the children of accepted occurrences: an exception naming any other child is
    # refused the same way whether that child exists elsewhere or not.
    accepted = {found[i].child_id for i in ids if i not in results}
    if set(choices) - accepted:
        raise ValidationError(
            "A choice was given for a child who is not in this group.", "exceptions"
        )

    logged = (
        logs.record_logs(
            db,
            [item for _, _, item in to_log],
            actor=actor,
            membership=membership,
            now=now,
            source="classroom",
            ip=ip,
        )
        if to_log
        else []
    )
    for (occurrence_id, choice, item), result in zip(to_log, logged, strict=True):
        results[occurrence_id] = ChildResult(
            occurrence_id,
            item.child_id,
            choice,
            result.code,
            result.outcome,
            result.message,
            result.log.id if result.log is not None else None,
        )
    for occurrence_id, result in _mark_absent(
        db, classroom, absent, actor=actor, now=now, ip=ip
    ).items():
        results[occurrence_id] = result
    db.flush()
    return [results[i] for i in ids]


def _uuid_text(value: str | uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def _mark_absent(
    db: Session,
    classroom: Classroom,
    absent: list[Occurrence],
    *,
    actor: User,
    now: datetime,
    ip: str | None,
) -> dict[int, ChildResult]:
    """Excuse the occurrences of absent children that are not logged yet; say what is
    already so for the others (a repeat of the same submission is not an error)."""
    results: dict[int, ChildResult] = {}
    to_excuse: list[int] = []
    for occurrence in absent:
        if occurrence.log is not None:
            results[occurrence.id] = ChildResult(
                occurrence.id,
                occurrence.child_id,
                "absent",
                409,
                "conflict",
                "Already logged; correct the log instead of marking the child absent.",
                occurrence.log.id,
            )
        elif occurrence.status == "excused":
            message = None if occurrence.excused_reason == "absent" else "Already excused (away)."
            results[occurrence.id] = ChildResult(
                occurrence.id, occurrence.child_id, "absent", 200, "repeat", message
            )
        elif occurrence.status in OPEN_STATUSES:
            to_excuse.append(occurrence.id)
            results[occurrence.id] = ChildResult(
                occurrence.id, occurrence.child_id, "absent", 201, "absent"
            )
        else:
            results[occurrence.id] = ChildResult(
                occurrence.id,
                occurrence.child_id,
                "absent",
                409,
                "conflict",
                "That routine can no longer be changed.",
            )
    if to_excuse:
        # Only while still unlogged: a log that arrived meanwhile wins over "absent".
        db.execute(
            update(Occurrence)
            .where(
                Occurrence.id.in_(to_excuse),
                Occurrence.status.in_(OPEN_STATUSES),
                ~exists().where(RoutineLog.occurrence_id == Occurrence.id),
            )
            .values(status="excused", excused_reason="absent", updated_at=now)
            .execution_options(synchronize_session="fetch")
        )
        by_child = sorted({o.child_id for o in absent if o.id in to_excuse})
        audit.record(
            db,
            "classroom.absent",
            actor=actor,
            object_type="classroom",
            object_id=classroom.id,
            ip_address=ip,
            child_ids=by_child,
            occurrence_ids=sorted(to_excuse),
        )
    return results


def summary(results: list[ChildResult]) -> dict[str, int]:
    """How many children ended up done, partly, refused, absent (new or repeated)."""
    counts = {key: 0 for key in EXCEPTIONS}
    for result in results:
        if result.ok and result.choice is not None:
            counts[result.choice] += 1
    return counts
