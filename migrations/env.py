"""Alembic environment for Cadence.

The database URL comes from the Alembic config (set by `cadence db upgrade`
and the tests) or else from MIGRATION_DATABASE_URL / DATABASE_URL, or the
embedded SQLite default. On PostgreSQL, run migrations as the role that owns
the tables; the application connects as a different, unprivileged role.
"""

from __future__ import annotations

import logging
from logging.config import fileConfig

from alembic import context

import routines.models  # noqa: F401 - registers the domain tables
import tenants.models  # noqa: F401 - registers the tenancy tables
from portal.config import migration_database_url
from tenants.db import Base, make_engine

config = context.config
if config.config_file_name is not None and not config.attributes.get("skip_logging"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or migration_database_url()


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
