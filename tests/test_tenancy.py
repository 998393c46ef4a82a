"""Layer 2 of tenant isolation, the ORM: reads are filtered to the acting organisation,
fail closed with none, writes are stamped and checked, and the audit trail only grows.

Runs on SQLite and PostgreSQL. On PostgreSQL row-level security sits underneath as well;
on SQLite these tests are the only line of defence they describe.
"""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, insert, inspect, select, update
from sqlalchemy.orm import joinedload

import routines.models  # noqa: F401 - every model package registers on Base before collection
from tenants import accounts, audit, organisations
from tenants.audit import AuditTrailIsAppendOnly
from tenants.context import cross_tenant, current_tenant_id, tenant_context
from tenants.db import Base
from tenants.errors import NotFound
from tenants.isolation import TenantIsolationError, TenantScoped, tenant_tables
from tenants.models import AuditEvent, Invitation, Membership, MembershipRole, User
from tests.conftest import PASSWORD, add_tenant_rows


def tenant_models() -> list[type]:
    models = [m.class_ for m in Base.registry.mappers if issubclass(m.class_, TenantScoped)]
    return sorted(models, key=lambda cls: cls.__name__)


@pytest.fixture
def populated(db, orgs):  # type: ignore[no-untyped-def]
    """Both organisations hold rows of every tenant model: memberships and roles (from
    `orgs`), an invitation and audit events."""
    add_tenant_rows(db, orgs)
    db.expunge_all()
    with cross_tenant("test: every tenant model has rows in both organisations"):
        for model in tenant_models():
            held = set(db.scalars(select(model.tenant_id)))
            assert held == {orgs[0].id, orgs[1].id}, f"{model.__name__} lacks test rows"
    return orgs


def new_user(db, email: str = "someone.new@example.org") -> User:  # type: ignore[no-untyped-def]
    return accounts.create_user(db, email=email, name="Someone New", password=PASSWORD)


def membership_states(db) -> dict[int, tuple[int, bool]]:  # type: ignore[no-untyped-def]
    """id -> (tenant_id, is_active) of every membership, read fresh from the database."""
    with cross_tenant("test: inspect both organisations"):
        rows = db.execute(select(Membership.id, Membership.tenant_id, Membership.is_active))
        return {row.id: (row.tenant_id, row.is_active) for row in rows}


def populated_id(db, model, tenant_id: int) -> int:  # type: ignore[no-untyped-def]
    with cross_tenant("test: pick a row"):
        some_id = db.scalar(select(model.id).where(model.tenant_id == tenant_id).limit(1))
    assert some_id is not None
    return some_id


# --- reads ---------------------------------------------------------------------------------


@pytest.mark.parametrize("model", tenant_models(), ids=lambda m: m.__name__)
def test_tenant_context_reads_only_that_tenants_rows(db, populated, model):  # type: ignore[no-untyped-def]
    alpha, beta = populated
    for org in (alpha, beta):
        db.expunge_all()
        with tenant_context(org.id):
            rows = db.scalars(select(model)).all()
            ids = db.scalars(select(model.id)).all()
            count = db.scalar(select(func.count()).select_from(model))
        assert rows, f"{org.slug} sees none of its own {model.__name__} rows"
        assert {row.tenant_id for row in rows} == {org.id}
        assert sorted(ids) == sorted(row.id for row in rows)
        assert count == len(rows)


