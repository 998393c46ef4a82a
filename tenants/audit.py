"""The audit trail: append-only, one row per security-relevant or record-touching act."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import ORMExecuteState, Session

from tenants.context import current_tenant_id
from tenants.models import AuditEvent, User

logger = logging.getLogger(__name__)


class AuditTrailIsAppendOnly(RuntimeError):
    pass


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, flush_context: Any, instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditTrailIsAppendOnly("audit events are never changed or deleted")


@event.listens_for(Session, "do_orm_execute")
def _refuse_audit_statements(state: ORMExecuteState) -> None:
    mapper = state.bind_mapper
    if (state.is_update or state.is_delete) and mapper is not None and mapper.class_ is AuditEvent:
        raise AuditTrailIsAppendOnly("audit events are never changed or deleted")


def record(
    db: Session,
    action: str,
    *,
    actor: User | None = None,
    actor_email: str | None = None,
    object_type: str | None = None,
    object_id: Any = None,
    ip_address: str | None = None,
    tenant_id: int | None = None,
    **detail: Any,
) -> AuditEvent:
    """Append one audit event for the current (or given) organisation."""
    event_row = AuditEvent(
        tenant_id=tenant_id if tenant_id is not None else current_tenant_id(),
        action=action,
        actor_id=actor.id if actor is not None else None,
        actor_email=actor.email if actor is not None else actor_email,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        ip_address=ip_address,
        detail=detail,
    )
    db.add(event_row)
    db.flush()
    return event_row


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    actor: str | None = None  # part of an email
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def list_events(db: Session, filters: AuditFilter, page: int = 1, per_page: int = 50) -> AuditPage:
    """The current organisation's audit trail, newest first."""
    query = select(AuditEvent)
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.actor:
        pattern = "%" + filters.actor.lower().replace("%", r"\%").replace("_", r"\_") + "%"
        query = query.where(func.lower(AuditEvent.actor_email).like(pattern, escape="\\"))
    if filters.since:
        query = query.where(AuditEvent.occurred_at >= filters.since)
    if filters.until:
        query = query.where(AuditEvent.occurred_at < filters.until)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(
        query.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return AuditPage(events=list(rows), page=page, per_page=per_page, total=total)


def known_actions(db: Session) -> list[str]:
    return list(db.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))
