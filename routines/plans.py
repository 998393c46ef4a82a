"""A child's sequenced plan: the one draft, proposing, editing, checking and publishing.

A child has one Plan, the lineage of its versions. At most one version is a draft; the
clinician edits it (a new draft starts as a copy of the latest published version) and
publishes it as version N, effective from a chosen date. A published version never
changes: a before_flush guard and a statement guard below refuse it. Version N-1 stays
in effect until N's effective date, and is superseded from then on (computed, since
N-1 itself cannot be written). Every function acts in the current tenant; the caller
has checked access with routines.access. Operations flush, never commit.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import event, func, inspect, select
from sqlalchemy.orm import ORMExecuteState, Session

from routines import assessments, occurrences
from routines.content import DOMAINS as DOMAIN_LABELS
from routines.models import (
    ANCHORS,
    ASSIGNEES,
    Activity,
    Assessment,
    Child,
    Plan,
    PlanItem,
    PlanVersion,
    TeamRole,
)
from routines.plan_words import EVERY_DAY
from routines.sequencing import ActivityInfo, PlannedItem, Warning, check_plan, propose_plan
from tenants import audit
from tenants.db import utcnow
from tenants.errors import NotFound, ValidationError
from tenants.isolation import get_scoped
from tenants.models import Organisation, User

logger = logging.getLogger(__name__)

DRAFT = "draft"
PUBLISHED = "published"

MINUTES_MIN, MINUTES_MAX = 1, 240
PER_DAY_MAX = 12
NOTES_MAX = 2000
REASON_MAX = 2000
DEFAULT_ANCHOR = "after_school"
MODES = {"times": "At set times", "anchors": "At points in the day", "spread": "Spread out"}
TEACHER_ROLES = (TeamRole.TEACHER, TeamRole.TEACHING_ASSISTANT)
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")

PUBLISHED_MESSAGE = "A published version never changes: edit the draft and publish a new version."


class PublishedPlanIsImmutable(RuntimeError):
    """Something tried to change, add to or delete a published plan version."""


# --- the immutability guard ----------------------------------------------------------------


def _was_published(version: PlanVersion) -> bool:
    """The status as stored before this flush (a version being published now was a draft)."""
    history = inspect(version).attrs.status.history
    if history.deleted:
        return history.deleted[0] == PUBLISHED
    if inspect(version).pending:
        return False
    return version.status == PUBLISHED


def _item_version_ids(item: PlanItem) -> set[int]:
    state = inspect(item)
    ids: set[int] = set()
    for attr in ("version_id",):
        history = state.attrs[attr].history
        ids.update(v for v in (*history.deleted, *history.unchanged, *history.added) if v)
    for version in (*state.attrs.version.history.deleted, *state.attrs.version.history.unchanged):
        if version is not None and version.id is not None:
            ids.add(version.id)
    return ids


@event.listens_for(Session, "before_flush")
def _refuse_published_changes(session: Session, flush_context: Any, instances: Any) -> None:
    with session.no_autoflush:
        for obj in list(session.dirty) + list(session.deleted):
            if (
                isinstance(obj, PlanVersion)
                and (obj in session.deleted or session.is_modified(obj))
                and _was_published(obj)
            ):
                raise PublishedPlanIsImmutable(PUBLISHED_MESSAGE)
        for obj in list(session.new) + list(session.dirty) + list(session.deleted):
            if not isinstance(obj, PlanItem):
                continue
            if obj in session.dirty and not session.is_modified(obj):
                continue
            for version_id in _item_version_ids(obj):
                version = session.get(PlanVersion, version_id)
                if version is not None and _was_published(version):
                    raise PublishedPlanIsImmutable(PUBLISHED_MESSAGE)
            version = obj.version
            if version is not None and _was_published(version):
                raise PublishedPlanIsImmutable(PUBLISHED_MESSAGE)


@event.listens_for(Session, "do_orm_execute")
def _refuse_plan_statements(state: ORMExecuteState) -> None:
    """Bulk UPDATE/DELETE statements skip the flush guard: plans are changed object by object."""
    mapper = state.bind_mapper
    if (
        (state.is_update or state.is_delete)
        and mapper is not None
        and mapper.class_ in (PlanItem, PlanVersion)
    ):
        raise PublishedPlanIsImmutable("plans are changed through the ORM, one object at a time")


# --- queries -------------------------------------------------------------------------------


def get_plan(db: Session, child: Child) -> Plan | None:
    return db.scalar(select(Plan).where(Plan.child_id == child.id))


def current_draft(db: Session, child: Child) -> PlanVersion | None:
    return db.scalar(
        select(PlanVersion)
        .join(Plan, PlanVersion.plan_id == Plan.id)
        .where(Plan.child_id == child.id, PlanVersion.status == DRAFT)
        .order_by(PlanVersion.id.desc())
        .limit(1)
    )


def published_versions(db: Session, child: Child) -> list[PlanVersion]:
    """Oldest first (version 1, 2, ...)."""
    return list(
        db.scalars(
            select(PlanVersion)
            .join(Plan, PlanVersion.plan_id == Plan.id)
            .where(Plan.child_id == child.id, PlanVersion.status == PUBLISHED)
            .order_by(PlanVersion.number)
        )
    )


def version_in_effect(db: Session, child: Child, on: date) -> PlanVersion | None:
    """The published version with the latest effective date on or before `on`: version N-1
    stays in effect until N's effective date."""
    return db.scalar(
        select(PlanVersion)
        .join(Plan, PlanVersion.plan_id == Plan.id)
        .where(
            Plan.child_id == child.id,
            PlanVersion.status == PUBLISHED,
            PlanVersion.effective_from <= on,
        )
        .order_by(PlanVersion.effective_from.desc(), PlanVersion.number.desc())
        .limit(1)
    )


