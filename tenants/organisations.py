"""Organisations and their people: memberships, roles, invitations, settings.

Every function acts inside the current tenant context; the caller (a view, a
CLI command, a test) has set it and checked that `actor` may do this.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tenants import audit
from tenants.accounts import create_user, revoke_sessions
from tenants.context import tenant_context
from tenants.db import utcnow
from tenants.errors import NotFound, PermissionDenied, ValidationError
from tenants.isolation import get_scoped
from tenants.models import Invitation, Membership, MembershipRole, Organisation, User
from tenants.roles import Role, parse_roles
from tenants.tokens import InvalidToken, digest, new_secret_token, sign, unsign
from tenants.validation import check_name, check_slug, check_time_zone, normalise_email

logger = logging.getLogger(__name__)

INVITATION_LIFETIME = timedelta(days=7)


def create_organisation(db: Session, *, slug: str, name: str, time_zone: str) -> Organisation:
    slug = check_slug(slug)
    if db.scalar(select(Organisation.id).where(Organisation.slug == slug)) is not None:
        raise ValidationError("An organisation with this short name already exists.", "slug")
    org = Organisation(slug=slug, name=check_name(name), time_zone=check_time_zone(time_zone))
    db.add(org)
    db.flush()
    return org


def organisation_by_slug(db: Session, slug: str) -> Organisation | None:
    return db.scalar(select(Organisation).where(Organisation.slug == slug))


def _settings(org: Organisation) -> dict[str, object]:
    return {
        "name": org.name,
        "time_zone": org.time_zone,
        "map_red_below": org.map_red_below,
        "map_green_from": org.map_green_from,
    }


def _check_map_thresholds(red_below: float | None, green_from: float | None) -> tuple[float, float]:
    if red_below is None:
        raise ValidationError("Enter the percent below which a cell is red.", "map_red_below")
    if green_from is None:
        raise ValidationError("Enter the percent from which a cell is green.", "map_green_from")
    if not 1 <= red_below <= 99:
        raise ValidationError("Red must start below a percent between 1 and 99.", "map_red_below")
    if not 2 <= green_from <= 100:
        raise ValidationError("Green must start at a percent between 2 and 100.", "map_green_from")
    if red_below >= green_from:
        raise ValidationError(
            "Green must start above the red threshold, leaving a yellow band between them.",
            "map_green_from",
        )
    return float(red_below), float(green_from)


def update_settings(
    db: Session,
    org: Organisation,
    *,
    actor: User,
    name: str,
    time_zone: str,
    ip: str | None,
    map_red_below: float | None = None,
    map_green_from: float | None = None,
) -> None:
    """Name, default time zone and, when given, the functional-map thresholds."""
    before = _settings(org)
    name = check_name(name, label="Organisation name")
    time_zone = check_time_zone(time_zone)
    if map_red_below is not None or map_green_from is not None:
        red, green = _check_map_thresholds(map_red_below, map_green_from)
        org.map_red_below, org.map_green_from = red, green
    org.name, org.time_zone = name, time_zone
    after = _settings(org)
    if before != after:
        audit.record(
            db,
            "organisation.settings_changed",
            actor=actor,
            object_type="organisation",
            object_id=org.id,
            ip_address=ip,
            before=before,
            after=after,
        )
    db.flush()


def _role_values(roles: list[str] | list[Role]) -> list[Role]:
    parsed = parse_roles([str(r) for r in roles])
    if not parsed:
        raise ValidationError("Choose at least one role.", "roles")
    return parsed


def membership_for(db: Session, user: User) -> Membership | None:
    """This person's membership in the current organisation, active or not."""
    return db.scalar(select(Membership).where(Membership.user_id == user.id))


def get_membership(db: Session, membership_id: int) -> Membership:
    membership = get_scoped(db, Membership, membership_id)
    if membership is None:
        raise NotFound("membership")
    return membership


def add_member(db: Session, user: User, roles: list[str] | list[Role]) -> Membership:
    parsed = _role_values(roles)
    membership = membership_for(db, user)
    if membership is None:
        membership = Membership(user_id=user.id, is_active=True)
        db.add(membership)
    membership.is_active = True
    membership.deactivated_at = None
    held = {r.role for r in membership.role_rows}
    for role in parsed:
        if role.value not in held:
            membership.role_rows.append(MembershipRole(role=role.value))
    db.flush()
    return membership


