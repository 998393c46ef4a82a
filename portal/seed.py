"""CLI glue for seeding: opens the unit of work, commits, finds the demo password."""

from __future__ import annotations

import secrets
from zoneinfo import ZoneInfo

from portal.config import instance_path
from portal.extensions import db
from routines import demo as routines_demo
from routines import rollups
from tenants import demo
from tenants.context import tenant_context
from tenants.db import utcnow


def demo_password() -> str:
    """The demo password kept under instance/, made once, so it stays valid across re-seeds."""
    path = instance_path() / "demo-password"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(9))
        path.chmod(0o600)
    return path.read_text().strip()


def seed_demo_organisation(*, slug: str, password: str) -> list[tuple[str, list[str]]]:
    """People first, then the clinical picture (children, care teams, ...), in one commit."""
    try:
        seeded = demo.seed_demo_organisation(db.session, slug=slug, password=password)
        with tenant_context(seeded.org.id):
            today = utcnow().astimezone(ZoneInfo(seeded.org.time_zone)).date()
            routines_demo.seed_children(db.session, seeded.org, seeded.people, today)
            # The dashboards read the nightly rollups: build them now rather than at 03:00.
            rollups.roll_up(db.session, now=utcnow(), rebuild=True)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return seeded.accounts


def create_admin(**kwargs: str | None) -> str:
    try:
        org, user, created = demo.create_admin(db.session, **kwargs)  # type: ignore[arg-type]
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    what = "created" if created else "existing"
    return f"{user.email} is an admin of {org.name} ({what} organisation, /o/{org.slug}/)."