def in_effect_among(versions: list[PlanVersion], on: date) -> PlanVersion | None:
    """version_in_effect, from versions already read: the published version with the latest
    effective date on or before `on` (the higher number on the same date)."""
    effective = [
        v
        for v in versions
        if v.status == PUBLISHED and v.effective_from is not None and v.effective_from <= on
    ]
    return max(effective, key=lambda v: (v.effective_from, v.number or 0), default=None)


def superseded_on(version: PlanVersion, versions: list[PlanVersion]) -> date | None:
    """The date a later version takes over from this one, if any."""
    later = [
        v.effective_from
        for v in versions
        if v.number is not None
        and version.number is not None
        and v.number > version.number
        and v.effective_from is not None
    ]
    return min(later) if later else None


def get_version(db: Session, child: Child, version_id: int) -> PlanVersion:
    """A version (draft or published) of this child's plan; NotFound otherwise."""
    version = get_scoped(db, PlanVersion, version_id)
    if version is None or version.plan.child_id != child.id:
        raise NotFound("plan version")
    return version


def get_item(db: Session, child: Child, item_id: int) -> PlanItem:
    """An item of any version of this child's plan; NotFound otherwise."""
    item = get_scoped(db, PlanItem, item_id)
    if item is None or item.version.plan.child_id != (child.id):
        raise NotFound("plan item")
    return item


# --- the draft -----------------------------------------------------------------------------


def _copy_item(item: PlanItem, position: int) -> PlanItem:
    return PlanItem(
        activity_id=item.activity_id,
        position=position,
        domain=item.domain,
        assignee=item.assignee,
        assignee_membership_id=item.assignee_membership_id,
        frequency=dict(item.frequency),
        minutes=item.minutes,
        start_date=item.start_date,
        end_date=item.end_date,
        notes=item.notes,
    )


def draft_for(db: Session, child: Child, *, actor: User, ip: str | None = None) -> PlanVersion:
    """The child's one draft, started (as a copy of the latest published version) if none."""
    draft = current_draft(db, child)
    if draft is not None:
        return draft
    plan = get_plan(db, child)
    if plan is None:
        plan = Plan(child_id=child.id)
        db.add(plan)
        db.flush()
    published = published_versions(db, child)
    draft = PlanVersion(plan_id=plan.id, status=DRAFT, created_by_id=actor.id)
    if published:
        draft.share_map = published[-1].share_map
        for position, item in enumerate(published[-1].items, start=1):
            draft.items.append(_copy_item(item, position))
    db.add(draft)
    db.flush()
    audit.record(
        db,
        "plan.draft_started",
        actor=actor,
        object_type="plan_version",
        object_id=draft.id,
        ip_address=ip,
        child_id=child.id,
        copied_from=published[-1].number if published else None,
    )
    return draft


