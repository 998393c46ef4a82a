"""Keeping every organisation's rolling horizon of occurrences materialised.

Today this runs from `cadence routines extend-horizon`; the background-work issue
schedules it nightly in each organisation's local night."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from routines import occurrences
from tenants.context import tenant_context
from tenants.models import Organisation

logger = logging.getLogger(__name__)


def extend_all_horizons(
    session: Session, *, now: datetime, horizon_days: int = occurrences.HORIZON_DAYS
) -> dict[str, int]:
    """Materialise each organisation's children in its own transaction: one organisation's
    failure neither blocks nor rolls back another's. Returns children done per slug (-1 for
    an organisation that failed; the error is logged)."""
    done: dict[str, int] = {}
    orgs = list(session.execute(select(Organisation.id, Organisation.slug)).all())
    session.rollback()
    for org_id, slug in orgs:
        try:
            with tenant_context(org_id):
                done[slug] = occurrences.extend_horizon(session, now=now, horizon_days=horizon_days)
                session.commit()
        except Exception:
            session.rollback()
            logger.exception("extending the horizon of %s failed", slug)
            done[slug] = -1
    return done
