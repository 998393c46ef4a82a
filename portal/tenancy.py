"""Organisation-scoped URLs: /o/<org_slug>/... sets the tenant for the request.

A person who is not an active member of the organisation gets 404, the same
answer as for an organisation that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, abort, current_app, g
from flask_login import current_user

from portal.extensions import db, login_manager
from tenants.context import set_tenant
from tenants.organisations import membership_for, organisation_by_slug
from tenants.roles import Role

F = TypeVar("F", bound=Callable[..., Any])


def init_app(app: Flask) -> None:
    @app.url_value_preprocessor
    def _pull_org(endpoint: str | None, values: dict[str, Any] | None) -> None:
        if values and "org_slug" in values:
            g.org_slug = values.pop("org_slug")

    @app.url_defaults
    def _add_org(endpoint: str, values: dict[str, Any]) -> None:
        org = g.get("org")
        if (
            org is not None
            and "org_slug" not in values
            and current_app.url_map.is_endpoint_expecting(endpoint, "org_slug")
        ):
            values["org_slug"] = org.slug

    @app.before_request
    def _enter_org() -> Any:
        slug = g.get("org_slug")
        if slug is None:
            return None
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        org = organisation_by_slug(db.session, slug)
        if org is None:
            abort(404)
        set_tenant(org.id)
        membership = membership_for(db.session, current_user.user)
        if membership is None or not membership.is_active:
            abort(404)
        g.org = org
        g.membership = membership
        return None


def require_role(*roles: Role) -> Callable[[F], F]:
    """Only members holding one of `roles` in the current organisation may continue."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            membership = g.get("membership")
            if membership is None:
                abort(404)
            if not membership.has_role(*roles):
                abort(
                    403,
                    description="You need the "
                    + " or ".join(r.label.lower() for r in roles)
                    + " role for this page.",
                )
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator
