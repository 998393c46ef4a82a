"""createLogs (a batch of up to 500, idempotent by client UUID) and updateLog (a
correction by its author within 48 hours)."""

from __future__ import annotations

import logging
import time

from flask import g, jsonify
from sqlalchemy.exc import IntegrityError, OperationalError

from portal.api import bp
from portal.api.body import json_object
from portal.api.errors import ApiError, error_response
from portal.api.serialise import correction, log, log_result
from portal.extensions import client_address, db
from routines import children, logs
from tenants.db import utcnow

logger = logging.getLogger(__name__)

# Concurrent copies of one batch (a phone retrying while the first send is still running)
# can meet in PostgreSQL as a deadlock or a serialisation failure. Nothing was stored by
# the loser, and the batch is idempotent, so it is simply run again.
ATTEMPTS = 4
BACKOFF_SECONDS = 0.05


def _batch() -> list[logs.LogInput]:
    data = json_object()
    items = data.get("logs")
    if "logs" not in data:
        raise ApiError(422, 'Send the logs as {"logs": [...]}.', field="logs")
    if not isinstance(items, list):
        raise ApiError(422, "logs must be a list of log objects.", field="logs")
    if len(items) > logs.MAX_BATCH:
        raise ApiError(
            413,
            f"Send at most {logs.MAX_BATCH} logs at a time; this batch has {len(items)}.",
            code="too_many_logs",
            field="logs",
        )
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ApiError(
                422, f"Item {index} of logs is not a JSON object: nothing was stored.", field="logs"
            )
    return [logs.as_input(item) for item in items]


@bp.post("/logs")
def create_logs():  # type: ignore[no-untyped-def]
    items = _batch()
    now = utcnow()
    for attempt in range(1, ATTEMPTS + 1):
        try:
            results = logs.record_logs(
                db.session,
                items,
                actor=g.api_user,
                membership=g.membership,
                now=now,
                source="api",
                ip=client_address(),
            )
            body = {"results": [log_result(r, g.api_user, now) for r in results]}
            db.session.commit()
            return jsonify(body)
        except (OperationalError, IntegrityError) as error:
            db.session.rollback()
            logger.info("createLogs attempt %d met a concurrent batch: %s", attempt, error.orig)
            time.sleep(BACKOFF_SECONDS * attempt)
    response = error_response(
        503,
        "The server is busy storing these logs. Send the batch again shortly: logs already "
        "stored are answered as repeats.",
        code="busy",
    )
    response.headers["Retry-After"] = "1"
    return response


@bp.patch("/logs/<id:log_id>")
def update_log(log_id: int):  # type: ignore[no-untyped-def]
    row = logs.get_log(db.session, log_id)
    # A log of a child one may not see is not there at all (404), as for a missing id.
    children.get_child(db.session, row.child_id, g.membership)
    changes = json_object()
    now = utcnow()
    logs.correct_log(db.session, row, changes, actor=g.api_user, now=now, ip=client_address())
    history = logs.corrections_of(db.session, [row.id])[row.id]
    body = {
        "log": log(row, g.api_user, now),
        "corrections": [correction(c) for c in history],
    }
    db.session.commit()
    return jsonify(body)
