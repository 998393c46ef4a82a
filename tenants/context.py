"""Which organisation the current unit of work acts for.

The tenant is carried in a context variable so that a web request, a Celery
task, a CLI command and a test all set it the same way. `cross_tenant()` is
the one named bypass for work that legitimately spans organisations (a
person's own memberships, scheduled jobs); grep for it when auditing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

logger = logging.getLogger(__name__)

_tenant_id: ContextVar[int | None] = ContextVar("cadence_tenant_id", default=None)
_cross_tenant: ContextVar[str | None] = ContextVar("cadence_cross_tenant", default=None)


def current_tenant_id() -> int | None:
    return _tenant_id.get()


def cross_tenant_reason() -> str | None:
    return _cross_tenant.get()


@contextmanager
def tenant_context(tenant_id: int) -> Iterator[None]:
    """Act for one organisation inside the block."""
    if not isinstance(tenant_id, int) or isinstance(tenant_id, bool):
        raise TypeError("tenant_id must be an int")
    token = _tenant_id.set(tenant_id)
    try:
        yield
    finally:
        _tenant_id.reset(token)


def set_tenant(tenant_id: int | None) -> None:
    """Set the tenant for the rest of this context (a request); cleared by clear_tenant()."""
    _tenant_id.set(tenant_id)


def clear_tenant() -> None:
    _tenant_id.set(None)
    _cross_tenant.set(None)


@contextmanager
def cross_tenant(reason: str) -> Iterator[None]:
    """The single, named bypass of tenant isolation. Give the reason; it is logged."""
    if not reason:
        raise ValueError("cross_tenant() needs a reason")
    logger.debug("cross-tenant access: %s", reason)
    token = _cross_tenant.set(reason)
    try:
        yield
    finally:
        _cross_tenant.reset(token)
