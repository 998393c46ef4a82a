"""A child's full record as JSON, for a data-subject request: everything Cadence holds about
the child, in a fixed number of queries whatever the size of the record.

Dates are ISO-8601 (2026-11-23), instants UTC with a Z, local clock times "HH:MM" next to
their IANA zone. People are named (never by email); ids are Cadence's own, so the parts of
the record can be tied together (a log to its occurrence, an occurrence to its plan item).
The caller checks the actor may see the child's clinical record and writes the audit row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import String, and_, cast, or_, select
from sqlalchemy.orm import Session, lazyload

from routines.models import (
    AlertEpisode,
    Assessment,
    AwayPeriod,
    Child,
    Delivery,
    Framework,
    FrameworkItem,
    HistoryEntry,
    ItemRating,
    LogCorrection,
    Occurrence,
    Plan,
    PlanItem,
    PlanVersion,
    RoutineLog,
)
from tenants.models import AuditEvent, Membership, Organisation, User

FORMAT = "cadence.child-record"
VERSION = 1


def instant(value: datetime | None) -> str | None:
    """An instant in UTC with a Z."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def clock(value: time | None) -> str | None:
    return value.strftime("%H:%M") if value is not None else None


class _People:
    """Names for the user and membership ids a record mentions, fetched in one query."""

    def __init__(self) -> None:
        self.user_ids: set[int] = set()
        self.membership_ids: set[int] = set()
        self.by_user: dict[int, str] = {}
        self.by_membership: dict[int, str] = {}

    def want(self, users: Iterable[int | None] = (), memberships: Iterable[int | None] = ()):  # type: ignore[no-untyped-def]
        self.user_ids.update(u for u in users if u is not None)
        self.membership_ids.update(m for m in memberships if m is not None)

    def load(self, db: Session) -> None:
        if not self.user_ids and not self.membership_ids:
            return
        rows = db.execute(
            select(Membership.id, User.id, User.name)
            .join(User, Membership.user_id == User.id)
            .where(or_(Membership.id.in_(self.membership_ids), User.id.in_(self.user_ids)))
        )
        for membership_id, user_id, name in rows:
            self.by_membership[membership_id] = name
            self.by_user[user_id] = name

    def user(self, user_id: int | None) -> str | None:
        return self.by_user.get(user_id) if user_id is not None else None

    def member(self, membership_id: int | None) -> str | None:
        return self.by_membership.get(membership_id) if membership_id is not None else None


def _by(rows: Iterable[Any], key: str) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[getattr(row, key)].append(row)
    return grouped


def _audit_about(db: Session, child: Child) -> list[AuditEvent]:
    """Events whose object is the child, or whose detail names it (assessments, plans...)."""
    named = cast(AuditEvent.detail["child_id"].as_string(), String)
    return list(
        db.scalars(
            select(AuditEvent)
            .where(
                or_(
                    and_(AuditEvent.object_type == "child", AuditEvent.object_id == str(child.id)),
                    named == str(child.id),
                )
            )
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
        )
    )


