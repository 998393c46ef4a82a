"""The state of background work, for an organisation's admins: the task queue, the
scheduler's heartbeat, the outbox, and this organisation's deliveries and failures.

The queue, the scheduler and the outbox are shared by every organisation on this
installation, so they are shown whole (as counts and a process name, never another
organisation's rows); deliveries are this organisation's own. No child's record is shown
(a failed delivery names its kind, not the child), so nothing here needs an audit row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, render_template
from sqlalchemy import func, select

from portal.admin import bp
from portal.extensions import db
from routines.models import CHANNELS, DELIVERY_KINDS, Delivery
from routines.models.reminder import DELIVERY_STATUSES
from tasks.scheduler import LEASE, LEASE_FOR, heartbeat_age
from tenants.db import utcnow
from tenants.models import Membership, OutboxMessage, SchedulerLease, User

logger = logging.getLogger(__name__)

RECENT_FAILURES = 50
WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Queue:
    in_process: bool
    name: str
    depth: int | None = None
    error: str | None = None


def _queue() -> Queue:
    celery = current_app.extensions.get("celery")
    name = celery.conf.task_default_queue if celery is not None else "cadence"
    url = current_app.config.get("REDIS_URL")
    if not url:
        return Queue(in_process=True, name=name)
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        # Celery's Redis transport keeps a queue as a list under the queue's name.
        return Queue(in_process=False, name=name, depth=int(client.llen(name)))
    except Exception as exc:  # noqa: BLE001 - shown on the page, not raised
        logger.warning("background page: redis unreachable: %s", exc)
        return Queue(in_process=False, name=name, error=type(exc).__name__)
    finally:
        client.close()


def _scheduler(now: datetime) -> dict[str, Any]:
    lease = db.session.get(SchedulerLease, LEASE)
    age = heartbeat_age(db.session, now=now)
    return {
        "age": age,
        "leading": age is not None and age <= LEASE_FOR.total_seconds(),
        "holder": lease.holder if lease is not None else None,
        "renewed_at": lease.renewed_at if lease is not None else None,
    }


def _outbox() -> dict[str, Any]:
    count, oldest = db.session.execute(
        select(func.count(OutboxMessage.id), func.min(OutboxMessage.created_at)).where(
            OutboxMessage.dispatched_at.is_(None)
        )
    ).one()
    return {"waiting": count or 0, "oldest": oldest}


def _by_status(since: datetime) -> list[tuple[str, int]]:
    # Delivery is tenant-scoped: these are the current organisation's rows only.
    counts = dict(
        db.session.execute(
            select(Delivery.status, func.count(Delivery.id))
            .where(Delivery.created_at >= since)
            .group_by(Delivery.status)
        ).all()
    )
    return [(status, counts.get(status, 0)) for status in DELIVERY_STATUSES]


def _failures() -> list[Any]:
    return list(
        db.session.execute(
            select(
                Delivery.id,
                Delivery.kind,
                Delivery.channel,
                Delivery.attempts,
                Delivery.last_error,
                Delivery.not_before,
                User.name,
                User.email,
            )
            .join(Membership, Membership.id == Delivery.membership_id)
            .join(User, User.id == Membership.user_id)
            .where(Delivery.status == "failed")
            .order_by(Delivery.not_before.desc(), Delivery.id.desc())
            .limit(RECENT_FAILURES)
        ).all()
    )


@bp.get("/background")
def background():  # type: ignore[no-untyped-def]
    now = utcnow()
    page = {
        "queue": _queue(),
        "scheduler": _scheduler(now),
        "outbox": _outbox(),
        "by_status": _by_status(now - WINDOW),
        "failures": _failures(),
        "kinds": DELIVERY_KINDS,
        "channels": CHANNELS,
        "lease_for": int(LEASE_FOR.total_seconds()),
    }
    db.session.commit()
    return render_template("admin/background.html", **page)
