"""Logging routines: what a carer or teacher did for each occurrence.

`record_logs` serves every path (one tap on Today, a classroom's group log, a phone
syncing a batch it held offline) and is idempotent by the client's UUID:

- a UUID seen before with the same content answers with the stored log (a repeat);
- a UUID seen before with different content is a conflict (409), and changes nothing;
- a second log for an already logged occurrence is a conflict too;
- bad items get their own 4xx and the rest of the batch is still stored.

A batch is checked with a fixed number of queries and stored with one INSERT ... ON
CONFLICT DO NOTHING, so concurrent copies of the same batch store each log once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from routines.access import logging_side
from routines.models import (
    AROUSAL_STATES,
    LOG_STATUSES,
    SKIP_REASONS,
    Child,
    LogCorrection,
    Occurrence,
    RoutineLog,
)
from tenants import audit
from tenants.context import current_tenant_id
from tenants.db import insert_ignoring_duplicates
from tenants.errors import NotFound, PermissionDenied, ValidationError
from tenants.isolation import get_scoped
from tenants.models import Membership, User

logger = logging.getLogger(__name__)

MAX_BATCH = 500
FUTURE_LIMIT = timedelta(days=7)
CORRECTION_WINDOW = timedelta(hours=48)
MINUTES_MAX = 240
NOTE_MAX = 2000
CLOCK_SKEW = timedelta(minutes=10)
STATUS_LABELS = {
    "pending": "To do",
    "done": "Done",
    "partly": "Partly",
    "skipped": "Skipped",
    "missed": "Missed",
    "excused": "Excused",
}


@dataclass
class LogInput:
    """One log as a client sent it: nothing checked yet."""

    client_uuid: Any
    occurrence_id: Any
    status: Any
    reason: Any = None
    minutes: Any = None
    state_before: Any = None
    state_after: Any = None
    enjoyment: Any = None
    note: Any = None
    child_id: Any = None
    logged_at: Any = None


@dataclass
class LogResult:
    client_uuid: str | None
    code: int  # 201 created, 200 repeat, 4xx refused
    outcome: str  # created | repeat | conflict | refused
    log: RoutineLog | None = None
    message: str | None = None
    field: str | None = None

    @property
    def ok(self) -> bool:
        return self.code < 300


_FIELDS = ("status", "reason", "minutes", "state_before", "state_after", "enjoyment", "note")


def _int_or_none(value: Any, field: str, message: str, lo: int, hi: int) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValidationError(message, field)
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValidationError(message, field) from None
    if isinstance(value, float) and value != number:
        raise ValidationError(message, field)
    if not lo <= number <= hi:
        raise ValidationError(message, field)
    return number


def _choice(value: Any, field: str, choices: dict[str, str] | tuple[str, ...], what: str):
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value not in choices:
        raise ValidationError(f"Unknown {what} {value!r}: use one of {', '.join(choices)}.", field)
    return value


def check_details(raw: LogInput | dict[str, Any]) -> dict[str, Any]:
    """The log's content, checked: status, reason, minutes, states, enjoyment, note."""
    get = raw.get if isinstance(raw, dict) else lambda name: getattr(raw, name)
    status = get("status")
    if status not in LOG_STATUSES:
        raise ValidationError(f"Unknown status {status!r}: use done, partly or skipped.", "status")
    reason = _choice(get("reason"), "reason", SKIP_REASONS, "reason")
    if status == "skipped" and reason is None:
        raise ValidationError(
            "Say why it was skipped: child unwell, refused, no time or other.", "reason"
        )
    if status == "done" and reason is not None:
        raise ValidationError("A reason goes with partly or skipped, not done.", "reason")
    note = get("note")
    if note is not None and not isinstance(note, str):
        raise ValidationError("The note must be text.", "note")
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise ValidationError(f"Keep the note to {NOTE_MAX} characters.", "note")
    return {
        "status": status,
        "reason": reason,
        "minutes": _int_or_none(
            get("minutes"),
            "minutes",
            f"Give the minutes as a whole number from 0 to {MINUTES_MAX}.",
            0,
            MINUTES_MAX,
        ),
        "state_before": _choice(get("state_before"), "state_before", AROUSAL_STATES, "state"),
        "state_after": _choice(get("state_after"), "state_after", AROUSAL_STATES, "state"),
        "enjoyment": _int_or_none(
            get("enjoyment"), "enjoyment", "Give enjoyment as a whole number from 1 to 5.", 1, 5
        ),
        "note": note,
    }


