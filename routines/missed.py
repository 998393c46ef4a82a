"""Marking missed: a routine still unlogged after the grace period counts as missed, so
adherence counts it. The grace is the organisation's minutes after the due time, or by
default the end of the routine's local day."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from routines.models import Occurrence
from tenants.context import current_tenant_id
from tenants.models import Organisation


def mark_missed(db: Session, *, now: datetime) -> int:
    """Set-based, per time zone: a handful of UPDATEs whatever the number of routines."""
    org = db.get(Organisation, current_tenant_id())
    assert org is not None
    pending_past = (Occurrence.status == "pending", Occurrence.due_at < now)
    if org.missed_after_minutes is not None:
        result = db.execute(
            update(Occurrence)
            .where(
                *pending_past,
                Occurrence.due_at < now - timedelta(minutes=org.missed_after_minutes),
            )
            .values(status="missed", updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount or 0
    marked = 0
    zones = db.scalars(select(Occurrence.time_zone).where(*pending_past).distinct())
    for zone in list(zones):
        today = now.astimezone(ZoneInfo(zone)).date()
        result = db.execute(
            update(Occurrence)
            .where(*pending_past, Occurrence.time_zone == zone, Occurrence.local_date < today)
            .values(status="missed", updated_at=now)
            .execution_options(synchronize_session=False)
        )
        marked += result.rowcount or 0
    return marked
