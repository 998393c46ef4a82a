"""PostgreSQL row-level security for tenant tables (layer 3 of isolation).

Each tenant table gets one policy: a row is visible and writable only when its
tenant_id equals the transaction's `app.tenant_id`, or when the transaction
runs inside the named cross_tenant() bypass. With neither set, nothing is
visible: fail closed. FORCE makes the policy bind the table owner as well;
only superusers and BYPASSRLS roles escape it, so the application must
connect as a role that is neither (see README, "PostgreSQL").
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

POLICY = "tenant_isolation"
_PREDICATE = (
    "(tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::integer"
    " OR current_setting('app.cross_tenant', true) = 'on')"
)
# Tables the application may only read and append to.
APPEND_ONLY = frozenset({"audit_events"})


def enable_rls_statements(table: str) -> list[str]:
    return [
        f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY',
        f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY',
        f'CREATE POLICY {POLICY} ON "{table}" USING {_PREDICATE} WITH CHECK {_PREDICATE}',
    ]


def disable_rls_statements(table: str) -> list[str]:
    return [
        f'DROP POLICY IF EXISTS {POLICY} ON "{table}"',
        f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY',
        f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY',
    ]


def enable_rls(op: Any, table: str) -> None:
    """For migrations: turn on RLS for a new tenant table (no-op off PostgreSQL)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in enable_rls_statements(table):
        op.execute(statement)


def disable_rls(op: Any, table: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in disable_rls_statements(table):
        op.execute(statement)


def grant_app_role(conn: Any, role: str) -> None:
    """Grant the application role DML on Cadence's tables, and only SELECT/INSERT on append-only
    ones. Run as the owner after each migration (and once: default privileges cover new tables
    created later by the same owner)."""
    quoted = conn.dialect.identifier_preparer.quote(role)
    conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {quoted}"))
    tables = [
        row[0]
        for row in conn.execute(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename <> 'alembic_version'"
            )
        )
    ]
    for table in tables:
        rights = "SELECT, INSERT" if table in APPEND_ONLY else "SELECT, INSERT, UPDATE, DELETE"
        conn.execute(text(f'GRANT {rights} ON "{table}" TO {quoted}'))
        if table in APPEND_ONLY:
            conn.execute(text(f'REVOKE UPDATE, DELETE, TRUNCATE ON "{table}" FROM {quoted}'))
    conn.execute(text(f"GRANT SELECT ON alembic_version TO {quoted}"))
    conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}"))