def list_members(db: Session) -> list[Membership]:
    return list(
        db.scalars(
            select(Membership)
            .join(User, User.id == Membership.user_id)
            .order_by(Membership.is_active.desc(), func.lower(User.name))
        )
    )


def _active_admin_count(db: Session) -> int:
    return (
        db.scalar(
            select(func.count(Membership.id))
            .join(MembershipRole, MembershipRole.membership_id == Membership.id)
            .where(Membership.is_active.is_(True), MembershipRole.role == Role.ADMIN.value)
        )
        or 0
    )


def _record_member_event(
    db: Session, action: str, membership: Membership, actor: User, ip: str | None, **detail: object
) -> None:
    audit.record(
        db,
        action,
        actor=actor,
        object_type="membership",
        object_id=membership.id,
        ip_address=ip,
        email=membership.user.email,
        **detail,
    )


def set_roles(
    db: Session, membership: Membership, roles: list[str], *, actor: User, ip: str | None
) -> None:
    parsed = _role_values(roles)
    before = [r.value for r in membership.roles]
    if (
        Role.ADMIN.value in before
        and Role.ADMIN not in parsed
        and membership.is_active
        and _active_admin_count(db) <= 1
    ):
        raise ValidationError("An organisation needs at least one active admin.", "roles")
    wanted = {r.value for r in parsed}
    for row in list(membership.role_rows):
        if row.role not in wanted:
            membership.role_rows.remove(row)
    held = {r.role for r in membership.role_rows}
    for role in parsed:
        if role.value not in held:
            membership.role_rows.append(MembershipRole(role=role.value))
    db.flush()
    after = [r.value for r in membership.roles]
    if before != after:
        _record_member_event(
            db,
            "member.roles_changed",
            membership,
            actor,
            ip,
            before=before,
            after=after,
        )


def deactivate_member(db: Session, membership: Membership, *, actor: User, ip: str | None) -> None:
    """End a person's access to this organisation at once, including open sessions."""
    if not membership.is_active:
        raise ValidationError("This member is already deactivated.")
    if membership.has_role(Role.ADMIN) and _active_admin_count(db) <= 1:
        raise ValidationError("You cannot deactivate the organisation's last active admin.")
    membership.is_active = False
    membership.deactivated_at = utcnow()
    db.flush()
    # Access to this organisation is checked on every request, so it ends now. Sessions are
    # revoked too, so that a deactivated person must sign in again to reach any other
    # organisation they still belong to.
    revoked = revoke_sessions(db, membership.user_id)
    _record_member_event(
        db,
        "member.deactivated",
        membership,
        actor,
        ip,
        sessions_ended=revoked,
    )


def reactivate_member(db: Session, membership: Membership, *, actor: User, ip: str | None) -> None:
    if membership.is_active:
        raise ValidationError("This member is already active.")
    membership.is_active = True
    membership.deactivated_at = None
    db.flush()
    _record_member_event(
        db,
        "member.reactivated",
        membership,
        actor,
        ip,
    )


# --- invitations -------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    token: str


def _issue_token(secret_key: str, invitation: Invitation) -> str:
    nonce = new_secret_token(16)
    invitation.nonce_hash = digest(nonce)
    return sign(secret_key, "invitation", [invitation.id, invitation.tenant_id, nonce])