def parse_uuid(value: Any) -> uuid.UUID:
    if not isinstance(value, str | uuid.UUID):
        raise ValidationError("Each log needs a client_uuid (a UUID).", "client_uuid")
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(value)
    except ValueError:
        raise ValidationError(f"{value!r} is not a UUID.", "client_uuid") from None


def _parse_instant(value: Any, now: datetime) -> datetime:
    if value is None or value == "":
        return now
    if not isinstance(value, str):
        raise ValidationError("logged_at must be an ISO 8601 date and time.", "logged_at")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError("logged_at must be an ISO 8601 date and time.", "logged_at") from None
    if moment.tzinfo is None:
        raise ValidationError(
            "logged_at needs a UTC offset, for example 2026-11-23T07:35:00Z.", "logged_at"
        )
    moment = moment.astimezone(UTC)
    if moment > now + CLOCK_SKEW:
        raise ValidationError("logged_at lies in the future.", "logged_at")
    return min(moment, now)


def payload_hash(occurrence_id: int, details: dict[str, Any]) -> str:
    """What makes two sends of one UUID "the same log": the occurrence and the content."""
    body = {"occurrence_id": occurrence_id, **{k: details[k] for k in _FIELDS}}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass
class _Checked:
    index: int
    client_uuid: uuid.UUID
    occurrence_id: int
    child_id: int | None
    details: dict[str, Any]
    logged_at: datetime
    digest: str


def _check(index: int, raw: LogInput, now: datetime) -> _Checked:
    client_uuid = parse_uuid(raw.client_uuid)
    occurrence_id = _int_or_none(
        raw.occurrence_id, "occurrence_id", "occurrence_id must be a whole number.", 1, 2**31 - 1
    )
    if occurrence_id is None:
        raise ValidationError("Each log needs the occurrence_id it is for.", "occurrence_id")
    child_id = _int_or_none(
        raw.child_id, "child_id", "child_id must be a whole number.", 1, 2**31 - 1
    )
    details = check_details(raw)
    return _Checked(
        index,
        client_uuid,
        occurrence_id,
        child_id,
        details,
        _parse_instant(raw.logged_at, now),
        payload_hash(occurrence_id, details),
    )


def record_logs(
    db: Session,
    items: list[LogInput],
    *,
    actor: User,
    membership: Membership,
    now: datetime,
    source: str,
    ip: str | None = None,
) -> list[LogResult]:
    """Store a batch of logs; one result per item, in order (see the module docstring)."""
    if len(items) > MAX_BATCH:
        raise ValidationError(f"Send at most {MAX_BATCH} logs at a time.", "logs")
    results: list[LogResult | None] = [None] * len(items)
    checked: list[_Checked] = []
    for index, raw in enumerate(items):
        try:
            checked.append(_check(index, raw, now))
        except ValidationError as error:
            uuid_text = raw.client_uuid if isinstance(raw.client_uuid, str) else None
            results[index] = LogResult(uuid_text, 422, "refused", None, error.message, error.field)

    # The same UUID twice in one batch: the first one stands for both.
    first_of: dict[uuid.UUID, _Checked] = {}
    repeats: list[_Checked] = []
    for item in checked:
        if item.client_uuid in first_of:
            repeats.append(item)
        else:
            first_of[item.client_uuid] = item
    candidates = list(first_of.values())

    occurrences = {
        o.id: o
        for o in db.scalars(
            select(Occurrence).where(Occurrence.id.in_({c.occurrence_id for c in candidates}))
        )
    }
    children = {
        c.id: c
        for c in db.scalars(
            select(Child).where(Child.id.in_({o.child_id for o in occurrences.values()}))
        )
    }
    existing = _existing(db, [c.client_uuid for c in candidates], list(occurrences))

    to_insert: list[_Checked] = []
    for item in candidates:
        refusal = _refusal(item, occurrences, children, membership, now)
        if refusal is not None:
            results[item.index] = LogResult(str(item.client_uuid), *refusal)
            continue
        known = _against_existing(item, existing)
        if known is not None:
            results[item.index] = known
            continue
        to_insert.append(item)

    created_ids = _insert(db, to_insert, occurrences, actor, membership, now, source)
    if len(created_ids) < len(to_insert):
        # Another request stored some of these first: answer as for any repeat.
        existing = _existing(
            db, [c.client_uuid for c in to_insert], [c.occurrence_id for c in to_insert]
        )
    stored = {
        log.client_uuid: log
        for log in db.scalars(select(RoutineLog).where(RoutineLog.id.in_(created_ids)))
    }
    by_status: dict[str, list[int]] = defaultdict(list)
    for item in to_insert:
        log = stored.get(item.client_uuid)
        if log is not None:
            results[item.index] = LogResult(str(item.client_uuid), 201, "created", log)
            by_status[log.status].append(log.occurrence_id)
        else:
            results[item.index] = _against_existing(item, existing) or LogResult(
                str(item.client_uuid), 409, "conflict", None, "The routine was logged meanwhile."
            )
    for status, occurrence_ids in by_status.items():
        db.execute(
            update(Occurrence)
            .where(Occurrence.id.in_(occurrence_ids))
            .values(status=status, updated_at=now)
        )
    for item in repeats:
        first = results[first_of[item.client_uuid].index]
        assert first is not None
        if item.digest == first_of[item.client_uuid].digest:
            results[item.index] = (
                LogResult(first.client_uuid, 200, "repeat", first.log) if first.ok else first
            )
        else:
            results[item.index] = LogResult(
                str(item.client_uuid), 409, "conflict", None, _REUSED_UUID, "client_uuid"
            )
    if stored:
        _audit_created(db, list(stored.values()), actor, source, ip)
    db.flush()
    return [r for r in results if r is not None]


