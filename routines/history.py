"""A child's developmental history: adversity and relational health by period.

Every function acts in the current tenant on a child the caller may change (views check
routines.access.can_change_clinical_record); each change and each read leaves an audit row.
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from routines.history_svg import PeriodPoint
from routines.models import Child, HistoryEntry
from routines.models.history import CERTAINTIES, PERIODS, RELATIONAL_LEVELS, SEVERITIES
from tenants import audit
from tenants.errors import NotFound, ValidationError
from tenants.isolation import get_scoped
from tenants.models import User

logger = logging.getLogger(__name__)

ADVERSITY = "adversity"
RELATIONAL = "relational"
CURRENT = "current"
# Adversity belongs to a developmental period; "current" only holds today's relational health.
ADVERSITY_PERIODS: tuple[str, ...] = tuple(p for p in PERIODS if p != CURRENT)
SEVERITY_WEIGHTS: dict[str, int] = {"none": 0, "mild": 1, "moderate": 2, "severe": 3}
RELATIONAL_WEIGHTS: dict[str, int] = {"none": 0, "low": 1, "moderate": 2, "strong": 3}
SHORT_LABELS: dict[str, tuple[str, str]] = {
    "perinatal": ("Perinatal", "0–2 months"),
    "infancy": ("Infancy", "2–12 months"),
    "early_childhood": ("Early childhood", "13 months–4 years"),
    "childhood": ("Childhood", "4–11 years"),
    "adolescence": ("Adolescence", "12–18 years"),
    "current": ("Now", "current"),
}
KIND_MAX = 100
NOTE_MAX = 1000


def _choice(value: str | None, allowed: tuple[str, ...], field: str, message: str) -> str:
    if value not in allowed:
        raise ValidationError(message, field)
    return value  # type: ignore[return-value]


def _note(value: str | None) -> str:
    note = (value or "").strip()
    if len(note) > NOTE_MAX:
        raise ValidationError(f"The note must be at most {NOTE_MAX} characters.", "note")
    return note


def _audit(
    db: Session, action: str, child: Child, actor: User, ip: str | None, **detail: object
) -> None:
    audit.record(
        db, action, actor=actor, object_type="child", object_id=child.id, ip_address=ip, **detail
    )


def list_entries(db: Session, child: Child) -> list[HistoryEntry]:
    return list(
        db.scalars(
            select(HistoryEntry)
            .where(HistoryEntry.child_id == child.id)
            .order_by(HistoryEntry.position, HistoryEntry.id)
        )
    )


def entries_by_period(db: Session, child: Child) -> dict[str, list[HistoryEntry]]:
    """Every period (in order, "current" last) with its entries: relational first."""
    grouped: dict[str, list[HistoryEntry]] = {period: [] for period in PERIODS}
    for entry in list_entries(db, child):
        grouped.setdefault(entry.period, []).append(entry)
    for entries in grouped.values():
        entries.sort(key=lambda e: (e.entry_type != RELATIONAL, e.position, e.id))
    return grouped


def _next_position(db: Session, child: Child, period: str) -> int:
    highest = db.scalar(
        select(func.max(HistoryEntry.position)).where(
            HistoryEntry.child_id == child.id, HistoryEntry.period == period
        )
    )
    return (highest or 0) + 1


def add_adversity(
    db: Session,
    child: Child,
    *,
    period: str,
    kind: str,
    severity: str,
    certainty: str,
    note: str | None = None,
    actor: User,
    ip: str | None = None,
) -> HistoryEntry:
    """Record one adversity (its kind, severity and whether known or estimated) in a period."""
    period = _choice(
        period, ADVERSITY_PERIODS, "period", "Choose the developmental period it happened in."
    )
    kind = " ".join((kind or "").split())
    if not kind:
        raise ValidationError("Describe the adversity, for example neglect or a move.", "kind")
    if len(kind) > KIND_MAX:
        raise ValidationError(f"The adversity must be at most {KIND_MAX} characters.", "kind")
    severity = _choice(
        severity, SEVERITIES, "severity", "Choose a severity: none, mild, moderate or severe."
    )
    certainty = _choice(
        certainty, CERTAINTIES, "certainty", "Say whether this is known or estimated."
    )
    entry = HistoryEntry(
        child_id=child.id,
        period=period,
        entry_type=ADVERSITY,
        adversity_kind=kind,
        severity=severity,
        certainty=certainty,
        note=_note(note),
        position=_next_position(db, child, period),
        created_by_id=actor.id,
    )
    db.add(entry)
    db.flush()
    _audit(
        db,
        "history.changed",
        child,
        actor,
        ip,
        change="adversity.added",
        entry_id=entry.id,
        period=period,
        severity=severity,
    )
    return entry


def set_relational_health(
    db: Session,
    child: Child,
    *,
    period: str,
    level: str,
    note: str | None = None,
    actor: User,
    ip: str | None = None,
) -> HistoryEntry:
    """The relational health (buffers) in a period, or now: one per period, replaced."""
    period = _choice(period, tuple(PERIODS), "period", "Choose a developmental period or now.")
    level = _choice(
        level,
        RELATIONAL_LEVELS,
        "relational_level",
        "Choose how connected and supported the child was: none, low, moderate or strong.",
    )
    note_text = _note(note)
    entry = db.scalar(
        select(HistoryEntry).where(
            HistoryEntry.child_id == child.id,
            HistoryEntry.period == period,
            HistoryEntry.entry_type == RELATIONAL,
        )
    )
    previous = entry.relational_level if entry is not None else None
    if entry is None:
        entry = HistoryEntry(
            child_id=child.id,
            period=period,
            entry_type=RELATIONAL,
            position=0,
            created_by_id=actor.id,
        )
        db.add(entry)
    entry.relational_level = level
    entry.note = note_text
    db.flush()
    _audit(
        db,
        "history.changed",
        child,
        actor,
        ip,
        change="relational.set",
        entry_id=entry.id,
        period=period,
        level=level,
        previous=previous,
    )
    return entry


def get_entry(db: Session, child: Child, entry_id: int) -> HistoryEntry:
    entry = get_scoped(db, HistoryEntry, entry_id)
    if entry is None or entry.child_id != child.id:
        raise NotFound("history entry")
    return entry


def remove_entry(
    db: Session, child: Child, entry_id: int, *, actor: User, ip: str | None = None
) -> None:
    entry = get_entry(db, child, entry_id)
    detail = {
        "change": f"{entry.entry_type}.removed",
        "entry_id": entry.id,
        "period": entry.period,
    }
    db.delete(entry)
    db.flush()
    _audit(db, "history.changed", child, actor, ip, **detail)


def record_view(db: Session, child: Child, *, actor: User, ip: str | None = None) -> None:
    _audit(db, "history.viewed", child, actor, ip)


def timeline(db: Session, child: Child) -> list[PeriodPoint]:
    """Per period, in order: the risk score (sum of severity weights; None when nothing
    is recorded) and the buffer level (0 none – 3 strong; None when not recorded)."""
    points: list[PeriodPoint] = []
    for period, entries in entries_by_period(db, child).items():
        adversities = [e for e in entries if e.entry_type == ADVERSITY]
        relational = next((e for e in entries if e.entry_type == RELATIONAL), None)
        weights = [SEVERITY_WEIGHTS.get(e.severity or "", 0) for e in adversities]
        worst = max(
            adversities, key=lambda e: SEVERITY_WEIGHTS.get(e.severity or "", 0), default=None
        )
        short, ages = SHORT_LABELS.get(period, (period, ""))
        points.append(
            PeriodPoint(
                period=period,
                label=PERIODS.get(period, period),
                short_label=short,
                ages=ages if period != CURRENT else "",
                risk=sum(weights) if adversities else None,
                buffer=(
                    RELATIONAL_WEIGHTS.get(relational.relational_level or "")
                    if relational is not None
                    else None
                ),
                buffer_level=relational.relational_level if relational is not None else None,
                adversities=len(adversities),
                estimated=sum(1 for e in adversities if e.certainty == "estimated"),
                worst=worst.severity if worst is not None else None,
            )
        )
    return points
