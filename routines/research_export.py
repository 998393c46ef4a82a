"""The organisation's de-identified research export: routines and assessments as CSV,
streamed in chunks so that an organisation of any size is never built up in memory.

De-identified means: no names, emails, notes or other free text, and no database ids.
Each child appears under a stable pseudonym, HMAC-SHA256 of the child's id keyed by the
organisation's own secret `research_salt` (so the same child has the same pseudonym in every
download, nobody without the key can link it back, and two organisations' pseudonyms never
line up); the date of birth only as its month.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from routines.models import (
    Activity,
    Assessment,
    Child,
    Framework,
    FrameworkItem,
    ItemRating,
    Occurrence,
    PlanItem,
    RoutineLog,
)
from tenants.context import tenant_context
from tenants.models import Organisation

CHUNK_ROWS = 1000
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ROUTINE_COLUMNS = (
    "child",
    "birth_month",
    "side",
    "local_date",
    "weekday",
    "activity",
    "domain",
    "status",
    "planned_minutes",
    "logged_minutes",
    "state_before",
    "state_after",
    "enjoyment",
    "excused_reason",
)
ASSESSMENT_COLUMNS = (
    "child",
    "birth_month",
    "assessed_on",
    "age_months",
    "framework_key",
    "framework_version",
    "item_code",
    "domain",
    "score",
)


def ensure_salt(db: Session, org: Organisation) -> str:
    """The organisation's pseudonym key, made on its first export (the caller commits it
    before any file goes out, so every later download uses the same key)."""
    if not org.research_salt:
        org.research_salt = secrets.token_hex(32)
        db.flush()
    return org.research_salt


def pseudonym(salt: str, child_id: int) -> str:
    digest = hmac.new(salt.encode(), str(child_id).encode(), hashlib.sha256).hexdigest()
    return "c-" + digest[:16]


def birth_month(born: date) -> str:
    return f"{born.year:04d}-{born.month:02d}"


def routine_rows(db: Session, salt: str) -> Iterator[tuple[Any, ...]]:
    """One row per occurrence that was not withdrawn, oldest first, read from the database
    in batches (a server-side cursor on PostgreSQL)."""
    query = (
        select(
            Occurrence.child_id,
            Child.date_of_birth,
            Occurrence.side,
            Occurrence.local_date,
            Activity.name,
            PlanItem.domain,
            Occurrence.status,
            Occurrence.minutes,
            RoutineLog.minutes,
            RoutineLog.state_before,
            RoutineLog.state_after,
            RoutineLog.enjoyment,
            Occurrence.excused_reason,
        )
        .join(Child, Occurrence.child_id == Child.id)
        .join(Activity, Occurrence.activity_id == Activity.id)
        .join(PlanItem, Occurrence.plan_item_id == PlanItem.id)
        .outerjoin(RoutineLog, RoutineLog.occurrence_id == Occurrence.id)
        .where(Occurrence.status != "withdrawn")
        .order_by(Occurrence.due_at, Occurrence.id)
        .execution_options(yield_per=CHUNK_ROWS)
    )
    names: dict[int, str] = {}
    result = db.execute(query)
    try:
        for child_id, born, side, local_date, activity, domain, *rest in result:
            name = names.get(child_id)
            if name is None:
                name = names[child_id] = pseudonym(salt, child_id)
            yield (
                name,
                birth_month(born),
                side,
                local_date.isoformat(),
                WEEKDAYS[local_date.weekday()],
                activity,
                domain,
                *rest,
            )
    finally:
        result.close()


def assessment_rows(db: Session, salt: str) -> Iterator[tuple[Any, ...]]:
    """One row per rated item of every completed assessment."""
    query = (
        select(
            Assessment.child_id,
            Child.date_of_birth,
            Assessment.assessed_on,
            Assessment.age_months,
            Framework.key,
            Framework.version,
            FrameworkItem.code,
            FrameworkItem.domain,
            ItemRating.score,
        )
        .select_from(ItemRating)
        .join(Assessment, ItemRating.assessment_id == Assessment.id)
        .join(Child, Assessment.child_id == Child.id)
        .join(Framework, Assessment.framework_id == Framework.id)
        .join(FrameworkItem, ItemRating.item_id == FrameworkItem.id)
        .where(Assessment.status == "complete")
        .order_by(Assessment.assessed_on, Assessment.id, FrameworkItem.position)
        .execution_options(yield_per=CHUNK_ROWS)
    )
    names: dict[int, str] = {}
    result = db.execute(query)
    try:
        for child_id, born, assessed_on, *rest in result:
            name = names.get(child_id)
            if name is None:
                name = names[child_id] = pseudonym(salt, child_id)
            yield (name, birth_month(born), assessed_on.isoformat(), *rest)
    finally:
        result.close()


# A cell starting with one of these is a formula to a spreadsheet (CSV injection, OWASP).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _writer() -> tuple[io.StringIO, Any]:
    buffer = io.StringIO()
    return buffer, csv.writer(buffer, lineterminator="\r\n")


def header_line(header: Sequence[str]) -> str:
    buffer, writer = _writer()
    writer.writerow(header)
    return buffer.getvalue()


def row_chunks(rows: Iterable[Sequence[Any]], chunk_rows: int = CHUNK_ROWS) -> Iterator[str]:
    """The rows `chunk_rows` at a time, as CSV text. Text that a spreadsheet would run as a
    formula is written with a leading apostrophe."""
    buffer, writer = _writer()
    count = 0
    for row in rows:
        writer.writerow([_cell(v) for v in row])
        count += 1
        if count == chunk_rows:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            count = 0
    if count:
        yield buffer.getvalue()


FILES: dict[str, tuple[Sequence[str], Any]] = {
    "routines": (ROUTINE_COLUMNS, routine_rows),
    "assessments": (ASSESSMENT_COLUMNS, assessment_rows),
}


def export_chunks(db: Session, which: str, salt: str) -> Iterator[str]:
    """The CSV text of one research file ("routines" or "assessments"): the header, then the
    rows chunk by chunk. Run it inside the organisation's tenant context."""
    header, rows = FILES[which]
    yield header_line(header)
    yield from row_chunks(rows(db, salt))


def stream(
    session_factory: Callable[[], Session], tenant_id: int, which: str, salt: str
) -> Iterator[str]:
    """export_chunks for a web response, which is read after the request has ended (its
    session closed, its tenant cleared): on a session of its own, acting for `tenant_id`
    while each chunk is read and never across a yield (so nothing leaks into whatever runs
    between chunks). The header goes first, before any database work, so a response that is
    never read holds no session, cursor or transaction."""
    header, rows = FILES[which]
    yield header_line(header)
    session = session_factory()
    chunks = row_chunks(rows(session, salt))
    try:
        while True:
            with tenant_context(tenant_id):
                chunk = next(chunks, None)
            if chunk is None:
                return
            yield chunk
    finally:
        chunks.close()
        session.close()
