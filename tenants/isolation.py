"""Tenant isolation for the ORM, and the per-transaction tenant for PostgreSQL RLS.

Layer 2 of ENGINEERING.md: every SELECT/UPDATE/DELETE issued through a Session
gets `tenant_id = <current tenant>` for each TenantScoped entity it touches
(SQLAlchemy's with_loader_criteria recipe); new rows are stamped with the
current tenant and rows of another tenant are refused at flush. With no
tenant set and no cross_tenant() bypass, tenant rows are simply invisible:
fail closed.

Layer 3: on PostgreSQL the same tenant is written into the transaction with
set_config('app.tenant_id', ..., true) before the first statement, so that
row-level security policies see it even for raw SQL.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from sqlalchemy import ForeignKey, Integer, event, false, text
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    declared_attr,
    mapped_column,
    with_loader_criteria,
)

from tenants.context import cross_tenant_reason, current_tenant_id

logger = logging.getLogger(__name__)

T = TypeVar("T")


class TenantIsolationError(RuntimeError):
    """A write would have crossed organisations, or had no organisation at all."""


class TenantScoped:
    """Mixin for every table whose rows belong to one organisation."""

    @declared_attr
    def tenant_id(cls) -> Mapped[int]:  # noqa: N805 - declared_attr takes the class
        return mapped_column(
            Integer,
            ForeignKey("organisations.id", ondelete="RESTRICT"),
            nullable=False,
            index=True,
        )


def tenant_tables(metadata: Any) -> list[str]:
    """Names of the tables that carry tenant rows (used by migrations and tests)."""
    return sorted(
        t.name for t in metadata.sorted_tables if "tenant_id" in t.c and t.info.get("tenant", True)
    )


_RLS_KEY = "cadence_rls_state"


def _sync_postgres_tenant(session: Session) -> None:
    """Make the transaction's app.tenant_id match the current context (PostgreSQL only)."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return
    connection = session.connection()  # begins the transaction if needed (after_begin clears state)
    wanted = (current_tenant_id(), cross_tenant_reason() is not None)
    if session.info.get(_RLS_KEY) == wanted:
        return
    tenant, bypass = wanted
    connection.execute(
        text(
            "SELECT set_config('app.tenant_id', :tenant, true),"
            " set_config('app.cross_tenant', :bypass, true)"
        ),
        {"tenant": "" if tenant is None else str(tenant), "bypass": "on" if bypass else "off"},
    )
    session.info[_RLS_KEY] = wanted


@event.listens_for(Session, "after_begin")
def _forget_rls_state(session: Session, transaction: Any, connection: Any) -> None:
    # set_config(..., true) lasts one transaction; a new one starts with nothing set.
    session.info.pop(_RLS_KEY, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_rls_state_after_savepoint(session: Session, transaction: Any) -> None:
    # ROLLBACK TO SAVEPOINT also undoes a set_config() made inside the savepoint.
    if transaction.nested:
        session.info.pop(_RLS_KEY, None)


def _check_write_statement(state: ORMExecuteState) -> None:
    """insert()/update() statements bypass the flush checks: check their tenant_id values."""
    if cross_tenant_reason() is not None:
        return
    mapper = state.bind_mapper
    if mapper is None or not issubclass(mapper.class_, TenantScoped):
        return
    tenant = current_tenant_id()
    name = mapper.class_.__name__
    if state.is_insert and getattr(state.statement, "select", None) is not None:
        # INSERT ... SELECT: the rows come from the query, which the loader criteria do not
        # reach. The caller filters it by the tenant itself and says so, naming the tenant.
        if state.execution_options.get("cadence_insert_select_tenant") != tenant:
            raise TenantIsolationError(f"{name} INSERT ... SELECT not confined to {tenant}")
        return
    if isinstance(state.parameters, list):
        # An ORM bulk INSERT (executemany): the rows carry every value, and the statement
        # cannot be compiled outside the bulk machinery.
        compiled: dict[str, Any] = {}
        rows = state.parameters
    else:
        compiled = state.statement.compile(dialect=state.session.get_bind().dialect).params
        rows = [state.parameters or {}]
    for row in rows:
        values = {**compiled, **row}
        if state.is_insert and values.get("tenant_id") is None:
            raise TenantIsolationError(f"{name} inserted with no organisation")
        if "tenant_id" in values and values["tenant_id"] != tenant:
            raise TenantIsolationError(
                f"{name} statement writes organisation {values['tenant_id']} while acting for "
                f"{tenant}"
            )


@event.listens_for(Session, "do_orm_execute")
def _add_tenant_criteria(state: ORMExecuteState) -> None:
    _sync_postgres_tenant(state.session)
    if state.is_insert or state.is_update:
        _check_write_statement(state)
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.execution_options.get("cadence_skip_tenant_filter"):
        return
    if cross_tenant_reason() is not None:
        return
    tenant = current_tenant_id()
    if tenant is None:
        criteria = with_loader_criteria(
            TenantScoped, lambda cls: false(), include_aliases=True, track_closure_variables=False
        )
    else:
        criteria = with_loader_criteria(
            TenantScoped, lambda cls: cls.tenant_id == tenant, include_aliases=True
        )
    state.statement = state.statement.options(criteria)


@event.listens_for(Session, "before_flush")
def _stamp_and_check_tenant(session: Session, flush_context: Any, instances: Any) -> None:
    _sync_postgres_tenant(session)
    tenant = current_tenant_id()
    bypass = cross_tenant_reason() is not None
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if not isinstance(obj, TenantScoped):
            continue
        if obj.tenant_id is None:
            if tenant is None:
                raise TenantIsolationError(
                    f"{type(obj).__name__} written with no organisation in context"
                )
            obj.tenant_id = tenant
        elif not bypass and obj.tenant_id != tenant:
            raise TenantIsolationError(
                f"{type(obj).__name__} of organisation {obj.tenant_id} written while acting for "
                f"{tenant}"
            )


def get_scoped(db: Session, model: type[T], ident: Any) -> T | None:
    """Session.get for a tenant row: None unless the row belongs to the current tenant.

    Session.get answers from the identity map before any query runs, so a row loaded
    earlier under another tenant (or the cross_tenant() bypass) would skip the loader
    criteria; this checks the row itself."""
    row = db.get(model, ident)
    if row is None or getattr(row, "tenant_id", None) != current_tenant_id():
        return None
    return row
