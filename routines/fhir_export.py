"""A child's plan and logs as a FHIR R4 Bundle (type "collection"): a Patient, the CarePlan
of the plan version in effect (none without a published plan in effect), and one Observation
per log, at the routine's local due time, based on the CarePlan when its routine is one of
that version's (a log of an earlier version's routine stands on its own).

Every activity's Timing carries the time zone its clock times are in, with the standard
extension (the household's zone for home routines, the classroom's for school routines):
"07:30" means nothing to a receiving system without it. Each resource is built as a plain
dict, and the Bundle is validated through fhir.resources' R4B models (the library's R4 line;
CarePlan, Observation and Timing are as in R4 4.0.1) before it leaves: an invalid export is
an error, never a silently bad file. The library checks structure and datatypes but not
required code bindings, so the codes Cadence writes are checked here as well.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select
from sqlalchemy.orm import Session

from routines.exports import day, instant
from routines.models import (
    AROUSAL_STATES,
    SIDE_OF_ASSIGNEE,
    SKIP_REASONS,
    Child,
    Occurrence,
    PlanItem,
    PlanVersion,
    RoutineLog,
)
from routines.plan_words import describe_frequency
from routines.plans import in_effect_among, published_versions
from routines.recurrence import slots_for
from tenants.models import Organisation

TIMEZONE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/timezone"
UCUM = "http://unitsofmeasure.org"
# Stable urn:uuid identities for the resources of one organisation's export.
_NAMESPACE = uuid.UUID("6f1b3f64-5d2a-4c7e-9a57-0c2d1e8b7a40")
FHIR_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# The plan's anchors as FHIR event timings (http://hl7.org/fhir/event-timing).
ANCHOR_WHEN = {
    "after_waking": "WAKE",
    "before_school": "MORN",
    "after_school": "AFT",
    "after_dinner": "PCD",
    "before_bed": "HS",
}
LOG_VALUES = {"done": "Done", "partly": "Partly done", "skipped": "Skipped"}

# Required bindings of the elements Cadence fills (R4 4.0.1 value sets).
REQUIRED_CODES: dict[str, frozenset[str]] = {
    "bundle.type": frozenset({"collection"}),
    "careplan.status": frozenset(
        {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"}
    ),
    "careplan.intent": frozenset({"proposal", "plan", "order", "option"}),
    "activity.status": frozenset(
        {
            "not-started",
            "scheduled",
            "in-progress",
            "on-hold",
            "completed",
            "cancelled",
            "stopped",
            "unknown",
            "entered-in-error",
        }
    ),
    "timing.dayOfWeek": frozenset(FHIR_DAYS),
    "timing.unit": frozenset({"s", "min", "h", "d", "wk", "mo", "a"}),
    "timing.when": frozenset(ANCHOR_WHEN.values()),
    "observation.status": frozenset(
        {"registered", "preliminary", "final", "amended", "corrected", "cancelled"}
    ),
}


class InvalidExport(RuntimeError):
    """The export Cadence built is not valid FHIR: a bug to fix, never a file to send."""


def _urn(org_id: int, kind: str, row_id: int) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"cadence:{org_id}:{kind}:{row_id}"))


def _ref(resource_id: str) -> dict[str, str]:
    return {"reference": f"urn:uuid:{resource_id}"}


def _concept(system_base: str, name: str, code: str, display: str) -> dict[str, Any]:
    return {
        "coding": [{"system": f"{system_base}/{name}", "code": code, "display": display}],
        "text": display,
    }


def _patient(child: Child, patient_id: str) -> dict[str, Any]:
    names: list[dict[str, Any]] = [
        {"use": "official", "family": child.family_name, "given": [child.given_name]}
    ]
    if child.preferred_name:
        names.append({"use": "usual", "family": child.family_name, "given": [child.preferred_name]})
    return {
        "resourceType": "Patient",
        "id": patient_id,
        "active": True,
        "name": names,
        "birthDate": day(child.date_of_birth),
    }


def item_time_zone(item: PlanItem, child: Child, org: Organisation) -> str:
    """Home routines run in the household's zone, school routines in the classroom's."""
    if SIDE_OF_ASSIGNEE.get(item.assignee) == "school":
        return child.classroom.time_zone if child.classroom is not None else org.time_zone
    return child.household.time_zone if child.household is not None else org.time_zone


def timing(item: PlanItem, zone: str) -> dict[str, Any]:
    """The item's schedule as a FHIR Timing: days, times (or event timings for anchors),
    how many a day, for how long, from when to when, in which zone."""
    frequency = item.frequency or {}
    repeat: dict[str, Any] = {
        "boundsPeriod": {"start": day(item.start_date)},
        "dayOfWeek": [FHIR_DAYS[d] for d in sorted(set(frequency.get("days") or []))],
        "period": 1,
        "periodUnit": "d",
        "duration": item.minutes,
        "durationUnit": "min",
    }
    if item.end_date is not None:
        repeat["boundsPeriod"]["end"] = day(item.end_date)
    mode = frequency.get("mode")
    if mode == "anchors":
        anchors = list(frequency.get("anchors") or [])
        repeat["frequency"] = len(anchors)
        repeat["when"] = [ANCHOR_WHEN[a] for a in anchors if a in ANCHOR_WHEN]
    else:
        # "times" are the planned clock times; "spread" times are fixed by its count and span.
        slots = slots_for(frequency, {})
        repeat["frequency"] = len(slots)
        repeat["timeOfDay"] = [s.at.strftime("%H:%M:%S") for s in slots]
    return {
        "extension": [{"url": TIMEZONE_EXTENSION, "valueCode": zone}],
        "repeat": repeat,
    }


def _activity_status(item: PlanItem, today: date) -> str:
    if item.start_date > today:
        return "not-started"
    if item.end_date is not None and item.end_date < today:
        return "completed"
    return "in-progress"


def _care_plan(
    version: PlanVersion,
    later_start: date | None,
    child: Child,
    org: Organisation,
    patient_id: str,
    plan_id: str,
    today: date,
) -> dict[str, Any]:
    period: dict[str, Any] = {"start": day(version.effective_from)}
    if later_start is not None:
        period["end"] = day(later_start - timedelta(days=1))
    resource: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": plan_id,
        "status": "active",
        "intent": "plan",
        "title": f"Sequenced plan, version {version.number}",
        "subject": _ref(patient_id),
        "period": period,
        "activity": [
            {
                "detail": {
                    "status": _activity_status(item, today),
                    "code": {"text": item.activity.name},
                    "description": describe_frequency(item.frequency or {}),
                    "scheduledTiming": timing(item, item_time_zone(item, child, org)),
                }
            }
            for item in version.items
        ],
    }
    if version.published_at is not None:
        resource["created"] = instant(version.published_at)
    return resource


def _observation(
    log: RoutineLog,
    occurrence: Occurrence,
    *,
    org_id: int,
    patient_id: str,
    plan_id: str | None,
    system_base: str,
) -> dict[str, Any]:
    """`plan_id` is the CarePlan the log's routine belongs to (None: an earlier version's)."""
    due = occurrence.due_at.astimezone(ZoneInfo(occurrence.time_zone))
    components: list[dict[str, Any]] = []
    if log.minutes is not None:
        components.append(
            {
                "code": {"text": "Minutes"},
                "valueQuantity": {
                    "value": log.minutes,
                    "unit": "min",
                    "system": UCUM,
                    "code": "min",
                },
            }
        )
    for label, state in (("State before", log.state_before), ("State after", log.state_after)):
        if state is not None:
            components.append(
                {
                    "code": {"text": label},
                    "valueCodeableConcept": _concept(
                        system_base, "arousal-state", state, AROUSAL_STATES.get(state, state)
                    ),
                }
            )
    if log.enjoyment is not None:
        components.append({"code": {"text": "Enjoyment (1 to 5)"}, "valueInteger": log.enjoyment})
    if log.reason is not None:
        components.append(
            {
                "code": {"text": "Reason"},
                "valueCodeableConcept": _concept(
                    system_base, "skip-reason", log.reason, SKIP_REASONS.get(log.reason, log.reason)
                ),
            }
        )
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": _urn(org_id, "log", log.id),
        "status": "final",
        "code": {"text": occurrence.activity.name},
        "subject": _ref(patient_id),
        "effectiveDateTime": due.isoformat(timespec="seconds"),
        "issued": instant(log.logged_at),
        "valueCodeableConcept": _concept(
            system_base, "routine-log-status", log.status, LOG_VALUES.get(log.status, log.status)
        ),
    }
    if plan_id is not None:
        resource["basedOn"] = [_ref(plan_id)]
    if components:
        resource["component"] = components
    if log.note:
        resource["note"] = [{"text": log.note}]
    return resource


def child_bundle(
    db: Session, child: Child, *, org: Organisation, now: datetime, system_base: str
) -> dict[str, Any]:
    """The Bundle for `child`, validated. `system_base` prefixes the code systems of Cadence's
    own codes (log status, arousal state, skip reason): the installation's canonical URL."""
    today = now.astimezone(ZoneInfo(org.time_zone)).date()
    patient_id = _urn(org.id, "child", child.id)
    entries: list[dict[str, Any]] = [_patient(child, patient_id)]

    versions = published_versions(db, child)
    version = in_effect_among(versions, today)
    plan_id, planned_item_ids = None, set()
    if version is not None:
        later = [
            v.effective_from
            for v in versions
            if v.effective_from is not None and v.effective_from > version.effective_from
        ]
        plan_id = _urn(org.id, "plan_version", version.id)
        planned_item_ids = {item.id for item in version.items}
        entries.append(
            _care_plan(version, min(later, default=None), child, org, patient_id, plan_id, today)
        )

    rows = db.execute(
        select(RoutineLog, Occurrence)
        .join(Occurrence, RoutineLog.occurrence_id == Occurrence.id)
        .where(RoutineLog.child_id == child.id)
        .order_by(Occurrence.due_at, RoutineLog.id)
    )
    for log, occurrence in rows:
        entries.append(
            _observation(
                log,
                occurrence,
                org_id=org.id,
                patient_id=patient_id,
                plan_id=plan_id if occurrence.plan_item_id in planned_item_ids else None,
                system_base=system_base,
            )
        )
    bundle = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "collection",
        "timestamp": instant(now),
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in entries],
    }
    validate(bundle)
    return bundle