def invite(
    db: Session,
    *,
    secret_key: str,
    actor: User,
    email: str,
    roles: list[str],
    ip: str | None,
) -> IssuedInvitation:
    email = normalise_email(email)
    parsed = _role_values(roles)
    existing_member = db.scalar(
        select(Membership).join(User, User.id == Membership.user_id).where(User.email == email)
    )
    if existing_member is not None and existing_member.is_active:
        raise ValidationError("This person is already a member of the organisation.", "email")
    now = utcnow()
    pending = db.scalars(
        select(Invitation).where(
            Invitation.email == email,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
        )
    ).first()
    if pending is not None:
        raise ValidationError(
            "There is already a pending invitation for this address; resend it instead.", "email"
        )
    invitation = Invitation(
        email=email,
        roles=[r.value for r in parsed],
        nonce_hash="",
        invited_by_id=actor.id,
        expires_at=now + INVITATION_LIFETIME,
        last_sent_at=now,
        send_count=1,
    )
    db.add(invitation)
    db.flush()
    token = _issue_token(secret_key, invitation)
    db.flush()
    audit.record(
        db,
        "invitation.created",
        actor=actor,
        object_type="invitation",
        object_id=invitation.id,
        ip_address=ip,
        email=email,
        roles=invitation.roles,
    )
    return IssuedInvitation(invitation, token)


def get_invitation(db: Session, invitation_id: int) -> Invitation:
    invitation = get_scoped(db, Invitation, invitation_id)
    if invitation is None:
        raise NotFound("invitation")
    return invitation


def list_invitations(db: Session, *, include_closed: bool = False) -> list[Invitation]:
    query = select(Invitation).order_by(Invitation.created_at.desc())
    if not include_closed:
        query = query.where(Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))
    return list(db.scalars(query))


def resend_invitation(
    db: Session, invitation: Invitation, *, secret_key: str, actor: User, ip: str | None
) -> IssuedInvitation:
    """A fresh link with a fresh expiry; every earlier link for it stops working."""
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        raise ValidationError("Only a pending or expired invitation can be resent.")
    now = utcnow()
    token = _issue_token(secret_key, invitation)
    invitation.expires_at = now + INVITATION_LIFETIME
    invitation.last_sent_at = now
    invitation.send_count += 1
    db.flush()
    audit.record(
        db,
        "invitation.resent",
        actor=actor,
        object_type="invitation",
        object_id=invitation.id,
        ip_address=ip,
        email=invitation.email,
    )
    return IssuedInvitation(invitation, token)


def revoke_invitation(db: Session, invitation: Invitation, *, actor: User, ip: str | None) -> None:
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        raise ValidationError("This invitation is no longer open.")
    invitation.revoked_at = utcnow()
    db.flush()
    audit.record(
        db,
        "invitation.revoked",
        actor=actor,
        object_type="invitation",
        object_id=invitation.id,
        ip_address=ip,
        email=invitation.email,
    )


def open_invitation(db: Session, secret_key: str, token: str) -> Invitation:
    """The invitation a link names, if the link is genuine and still usable.

    The caller then acts in `invitation.tenant_id`. Raises InvalidToken otherwise:
    forged, expired, resent since, revoked and used links all look the same.
    """
    payload = unsign(
        secret_key, "invitation", token, max_age=int(INVITATION_LIFETIME.total_seconds())
    )
    try:
        invitation_id, tenant_id, nonce = payload
    except (TypeError, ValueError):
        raise InvalidToken from None
    if not (
        isinstance(invitation_id, int) and isinstance(tenant_id, int) and isinstance(nonce, str)
    ):
        raise InvalidToken
    with tenant_context(tenant_id):
        invitation = db.scalar(select(Invitation).where(Invitation.id == invitation_id))
    if (
        invitation is None
        or invitation.nonce_hash != digest(nonce)
        or invitation.status(utcnow()) != "pending"
    ):
        raise InvalidToken
    return invitation


def accept_invitation(
    db: Session,
    invitation: Invitation,
    *,
    user: User | None,
    name: str | None = None,
    password: str | None = None,
    ip: str | None,
) -> tuple[User, Membership]:
    """Join the organisation: as the signed-in `user`, or as a new account made here.

    Must run inside the invitation's tenant context.
    """
    if user is None:
        user = create_user(db, email=invitation.email, name=name or "", password=password or "")
    elif user.email != invitation.email:
        raise PermissionDenied("This invitation was sent to a different email address.")
    membership = add_member(db, user, invitation.roles)
    invitation.accepted_at = utcnow()
    invitation.accepted_by_id = user.id
    db.flush()
    audit.record(
        db,
        "invitation.accepted",
        actor=user,
        object_type="invitation",
        object_id=invitation.id,
        ip_address=ip,
        roles=invitation.roles,
    )
    return user, membership
