"""GET /healthz: the state of the database, Redis when configured, and the age of the
scheduler's heartbeat (reported, not judged: a web process may run before any scheduler)."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from portal.extensions import db

logger = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


def _check_database() -> dict[str, object]:
    started = time.perf_counter()
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except Exception as exc:  # noqa: BLE001 - any failure is "down", reported, not raised
        logger.warning("health: database check failed: %s", exc)
        return {"ok": False, "error": type(exc).__name__}
    return {
        "ok": True,
        "dialect": db.database.dialect,
        "latency_ms": round((time.perf_counter() - started) * 1000, 1),
    }


def _check_redis(url: str) -> dict[str, object]:
    import redis

    started = time.perf_counter()
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001
        logger.warning("health: redis check failed: %s", exc)
        return {"ok": False, "error": type(exc).__name__}
    finally:
        client.close()
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def _scheduler() -> dict[str, object]:
    from tasks.scheduler import LEASE_FOR, heartbeat_age
    from tenants.db import utcnow

    age = heartbeat_age(db.session, now=utcnow())
    db.session.rollback()
    if age is None:
        return {"heartbeat_age_s": None, "leading": False}
    return {
        "heartbeat_age_s": round(age, 1),
        "leading": age <= LEASE_FOR.total_seconds(),
    }


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    checks: dict[str, dict[str, object]] = {"database": _check_database()}
    if current_app.config.get("REDIS_URL"):
        checks["redis"] = _check_redis(current_app.config["REDIS_URL"])
    healthy = all(c["ok"] for c in checks.values())
    body = {"status": "ok" if healthy else "degraded", **checks}
    if checks["database"]["ok"]:
        body["scheduler"] = _scheduler()
    return jsonify(body), 200 if healthy else 503