def child_record(
    db: Session, child: Child, *, org: Organisation, actor: User, now: datetime
) -> dict[str, Any]:
    """Everything Cadence holds about `child` (inside the child's organisation)."""
    cid = child.id
    history = list(
        db.scalars(
            select(HistoryEntry)
            .where(HistoryEntry.child_id == cid)
            .order_by(HistoryEntry.period, HistoryEntry.position, HistoryEntry.id)
        )
    )
    assessment_rows = db.execute(
        select(Assessment, Framework.key, Framework.version, Framework.name)
        .join(Framework, Assessment.framework_id == Framework.id)
        .where(Assessment.child_id == cid)
        .options(lazyload(Assessment.ratings), lazyload(Assessment.framework))
        .order_by(Assessment.assessed_on, Assessment.id)
    ).all()
    ratings = db.execute(
        select(
            ItemRating.assessment_id,
            FrameworkItem.code,
            FrameworkItem.label,
            FrameworkItem.domain,
            ItemRating.score,
            ItemRating.note,
        )
        .join(FrameworkItem, ItemRating.item_id == FrameworkItem.id)
        .join(Assessment, ItemRating.assessment_id == Assessment.id)
        .where(Assessment.child_id == cid)
        .order_by(ItemRating.assessment_id, FrameworkItem.position)
    ).all()
    versions = list(
        db.scalars(
            select(PlanVersion)
            .join(Plan, PlanVersion.plan_id == Plan.id)
            .where(Plan.child_id == cid)
            .options(lazyload(PlanVersion.items))
            .order_by(PlanVersion.id)
        )
    )
    items = list(
        db.scalars(
            select(PlanItem)
            .join(PlanVersion, PlanItem.version_id == PlanVersion.id)
            .join(Plan, PlanVersion.plan_id == Plan.id)
            .where(Plan.child_id == cid)
            .order_by(PlanItem.version_id, PlanItem.position)
        )
    )
    occurrences = list(
        db.scalars(
            select(Occurrence)
            .where(Occurrence.child_id == cid)
            .order_by(Occurrence.due_at, Occurrence.id)
        )
    )
    logs = list(
        db.scalars(
            select(RoutineLog).where(RoutineLog.child_id == cid).order_by(RoutineLog.logged_at)
        )
    )
    corrections = list(
        db.scalars(
            select(LogCorrection)
            .join(RoutineLog, LogCorrection.log_id == RoutineLog.id)
            .where(RoutineLog.child_id == cid)
            .order_by(LogCorrection.corrected_at, LogCorrection.id)
        )
    )
    aways = list(
        db.scalars(
            select(AwayPeriod).where(AwayPeriod.child_id == cid).order_by(AwayPeriod.starts_at)
        )
    )
    episodes = list(
        db.scalars(
            select(AlertEpisode)
            .where(AlertEpisode.child_id == cid)
            .order_by(AlertEpisode.opened_at)
        )
    )
    deliveries = list(
        db.scalars(
            select(Delivery)
            .where(Delivery.child_id == cid)
            .order_by(Delivery.not_before, Delivery.id)
        )
    )
    events = _audit_about(db, child)

    people = _People()
    people.want(
        users=[child.created_by_id]
        + [h.created_by_id for h in history]
        + [a.created_by_id for a, *_ in assessment_rows]
        + [v.created_by_id for v in versions]
        + [v.published_by_id for v in versions]
        + [log.author_id for log in logs]
        + [c.corrected_by_id for c in corrections]
        + [a.created_by_id for a in aways]
        + [a.cancelled_by_id for a in aways]
        + [e.actor_id for e in events],
        memberships=[child.escalate_to_membership_id]
        + [i.assignee_membership_id for i in items]
        + [d.membership_id for d in deliveries],
    )
    people.load(db)

    ratings_of = _by(ratings, "assessment_id")
    items_of = _by(items, "version_id")
    corrections_of = _by(corrections, "log_id")
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": instant(now),
        "exported_by": {"name": actor.name, "email": actor.email},
        "organisation": {"slug": org.slug, "name": org.name, "time_zone": org.time_zone},
        "child": _child(child, people),
        "household": _household(child),
        "classroom": _classroom(child),
        "care_team": [
            {
                "name": member.membership.user.name,
                "team_role": member.team_role,
                "relationship_to_child": member.relationship_to_child,
                "added_at": instant(member.added_at),
            }
            for member in child.team
        ],
        "developmental_history": [_history(h, people) for h in history],
        "assessments": [
            _assessment(a, key, version, name, ratings_of.get(a.id, []), people)
            for a, key, version, name in assessment_rows
        ],
        "plan_versions": [_version(v, items_of.get(v.id, []), people) for v in versions],
        "occurrences": [_occurrence(o) for o in occurrences],
        "logs": [_log(log, corrections_of.get(log.id, []), people) for log in logs],
        "away_periods": [_away(a, people) for a in aways],
        "alert_episodes": [
            {
                "id": e.id,
                "kind": e.kind,
                "opened_at": instant(e.opened_at),
                "opened_value": e.opened_value,
                "closed_at": instant(e.closed_at),
            }
            for e in episodes
        ],
        "messages": [
            {
                "id": d.id,
                "kind": d.kind,
                "occurrence_id": d.occurrence_id,
                "to": people.member(d.membership_id),
                "channel": d.channel,
                "status": d.status,
                "not_before": instant(d.not_before),
                "sent_at": instant(d.sent_at),
            }
            for d in deliveries
        ],
        "audit_events": [
            {
                "occurred_at": instant(e.occurred_at),
                "action": e.action,
                "by": people.user(e.actor_id),
                "object_type": e.object_type,
                "object_id": e.object_id,
                "detail": e.detail,
            }
            for e in events
        ],
    }


def _child(child: Child, people: _People) -> dict[str, Any]:
    return {
        "id": child.id,
        "given_name": child.given_name,
        "family_name": child.family_name,
        "preferred_name": child.preferred_name,
        "pronouns": child.pronouns,
        "date_of_birth": day(child.date_of_birth),
        "created_at": instant(child.created_at),
        "created_by": people.user(child.created_by_id),
        "escalate_to": people.member(child.escalate_to_membership_id),
        "escalate_after_minutes": child.escalate_after_minutes,
    }


