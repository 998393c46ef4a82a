"""Accounts: creating people, signing in and out, sessions, passwords."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tenants import audit
from tenants.context import cross_tenant, tenant_context
from tenants.db import utcnow
from tenants.errors import ValidationError
from tenants.models import Membership, Organisation, User, UserSession
from tenants.passwords import hash_password, needs_rehash, verify_password
from tenants.tokens import InvalidToken, digest, new_secret_token, sign, unsign
from tenants.validation import check_name, check_new_password, check_time_zone, normalise_email

logger = logging.getLogger(__name__)

RESET_MAX_AGE = 60 * 60  # a reset link lives one hour


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)
    touch_every: timedelta = timedelta(minutes=1)


def find_user_by_email(db: Session, email: str) -> User | None:
    try:
        email = normalise_email(email)
    except ValidationError:
        return None
    return db.scalar(select(User).where(User.email == email))


def create_user(
    db: Session, *, email: str, name: str, password: str, time_zone: str = "Europe/London"
) -> User:
    email = normalise_email(email)
    if db.scalar(select(User.id).where(User.email == email)) is not None:
        raise ValidationError("An account with this email address already exists.", "email")
    user = User(
        email=email,
        name=check_name(name),
        password_hash=hash_password(check_new_password(password, email)),
        time_zone=check_time_zone(time_zone),
    )
    db.add(user)
    db.flush()
    return user


def active_memberships(db: Session, user: User) -> list[Membership]:
    """The organisations a person can act in: their own memberships, across tenants."""
    with cross_tenant("a person's own memberships"):
        rows = db.scalars(
            select(Membership)
            .join(Organisation, Organisation.id == Membership.tenant_id)
            .where(Membership.user_id == user.id, Membership.is_active.is_(True))
            .order_by(Organisation.name)
        ).all()
    return list(rows)


def _record_for_each_organisation(
    db: Session, user: User, action: str, ip_address: str | None, **detail: object
) -> None:
    for membership in active_memberships(db, user):
        with tenant_context(membership.tenant_id):
            audit.record(
                db,
                action,
                actor=user,
                object_type="user",
                object_id=user.id,
                ip_address=ip_address,
                **detail,
            )


def authenticate(db: Session, email: str, password: str, ip_address: str | None) -> User | None:
    """Check a sign-in. Unknown email and wrong password look the same to the caller."""
    user = find_user_by_email(db, email)
    ok = verify_password(user.password_hash if user else None, password)
    if user is None:
        logger.info("sign-in failed for unknown address from %s", ip_address)
        return None
    if not ok or not user.is_active:
        _record_for_each_organisation(db, user, "auth.sign_in_failed", ip_address)
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_sign_in_at = utcnow()
    _record_for_each_organisation(db, user, "auth.sign_in", ip_address)
    return user


def start_session(
    db: Session, user: User, ip_address: str | None, user_agent: str | None
) -> tuple[str, UserSession]:
    """A new server-side session; the returned token goes in the cookie, its hash in the row."""
    token = new_secret_token()
    row = UserSession(
        token_hash=digest(token),
        user_id=user.id,
        ip_address=(ip_address or "")[:45] or None,
        user_agent=(user_agent or "")[:300] or None,
    )
    db.add(row)
    db.flush()
    return token, row


def resume_session(
    db: Session, token: str | None, policy: SessionPolicy, now: datetime | None = None
) -> UserSession | None:
    """The live session for a cookie token, or None (revoking it if it timed out)."""
    if not token:
        return None
    now = now or utcnow()
    row = db.scalar(select(UserSession).where(UserSession.token_hash == digest(token)))
    if row is None or row.revoked_at is not None or not row.user.is_active:
        return None
    if now - row.last_seen_at > policy.idle or now - row.created_at > policy.absolute:
        row.revoked_at = now
        db.flush()
        return None
    if now - row.last_seen_at > policy.touch_every:
        row.last_seen_at = now
        db.flush()
    return row


def end_session(db: Session, token: str | None) -> None:
    if not token:
        return
    db.execute(
        update(UserSession)
        .where(UserSession.token_hash == digest(token), UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def revoke_sessions(db: Session, user_id: int, keep_token: str | None = None) -> int:
    query = update(UserSession).where(
        UserSession.user_id == user_id, UserSession.revoked_at.is_(None)
    )
    if keep_token:
        query = query.where(UserSession.token_hash != digest(keep_token))
    result = db.execute(query.values(revoked_at=utcnow()))
    return result.rowcount or 0


def live_sessions(db: Session, user: User) -> list[UserSession]:
    return list(
        db.scalars(
            select(UserSession)
            .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
            .order_by(UserSession.last_seen_at.desc())
        )
    )


def update_profile(db: Session, user: User, *, name: str, time_zone: str) -> None:
    user.name = check_name(name)
    user.time_zone = check_time_zone(time_zone)
    db.flush()


def set_password(db: Session, user: User, new_password: str) -> None:
    user.password_hash = hash_password(check_new_password(new_password, user.email))
    user.password_changed_at = utcnow()
    db.flush()


def change_password(
    db: Session,
    user: User,
    *,
    current_password: str,
    new_password: str,
    keep_token: str | None,
    ip_address: str | None,
) -> None:
    """Re-authenticate, set the new password and sign out every other session."""
    if not verify_password(user.password_hash, current_password):
        raise ValidationError("Your current password is not correct.", "current_password")
    check_new_password(new_password, user.email, field="new_password")
    set_password(db, user, new_password)
    revoke_sessions(db, user.id, keep_token=keep_token)
    _record_for_each_organisation(db, user, "auth.password_changed", ip_address)


def _password_fingerprint(user: User) -> str:
    # Changes with every new password, so a used reset link cannot be used again.
    return digest(f"{user.password_hash}|{user.password_changed_at.isoformat()}")[:24]


def make_reset_token(secret_key: str, user: User) -> str:
    return sign(secret_key, "password-reset", [user.id, _password_fingerprint(user)])


def user_for_reset_token(db: Session, secret_key: str, token: str) -> User:
    payload = unsign(secret_key, "password-reset", token, max_age=RESET_MAX_AGE)
    try:
        user_id, fingerprint = payload
    except (TypeError, ValueError):
        raise InvalidToken from None
    user = db.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.is_active or _password_fingerprint(user) != fingerprint:
        raise InvalidToken
    return user


def reset_password(
    db: Session, secret_key: str, token: str, new_password: str, ip_address: str | None
) -> User:
    user = user_for_reset_token(db, secret_key, token)
    check_new_password(new_password, user.email, field="password")
    set_password(db, user, new_password)
    revoke_sessions(db, user.id)
    _record_for_each_organisation(db, user, "auth.password_reset", ip_address)
    return user
