"""Bearer tokens for the JSON API and private calendar-feed addresses.

Both are bound to one membership, so to one organisation: a token or feed answers for
that organisation and no other. API tokens are random and stored as a SHA-256 hash;
feed addresses carry the feed's id and an HMAC of its nonce, so the address can be shown
again, and regenerating (a new nonce, the old row revoked) kills the old one at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tenants import audit
from tenants.context import cross_tenant
from tenants.errors import NotFound, ValidationError
from tenants.models import ApiToken, CalendarFeed, Membership, User
from tenants.tokens import digest

TOKEN_PREFIX = "cad_"  # noqa: S105 - a marker, not a secret
TOKEN_LIFETIME = timedelta(days=90)
NAME_MAX = 120


def create_token(
    db: Session,
    user: User,
    membership: Membership,
    *,
    name: str | None,
    now: datetime,
    ip: str | None = None,
) -> tuple[ApiToken, str]:
    """A new token for this membership; the secret is returned once and never stored."""
    label = (name or "").strip() or "API token"
    if len(label) > NAME_MAX:
        raise ValidationError(f"Keep the token's name to {NAME_MAX} characters.", "name")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        token_hash=digest(secret),
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        name=label,
        user_id=user.id,
        membership_id=membership.id,
        organisation_id=membership.tenant_id,
        created_at=now,
        expires_at=now + TOKEN_LIFETIME,
    )
    db.add(token)
    db.flush()
    audit.record(
        db,
        "api_token.created",
        actor=user,
        object_type="api_token",
        object_id=token.id,
        ip_address=ip,
        tenant_id=membership.tenant_id,
        name=label,
    )
    return token, secret


def authenticate(db: Session, secret: str, *, now: datetime) -> ApiToken | None:
    """The live token with this secret (not revoked, not expired, its membership and user
    active), or None. Refreshes last_used_at at most once a minute."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = db.scalar(select(ApiToken).where(ApiToken.token_hash == digest(secret)))
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        return None
    if not token.user.is_active:
        return None
    with cross_tenant("api token: is its membership still active"):
        membership = db.get(Membership, token.membership_id)
    if membership is None or not membership.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
    return token


def tokens_of(db: Session, user: User) -> list[ApiToken]:
    return list(
        db.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc())
        )
    )


def revoke_token(
    db: Session, user: User, token_id: int, *, now: datetime, ip: str | None = None
) -> ApiToken:
    token = db.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound("token")
    if token.revoked_at is None:
        token.revoked_at = now
        audit.record(
            db,
            "api_token.revoked",
            actor=user,
            object_type="api_token",
            object_id=token.id,
            ip_address=ip,
            tenant_id=token.organisation_id,
        )
    return token


# --- calendar feeds ---------------------------------------------------------------------------


def _feed_signature(secret_key: str, feed: CalendarFeed) -> str:
    mac = hmac.new(secret_key.encode(), f"feed:{feed.id}:{feed.nonce}".encode(), hashlib.sha256)
    return mac.hexdigest()[:40]


def feed_token(secret_key: str, feed: CalendarFeed) -> str:
    return f"{feed.id}-{_feed_signature(secret_key, feed)}"


def current_feed(db: Session, membership: Membership) -> CalendarFeed | None:
    return db.scalar(
        select(CalendarFeed)
        .where(CalendarFeed.membership_id == membership.id, CalendarFeed.revoked_at.is_(None))
        .order_by(CalendarFeed.id.desc())
        .limit(1)
    )


def regenerate_feed(
    db: Session, user: User, membership: Membership, *, now: datetime, ip: str | None = None
) -> CalendarFeed:
    """A new private address; the previous one stops working at once."""
    previous = current_feed(db, membership)
    if previous is not None:
        previous.revoked_at = now
    feed = CalendarFeed(
        nonce=secrets.token_hex(16),
        user_id=user.id,
        membership_id=membership.id,
        organisation_id=membership.tenant_id,
        created_at=now,
    )
    db.add(feed)
    db.flush()
    audit.record(
        db,
        "calendar_feed.regenerated" if previous is not None else "calendar_feed.created",
        actor=user,
        object_type="calendar_feed",
        object_id=feed.id,
        ip_address=ip,
        tenant_id=membership.tenant_id,
    )
    return feed


def revoke_feed(
    db: Session, user: User, membership: Membership, *, now: datetime, ip: str | None = None
) -> None:
    feed = current_feed(db, membership)
    if feed is None:
        raise NotFound("calendar feed")
    feed.revoked_at = now
    audit.record(
        db,
        "calendar_feed.revoked",
        actor=user,
        object_type="calendar_feed",
        object_id=feed.id,
        ip_address=ip,
        tenant_id=membership.tenant_id,
    )


def resolve_feed(db: Session, secret_key: str, token: str) -> CalendarFeed | None:
    """The live feed this address names, or None (forged, revoked, or its member gone)."""
    feed_id, _, signature = token.partition("-")
    if not feed_id.isdigit() or len(feed_id) > 10 or not signature:
        return None
    feed = db.get(CalendarFeed, int(feed_id))
    if feed is None or feed.revoked_at is not None:
        return None
    if not hmac.compare_digest(signature, _feed_signature(secret_key, feed)):
        return None
    with cross_tenant("calendar feed: is its membership still active"):
        membership = db.get(Membership, feed.membership_id)
    if membership is None or not membership.is_active or not membership.user.is_active:
        return None
    return feed