def test_memberships_in_tenant_context_are_that_tenants_people(db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    db.expunge_all()
    with tenant_context(alpha.id):
        memberships = db.scalars(select(Membership)).all()
        users = db.scalars(select(User).join(Membership, Membership.user_id == User.id)).all()
        # the tenant filter reaches into subqueries too
        in_subquery = db.scalars(
            select(User.email).where(User.id.in_(select(Membership.user_id)))
        ).all()
    alpha_people = {alpha.admin.id, alpha.clinician.id, alpha.carer.id, alpha.teacher.id}
    assert {m.user_id for m in memberships} == alpha_people
    assert {m.tenant_id for m in memberships} == {alpha.id}
    assert {u.id for u in users} == alpha_people
    assert sorted(in_subquery) == sorted(
        f"{role}@alpha.example" for role in ("admin", "carer", "clinician", "teacher")
    )


@pytest.mark.parametrize("model", tenant_models(), ids=lambda m: m.__name__)
def test_no_tenant_reads_no_tenant_rows(db, populated, model):  # type: ignore[no-untyped-def]
    alpha, beta = populated
    db.expunge_all()
    assert current_tenant_id() is None
    some_id = populated_id(db, model, beta.id)
    assert db.scalars(select(model)).all() == []
    assert db.scalar(select(func.count()).select_from(model)) == 0
    assert db.get(model, some_id) is None


@pytest.mark.parametrize("model", tenant_models(), ids=lambda m: m.__name__)
def test_cross_tenant_reads_every_tenant(db, populated, model):  # type: ignore[no-untyped-def]
    alpha, beta = populated
    db.expunge_all()
    with cross_tenant("test: both organisations"):
        rows = db.scalars(select(model)).all()
    assert {row.tenant_id for row in rows} == {alpha.id, beta.id}
    # ...inside a tenant context too: the bypass wins, and ends with its block
    with tenant_context(alpha.id):
        with cross_tenant("test: both organisations from alpha"):
            both = db.scalars(select(model.tenant_id)).all()
        alpha_only = db.scalars(select(model.tenant_id)).all()
    assert set(both) == {alpha.id, beta.id}
    assert set(alpha_only) == {alpha.id}


def test_cross_tenant_needs_a_reason():  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="reason"), cross_tenant(""):
        pass


def test_get_refuses_another_tenants_object_even_from_the_identity_map(db, populated):  # type: ignore[no-untyped-def]
    alpha, beta = populated
    db.expunge_all()
    with cross_tenant("test: load beta's objects into the session"):
        beta_membership = db.scalar(select(Membership).where(Membership.tenant_id == beta.id))
        beta_invitation = db.scalar(select(Invitation).where(Invitation.tenant_id == beta.id))
    with tenant_context(alpha.id):
        with pytest.raises(NotFound):
            organisations.get_membership(db, beta_membership.id)
        with pytest.raises(NotFound):
            organisations.get_invitation(db, beta_invitation.id)
    db.expunge_all()
    with tenant_context(alpha.id):
        with pytest.raises(NotFound):
            organisations.get_membership(db, beta_membership.id)
        with pytest.raises(NotFound):
            organisations.get_invitation(db, beta_invitation.id)


# --- relationship loads --------------------------------------------------------------------


@pytest.fixture
def stray_role(db, orgs):  # type: ignore[no-untyped-def]
    """A role row stamped with beta's tenant but pointing at alpha's carer membership:
    only a cross-tenant writer could make it, and no tenant context may see it through
    the relationship."""
    alpha, beta = orgs
    with tenant_context(alpha.id):
        carer = organisations.membership_for(db, alpha.carer)
    with cross_tenant("test: plant a row of beta's on alpha's membership"):
        row = MembershipRole(membership_id=carer.id, role="teacher", tenant_id=beta.id)
        db.add(row)
        db.flush()
    db.commit()
    db.expunge_all()
    return carer.id, row.id


def test_selectin_relationship_load_is_filtered(db, orgs, stray_role):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    membership_id, _ = stray_role
    with tenant_context(alpha.id):
        membership = db.scalar(select(Membership).where(Membership.id == membership_id))
        assert [r.role for r in membership.role_rows] == ["carer"]
        assert {r.tenant_id for r in membership.role_rows} == {alpha.id}
    db.expunge_all()
    with cross_tenant("test: the planted row is really there"):
        membership = db.scalar(select(Membership).where(Membership.id == membership_id))
        assert sorted(r.role for r in membership.role_rows) == ["carer", "teacher"]


def test_joined_relationship_load_is_filtered(db, orgs, stray_role):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    membership_id, _ = stray_role
    with tenant_context(alpha.id):
        membership = (
            db.scalars(
                select(Membership)
                .options(joinedload(Membership.role_rows))
                .where(Membership.id == membership_id)
            )
            .unique()
            .one()
        )
        assert [r.role for r in membership.role_rows] == ["carer"]


def test_lazy_relationship_load_is_filtered(db, orgs, stray_role):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    membership_id, role_id = stray_role
    with tenant_context(beta.id):
        row = db.get(MembershipRole, role_id)
        assert row is not None and row.tenant_id == beta.id
        # its membership is alpha's: acting for beta, it is not there
        assert row.membership is None


# --- bulk UPDATE and DELETE statements -----------------------------------------------------