_REUSED_UUID = "This client_uuid was already used for a different log."


def _existing(
    db: Session, uuids: list[uuid.UUID], occurrence_ids: list[int]
) -> dict[str, dict[Any, RoutineLog]]:
    found: dict[str, dict[Any, RoutineLog]] = {"uuid": {}, "occurrence": {}}
    if not uuids and not occurrence_ids:
        return found
    for log in db.scalars(
        select(RoutineLog).where(
            or_(RoutineLog.client_uuid.in_(uuids), RoutineLog.occurrence_id.in_(occurrence_ids))
        )
    ):
        found["uuid"][log.client_uuid] = log
        found["occurrence"][log.occurrence_id] = log
    return found


def _refusal(
    item: _Checked,
    occurrences: dict[int, Occurrence],
    children: dict[int, Child],
    membership: Membership,
    now: datetime,
) -> tuple[int, str, None, str, str] | None:
    occurrence = occurrences.get(item.occurrence_id)
    child = children.get(occurrence.child_id) if occurrence is not None else None
    side = logging_side(membership, child) if child is not None else None
    if occurrence is None or child is None or side is None:
        # Unknown, another organisation's, or a child not on one's team: all look alike.
        return (
            404,
            "refused",
            None,
            f"No routine {item.occurrence_id} that you log.",
            "occurrence_id",
        )
    if item.child_id is not None and item.child_id != occurrence.child_id:
        return 422, "refused", None, "That routine belongs to another child.", "child_id"
    if occurrence.side != side:
        whose = "carers at home" if occurrence.side == "home" else "teachers at school"
        return (
            403,
            "refused",
            None,
            f"That routine is logged by the child's {whose}.",
            "occurrence_id",
        )
    if occurrence.status == "withdrawn":
        return 409, "conflict", None, "That routine was withdrawn by a newer plan.", "occurrence_id"
    if occurrence.due_at > now + FUTURE_LIMIT:
        return (
            422,
            "refused",
            None,
            "That routine is more than 7 days away: log it nearer the time.",
            "occurrence_id",
        )
    return None


def _against_existing(
    item: _Checked, existing: dict[str, dict[Any, RoutineLog]]
) -> LogResult | None:
    same_uuid = existing["uuid"].get(item.client_uuid)
    if same_uuid is not None:
        if same_uuid.payload_hash == item.digest:
            return LogResult(str(item.client_uuid), 200, "repeat", same_uuid)
        return LogResult(str(item.client_uuid), 409, "conflict", None, _REUSED_UUID, "client_uuid")
    other = existing["occurrence"].get(item.occurrence_id)
    if other is not None:
        return LogResult(
            str(item.client_uuid),
            409,
            "conflict",
            other,
            "That routine is already logged; correct the existing log instead.",
            "occurrence_id",
        )
    return None