def _refuse_if_published(version: PlanVersion) -> None:
    if version.status != DRAFT:
        raise ValidationError(PUBLISHED_MESSAGE)


def activity_info(activity: Activity) -> ActivityInfo:
    return ActivityInfo(
        id=activity.id,
        name=activity.name,
        domains=tuple(activity.domains),
        rs=tuple(activity.rs),
        typical_minutes=activity.typical_minutes,
        dev_age_min_months=activity.dev_age_min_months,
        dev_age_max_months=activity.dev_age_max_months,
        regulating=activity.regulating,
        retired=activity.retired_at is not None,
    )


def _renumber(version: PlanVersion) -> None:
    for position, item in enumerate(sorted(version.items, key=lambda i: i.position), start=1):
        if item.position != position:
            item.position = position


def propose_into_draft(
    db: Session,
    draft: PlanVersion,
    child: Child,
    org: Organisation,
    *,
    actor: User,
    today: date,
    ip: str | None = None,
) -> list[PlanItem]:
    """Add Cadence's bottom-up proposal from the latest completed assessment to the draft:
    each proposed activity not already in it for that domain, for the household, every
    day after school, from today. Returns the items added."""
    _refuse_if_published(draft)
    assessment = assessments.latest_completed(db, child)
    if assessment is None:
        raise ValidationError("Complete an assessment first: the proposal is built from its map.")
    result = assessments.map_for(assessment, org)
    library = {a.id: a for a in db.scalars(select(Activity).where(Activity.retired_at.is_(None)))}
    proposal = propose_plan(result, [activity_info(a) for a in library.values()])
    present = {(i.activity_id, i.domain) for i in draft.items}
    position = max((i.position for i in draft.items), default=0)
    added: list[PlanItem] = []
    for planned in proposal:
        key = (int(planned.activity.id), planned.domain)
        if key in present:
            continue
        position += 1
        item = PlanItem(
            activity=library[key[0]],
            position=position,
            domain=planned.domain,
            assignee="household",
            frequency={"days": list(EVERY_DAY), "mode": "anchors", "anchors": [DEFAULT_ANCHOR]},
            minutes=max(MINUTES_MIN, min(MINUTES_MAX, planned.minutes)),
            start_date=today,
            notes="",
        )
        draft.items.append(item)
        present.add(key)
        added.append(item)
    db.flush()
    audit.record(
        db,
        "plan.proposed",
        actor=actor,
        object_type="plan_version",
        object_id=draft.id,
        ip_address=ip,
        child_id=child.id,
        assessment_id=assessment.id,
        added=[i.activity.name for i in added],
    )
    return added


# --- items ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemDetails:
    """What a clinician sets for one planned activity (as entered; checked on use)."""

    domain: str | None
    assignee: str | None
    minutes: int | None
    start_date: date | None
    days: list[int] = field(default_factory=list)
    mode: str | None = None
    times: list[str] = field(default_factory=list)
    anchors: list[str] = field(default_factory=list)
    spread_count: int | None = None
    spread_from: str | None = None
    spread_to: str | None = None
    end_date: date | None = None
    assignee_membership_id: int | None = None
    notes: str = ""


def parse_times(text: str | None) -> list[str]:
    """ "07:30, 15:45" -> ["07:30", "15:45"] (unchecked; check_item checks them)."""
    return [part.strip() for part in re.split(r"[,\s]+", text or "") if part.strip()]


def _check_time(value: str | None, field_name: str, label: str) -> str:
    value = (value or "").strip()
    if not _TIME.match(value):
        raise ValidationError(f"Give {label} as a 24-hour time, for example 09:00.", field_name)
    return value


