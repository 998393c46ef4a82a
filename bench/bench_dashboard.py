"""What the caseload dashboard's data costs read from the nightly rollups, as a ratio against
the same data computed from the raw occurrences and logs, in the same run.

Seeds one organisation whose clinician has N children (50 by default), each with a year of
routines (rocking at home twice a day, a movement break at school on weekdays) with
outcomes and logs, then builds the rollups. The measured side is routines.caseload as the
page runs it (stored rollups for the unchanged days, today's rows live); the baseline is the
same function with the rollups set aside, so every row is counted from the occurrences.
Both must give the same figures. Prints the median time of each, their ratio, and the SQL
statements each issued.

    .venv/bin/python -m bench.bench_dashboard [--db URL] [--children N] [--rounds N] [--analyze]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import case, event, insert, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from routines import caseload, children, occurrences, rollups
from routines import models as m
from tenants import accounts, organisations
from tenants.context import tenant_context
from tenants.db import make_engine
from tenants.models import Membership, Organisation
from tenants.passwords import use_fast_hashing_for_tests

NOW = datetime(2026, 12, 10, 15, 0, tzinfo=UTC)
YEAR_AGO = NOW - timedelta(days=365)
ZONE = "Europe/London"
OUTCOMES = ("done", "done", "done", "partly", "skipped", "missed", "excused")


def _activity(session: Session, name: str, minutes: int) -> m.Activity:
    row = m.Activity(
        name=name,
        instructions=f"{name}, slowly and rhythmically.",
        domains=["sensory_integration"],
        rs=["rhythmic", "repetitive"],
        typical_minutes=minutes,
        settings=["home", "school"],
        dev_age_min_months=0,
        dev_age_max_months=216,
    )
    session.add(row)
    return row


def seed(session: Session, count: int) -> tuple[int, int]:
    """The organisation and its clinician's membership, with `count` children and a year of
    logged routines each, rolled up as the night would."""
    org = organisations.create_organisation(
        session, slug="bench-dashboard", name="Bench", time_zone=ZONE
    )
    with tenant_context(org.id):
        clinician = accounts.create_user(
            session,
            email="c@bench.example",
            name="C",
            password="bench password 1",  # noqa: S106 - throwaway data
        )
        clinician_m = organisations.add_member(session, clinician, ["clinician"])
        rocking = _activity(session, "Rocking", 5)
        movement = _activity(session, "Movement break", 10)
        start = YEAR_AGO.date()
        for n in range(count):
            child = children.add_child(
                session,
                children.ChildDetails(
                    f"Child{n:03d}",
                    "Bench",
                    date(2018, 1, 1),
                    household_name=f"Home {n % 40}",
                    school_name="Brook Primary",
                    classroom_name=f"Year {n % 6 + 1}",
                ),
                actor=clinician,
                actor_membership=clinician_m,
                default_time_zone=ZONE,
                today=NOW.date(),
            )
            version = m.PlanVersion(
                plan=m.Plan(child_id=child.id), status="published", number=1, effective_from=start
            )
            version.items.extend(
                [
                    m.PlanItem(
                        activity=rocking,
                        position=1,
                        domain="sensory_integration",
                        assignee="household",
                        minutes=5,
                        start_date=start,
                        frequency={
                            "days": list(range(7)),
                            "mode": "times",
                            "times": ["07:30", "18:30"],
                        },
                    ),
                    m.PlanItem(
                        activity=movement,
                        position=2,
                        domain="self_regulation",
                        assignee="classroom",
                        minutes=10,
                        start_date=start,
                        frequency={"days": [0, 1, 2, 3, 4], "mode": "times", "times": ["10:15"]},
                    ),
                ]
            )
            session.add(version)
            session.flush()
            occurrences.materialise(session, child, now=YEAR_AGO, horizon_days=370)
        o = m.Occurrence
        past = o.local_date < NOW.date()
        session.execute(
            update(o)
            .where(past)
            .values(
                status=case(
                    *((o.id % len(OUTCOMES) == i, s) for i, s in enumerate(OUTCOMES)),
                    else_="done",
                )
            )
            .execution_options(synchronize_session=False)
        )
        logged = session.execute(
            select(o.id, o.child_id, o.status, o.due_at).where(
                o.status.in_(("done", "partly", "skipped"))
            )
        ).all()
        session.execute(
            insert(m.RoutineLog),
            [
                {
                    "tenant_id": org.id,
                    "client_uuid": uuid.uuid4(),
                    "payload_hash": "b" * 64,
                    "occurrence_id": occ_id,
                    "child_id": child_id,
                    "status": status,
                    "reason": "no_time" if status == "skipped" else None,
                    "minutes": (None, 4, 8)[occ_id % 3],
                    "state_before": ("alarm", None, "alert")[occ_id % 3],
                    "state_after": ("calm", None, "calm")[occ_id % 3],
                    "source": "bench",
                    "logged_at": due_at,
                }
                for occ_id, child_id, status, due_at in logged
            ],
        )
        session.execute(
            update(o).values(updated_at=YEAR_AGO).execution_options(synchronize_session=False)
        )
        rollups.roll_up(session, now=NOW - timedelta(hours=12))
        # Today's logs, after the night: read live on both sides.
        session.execute(
            update(o)
            .where(o.local_date == NOW.date(), o.id % 2 == 0)
            .values(status="done", updated_at=NOW)
            .execution_options(synchronize_session=False)
        )
    session.commit()
    return org.id, clinician_m.id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--children", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--analyze", action="store_true", help="gather planner statistics (ANALYZE) after seeding"
    )
    args = parser.parse_args()
    use_fast_hashing_for_tests()
    url, scratch = args.db, None
    if url is None:
        from tests.services import migrate

        scratch = Path(tempfile.mkdtemp())
        url = f"sqlite:///{scratch / 'bench.db'}"
        migrate(url)
    engine = make_engine(url)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with Session(engine) as session:
        started = time.perf_counter()
        org_id, membership_id = seed(session, args.children)
        seeded = time.perf_counter() - started
        if args.analyze:
            session.execute(text("ANALYZE"))
            session.commit()
        with tenant_context(org_id):
            held = session.scalar(select(m.Occurrence.id).order_by(m.Occurrence.id.desc()))
            rows = session.query(m.AdherenceRollup).count()

        def read(from_rollups: bool) -> list[tuple]:  # type: ignore[type-arg]
            with tenant_context(org_id):
                org = session.get(Organisation, org_id)
                membership = session.get(Membership, membership_id)
                assert org is not None and membership is not None
                if not from_rollups:  # as if no night had ever run: count the occurrences
                    set_committed_value(org, "rollups_through", None)
                    set_committed_value(org, "rollups_as_of", None)
                entries = caseload.caseload(session, membership, org, now=NOW)
                figures = [(e.child.id, e.week, e.previous_week, e.month) for e in entries]
            session.rollback()
            return figures

        def timed(from_rollups: bool) -> tuple[float, int, list[tuple]]:  # type: ignore[type-arg]
            statements.clear()
            begun = time.perf_counter()
            figures = read(from_rollups)
            return time.perf_counter() - begun, len(statements), figures

        warm_rollups, warm_raw = timed(True), timed(False)  # warm the statement cache
        assert warm_rollups[2] == warm_raw[2], "rollups and raw occurrences disagree"
        assert len(warm_rollups[2]) == args.children
        stored = [timed(True) for _ in range(args.rounds)]
        raw = [timed(False) for _ in range(args.rounds)]
    engine.dispose()
    if scratch is not None:
        shutil.rmtree(scratch)
    s = statistics.median(t for t, _, _ in stored)
    r = statistics.median(t for t, _, _ in raw)
    print(f"database: {engine.dialect.name}")
    print(
        f"{args.children} children, occurrences up to id {held}, {rows} rollup rows "
        f"(seeded in {seeded:.1f} s{', then ANALYZE' if args.analyze else ''})"
    )
    print(f"caseload from rollups:     {s * 1e3:8.1f} ms, {stored[0][1]:3d} SQL statements")
    print(f"caseload from raw (base):  {r * 1e3:8.1f} ms, {raw[0][1]:3d} SQL statements")
    print(f"ratio = rollups / raw:     {s / r:8.3f}")


if __name__ == "__main__":
    main()
