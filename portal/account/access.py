"""The profile page's access section: private calendar addresses and API tokens.

Everything here acts on the signed-in person's own things, across their organisations, so
each id in a URL is checked against them (someone else's membership or token is 404, as if
it did not exist), and each change runs inside the organisation it belongs to, where its
audit row is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, current_app, flash, redirect, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from portal.account import bp
from portal.extensions import client_address, db
from portal.forms import ButtonForm
from portal.helpers import external_url
from tenants import accounts, api_tokens
from tenants.context import tenant_context
from tenants.db import utcnow
from tenants.isolation import get_scoped
from tenants.models import ApiToken, Membership, Organisation, User
from tenants.roles import Role

# The people who do routines have routines to put in a calendar.
FEED_ROLES = (Role.CARER, Role.TEACHER)


@dataclass(frozen=True)
class FeedRow:
    membership: Membership
    url: str | None

    @property
    def webcal_url(self) -> str | None:
        """The same address for "subscribe" links: phones open webcal:// in their calendar."""
        if self.url is None:
            return None
        return "webcal://" + self.url.split("://", 1)[1]


def profile_sections(user: User) -> dict[str, Any]:
    """What the profile page shows of feeds and tokens."""
    secret_key = current_app.config["SECRET_KEY"]
    feeds = []
    for membership in accounts.active_memberships(db.session, user):
        if not membership.has_role(*FEED_ROLES):
            continue
        feed = api_tokens.current_feed(db.session, membership)
        url = (
            external_url("feeds.calendar", token=api_tokens.feed_token(secret_key, feed))
            if feed is not None
            else None
        )
        feeds.append(FeedRow(membership, url))
    tokens = api_tokens.tokens_of(db.session, user)
    org_ids = {t.organisation_id for t in tokens}
    org_names = (
        dict(
            db.session.execute(
                select(Organisation.id, Organisation.name).where(Organisation.id.in_(org_ids))
            ).all()
        )
        if org_ids
        else {}
    )
    return {
        "feeds": feeds,
        "tokens": tokens,
        "token_orgs": org_names,
        "now": utcnow(),
        "button": ButtonForm(),
    }


def _own_membership_tenant(membership_id: int) -> int:
    """The organisation of the signed-in person's active membership with this id; 404 for
    anyone else's membership (or one that does not exist)."""
    mine = {m.id: m.tenant_id for m in accounts.active_memberships(db.session, current_user.user)}
    if membership_id not in mine:
        abort(404)
    return mine[membership_id]


def _check_button() -> None:
    # CSRFProtect has already refused a missing token; this refuses any other bad form.
    if not ButtonForm().validate_on_submit():
        abort(400)


def _feed_membership(membership_id: int) -> Membership:
    """The membership again, inside its organisation (the caller has entered it)."""
    membership = get_scoped(db.session, Membership, membership_id)
    if membership is None or not membership.is_active:
        abort(404)
    if membership.user_id != current_user.user.id:
        abort(404)
    if not membership.has_role(*FEED_ROLES):
        abort(403, description="Calendar addresses are for carers and teachers.")
    return membership


@bp.post("/feeds/<id:membership_id>/regenerate")
@login_required
def regenerate_feed(membership_id: int):  # type: ignore[no-untyped-def]
    tenant_id = _own_membership_tenant(membership_id)
    _check_button()
    with tenant_context(tenant_id):
        membership = _feed_membership(membership_id)
        had_one = api_tokens.current_feed(db.session, membership) is not None
        api_tokens.regenerate_feed(
            db.session, current_user.user, membership, now=utcnow(), ip=client_address()
        )
        db.session.commit()
    flash(
        "A new calendar address is ready. The old one has stopped working: subscribe again "
        "with the new one."
        if had_one
        else "Your calendar address is ready.",
        "success",
    )
    return redirect(url_for("account.profile", _anchor="calendar-feeds")), 303


@bp.post("/feeds/<id:membership_id>/revoke")
@login_required
def revoke_feed(membership_id: int):  # type: ignore[no-untyped-def]
    tenant_id = _own_membership_tenant(membership_id)
    _check_button()
    with tenant_context(tenant_id):
        membership = _feed_membership(membership_id)
        if api_tokens.current_feed(db.session, membership) is None:
            flash("That calendar address was already turned off.", "info")
        else:
            api_tokens.revoke_feed(
                db.session, current_user.user, membership, now=utcnow(), ip=client_address()
            )
            db.session.commit()
            flash("Your calendar address has been turned off.", "success")
    return redirect(url_for("account.profile", _anchor="calendar-feeds")), 303


@bp.post("/tokens/<id:token_id>/revoke")
@login_required
def revoke_token(token_id: int):  # type: ignore[no-untyped-def]
    user = current_user.user
    # API tokens are a global table: find the token's organisation before acting in it.
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        abort(404)
    _check_button()
    with tenant_context(token.organisation_id):
        api_tokens.revoke_token(db.session, user, token_id, now=utcnow(), ip=client_address())
        db.session.commit()
    flash(f"“{token.name}” has been revoked: it no longer works.", "success")
    return redirect(url_for("account.profile", _anchor="api-tokens")), 303