def validate(bundle: dict[str, Any]) -> None:
    """Through the R4B models (every entry as its own resource type), then the required
    codes the library leaves unchecked. Raises InvalidExport."""
    try:
        Bundle.model_validate(bundle)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise InvalidExport(f"the FHIR export is not valid: {exc}") from exc
    problems = list(_code_problems(bundle))
    if problems:
        raise InvalidExport("the FHIR export is not valid: " + "; ".join(problems))


def _code_problems(bundle: dict[str, Any]) -> Any:
    def check(name: str, value: Any) -> Any:
        if value not in REQUIRED_CODES[name]:
            yield f"{name} {value!r}"

    yield from check("bundle.type", bundle.get("type"))
    for entry in bundle.get("entry") or []:
        resource = entry["resource"]
        kind = resource.get("resourceType")
        if kind == "Observation":
            yield from check("observation.status", resource.get("status"))
        if kind != "CarePlan":
            continue
        yield from check("careplan.status", resource.get("status"))
        yield from check("careplan.intent", resource.get("intent"))
        for activity in resource.get("activity") or []:
            detail = activity.get("detail") or {}
            yield from check("activity.status", detail.get("status"))
            repeat = (detail.get("scheduledTiming") or {}).get("repeat") or {}
            for value in repeat.get("dayOfWeek") or []:
                yield from check("timing.dayOfWeek", value)
            for value in repeat.get("when") or []:
                yield from check("timing.when", value)
            for key in ("periodUnit", "durationUnit"):
                if key in repeat:
                    yield from check("timing.unit", repeat[key])
            if repeat.get("timeOfDay") and repeat.get("when"):
                yield "timing: timeOfDay and when together (tim-10)"
