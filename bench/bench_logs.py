"""What storing a batch of 500 logs costs, as a ratio against the same 500 logs sent one
at a time (the baseline: what a client without batching would do), in the same run.

Each side logs 500 fresh occurrences of the same children through routines.logs.record_logs
and is rolled back afterwards, so both start from the same data. Prints the time per
batch, the time of 500 single sends, their ratio, and the SQL statements each issued.

    .venv/bin/python -m bench.bench_logs [--db URL] [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from routines import children, logs, occurrences
from routines import models as m
from tenants import accounts, organisations
from tenants.context import tenant_context
from tenants.db import make_engine
from tenants.passwords import use_fast_hashing_for_tests

NOW = datetime(2026, 12, 10, tzinfo=UTC)
BATCH = 500


def seed(session: Session) -> tuple[int, m.Occurrence, list[int]]:
    """An organisation with 10 children in one household, each with 6 routines a day
    materialised over the fortnight before NOW: enough unlogged occurrences for a batch."""
    org = organisations.create_organisation(
        session, slug="bench-logs", name="Bench", time_zone="Europe/London"
    )
    with tenant_context(org.id):
        clinician = accounts.create_user(
            session,
            email="c@bench.example",
            name="C",
            password="bench password 1",  # noqa: S106
        )
        carer = accounts.create_user(
            session,
            email="k@bench.example",
            name="K",
            password="bench password 1",  # noqa: S106
        )
        clinician_m = organisations.add_member(session, clinician, ["clinician"])
        carer_m = organisations.add_member(session, carer, ["carer"])
        activity = m.Activity(
            name="Rocking",
            instructions="Rock.",
            domains=["sensory_integration"],
            rs=["rhythmic"],
            typical_minutes=5,
            settings=["home"],
            dev_age_min_months=0,
            dev_age_max_months=216,
        )
        session.add(activity)
        for n in range(10):
            child = children.add_child(
                session,
                children.ChildDetails(f"Child{n}", "Bench", date(2018, 1, 1), household_name="H"),
                actor=clinician,
                actor_membership=clinician_m,
                default_time_zone="Europe/London",
                today=date(2026, 11, 23),
            )
            children.add_team_member(
                session,
                child,
                membership_id=carer_m.id,
                team_role="carer",
                relationship="foster_carer",
                actor=clinician,
            )
            version = m.PlanVersion(
                plan=m.Plan(child_id=child.id),
                status="published",
                number=1,
                effective_from=date(2026, 11, 1),
            )
            version.items.append(
                m.PlanItem(
                    activity=activity,
                    position=1,
                    domain="sensory_integration",
                    assignee="household",
                    minutes=5,
                    start_date=date(2026, 11, 1),
                    frequency={
                        "days": list(range(7)),
                        "mode": "times",
                        "times": ["07:00", "09:00", "12:00", "15:00", "18:00", "19:30"],
                    },
                )
            )
            session.add(version)
            session.flush()
            occurrences.materialise(
                session, child, now=datetime(2026, 11, 26, tzinfo=UTC), horizon_days=14
            )
        ids = list(session.scalars(select(m.Occurrence.id).order_by(m.Occurrence.id)))
    session.commit()
    return org.id, (carer, carer_m), ids[:BATCH]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    use_fast_hashing_for_tests()
    url = args.db
    if url is None:
        from tests.services import migrate

        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
        migrate(url)
    engine = make_engine(url)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with Session(engine) as session:
        org_id, (carer, carer_m), ids = seed(session)
        assert len(ids) == BATCH, len(ids)

        def items() -> list[logs.LogInput]:
            return [logs.LogInput(str(uuid.uuid4()), i, "done") for i in ids]

        def batched() -> int:
            with tenant_context(org_id):
                results = logs.record_logs(
                    session, items(), actor=carer, membership=carer_m, now=NOW, source="bench"
                )
            assert {r.code for r in results} == {201}
            session.rollback()
            return 1

        def one_by_one() -> int:
            with tenant_context(org_id):
                for item in items():
                    [result] = logs.record_logs(
                        session, [item], actor=carer, membership=carer_m, now=NOW, source="bench"
                    )
                    assert result.code == 201
            session.rollback()
            return 1

        def timed(fn) -> tuple[float, int]:  # type: ignore[no-untyped-def]
            statements.clear()
            started = time.perf_counter()
            fn()
            return time.perf_counter() - started, len(statements)

        timed(batched)  # warm the statement cache
        batch = [timed(batched) for _ in range(args.rounds)]
        single = [timed(one_by_one) for _ in range(args.rounds)]
    engine.dispose()
    b = statistics.median(t for t, _ in batch)
    s = statistics.median(t for t, _ in single)
    print(f"database: {engine.dialect.name}")
    print(f"one batch of {BATCH}:       {b * 1e3:8.1f} ms, {batch[0][1]:5d} SQL statements")
    print(f"{BATCH} single sends (base): {s * 1e3:8.1f} ms, {single[0][1]:5d} SQL statements")
    print(f"ratio batch/baseline:      {b / s:8.3f}")


if __name__ == "__main__":
    main()
