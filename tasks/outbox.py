"""The outbox: work written in a transaction, handed to the broker after it commits.

`enqueue` adds a row in the caller's transaction (a web request, a task, the scheduler);
`relay` publishes undispatched rows and marks them. Publish first, then mark: a relay that
dies between the two publishes a row again, which idempotent tasks absorb; a broker that
is down leaves the rows waiting, and nothing is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tenants.db import utcnow
from tenants.models import OutboxMessage

logger = logging.getLogger(__name__)

Publish = Callable[[str, dict[str, Any]], None]


def enqueue(
    db: Session,
    task: str,
    args: dict[str, Any] | None = None,
    *,
    organisation_id: int | None = None,
) -> OutboxMessage:
    row = OutboxMessage(task=task, args=args or {}, organisation_id=organisation_id)
    db.add(row)
    return row


def relay(db: Session, publish: Publish, *, limit: int = 500, now: datetime | None = None) -> int:
    """Publish waiting rows in order; stop at the first failure (the broker is down: the
    rest would fail too). Returns how many were published."""
    waiting = db.execute(
        select(OutboxMessage.id, OutboxMessage.task, OutboxMessage.args)
        .where(OutboxMessage.dispatched_at.is_(None))
        .order_by(OutboxMessage.id)
        .limit(limit)
    ).all()
    db.commit()  # hold no locks while talking to the broker
    published = 0
    for row in waiting:
        try:
            publish(row.task, row.args)
        except Exception as exc:  # noqa: BLE001 - any broker failure means "later"
            db.rollback()
            db.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id)
                .values(
                    attempts=OutboxMessage.attempts + 1,
                    last_error=f"{type(exc).__name__}: {exc}"[:2000],
                )
            )
            db.commit()
            logger.warning("outbox: publishing %s failed, will retry: %s", row.task, exc)
            break
        db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id)
            .values(dispatched_at=now or utcnow())
        )
        db.commit()
        published += 1
    return published


def waiting_count(db: Session) -> int:
    from sqlalchemy import func

    return (
        db.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.dispatched_at.is_(None)))
        or 0
    )
