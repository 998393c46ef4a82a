"""Layer 3 of tenant isolation: PostgreSQL row-level security, checked with raw SQL through
the application's own engine (the unprivileged role cadence_app), below the ORM.

The `db` fixture runs each test in one transaction on one connection; statements expected
to fail run inside a savepoint so that the transaction survives them. Settings made with
set_config(..., true) last for that transaction, so every test sets them explicitly.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from tenants import accounts
from tenants.context import tenant_context
from tenants.db import Base
from tenants.isolation import tenant_tables
from tenants.models import Membership
from tenants.rls import POLICY
from tests.conftest import PASSWORD, add_tenant_rows
from tests.services import APP_ROLE

pytestmark = pytest.mark.postgres_only

INSUFFICIENT_PRIVILEGE = "42501"


def act_as(conn, tenant: int | None = None, *, bypass: bool = False) -> None:  # type: ignore[no-untyped-def]
    """Set the transaction's tenant the way tenants.isolation does, by hand."""
    conn.execute(
        text(
            "SELECT set_config('app.tenant_id', :tenant, true),"
            " set_config('app.cross_tenant', :bypass, true)"
        ),
        {"tenant": "" if tenant is None else str(tenant), "bypass": "on" if bypass else "off"},
    )


def tenant_ids(conn, table: str) -> list[int]:  # type: ignore[no-untyped-def]
    return list(conn.execute(text(f'SELECT tenant_id FROM "{table}"')).scalars())


def refused(excinfo: pytest.ExceptionInfo[DBAPIError]) -> str:
    assert getattr(excinfo.value.orig, "sqlstate", None) == INSUFFICIENT_PRIVILEGE
    return str(excinfo.value.orig)


@pytest.fixture
def populated(db, orgs):  # type: ignore[no-untyped-def]
    """Both organisations hold rows in every tenant table."""
    add_tenant_rows(db, orgs)
    ids = orgs[0].id, orgs[1].id
    conn = db.connection()
    act_as(conn, bypass=True)
    for table in tenant_tables(Base.metadata):
        assert set(tenant_ids(conn, table)) == set(ids), f"{table} lacks test rows"
    return ids


# --- the role ------------------------------------------------------------------------------


def test_app_role_is_unprivileged_and_owns_nothing(db):  # type: ignore[no-untyped-def]
    conn = db.connection()
    role = conn.execute(
        text(
            "SELECT current_user AS name, rolsuper, rolbypassrls"
            " FROM pg_roles WHERE rolname = current_user"
        )
    ).one()
    assert role.name == APP_ROLE
    assert role.rolsuper is False
    assert role.rolbypassrls is False
    owned = conn.execute(
        text(
            "SELECT c.relname, pg_get_userbyid(c.relowner) AS owner FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
            " AND pg_has_role(current_user, c.relowner, 'MEMBER')"
        )
    ).all()
    assert owned == [], f"{APP_ROLE} owns (or is a member of the owner of) {owned}"


# --- the policies --------------------------------------------------------------------------


def test_every_tenant_table_has_forced_rls_and_a_policy(db):  # type: ignore[no-untyped-def]
    tables = tenant_tables(Base.metadata)
    assert {"memberships", "membership_roles", "invitations", "audit_events"} <= set(tables)
    conn = db.connection()
    for table in tables:
        flags = conn.execute(
            text(
                "SELECT c.relrowsecurity, c.relforcerowsecurity FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relname = :table"
            ),
            {"table": table},
        ).one_or_none()
        assert flags is not None, f"{table} is not in the database"
        assert flags.relrowsecurity, f"row-level security is not enabled on {table}"
        assert flags.relforcerowsecurity, f"row-level security is not forced on {table}"
        policies = conn.execute(
            text(
                "SELECT policyname, cmd, permissive, qual, with_check FROM pg_policies"
                " WHERE schemaname = 'public' AND tablename = :table"
            ),
            {"table": table},
        ).all()
        assert [p.policyname for p in policies] == [POLICY], f"{table}: {policies}"
        policy = policies[0]
        assert policy.cmd == "ALL"
        assert policy.permissive == "PERMISSIVE"
        for clause in (policy.qual, policy.with_check):
            assert clause and "app.tenant_id" in clause and "tenant_id" in clause


# --- reading -------------------------------------------------------------------------------


def test_no_tenant_set_reads_no_rows(db, populated):  # type: ignore[no-untyped-def]
    conn = db.connection()
    act_as(conn, bypass=True)
    assert len(tenant_ids(conn, "memberships")) == 8  # the rows exist...
    act_as(conn)
    setting = conn.execute(text("SELECT current_setting('app.tenant_id', true)")).scalar()
    assert setting in ("", None)
    assert conn.execute(text("SELECT * FROM memberships")).all() == []  # ...and are not seen
    for table in tenant_tables(Base.metadata):
        assert tenant_ids(conn, table) == [], f"{table} shows rows with no tenant set"


def test_tenant_set_reads_only_that_tenants_rows(db, populated):  # type: ignore[no-untyped-def]
    conn = db.connection()
    for tenant in populated:
        act_as(conn, tenant)
        rows = conn.execute(text("SELECT * FROM memberships")).mappings().all()
        assert len(rows) == 4
        assert {row["tenant_id"] for row in rows} == {tenant}
        for table in tenant_tables(Base.metadata):
            assert set(tenant_ids(conn, table)) == {tenant}, table