def _check_frequency(details: ItemDetails) -> dict[str, Any]:
    days = details.days
    if not days:
        raise ValidationError("Choose at least one day of the week.", "days")
    if any(isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 6 for d in days):
        raise ValidationError("Choose days from Monday to Sunday.", "days")
    frequency: dict[str, Any] = {"days": sorted(set(days)), "mode": details.mode}
    if details.mode == "times":
        if not details.times:
            raise ValidationError("Give at least one time, for example 07:30, 15:45.", "times")
        times = sorted({_check_time(t, "times", "each time") for t in details.times})
        if len(times) > PER_DAY_MAX:
            raise ValidationError(f"Give at most {PER_DAY_MAX} times a day.", "times")
        frequency["times"] = times
    elif details.mode == "anchors":
        if not details.anchors:
            raise ValidationError("Choose at least one point in the day.", "anchors")
        if any(a not in ANCHORS for a in details.anchors):
            raise ValidationError(
                "Choose points in the day from: " + ", ".join(ANCHORS.values()) + ".", "anchors"
            )
        frequency["anchors"] = [a for a in ANCHORS if a in details.anchors]
    elif details.mode == "spread":
        count = details.spread_count
        if count is None or isinstance(count, bool) or not 1 <= count <= PER_DAY_MAX:
            raise ValidationError(
                f"Give how many times a day, from 1 to {PER_DAY_MAX}.", "spread_count"
            )
        start = _check_time(details.spread_from, "spread_from", "the first time")
        end = _check_time(details.spread_to, "spread_to", "the last time")
        if end <= start:
            raise ValidationError("The last time must be after the first.", "spread_to")
        frequency["spread"] = {"count": count, "from": start, "to": end}
    else:
        raise ValidationError(
            "Choose how often: at set times, at points in the day, or spread out.", "mode"
        )
    return frequency


def _check_assignee(child: Child, details: ItemDetails) -> int | None:
    assignee = details.assignee
    if assignee not in ASSIGNEES:
        raise ValidationError("Choose who does it.", "assignee")
    if assignee in ("household", "classroom"):
        if assignee == "classroom" and child.classroom_id is None:
            raise ValidationError(
                "The child has no class recorded: choose someone else, or add the class.",
                "assignee",
            )
        return None
    roles = (TeamRole.CARER,) if assignee == "carer" else TEACHER_ROLES
    member = next(
        (
            m
            for m in child.team
            if m.membership_id == details.assignee_membership_id and m.role in roles
        ),
        None,
    )
    if member is None:
        who = "carer" if assignee == "carer" else "teacher"
        raise ValidationError(f"Choose a {who} on the child's care team.", "assignee_membership_id")
    return member.membership_id


def check_item(child: Child, details: ItemDetails) -> dict[str, Any]:
    """The item's stored fields, checked; ValidationError names the field at fault."""
    if details.domain not in DOMAIN_LABELS:
        raise ValidationError("Choose the domain this activity works on.", "domain")
    membership_id = _check_assignee(child, details)
    frequency = _check_frequency(details)
    minutes = details.minutes
    if minutes is None or isinstance(minutes, bool) or not MINUTES_MIN <= minutes <= MINUTES_MAX:
        raise ValidationError(
            f"Give the minutes per dose as a whole number from {MINUTES_MIN} to {MINUTES_MAX}.",
            "minutes",
        )
    if details.start_date is None:
        raise ValidationError("Enter the start date, for example 2026-12-01.", "start_date")
    if details.end_date is not None and details.end_date < details.start_date:
        raise ValidationError("The end date cannot be before the start date.", "end_date")
    notes = (details.notes or "").strip()
    if len(notes) > NOTES_MAX:
        raise ValidationError(f"Keep the notes to {NOTES_MAX} characters.", "notes")
    return {
        "domain": details.domain,
        "assignee": details.assignee,
        "assignee_membership_id": membership_id,
        "frequency": frequency,
        "minutes": minutes,
        "start_date": details.start_date,
        "end_date": details.end_date,
        "notes": notes,
    }