def test_update_statement_changes_only_current_tenants_rows(db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    before = membership_states(db)
    beta_ids = [i for i, (tenant, _) in before.items() if tenant == beta.id]
    with tenant_context(alpha.id):
        everything = db.execute(update(Membership).values(is_active=False))
        aimed_at_beta = db.execute(
            update(Membership).where(Membership.id.in_(beta_ids)).values(is_active=False)
        )
    assert everything.rowcount == 4
    assert aimed_at_beta.rowcount == 0
    after = membership_states(db)
    for membership_id, (tenant, active) in after.items():
        assert tenant == before[membership_id][0]
        assert active is (tenant == beta.id), f"membership {membership_id} of {tenant}"


def test_update_statement_with_no_tenant_changes_nothing(db, orgs):  # type: ignore[no-untyped-def]
    before = membership_states(db)
    result = db.execute(update(Membership).values(is_active=False))
    assert result.rowcount == 0
    assert membership_states(db) == before


def test_delete_statement_removes_only_current_tenants_rows(db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    before = membership_states(db)
    beta_ids = [i for i, (tenant, _) in before.items() if tenant == beta.id]
    with tenant_context(alpha.id):
        aimed_at_beta = db.execute(delete(Membership).where(Membership.id.in_(beta_ids)))
        roles = db.execute(delete(MembershipRole))
        everything = db.execute(delete(Membership))
    assert aimed_at_beta.rowcount == 0
    assert roles.rowcount == 4
    assert everything.rowcount == 4
    assert membership_states(db) == {i: s for i, s in before.items() if s[0] == beta.id}
    with cross_tenant("test: beta's roles survive"):
        assert set(db.scalars(select(MembershipRole.tenant_id))) == {beta.id}
        assert db.scalar(select(func.count(MembershipRole.id))) == 4


def test_delete_statement_with_no_tenant_removes_nothing(db, orgs):  # type: ignore[no-untyped-def]
    before = membership_states(db)
    assert db.execute(delete(MembershipRole)).rowcount == 0
    assert membership_states(db) == before


# --- writes through the unit of work -------------------------------------------------------


def test_new_rows_are_stamped_with_the_current_tenant(db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    user = new_user(db)
    with tenant_context(alpha.id):
        membership = Membership(user_id=user.id)
        membership.role_rows.append(MembershipRole(role="teacher"))
        db.add(membership)
        db.flush()
        event = audit.record(db, "test.stamped")
    assert membership.tenant_id == alpha.id
    assert [r.tenant_id for r in membership.role_rows] == [alpha.id]
    assert event.tenant_id == alpha.id
    db.commit()
    db.expunge_all()
    with tenant_context(alpha.id):
        found = organisations.membership_for(db, user)
    assert found is not None and found.tenant_id == alpha.id


def test_new_row_of_another_tenant_is_refused_at_flush(db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    user = new_user(db)
    db.commit()
    with tenant_context(alpha.id):
        intruder = Membership(user_id=user.id, tenant_id=beta.id)
        db.add(intruder)
        with pytest.raises(TenantIsolationError, match="organisation"):
            db.flush()
        db.expunge(intruder)
        with pytest.raises(TenantIsolationError):
            db.add(MembershipRole(membership_id=1, role="admin", tenant_id=beta.id))
            db.commit()
        db.rollback()
    with cross_tenant("test: nothing was written"):
        assert db.scalar(select(func.count()).where(Membership.user_id == user.id)) == 0


def test_changing_another_tenants_row_is_refused_at_flush(db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs

    def beta_row() -> Membership:
        db.expunge_all()
        with cross_tenant("test: hold one of beta's rows"):
            return db.scalar(select(Membership).where(Membership.user_id == beta.carer.id))

    victim = beta_row()
    victim_id = victim.id
    with tenant_context(alpha.id):
        victim.is_active = False
        with pytest.raises(TenantIsolationError):
            db.flush()
        db.rollback()
    victim = beta_row()
    with tenant_context(alpha.id):
        db.delete(victim)
        with pytest.raises(TenantIsolationError):
            db.flush()
        db.rollback()
    assert membership_states(db)[victim_id] == (beta.id, True)


def test_moving_a_row_to_another_tenant_is_refused_at_flush(db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    with tenant_context(alpha.id):
        mine = organisations.membership_for(db, alpha.carer)
        mine_id = mine.id
        mine.tenant_id = beta.id
        with pytest.raises(TenantIsolationError):
            db.flush()
        db.rollback()
    assert membership_states(db)[mine_id] == (alpha.id, True)


def test_tenant_row_with_no_tenant_is_refused(db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    user = new_user(db)
    db.commit()
    assert current_tenant_id() is None
    unowned = Membership(user_id=user.id)
    db.add(unowned)
    with pytest.raises(TenantIsolationError, match="no organisation"):
        db.flush()
    db.expunge(unowned)
    # naming an organisation explicitly is no way round it either
    claimed = Membership(user_id=user.id, tenant_id=alpha.id)
    db.add(claimed)
    with pytest.raises(TenantIsolationError):
        db.flush()
    db.expunge(claimed)
    with pytest.raises(TenantIsolationError):
        audit.record(db, "test.no_tenant")
    db.rollback()
    with cross_tenant("test: nothing was written"):
        assert db.scalar(select(func.count()).where(Membership.user_id == user.id)) == 0


# --- the audit trail -----------------------------------------------------------------------


def test_audit_events_cannot_be_changed_or_deleted(db, orgs):  # type: ignore[no-untyped-def]
    alpha_id = orgs[0].id
    with tenant_context(alpha_id):
        event = audit.record(db, "test.original", actor=orgs[0].admin)
        event_id = event.id
        db.commit()
        event.action = "test.rewritten"
        with pytest.raises(AuditTrailIsAppendOnly):
            db.flush()
        db.rollback()
        db.delete(event)
        with pytest.raises(AuditTrailIsAppendOnly):
            db.flush()
        db.rollback()
    with cross_tenant("test: even the bypass may not"):
        event.detail = {"tampered": True}
        with pytest.raises(AuditTrailIsAppendOnly):
            db.commit()
        db.rollback()
    db.expunge_all()
    with tenant_context(alpha_id):
        stored = db.get(AuditEvent, event_id)
        assert stored is not None
        assert stored.action == "test.original"
        assert stored.detail == {}


# --- schema --------------------------------------------------------------------------------


def test_every_table_with_tenant_id_is_a_tenant_scoped_model(db):  # type: ignore[no-untyped-def]
    mapped: dict[str, list[type]] = {}
    for mapper in Base.registry.mappers:
        for table in mapper.tables:
            mapped.setdefault(table.name, []).append(mapper.class_)
    live = inspect(db.connection())
    live_tables = {
        name
        for name in live.get_table_names()
        if any(c["name"] == "tenant_id" for c in live.get_columns(name))
    }
    model_tables = {t.name for t in Base.metadata.sorted_tables if "tenant_id" in t.c}
    problems = []
    for name in sorted(live_tables | model_tables):
        classes = mapped.get(name, [])
        if not classes:
            problems.append(f"{name}: has tenant_id but no model maps it")
        for cls in classes:
            if not issubclass(cls, TenantScoped):
                problems.append(f"{name}: {cls.__name__} must inherit TenantScoped")
    assert not problems, (
        "Every table with a tenant_id column must be a TenantScoped model, or its rows escape "
        "the tenant filter:\n  " + "\n  ".join(problems)
    )
    scoped = {cls.__table__.name for cls in tenant_models()}
    assert set(tenant_tables(Base.metadata)) == scoped
    assert scoped >= {"memberships", "membership_roles", "invitations", "audit_events"}


# --- statements that bypass the flush checks --------------------------------------------


def test_update_statement_cannot_move_rows_to_another_tenant(db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    before = membership_states(db)
    with tenant_context(alpha.id):
        with pytest.raises(TenantIsolationError), db.begin_nested():
            db.execute(
                update(Membership)
                .where(Membership.user_id == alpha.carer.id)
                .values(tenant_id=beta.id)
            )
    assert membership_states(db) == before


def test_insert_statement_cannot_write_another_tenants_row(db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    user = new_user(db)
    db.commit()
    with tenant_context(alpha.id):
        with pytest.raises(TenantIsolationError), db.begin_nested():
            db.execute(insert(Membership).values(user_id=user.id, tenant_id=beta.id))
    with cross_tenant("test: nothing was written"):
        assert db.scalar(select(func.count()).where(Membership.user_id == user.id)) == 0


@pytest.mark.parametrize("statement", ["update", "delete"])
def test_audit_events_cannot_be_changed_by_statements(db, orgs, statement):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with tenant_context(alpha.id):
        event = audit.record(db, "test.original")
        db.commit()
        stmt = (
            update(AuditEvent).values(action="test.rewritten")
            if statement == "update"
            else delete(AuditEvent)
        )
        with pytest.raises(AuditTrailIsAppendOnly), db.begin_nested():
            db.execute(stmt)
        db.expunge_all()
        assert db.scalar(select(AuditEvent.action).where(AuditEvent.id == event.id)) == (
            "test.original"
        )