def test_raw_sql_through_the_session_follows_the_tenant_context(db, populated):  # type: ignore[no-untyped-def]
    alpha_id, beta_id = populated
    db.commit()  # a new transaction: the session sets app.tenant_id itself
    with tenant_context(alpha_id):
        seen = db.execute(text("SELECT tenant_id FROM memberships")).scalars().all()
        setting = db.execute(text("SELECT current_setting('app.tenant_id')")).scalar()
    assert seen and set(seen) == {alpha_id}
    assert setting == str(alpha_id)
    with tenant_context(beta_id):
        assert set(db.execute(text("SELECT tenant_id FROM memberships")).scalars()) == {beta_id}
    assert db.execute(text("SELECT tenant_id FROM memberships")).scalars().all() == []


# --- writing -------------------------------------------------------------------------------

INSERT_MEMBERSHIP = text(
    "INSERT INTO memberships (tenant_id, user_id, is_active, created_at)"
    " VALUES (:tenant, :user, true, now()) RETURNING id"
)


def test_insert_for_another_tenant_is_refused(db, populated):  # type: ignore[no-untyped-def]
    alpha_id, beta_id = populated
    user_id = accounts.create_user(
        db, email="someone.new@example.org", name="Someone New", password=PASSWORD
    ).id
    conn = db.connection()
    act_as(conn, alpha_id)
    with pytest.raises(DBAPIError) as excinfo, conn.begin_nested():
        conn.execute(INSERT_MEMBERSHIP, {"tenant": beta_id, "user": user_id})
    assert "row-level security" in refused(excinfo)
    # the same row for the tenant that is set goes in
    assert conn.execute(INSERT_MEMBERSHIP, {"tenant": alpha_id, "user": user_id}).scalar()
    act_as(conn, bypass=True)
    rows = (
        conn.execute(
            text("SELECT tenant_id FROM memberships WHERE user_id = :user"), {"user": user_id}
        )
        .scalars()
        .all()
    )
    assert rows == [alpha_id]


def test_update_and_delete_cannot_reach_or_move_rows(db, populated):  # type: ignore[no-untyped-def]
    alpha_id, beta_id = populated
    conn = db.connection()
    act_as(conn, alpha_id)
    hidden_update = conn.execute(
        text("UPDATE memberships SET is_active = false WHERE tenant_id = :beta"),
        {"beta": beta_id},
    )
    hidden_delete = conn.execute(
        text("DELETE FROM membership_roles WHERE tenant_id = :beta"), {"beta": beta_id}
    )
    assert hidden_update.rowcount == 0
    assert hidden_delete.rowcount == 0
    with pytest.raises(DBAPIError) as excinfo, conn.begin_nested():
        conn.execute(
            text("UPDATE memberships SET tenant_id = :beta WHERE tenant_id = :alpha"),
            {"beta": beta_id, "alpha": alpha_id},
        )
    assert "row-level security" in refused(excinfo)
    act_as(conn, bypass=True)
    states = conn.execute(text("SELECT tenant_id, is_active FROM memberships")).all()
    assert sorted(states) == sorted([(alpha_id, True)] * 4 + [(beta_id, True)] * 4)
    assert sorted(tenant_ids(conn, "membership_roles")) == sorted([alpha_id] * 4 + [beta_id] * 4)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET action = 'tampered'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ],
)
@pytest.mark.parametrize("bypass", [False, True], ids=["tenant", "cross_tenant"])
def test_app_role_cannot_change_the_audit_trail(db, populated, statement, bypass):  # type: ignore[no-untyped-def]
    alpha_id, _ = populated
    conn = db.connection()
    act_as(conn, alpha_id, bypass=bypass)
    before = conn.execute(text("SELECT id, action FROM audit_events ORDER BY id")).all()
    assert before
    with pytest.raises(DBAPIError) as excinfo, conn.begin_nested():
        conn.execute(text(statement))
    assert "permission denied" in refused(excinfo)
    assert conn.execute(text("SELECT id, action FROM audit_events ORDER BY id")).all() == before
    # appending is what the role may do
    conn.execute(
        text(
            "INSERT INTO audit_events (tenant_id, occurred_at, action, detail)"
            " VALUES (:tenant, now(), 'test.appended', '{}')"
        ),
        {"tenant": alpha_id},
    )


# --- savepoints and the per-transaction tenant ----------------------------------------


def test_rolled_back_savepoint_leaves_no_stale_tenant_fail_closed(db, populated):  # type: ignore[no-untyped-def]
    """First statement of the transaction in a savepoint that is rolled back (the usual
    try-insert-and-catch pattern): afterwards the tenant's own rows vanish."""
    alpha_id, _ = populated
    act_as(db.connection())
    db.commit()  # the fixture's transaction now has no tenant set
    with tenant_context(alpha_id):
        savepoint = db.begin_nested()
        assert len(db.scalars(select(Membership)).all()) == 4
        savepoint.rollback()
        assert len(db.scalars(select(Membership)).all()) == 4


def test_rolled_back_savepoint_leaves_no_stale_tenant_leak(db, populated):  # type: ignore[no-untyped-def]
    """Switching tenant inside a savepoint that is rolled back: raw SQL acting for beta
    then reads alpha's rows."""
    alpha_id, beta_id = populated
    db.commit()
    with tenant_context(alpha_id):
        assert set(db.execute(text("SELECT tenant_id FROM memberships")).scalars()) == {alpha_id}
    with tenant_context(beta_id):
        savepoint = db.begin_nested()
        assert set(db.execute(text("SELECT tenant_id FROM memberships")).scalars()) == {beta_id}
        savepoint.rollback()
        seen = set(db.execute(text("SELECT tenant_id FROM memberships")).scalars())
    assert seen == {beta_id}, f"acting for beta, raw SQL saw tenants {seen}"