def _household(child: Child) -> dict[str, Any] | None:
    place = child.household
    if place is None:
        return None
    return {
        "id": place.id,
        "name": place.name,
        "time_zone": place.time_zone,
        "anchor_times": dict(place.anchor_times or {}),
    }


def _classroom(child: Child) -> dict[str, Any] | None:
    place = child.classroom
    if place is None:
        return None
    return {
        "id": place.id,
        "school_name": place.school_name,
        "name": place.name,
        "time_zone": place.time_zone,
        "anchor_times": dict(place.anchor_times or {}),
    }


def _history(entry: HistoryEntry, people: _People) -> dict[str, Any]:
    return {
        "id": entry.id,
        "period": entry.period,
        "entry_type": entry.entry_type,
        "adversity_kind": entry.adversity_kind,
        "severity": entry.severity,
        "certainty": entry.certainty,
        "relational_level": entry.relational_level,
        "note": entry.note,
        "created_at": instant(entry.created_at),
        "created_by": people.user(entry.created_by_id),
    }


def _assessment(
    assessment: Assessment,
    key: str,
    version: int,
    name: str,
    ratings: list[Any],
    people: _People,
) -> dict[str, Any]:
    return {
        "id": assessment.id,
        "status": assessment.status,
        "assessed_on": day(assessment.assessed_on),
        "age_months": assessment.age_months,
        "framework": {"key": key, "version": version, "name": name},
        "notes": assessment.notes,
        "created_at": instant(assessment.created_at),
        "created_by": people.user(assessment.created_by_id),
        "completed_at": instant(assessment.completed_at),
        "ratings": [
            {
                "item_code": r.code,
                "item_label": r.label,
                "domain": r.domain,
                "score": r.score,
                "note": r.note,
            }
            for r in ratings
        ],
    }


def _version(version: PlanVersion, items: list[PlanItem], people: _People) -> dict[str, Any]:
    return {
        "id": version.id,
        "number": version.number,
        "status": version.status,
        "effective_from": day(version.effective_from),
        "assessment_id": version.assessment_id,
        "share_map": version.share_map,
        "acknowledged_warnings": version.acknowledged_warnings,
        "acknowledgement_reason": version.acknowledgement_reason,
        "created_at": instant(version.created_at),
        "created_by": people.user(version.created_by_id),
        "published_at": instant(version.published_at),
        "published_by": people.user(version.published_by_id),
        "items": [
            {
                "id": item.id,
                "position": item.position,
                "activity": item.activity.name,
                "domain": item.domain,
                "assignee": item.assignee,
                "assignee_name": people.member(item.assignee_membership_id),
                "frequency": item.frequency,
                "minutes": item.minutes,
                "start_date": day(item.start_date),
                "end_date": day(item.end_date),
                "notes": item.notes,
            }
            for item in items
        ],
    }


def _occurrence(occurrence: Occurrence) -> dict[str, Any]:
    return {
        "id": occurrence.id,
        "plan_item_id": occurrence.plan_item_id,
        "activity": occurrence.activity.name,
        "side": occurrence.side,
        "assignee": occurrence.assignee,
        "local_date": day(occurrence.local_date),
        "local_time": clock(occurrence.local_time),
        "time_zone": occurrence.time_zone,
        "due_at": instant(occurrence.due_at),
        "minutes": occurrence.minutes,
        "status": occurrence.status,
        "excused_reason": occurrence.excused_reason,
        "away_period_id": occurrence.away_id,
    }


def _log(log: RoutineLog, corrections: list[LogCorrection], people: _People) -> dict[str, Any]:
    return {
        "id": log.id,
        "occurrence_id": log.occurrence_id,
        "status": log.status,
        "reason": log.reason,
        "minutes": log.minutes,
        "state_before": log.state_before,
        "state_after": log.state_after,
        "enjoyment": log.enjoyment,
        "note": log.note,
        "source": log.source,
        "logged_by": people.user(log.author_id),
        "logged_at": instant(log.logged_at),
        "created_at": instant(log.created_at),
        "updated_at": instant(log.updated_at),
        "corrections": [
            {
                "corrected_at": instant(c.corrected_at),
                "corrected_by": people.user(c.corrected_by_id),
                "before": c.before,
                "after": c.after,
            }
            for c in corrections
        ],
    }


def _away(away: AwayPeriod, people: _People) -> dict[str, Any]:
    return {
        "id": away.id,
        "kind": away.kind,
        "starts_at": instant(away.starts_at),
        "ends_at": instant(away.ends_at),
        "time_zone": away.time_zone,
        "note": away.note,
        "created_at": instant(away.created_at),
        "created_by": people.user(away.created_by_id),
        "cancelled_at": instant(away.cancelled_at),
        "cancelled_by": people.user(away.cancelled_by_id),
    }
