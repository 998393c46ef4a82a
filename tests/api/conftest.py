"""Helpers for the API tests: tokens, and children with a materialised plan around now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from routines import models as m
from tenants import accounts, api_tokens, organisations
from tenants.db import utcnow
from tenants.organisations import membership_for
from tests import routine_factories as f
from tests.conftest import PASSWORD, Org

EVERY_HALF_HOUR = [f"{h:02d}:{mm}" for h in range(24) for mm in ("00", "30")]


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def token_for(db, org: Org, user: Any, *, now: datetime | None = None) -> str:  # type: ignore[no-untyped-def]
    """A live API token of `user` in `org`, committed (the secret)."""
    with f.in_org(org):
        membership = membership_for(db, user)
        _, secret = api_tokens.create_token(
            db, user, membership, name="test device", now=now or utcnow()
        )
    db.commit()
    return secret


def second_carer(db, org: Org):  # type: ignore[no-untyped-def]
    """Another carer of `org`, on no child's team yet."""
    with f.in_org(org):
        user = accounts.create_user(
            db, email=f"carer2@{org.slug}.example", name="Second carer", password=PASSWORD
        )
        organisations.add_member(db, user, ["carer"])
    db.commit()
    return user


@dataclass
class Kid:
    id: int
    occurrence_ids: list[int]  # home side, in due order
    school_ids: list[int]  # school side, in due order


def kid_with_plan(  # type: ignore[no-untyped-def]
    db,
    org: Org,
    *,
    name: str = "Robin",
    times: list[str] | None = None,
    school_times: list[str] | None = None,
    days_back: int = 1,
    horizon_days: int = 5,
    carer: Any = None,
    teacher: Any = None,
) -> Kid:
    """A child of `org` with the org's carer (and teacher) on the team and a published plan
    materialised from `days_back` days ago: home routines at `times`, school ones (for the
    class) at `school_times`. Committed."""
    with f.in_org(org):
        fam = f.child(db, org, name=name, carer=carer, teacher=teacher)
        items = [
            f.item(
                f.activity(db, f"Rocking {name}"),
                frequency={"days": f.EVERY_DAY, "mode": "times", "times": times or ["07:30"]},
            )
        ]
        if school_times:
            items.append(
                f.item(
                    f.activity(db, f"Movement break {name}"),
                    assignee="classroom",
                    frequency={"days": f.EVERY_DAY, "mode": "times", "times": school_times},
                )
            )
        f.publish(
            db,
            fam.child,
            items,
            now=utcnow() - timedelta(days=days_back),
            horizon_days=horizon_days,
        )
        rows = db.scalars(
            select(m.Occurrence)
            .where(m.Occurrence.child_id == fam.child.id)
            .order_by(m.Occurrence.due_at, m.Occurrence.id)
        ).all()
        kid = Kid(
            fam.child.id,
            [o.id for o in rows if o.side == "home"],
            [o.id for o in rows if o.side == "school"],
        )
    db.commit()
    return kid


@pytest.fixture
def alpha_kid(db, orgs) -> Kid:  # type: ignore[no-untyped-def]
    return kid_with_plan(db, orgs[0], school_times=["10:15"])


@pytest.fixture
def beta_kid(db, orgs) -> Kid:  # type: ignore[no-untyped-def]
    return kid_with_plan(db, orgs[1], name="Sasha", school_times=["10:15"])
