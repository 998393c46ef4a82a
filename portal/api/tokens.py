"""Tokens and the caller: createToken (signing in through the API), revokeToken, getMe."""

from __future__ import annotations

import json

from flask import current_app, g, jsonify, request

from portal.api import bp, errors
from portal.api.body import json_object, text_field
from portal.api.errors import ApiError
from portal.api.serialise import instant, me
from portal.extensions import client_address, db, limiter
from tenants import accounts, api_tokens
from tenants.context import set_tenant
from tenants.db import utcnow
from tenants.errors import ValidationError
from tenants.organisations import membership_for, organisation_by_slug
from tenants.validation import normalise_email

# One answer for a wrong password, an unknown address and an organisation one is not an
# active member of: a caller learns nothing about which it was.
CREDENTIALS_REFUSED = "Email, password or organisation is incorrect."


def _failed(response) -> bool:  # type: ignore[no-untyped-def]
    # Only failed attempts count towards the limits, as for signing in on the web.
    return response.status_code != 201


def submitted_account_key() -> str:
    """Rate-limit key for the account being tried (the JSON body's email)."""
    try:
        data = json.loads(request.get_data(cache=True))
    except (ValueError, RecursionError):
        data = None
    raw = data.get("email") if isinstance(data, dict) else None
    raw = raw[:254] if isinstance(raw, str) else ""
    try:
        email = normalise_email(raw)  # one counter per account, however it is written
    except ValidationError:
        email = raw.strip().lower()
    return f"account:{email}"


@bp.post("/tokens")
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"],
    deduct_when=_failed,
    scope="api-token-address",
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    key_func=submitted_account_key,
    deduct_when=_failed,
    scope="api-token-account",
)
def create_token():  # type: ignore[no-untyped-def]
    data = json_object()
    email = text_field(data, "email")
    password = text_field(data, "password")
    slug = text_field(data, "organisation")
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise ApiError(422, "Give the token's name as text.", field="name")
    user = accounts.authenticate(db.session, email, password, client_address())  # type: ignore[arg-type]
    membership = None
    if user is not None:
        org = organisation_by_slug(db.session, (slug or "").strip().lower())
        if org is not None:
            set_tenant(org.id)
            membership = membership_for(db.session, user)
    if user is None or membership is None or not membership.is_active:
        db.session.commit()  # keeps the audit rows of failed attempts
        return errors.unauthenticated(CREDENTIALS_REFUSED, invalid=False)
    row, secret = api_tokens.create_token(
        db.session, user, membership, name=name, now=utcnow(), ip=client_address()
    )
    org = membership.organisation
    body = {
        "token": secret,
        "token_id": row.id,
        "name": row.name,
        "expires_at": instant(row.expires_at),
        "organisation": {"slug": org.slug, "name": org.name},
        "membership_id": membership.id,
    }
    db.session.commit()
    return jsonify(body), 201


@bp.delete("/tokens/current")
def revoke_token():  # type: ignore[no-untyped-def]
    api_tokens.revoke_token(
        db.session, g.api_user, g.api_token.id, now=utcnow(), ip=client_address()
    )
    db.session.commit()
    return "", 204


@bp.get("/me")
def get_me():  # type: ignore[no-untyped-def]
    return jsonify(me(g.api_token, g.membership, g.org))
