"""The nightly adherence rollup: scheduled once per organisation per night at 03:00 in the
organisation's zone, and the task builds (and on a repeat rebuilds the same) rollups."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from routines import models as m
from tasks import scheduler
from tenants.context import cross_tenant
from tenants.models import Organisation, PeriodicRun
from tests import routine_factories as f
from tests.routines.test_rollups import _family

NIGHT = datetime(2026, 12, 2, 3, 0, 5, tzinfo=UTC)  # 03:00 in London (GMT in December)


def _runs(db, key: str) -> list[str]:  # type: ignore[no-untyped-def]
    return list(db.scalars(select(PeriodicRun.period).where(PeriodicRun.job == key)))


def test_the_rollup_is_scheduled_once_a_night_per_organisation_at_0300_local(db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    with cross_tenant("test: zones"):
        db.get(Organisation, beta.id).time_zone = "America/New_York"
        db.flush()
    scheduler.schedule_due(db, now=NIGHT - timedelta(days=1))
    before = _runs(db, f"rollups:{alpha.id}")
    scheduler.schedule_due(db, now=NIGHT - timedelta(seconds=10))
    assert _runs(db, f"rollups:{alpha.id}") == before  # not yet 03:00 on 2 December
    for step in range(5):
        scheduler.schedule_due(db, now=NIGHT + timedelta(minutes=step))
    assert sorted(_runs(db, f"rollups:{alpha.id}")) == sorted({*before, "2026-12-02"})
    # New York's 03:00 is 08:00 UTC: its night of 2 December has not come yet at 03:04 UTC
    assert "2026-12-02" not in _runs(db, f"rollups:{beta.id}")
    scheduler.schedule_due(db, now=datetime(2026, 12, 2, 8, 0, 5, tzinfo=UTC))
    assert _runs(db, f"rollups:{beta.id}").count("2026-12-02") == 1


def test_the_task_builds_the_rollups_and_a_repeat_writes_nothing_twice(app, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with f.in_org(alpha):
        fam = _family(db, alpha, random.Random(3))
        db.commit()
    task = app.extensions["celery"].tasks["routines.roll_up_adherence"]
    with app.app_context():
        first = task.apply(kwargs={"org_id": alpha.id}).get()
        again = task.apply(kwargs={"org_id": alpha.id}).get()
    assert first["rows"] > 0 and again == first
    with f.in_org(alpha):
        org = db.get(Organisation, alpha.id)
        db.refresh(org)
        assert org.rollups_through is not None and org.rollups_through >= date(2026, 11, 22)
        stored = db.scalar(
            select(func.count())
            .select_from(m.AdherenceRollup)
            .where(m.AdherenceRollup.child_id == fam.child.id)
        )
        assert stored == first["rows"]