def _usable_activity(db: Session, activity_id: int | None, domain: str | None) -> Activity:
    activity = get_scoped(db, Activity, activity_id) if activity_id is not None else None
    if activity is None or activity.retired_at is not None:
        raise ValidationError("Choose an activity from the library.", "activity_id")
    if domain in DOMAIN_LABELS and domain not in activity.domains:
        names = ", ".join(DOMAIN_LABELS[d] for d in activity.domains if d in DOMAIN_LABELS)
        raise ValidationError(f"{activity.name} works on: {names}.", "domain")
    return activity


def add_item(
    db: Session,
    draft: PlanVersion,
    child: Child,
    activity_id: int | None,
    details: ItemDetails,
    *,
    actor: User,
    ip: str | None = None,
) -> PlanItem:
    _refuse_if_published(draft)
    activity = _usable_activity(db, activity_id, details.domain)
    values = check_item(child, details)
    item = PlanItem(
        activity=activity,
        position=max((i.position for i in draft.items), default=0) + 1,
        **values,
    )
    draft.items.append(item)
    db.flush()
    audit.record(
        db,
        "plan.item_added",
        actor=actor,
        object_type="plan_item",
        object_id=item.id,
        ip_address=ip,
        child_id=child.id,
        version_id=draft.id,
        activity=activity.name,
        domain=item.domain,
    )
    return item


def update_item(
    db: Session,
    item: PlanItem,
    child: Child,
    details: ItemDetails,
    *,
    actor: User,
    ip: str | None = None,
) -> list[str]:
    """Change a draft item; returns the names of the fields that changed."""
    _refuse_if_published(item.version)
    if details.domain in DOMAIN_LABELS and details.domain not in item.activity.domains:
        _usable_activity(db, item.activity_id, details.domain)
    values = check_item(child, details)
    changed = [name for name, value in values.items() if getattr(item, name) != value]
    for name in changed:
        setattr(item, name, values[name])
    db.flush()
    audit.record(
        db,
        "plan.item_changed",
        actor=actor,
        object_type="plan_item",
        object_id=item.id,
        ip_address=ip,
        child_id=child.id,
        version_id=item.version_id,
        changed=changed,
    )
    return changed


def remove_item(
    db: Session, item: PlanItem, child: Child, *, actor: User, ip: str | None = None
) -> None:
    version = item.version
    _refuse_if_published(version)
    item_id, name = item.id, item.activity.name
    version.items.remove(item)
    _renumber(version)
    db.flush()
    audit.record(
        db,
        "plan.item_removed",
        actor=actor,
        object_type="plan_item",
        object_id=item_id,
        ip_address=ip,
        child_id=child.id,
        version_id=version.id,
        activity=name,
    )


def move_item(
    db: Session,
    item: PlanItem,
    child: Child,
    direction: str | None,
    *,
    actor: User,
    ip: str | None = None,
) -> bool:
    """Swap with the neighbour above ("up") or below ("down"); False at either end."""
    version = item.version
    _refuse_if_published(version)
    if direction not in ("up", "down"):
        raise ValidationError("Move the activity up or down.", "direction")
    ordered = sorted(version.items, key=lambda i: i.position)
    index = ordered.index(item)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(ordered):
        return False
    ordered[index], ordered[other] = ordered[other], ordered[index]
    for position, each in enumerate(ordered, start=1):
        if each.position != position:
            each.position = position
    db.flush()
    audit.record(
        db,
        "plan.item_moved",
        actor=actor,
        object_type="plan_item",
        object_id=item.id,
        ip_address=ip,
        child_id=child.id,
        version_id=version.id,
        direction=direction,
    )
    return True


# --- checking and publishing ---------------------------------------------------------------


def doses_per_week(frequency: dict[str, Any]) -> int:
    days = len(frequency.get("days") or [])
    mode = frequency.get("mode")
    if mode == "times":
        per_day = len(frequency.get("times") or [])
    elif mode == "anchors":
        per_day = len(frequency.get("anchors") or [])
    elif mode == "spread":
        per_day = int((frequency.get("spread") or {}).get("count") or 0)
    else:
        per_day = 0
    return days * per_day


def planned_items(version: PlanVersion) -> list[PlannedItem]:
    return [
        PlannedItem(
            activity_info(item.activity),
            item.domain,
            doses_per_week(item.frequency),
            item.minutes,
        )
        for item in version.items
    ]


