"""The JSON API, /api/v1, authenticated by bearer tokens bound to one membership.

Every request except createToken and the OpenAPI document carries
`Authorization: Bearer cad_...`; the token decides the organisation (the tenant is set
from it), the membership and the person. No cookie is ever read, so the API is exempt
from CSRF. Every error, including 404 and 405 for addresses the API does not have,
answers with the one JSON shape of portal.api.errors.
"""

from __future__ import annotations

from flask import Blueprint, g, request
from werkzeug.exceptions import MethodNotAllowed, NotFound

from portal.api import errors
from portal.extensions import csrf, db
from tenants import api_tokens
from tenants.context import set_tenant
from tenants.db import utcnow
from tenants.isolation import get_scoped
from tenants.models import Membership, Organisation

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # bearer tokens, never cookies: a cross-site form cannot act as anyone

# 500 logs with short notes fit in a fraction of this; a client with long notes splits its
# batch (the 413 says so).
MAX_BODY = 1024 * 1024
# Endpoints a client calls before it has a token.
OPEN_ENDPOINTS = {"api.create_token", "api.openapi"}

errors.register(bp)


@bp.before_app_request
def _unknown_api_address():  # type: ignore[no-untyped-def]
    """/api/v1/<nothing routed>, or a wrong method: the API's JSON error, not an HTML page.

    Routing errors are raised after the before-request hooks run, and at that point the
    request belongs to no blueprint, so the blueprint's own error handlers never see them."""
    failure = request.routing_exception
    inside = request.path == bp.url_prefix or request.path.startswith(f"{bp.url_prefix}/")
    if inside and isinstance(failure, NotFound | MethodNotAllowed):
        return errors.from_http(failure)
    return None


def bearer_secret() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


@bp.before_request
def _authenticate():  # type: ignore[no-untyped-def]
    request.max_content_length = MAX_BODY
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    secret = bearer_secret()
    if secret is None:
        return errors.unauthenticated(
            "Send an API token: Authorization: Bearer cad_... (create one with POST "
            "/api/v1/tokens).",
            invalid=False,
        )
    token = api_tokens.authenticate(db.session, secret, now=utcnow())
    if token is None:
        db.session.rollback()
        return errors.unauthenticated(
            "This API token is not valid: it may have expired or been revoked, or its "
            "membership ended. Create a new one."
        )
    # last_used_at, if authenticate refreshed it: committed now, in its own short
    # transaction, so a long batch never holds the token's row.
    db.session.commit()
    set_tenant(token.organisation_id)
    membership = get_scoped(db.session, Membership, token.membership_id)
    organisation = db.session.get(Organisation, token.organisation_id)
    if membership is None or not membership.is_active or organisation is None:
        return errors.unauthenticated("This API token's membership has ended.")
    g.api_token = token
    g.membership = membership
    g.org = organisation
    g.api_user = token.user
    return None


from portal.api import adherence, children, logs, occurrences, openapi, tokens  # noqa: E402, F401
