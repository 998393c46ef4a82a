"""The API's JSON shapes (described in portal/api/openapi.py; keep the two in step).

Instants are written in UTC with a Z; local times with the offset of their zone, so a
client never has to know the zone's rules to show one."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from routines.access import logging_side
from routines.logs import LogResult, can_correct
from routines.map_svg import domain_label
from routines.metrics import DOMAINS, MapResult, at_least
from routines.models import (
    SIDE_OF_ASSIGNEE,
    Assessment,
    Child,
    LogCorrection,
    Occurrence,
    PlanItem,
    PlanVersion,
    RoutineLog,
)
from routines.rollups import Breakdown, Figures
from tenants.models import ApiToken, Membership, Organisation, User


def instant(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def clock(value: time) -> str:
    return value.strftime("%H:%M")


def user(person: User) -> dict[str, Any]:
    return {
        "id": person.id,
        "name": person.name,
        "email": person.email,
        "time_zone": person.time_zone,
    }


def organisation(org: Organisation) -> dict[str, Any]:
    return {"slug": org.slug, "name": org.name, "time_zone": org.time_zone}


def token(row: ApiToken) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "created_at": instant(row.created_at),
        "expires_at": instant(row.expires_at),
        "last_used_at": instant(row.last_used_at),
    }


def me(row: ApiToken, membership: Membership, org: Organisation) -> dict[str, Any]:
    return {
        "user": user(row.user),
        "organisation": organisation(org),
        "membership_id": membership.id,
        "roles": [role.value for role in membership.roles],
        "token": token(row),
    }


def home_time_zone(kid: Child, org: Organisation) -> str:
    return kid.household.time_zone if kid.household is not None else org.time_zone


def school_time_zone(kid: Child, org: Organisation) -> str:
    return kid.classroom.time_zone if kid.classroom is not None else org.time_zone


def child(kid: Child, membership: Membership, org: Organisation) -> dict[str, Any]:
    """What a carer or teacher needs to find a child: no birth date, no clinical record."""
    return {
        "id": kid.id,
        "name": kid.display_name,
        "time_zone": home_time_zone(kid, org),
        "household": kid.household.name if kid.household is not None else None,
        "classroom": kid.classroom.label if kid.classroom is not None else None,
        "logs_side": logging_side(membership, kid),
    }


def plan_item(item: PlanItem, kid: Child, org: Organisation) -> dict[str, Any]:
    side = SIDE_OF_ASSIGNEE[item.assignee]
    zone = home_time_zone(kid, org) if side == "home" else school_time_zone(kid, org)
    return {
        "id": item.id,
        "activity": {
            "id": item.activity.id,
            "name": item.activity.name,
            "instructions": item.activity.instructions,
        },
        "domain": item.domain,
        "rs": list(item.activity.rs or []),
        "minutes": item.minutes,
        "assignee": item.assignee,
        "side": side,
        "notes": item.notes or "",
        "schedule": {
            "frequency": item.frequency,
            "time_zone": zone,
            "start_date": day(item.start_date),
            "end_date": day(item.end_date),
        },
    }


def plan(kid: Child, version: PlanVersion, org: Organisation) -> dict[str, Any]:
    return {
        "child_id": kid.id,
        "version": {
            "id": version.id,
            "number": version.number,
            "effective_from": day(version.effective_from),
            "published_at": instant(version.published_at),
        },
        "activities": [plan_item(item, kid, org) for item in version.items],
    }


def log(row: RoutineLog, actor: User, now: datetime) -> dict[str, Any]:
    return {
        "id": row.id,
        "client_uuid": str(row.client_uuid),
        "occurrence_id": row.occurrence_id,
        "child_id": row.child_id,
        "status": row.status,
        "reason": row.reason,
        "minutes": row.minutes,
        "state_before": row.state_before,
        "state_after": row.state_after,
        "enjoyment": row.enjoyment,
        "note": row.note or "",
        "source": row.source,
        "logged_at": instant(row.logged_at),
        "created_at": instant(row.created_at),
        "updated_at": instant(row.updated_at),
        "author_id": row.author_id,
        "can_correct": can_correct(row, actor, now),
    }


def occurrence(row: Occurrence, actor: User, now: datetime) -> dict[str, Any]:
    return {
        "id": row.id,
        "child_id": row.child_id,
        "activity": {
            "id": row.activity.id,
            "name": row.activity.name,
            "minutes": row.activity.typical_minutes,
            "instructions": row.activity.instructions,
        },
        "side": row.side,
        "assignee": row.assignee,
        "local_date": day(row.local_date),
        "local_time": clock(row.local_time),
        "time_zone": row.time_zone,
        "due_utc": instant(row.due_at),
        "due_local": row.due_at.astimezone(ZoneInfo(row.time_zone)).isoformat(timespec="seconds"),
        "minutes": row.minutes,
        "status": row.status,
        "log": log(row.log, actor, now) if row.log is not None else None,
    }


ERROR_CODES = {403: "forbidden", 404: "not_found", 409: "conflict", 422: "invalid"}


def log_result(result: LogResult, actor: User, now: datetime) -> dict[str, Any]:
    error = None
    if not result.ok:
        error = {
            "code": ERROR_CODES.get(result.code, "refused"),
            "message": result.message or "This log was not stored.",
            "field": result.field,
        }
    return {
        "client_uuid": result.client_uuid,
        "status": result.code,
        "outcome": result.outcome,
        "log": log(result.log, actor, now) if result.log is not None else None,
        "error": error,
    }


def correction(row: LogCorrection) -> dict[str, Any]:
    return {
        "corrected_at": instant(row.corrected_at),
        "corrected_by_id": row.corrected_by_id,
        "before": row.before,
        "after": row.after,
    }


# --- adherence and assessments --------------------------------------------------------------

OUTCOMES = ("done", "partly", "skipped", "missed", "excused", "pending")


def ratio(value: Fraction | None) -> float | None:
    """An exact adherence as a number from 0 to 1, rounded to 4 places (null: nothing
    counted)."""
    return None if value is None else float(round(value, 4))


def _domain_order(domain: str) -> tuple[int, str]:
    return (DOMAINS.index(domain) if domain in DOMAINS else len(DOMAINS), domain)


def figures(found: Figures) -> dict[str, Any]:
    return {
        "adherence": ratio(found.adherence),
        "counts": {outcome: getattr(found, outcome) for outcome in OUTCOMES},
        "dose_minutes": found.dose_minutes,
        "planned_minutes": found.planned_minutes,
    }


def adherence(
    kid: Child, result: Breakdown, names: dict[int, str], threshold: float
) -> dict[str, Any]:
    """A child's adherence and dose between two dates, overall, per activity, per domain and
    per domain and week."""
    overall = result.overall
    activities = sorted(
        result.by_activity.items(), key=lambda pair: (names.get(pair[0], "").lower(), pair[0])
    )
    weeks = sorted(
        result.by_domain_week.items(), key=lambda pair: (pair[0][1], _domain_order(pair[0][0]))
    )
    return {
        "child_id": kid.id,
        "from": day(result.date_from),
        "to": day(result.date_to),
        **figures(overall),
        "threshold": threshold,
        "adherent": None if overall.adherence is None else at_least(overall.adherence, threshold),
        "by_activity": [
            {"activity_id": activity_id, "name": names.get(activity_id, ""), **figures(found)}
            for activity_id, found in activities
        ],
        "by_domain": [
            {"domain": domain, "label": domain_label(domain), **figures(result.by_domain[domain])}
            for domain in sorted(result.by_domain, key=_domain_order)
        ],
        "dose_per_week": [
            {"week_start": day(monday), "domain": domain, "minutes": found.dose_minutes}
            for (domain, monday), found in weeks
        ],
    }


def assessment(row: Assessment, result: MapResult) -> dict[str, Any]:
    """A complete assessment with its map: per domain, bottom-up, and every item's score."""
    framework = row.framework
    scores = {r.item_id: r.score for r in row.ratings}
    return {
        "id": row.id,
        "assessed_on": day(row.assessed_on),
        "age_months": row.age_months,
        "framework": {"key": framework.key, "version": framework.version, "name": framework.name},
        "age_band": {"code": result.age_band.code, "label": result.age_band.label},
        "domains": [
            {
                "domain": d.domain,
                "label": domain_label(d.domain),
                "score": d.score,
                "expected": d.expected,
                "percent": round(d.percent, 2),
                "band": d.band,
                "developmental_age": None
                if d.developmental_band is None
                else {"code": d.developmental_band.code, "label": d.developmental_band.label},
            }
            for d in result.domains
        ],
        "items": [
            {"code": item.code, "domain": item.domain, "score": scores[item.id]}
            for item in framework.items  # in the framework's order
            if item.id in scores
        ],
    }