def warnings_for(
    db: Session, version: PlanVersion, child: Child, org: Organisation
) -> list[Warning]:
    """sequencing.check_plan on the latest completed assessment's map (none without one)."""
    assessment = assessments.latest_completed(db, child)
    if assessment is None:
        return []
    return check_plan(assessments.map_for(assessment, org), planned_items(version))


def publish(
    db: Session,
    draft: PlanVersion,
    child: Child,
    *,
    effective_from: date | None,
    reason: str | None,
    acknowledged: bool,
    share_map: bool = False,
    actor: User,
    org: Organisation,
    ip: str | None = None,
) -> PlanVersion:
    """Publish the draft as version N (max + 1), effective from a date on or after the
    assessment it rests on and after the version it supersedes. Warnings need an explicit
    acknowledgement and a reason, both kept with the version."""
    _refuse_if_published(draft)
    assessment = assessments.latest_completed(db, child)
    if assessment is None:
        raise ValidationError("Complete an assessment before publishing a plan.")
    if not draft.items:
        raise ValidationError("Add at least one activity before publishing.")
    if effective_from is None:
        raise ValidationError("Enter the date the plan takes effect.", "effective_from")
    if effective_from < assessment.assessed_on:
        raise ValidationError(
            "The plan cannot take effect before the assessment it rests on "
            f"({assessment.assessed_on.isoformat()}).",
            "effective_from",
        )
    published = published_versions(db, child)
    if (
        published
        and published[-1].effective_from
        and effective_from < (published[-1].effective_from)
    ):
        raise ValidationError(
            f"Version {published[-1].number} takes effect on "
            f"{published[-1].effective_from.isoformat()}: the new version cannot take effect "
            "before it.",
            "effective_from",
        )
    warnings = check_plan(assessments.map_for(assessment, org), planned_items(draft))
    text = (reason or "").strip()
    if len(text) > REASON_MAX:
        raise ValidationError(f"Keep the reason to {REASON_MAX} characters.", "reason")
    if warnings:
        if not acknowledged:
            raise ValidationError(
                "The plan has sequencing warnings: tick the box to publish past them.",
                "acknowledged",
            )
        if not text:
            raise ValidationError(
                "Give the reason for publishing past the warnings; it is kept with the version.",
                "reason",
            )
    number = (
        db.scalar(select(func.max(PlanVersion.number)).where(PlanVersion.plan_id == draft.plan_id))
        or 0
    ) + 1
    draft.number = number
    draft.status = PUBLISHED
    draft.assessment_id = assessment.id
    draft.effective_from = effective_from
    draft.share_map = bool(share_map)
    draft.acknowledged_warnings = [
        {"code": w.code, "message": w.message, "activity": w.activity} for w in warnings
    ]
    draft.acknowledgement_reason = text if warnings else None
    draft.published_at = utcnow()
    draft.published_by_id = actor.id
    db.flush()
    audit.record(
        db,
        "plan.published",
        actor=actor,
        object_type="plan_version",
        object_id=draft.id,
        ip_address=ip,
        child_id=child.id,
        number=number,
        effective_from=effective_from.isoformat(),
        assessment_id=assessment.id,
        warnings=[w.code for w in warnings],
        reason=draft.acknowledgement_reason,
    )
    # The plan becomes the daily routine: occurrences for the horizon, reconciled with
    # those an earlier version made (see routines.occurrences).
    occurrences.materialise(db, child, now=utcnow())
    return draft


# --- audit of reads ------------------------------------------------------------------------


def record_view(
    db: Session,
    child: Child,
    *,
    actor: User,
    page: str,
    version: PlanVersion | None = None,
    ip: str | None = None,
    **detail: Any,
) -> None:
    audit.record(
        db,
        "plan.viewed",
        actor=actor,
        object_type="plan_version" if version is not None else "child",
        object_id=version.id if version is not None else child.id,
        ip_address=ip,
        child_id=child.id,
        page=page,
        **detail,
    )


def assessment_of(db: Session, version: PlanVersion) -> Assessment | None:
    return db.get(Assessment, version.assessment_id) if version.assessment_id else None
