"""What tenant isolation costs per query, as a ratio against a hand-filtered baseline.

Both sides run the same SELECT on the same data in the same process: the
baseline filters tenant_id by hand under the cross_tenant() bypass (no loader
criteria added); the measured side relies on the isolation listener. Prints
the median time per query of each and their ratio.

    .venv/bin/python -m bench.bench_isolation [--db URL] [--queries N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from tenants import accounts, organisations
from tenants.context import cross_tenant, tenant_context
from tenants.db import make_engine
from tenants.models import Membership
from tenants.passwords import use_fast_hashing_for_tests


def seed(session: Session, orgs: int, members: int) -> list[int]:
    ids = []
    for o in range(orgs):
        org = organisations.create_organisation(
            session, slug=f"bench-{o}", name=f"Bench {o}", time_zone="Europe/London"
        )
        with tenant_context(org.id):
            for m in range(members):
                user = accounts.create_user(
                    session,
                    email=f"p{m}@bench-{o}.example",
                    name=f"P {m}",
                    password="bench password 1",  # noqa: S106 - throwaway data
                )
                organisations.add_member(session, user, ["carer"])
        ids.append(org.id)
    session.commit()
    return ids


def timed(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--queries", type=int, default=2000)
    args = parser.parse_args()
    use_fast_hashing_for_tests()
    url = args.db
    if url is None:
        from tests.services import migrate

        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
        migrate(url)
    engine = make_engine(url)
    with Session(engine) as session:
        org_ids = seed(session, orgs=5, members=40)
        target = org_ids[2]

        def filtered() -> None:
            with tenant_context(target):
                session.scalars(select(Membership)).all()
            session.rollback()

        def baseline() -> None:
            with cross_tenant("benchmark baseline"):
                session.scalars(select(Membership).where(Membership.tenant_id == target)).all()
            session.rollback()

        for fn in (filtered, baseline):  # warm caches and the statement cache
            timed(fn, 50)
        rounds = 5
        base = [timed(baseline, args.queries // rounds) for _ in range(rounds)]
        iso = [timed(filtered, args.queries // rounds) for _ in range(rounds)]
    engine.dispose()
    b, i = statistics.median(base), statistics.median(iso)
    print(f"database: {engine.dialect.name}")
    print(f"baseline (hand filter, bypass): {b * 1e6:8.1f} µs/query")
    print(f"isolation listener:             {i * 1e6:8.1f} µs/query")
    print(f"ratio isolation/baseline:       {i / b:8.2f}")


if __name__ == "__main__":
    main()
