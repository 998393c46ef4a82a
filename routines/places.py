"""Where routines happen: each household's and classroom's anchor times ("before bed" is
19:30 in this home) and each classroom's school calendar (terms and closures).

Changing either re-materialises the future occurrences of the children it concerns, so a
moved anchor moves the routines that use it and a new closure withdraws that day's."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from routines.models import ANCHORS, Child, Classroom, Household, SchoolCalendarEntry
from routines.recurrence import parse_hhmm
from tenants import audit
from tenants.errors import NotFound, ValidationError
from tenants.isolation import get_scoped
from tenants.models import User

logger = logging.getLogger(__name__)

# Used until a household or classroom sets its own.
DEFAULT_ANCHOR_TIMES: dict[str, str] = {
    "after_waking": "07:00",
    "before_school": "08:15",
    "after_school": "15:45",
    "after_dinner": "18:30",
    "before_bed": "19:30",
}
CALENDAR_KINDS = {"term": "Term", "closure": "Closure"}
CALENDAR_SPAN_MAX_DAYS = 400
LABEL_MAX = 120
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def anchor_settings(place: Household | Classroom | None) -> dict[str, str]:
    """Every anchor's clock time as "HH:MM": the place's own, else Cadence's default."""
    own = (place.anchor_times or {}) if place is not None else {}
    return {key: own.get(key, DEFAULT_ANCHOR_TIMES[key]) for key in ANCHORS}


def anchor_times(place: Household | Classroom | None) -> dict[str, time]:
    return {key: parse_hhmm(value) for key, value in anchor_settings(place).items()}


def set_anchor_times(
    db: Session,
    place: Household | Classroom,
    values: dict[str, str | None],
    *,
    actor: User,
    now: datetime,
    ip: str | None = None,
) -> list[Child]:
    """Set the place's anchor times ("" or None restores the default) and move the future
    occurrences that use them. Returns the children whose routines were re-materialised."""
    unknown = sorted(set(values) - set(ANCHORS))
    if unknown:
        raise ValidationError(f"Unknown point in the day: {', '.join(unknown)}.", unknown[0])
    chosen: dict[str, str] = {}
    for key in ANCHORS:
        value = (values.get(key) or "").strip()
        if not value:
            continue
        if not _HHMM.match(value):
            raise ValidationError(
                f"Give {ANCHORS[key].lower()} as a 24-hour time such as 19:30.", key
            )
        chosen[key] = value
    before = anchor_settings(place)
    place.anchor_times = chosen
    db.flush()
    after = anchor_settings(place)
    audit.record(
        db,
        "anchors.changed",
        actor=actor,
        object_type="household" if isinstance(place, Household) else "classroom",
        object_id=place.id,
        ip_address=ip,
        changed={k: [before[k], after[k]] for k in ANCHORS if before[k] != after[k]},
    )
    return _rematerialise(db, _children_of(db, place), now=now)


def _children_of(db: Session, place: Household | Classroom) -> list[Child]:
    column = Child.household_id if isinstance(place, Household) else Child.classroom_id
    return list(db.scalars(select(Child).where(column == place.id).order_by(Child.id)))


def _rematerialise(db: Session, children: Iterable[Child], *, now: datetime) -> list[Child]:
    from routines import occurrences  # occurrences reads this module's settings

    done = []
    for child in children:
        occurrences.materialise(db, child, now=now)
        done.append(child)
    return done


# --- school calendars ------------------------------------------------------------------------


def calendar_entries(db: Session, classroom_ids: Iterable[int]) -> dict[int, list]:
    """Each classroom's terms and closures, in date order (one query for any number)."""
    ids = sorted(set(classroom_ids))
    found: dict[int, list[SchoolCalendarEntry]] = {cid: [] for cid in ids}
    if not ids:
        return found
    rows = db.scalars(
        select(SchoolCalendarEntry)
        .where(SchoolCalendarEntry.classroom_id.in_(ids))
        .order_by(SchoolCalendarEntry.starts_on, SchoolCalendarEntry.id)
    )
    for row in rows:
        found[row.classroom_id].append(row)
    return found


def school_day_rule(entries: Iterable[SchoolCalendarEntry]) -> Callable[[date], bool]:
    """Monday to Friday, inside a term when any terms are set, and never on a closure."""
    terms = [(e.starts_on, e.ends_on) for e in entries if e.kind == "term"]
    closures = [(e.starts_on, e.ends_on) for e in entries if e.kind == "closure"]

    def is_school_day(day: date) -> bool:
        if day.weekday() >= 5:
            return False
        if terms and not any(start <= day <= end for start, end in terms):
            return False
        return not any(start <= day <= end for start, end in closures)

    return is_school_day


def add_calendar_entry(
    db: Session,
    classroom: Classroom,
    *,
    kind: str | None,
    starts_on: date | None,
    ends_on: date | None,
    label: str | None,
    actor: User,
    now: datetime,
    ip: str | None = None,
) -> SchoolCalendarEntry:
    if kind not in CALENDAR_KINDS:
        raise ValidationError("Choose a term or a closure.", "kind")
    if starts_on is None:
        raise ValidationError("Enter the first day, for example 2027-01-04.", "starts_on")
    if ends_on is None:
        raise ValidationError("Enter the last day, for example 2027-02-12.", "ends_on")
    if ends_on < starts_on:
        raise ValidationError("The last day cannot be before the first.", "ends_on")
    if (ends_on - starts_on).days > CALENDAR_SPAN_MAX_DAYS:
        raise ValidationError(
            f"Keep one entry to {CALENDAR_SPAN_MAX_DAYS} days; add terms one at a time.", "ends_on"
        )
    text = (label or "").strip()
    if len(text) > LABEL_MAX:
        raise ValidationError(f"Keep the name to {LABEL_MAX} characters.", "label")
    entry = SchoolCalendarEntry(
        classroom_id=classroom.id,
        kind=kind,
        starts_on=starts_on,
        ends_on=ends_on,
        label=text,
        created_by_id=actor.id,
    )
    db.add(entry)
    db.flush()
    audit.record(
        db,
        "school_calendar.added",
        actor=actor,
        object_type="classroom",
        object_id=classroom.id,
        ip_address=ip,
        kind=kind,
        starts_on=starts_on.isoformat(),
        ends_on=ends_on.isoformat(),
        label=text,
    )
    _rematerialise(db, _children_of(db, classroom), now=now)
    return entry


def remove_calendar_entry(
    db: Session,
    classroom: Classroom,
    entry_id: int,
    *,
    actor: User,
    now: datetime,
    ip: str | None = None,
) -> None:
    entry = get_scoped(db, SchoolCalendarEntry, entry_id)
    if entry is None or entry.classroom_id != classroom.id:
        raise NotFound("calendar entry")
    audit.record(
        db,
        "school_calendar.removed",
        actor=actor,
        object_type="classroom",
        object_id=classroom.id,
        ip_address=ip,
        kind=entry.kind,
        starts_on=entry.starts_on.isoformat(),
        ends_on=entry.ends_on.isoformat(),
        label=entry.label,
    )
    db.delete(entry)
    db.flush()
    _rematerialise(db, _children_of(db, classroom), now=now)
