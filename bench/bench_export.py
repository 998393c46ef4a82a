"""What streaming the research export saves: the peak Python memory (tracemalloc) of
streaming the routines CSV of 20,000 occurrences chunk by chunk, as a ratio against building
the same CSV whole in memory (the baseline: what a non-streaming export would hold before
sending its first byte), in the same run on the same data.

Both sides read the same rows through routines.research_export; only what they keep differs.
Prints the CSV size, each peak, their ratio, and the time each took.

    .venv/bin/python -m bench.bench_export [--db URL] [--occurrences N]
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from routines import children, research_export
from routines import models as m
from tenants import accounts, organisations
from tenants.context import tenant_context
from tenants.db import make_engine
from tenants.passwords import use_fast_hashing_for_tests

CHILDREN = 20
SLOTS = ("07:00", "12:00", "16:00", "19:30")


def seed(session: Session, total: int) -> int:
    """An organisation of CHILDREN children, each with a one-item plan and total/CHILDREN
    occurrences (four a day, going back from 2026), every other one logged."""
    org = organisations.create_organisation(
        session, slug="bench-export", name="Bench", time_zone="Europe/London"
    )
    with tenant_context(org.id):
        clinician = accounts.create_user(
            session,
            email="c@bench.example",
            name="C",
            password="bench password 1",  # noqa: S106
        )
        clinician_m = organisations.add_member(session, clinician, ["clinician"])
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
        per_child = total // CHILDREN
        days = per_child // len(SLOTS) + 1
        first = date(2026, 1, 1) - timedelta(days=days)
        for n in range(CHILDREN):
            child = children.add_child(
                session,
                children.ChildDetails(f"Child{n}", "Bench", date(2018, 1, 1), household_name="H"),
                actor=clinician,
                actor_membership=clinician_m,
                default_time_zone="Europe/London",
                today=date(2026, 11, 23),
            )
            version = m.PlanVersion(
                plan=m.Plan(child_id=child.id),
                status="published",
                number=1,
                effective_from=first,
            )
            item = m.PlanItem(
                activity=activity,
                position=1,
                domain="sensory_integration",
                assignee="household",
                minutes=5,
                start_date=first,
                frequency={"days": list(range(7)), "mode": "times", "times": list(SLOTS)},
            )
            version.items.append(item)
            session.add(version)
            session.flush()
            rows = []
            for k in range(per_child):
                local_date = first + timedelta(days=k // len(SLOTS))
                hours, minutes = map(int, SLOTS[k % len(SLOTS)].split(":"))
                rows.append(
                    {
                        "tenant_id": org.id,
                        "child_id": child.id,
                        "plan_item_id": item.id,
                        "activity_id": activity.id,
                        "side": "home",
                        "assignee": "household",
                        "assignee_key": "household",
                        "household_id": child.household_id,
                        "local_date": local_date,
                        "slot": f"t{SLOTS[k % len(SLOTS)]}",
                        "local_time": clock(hours, minutes),
                        "time_zone": "Europe/London",
                        "due_at": datetime.combine(local_date, clock(hours, minutes), tzinfo=UTC),
                        "minutes": 5,
                        "status": "done" if k % 2 == 0 else "missed",
                    }
                )
            session.execute(insert(m.Occurrence), rows)
            done = session.scalars(
                select(m.Occurrence.id).where(
                    m.Occurrence.child_id == child.id, m.Occurrence.status == "done"
                )
            )
            logged = [
                {
                    "tenant_id": org.id,
                    "client_uuid": uuid.uuid4(),
                    "payload_hash": "0" * 64,
                    "occurrence_id": occurrence_id,
                    "child_id": child.id,
                    "status": "done",
                    "minutes": 6,
                    "state_before": "alert",
                    "state_after": "calm",
                    "enjoyment": 4,
                    "note": "",
                    "source": "seed",
                    "logged_at": datetime(2026, 1, 1, tzinfo=UTC),
                }
                for occurrence_id in done
            ]
            session.execute(insert(m.RoutineLog), logged)
    session.commit()
    return org.id


def measure(fn: Callable[[], int]) -> tuple[int, int, float]:
    """(bytes produced, peak traced bytes, seconds)."""
    gc.collect()
    tracemalloc.start()
    started = time.perf_counter()
    size = fn()
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return size, peak, elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--occurrences", type=int, default=20_000)
    args = parser.parse_args()
    use_fast_hashing_for_tests()
    url = args.db
    if url is None:
        from tests.services import migrate

        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
        migrate(url)
    engine = make_engine(url)
    with Session(engine) as session:
        org_id = seed(session, args.occurrences)
        salt = "b" * 64

        def streamed() -> int:
            # What the web response does: each chunk is sent, then dropped.
            with tenant_context(org_id):
                size = sum(
                    len(chunk) for chunk in research_export.export_chunks(session, "routines", salt)
                )
            session.rollback()
            return size

        def whole() -> int:
            # The baseline: the complete file in memory before the first byte goes out.
            with tenant_context(org_id):
                body = "".join(research_export.export_chunks(session, "routines", salt))
            session.rollback()
            return len(body)

        streamed()  # warm the statement cache and imports
        s_size, s_peak, s_time = measure(streamed)
        w_size, w_peak, w_time = measure(whole)
    engine.dispose()
    assert s_size == w_size, (s_size, w_size)
    rows = args.occurrences // CHILDREN * CHILDREN
    print(f"database: {engine.dialect.name}")
    print(f"routines CSV: {rows} occurrences, {s_size / 1e6:.2f} MB of text")
    print(f"streamed in chunks:   peak {s_peak / 1e6:8.2f} MB, {s_time * 1e3:8.1f} ms")
    print(f"whole file (base):    peak {w_peak / 1e6:8.2f} MB, {w_time * 1e3:8.1f} ms")
    print(f"ratio streamed/baseline peak memory: {s_peak / w_peak:8.3f}")
    print("(times are under tracemalloc, which slows Python several-fold)")


if __name__ == "__main__":
    main()