def _insert(
    db: Session,
    items: list[_Checked],
    occurrences: dict[int, Occurrence],
    actor: User,
    membership: Membership,
    now: datetime,
    source: str,
) -> list[int]:
    if not items:
        return []
    tenant = current_tenant_id()
    rows = [
        {
            "tenant_id": tenant,
            "client_uuid": item.client_uuid,
            "payload_hash": item.digest,
            "occurrence_id": item.occurrence_id,
            "child_id": occurrences[item.occurrence_id].child_id,
            **item.details,
            "source": source,
            "author_id": actor.id,
            "author_membership_id": membership.id,
            "logged_at": item.logged_at,
            "created_at": now,
        }
        # One order for every request, so concurrent batches take locks in the same order.
        for item in sorted(items, key=lambda i: i.occurrence_id)
    ]
    statement = insert_ignoring_duplicates(db, RoutineLog).returning(RoutineLog.id)
    return list(db.scalars(statement, rows))


def _audit_created(
    db: Session, logs: list[RoutineLog], actor: User, source: str, ip: str | None
) -> None:
    per_child: dict[int, list[int]] = defaultdict(list)
    for log in logs:
        per_child[log.child_id].append(log.id)
    for child_id, ids in sorted(per_child.items()):
        audit.record(
            db,
            "routine.logged",
            actor=actor,
            object_type="child",
            object_id=child_id,
            ip_address=ip,
            child_id=child_id,
            log_ids=sorted(ids),
            source=source,
        )


# --- corrections -------------------------------------------------------------------------------


def snapshot(log: RoutineLog) -> dict[str, Any]:
    return {name: getattr(log, name) for name in _FIELDS}


def get_log(db: Session, log_id: int) -> RoutineLog:
    log = get_scoped(db, RoutineLog, log_id)
    if log is None:
        raise NotFound("log")
    return log


def correct_log(
    db: Session,
    log: RoutineLog,
    changes: dict[str, Any],
    *,
    actor: User,
    now: datetime,
    ip: str | None = None,
) -> RoutineLog:
    """Change a log: only its author, only within 48 hours of it reaching Cadence. The
    before and after of every correction are kept."""
    if log.author_id != actor.id:
        raise PermissionDenied("Only the person who made a log can correct it.")
    if now - log.created_at > CORRECTION_WINDOW:
        raise PermissionDenied("A log can be corrected for 48 hours after it was made.")
    unknown = sorted(set(changes) - set(_FIELDS))
    if unknown:
        raise ValidationError(f"Unknown field {unknown[0]!r}.", unknown[0])
    before = snapshot(log)
    merged = {**before, **changes}
    if merged["status"] == "done" and "reason" not in changes:
        merged["reason"] = None  # "done" carries no reason; the old one no longer applies
    after = check_details(merged)
    if after == before:
        return log
    db.add(
        LogCorrection(
            log_id=log.id,
            corrected_by_id=actor.id,
            corrected_at=now,
            before=before,
            after=after,
        )
    )
    for name, value in after.items():
        setattr(log, name, value)
    log.updated_at = now
    db.execute(
        update(Occurrence)
        .where(Occurrence.id == log.occurrence_id)
        .values(status=log.status, updated_at=now)
    )
    db.flush()
    audit.record(
        db,
        "routine.log_corrected",
        actor=actor,
        object_type="child",
        object_id=log.child_id,
        ip_address=ip,
        child_id=log.child_id,
        log_id=log.id,
        changed={k: [before[k], after[k]] for k in _FIELDS if before[k] != after[k]},
    )
    return log


def corrections_of(db: Session, log_ids: list[int]) -> dict[int, list[LogCorrection]]:
    found: dict[int, list[LogCorrection]] = defaultdict(list)
    if log_ids:
        for row in db.scalars(
            select(LogCorrection)
            .where(LogCorrection.log_id.in_(log_ids))
            .order_by(LogCorrection.corrected_at, LogCorrection.id)
        ):
            found[row.log_id].append(row)
    return found


def can_correct(log: RoutineLog, actor: User, now: datetime) -> bool:
    return log.author_id == actor.id and now - log.created_at <= CORRECTION_WINDOW


def as_input(data: dict[str, Any]) -> LogInput:
    """A LogInput from a JSON object or form, keeping only known names."""
    known = {k: data.get(k) for k in asdict(LogInput(None, None, None))}
    return LogInput(**known)
