"""A member's Web Push subscriptions: the browsers (phones, tablets, laptops) that receive
their reminders through tasks.channels.push.

Each row is what a browser's PushSubscription.toJSON() gave: the push service's endpoint and
the browser's key pair and auth secret that messages are encrypted to (RFC 8291). Adding and
removing one is audited; the audit trail names only the push service, never the endpoint,
which with the keys is enough to push to the phone.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from routines.models import PushSubscription
from tenants import audit
from tenants.errors import ValidationError
from tenants.models import Membership, User

# A person rarely has more than a phone, a tablet and a laptop; past this the oldest is
# replaced (a phone given away cannot turn itself off, and its push service may never say
# it is gone).
MAX_PUSH_DEVICES = 10
ENDPOINT_CHARS = 1000  # the column's size
P256DH_BYTES = 65  # the browser's public key: an uncompressed P-256 point (RFC 8291)
AUTH_BYTES = 16  # the browser's auth secret (RFC 8291)
BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class PushKeys:
    endpoint: str
    p256dh: str
    auth: str


def _push_error(message: str, field: str = "subscription") -> ValidationError:
    return ValidationError(message, field)


def _base64url(value: object, length: int, what: str, field: str) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not BASE64URL.fullmatch(text) or len(text) > 2 * length:
        raise _push_error(f"The browser's {what} is not base64url text.", field)
    raw = base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
    if len(raw) != length:
        raise _push_error(f"The browser's {what} should be {length} bytes.", field)
    return text.rstrip("=")


# The push services of Chrome/Edge/Android, Firefox, Safari and Windows.
PUSH_SERVICES = (
    "fcm.googleapis.com",
    "android.googleapis.com",
    "push.services.mozilla.com",
    "push.apple.com",
    "notify.windows.com",
)


def check_endpoint(value: object, *, allow_insecure: bool = False) -> str:
    """A push service's address: https, a host name, nothing hidden in it. The server posts
    to it, so it must not point inside the network Cadence runs in: loopback and private
    addresses are refused unless `allow_insecure` (development and tests, where a local
    stand-in for the push service listens on http://127.0.0.1)."""
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > ENDPOINT_CHARS or any(c <= " " or c == "\x7f" for c in text):
        raise _push_error("The push subscription has no usable endpoint address.", "endpoint")
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise _push_error("The push endpoint is not a valid address.", "endpoint") from None
    if not host or parts.username is not None or parts.password is not None:
        raise _push_error("The push endpoint is not a valid address.", "endpoint")
    local = host in LOOPBACK_HOSTS
    if parts.scheme != "https" and not (parts.scheme == "http" and local and allow_insecure):
        raise _push_error("The push endpoint must be an https address.", "endpoint")
    try:
        internal = not ipaddress.ip_address(host).is_global
    except ValueError:
        internal = local or host.endswith((".localhost", ".local", ".internal"))
    if internal and not allow_insecure:
        raise _push_error("The push endpoint must be a push service on the internet.", "endpoint")
    if not allow_insecure and not any(
        host == known or host.endswith("." + known) for known in PUSH_SERVICES
    ):
        # A public name can still resolve inside our network: post only to the browsers'
        # own push services.
        raise _push_error("The push endpoint is not a known browser push service.", "endpoint")
    return text


def check_push_subscription(data: object, *, allow_insecure: bool = False) -> PushKeys:
    """The browser's PushSubscription.toJSON(): {endpoint, keys: {p256dh, auth}}."""
    if not isinstance(data, dict):
        raise _push_error("Send the browser's push subscription: {endpoint, keys}.")
    endpoint = check_endpoint(data.get("endpoint"), allow_insecure=allow_insecure)
    keys = data.get("keys")
    if not isinstance(keys, dict):
        raise _push_error("The push subscription has no keys (p256dh and auth).", "keys")
    p256dh = _base64url(keys.get("p256dh"), P256DH_BYTES, "public key (p256dh)", "p256dh")
    try:
        # Messages are encrypted to this key: one that is not a point on the curve could
        # never be sent to.
        ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), base64.urlsafe_b64decode(p256dh + "=" * (-len(p256dh) % 4))
        )
    except ValueError:
        raise _push_error(
            "The browser's public key (p256dh) is not a P-256 key.", "p256dh"
        ) from None
    auth = _base64url(keys.get("auth"), AUTH_BYTES, "auth secret", "auth")
    return PushKeys(endpoint, p256dh, auth)


def push_devices(db: Session, membership_id: int) -> list[PushSubscription]:
    return list(
        db.scalars(
            select(PushSubscription)
            .where(PushSubscription.membership_id == membership_id)
            .order_by(PushSubscription.created_at, PushSubscription.id)
        )
    )


def _push_audit(
    db: Session, action: str, membership: Membership, endpoint: str, **detail: object
) -> None:
    # The endpoint is a capability (with the keys, anyone could push to the phone): the
    # trail names only the push service.
    audit.record(
        db,
        action,
        object_type="membership",
        object_id=membership.id,
        push_service=urlsplit(endpoint).hostname,
        **detail,
    )


def save_push_subscription(
    db: Session,
    membership: Membership,
    data: object,
    *,
    actor: User,
    now: datetime,
    user_agent: str | None = None,
    allow_insecure: bool = False,
    ip: str | None = None,
) -> tuple[PushSubscription, bool]:
    """Store a browser's push subscription for the member (ValidationError, nothing stored,
    on a bad one); returns (row, created). The same endpoint again updates its keys: one row
    per (member, endpoint). Another member on the same browser has a row of their own."""
    keys = check_push_subscription(data, allow_insecure=allow_insecure)
    agent = (user_agent or "")[:300] or None
    rows = push_devices(db, membership.id)
    row = next((r for r in rows if r.endpoint == keys.endpoint), None)
    if row is not None:
        changed = (row.p256dh, row.auth) != (keys.p256dh, keys.auth)
        row.p256dh, row.auth, row.user_agent = keys.p256dh, keys.auth, agent or row.user_agent
        db.flush()
        if changed:
            _push_audit(
                db,
                "notifications.push_renewed",
                membership,
                keys.endpoint,
                actor=actor,
                ip_address=ip,
            )
        return row, False
    row = PushSubscription(
        membership_id=membership.id,
        endpoint=keys.endpoint,
        p256dh=keys.p256dh,
        auth=keys.auth,
        user_agent=agent,
        created_at=now,
    )
    try:
        with db.begin_nested():
            db.add(row)
    except IntegrityError:
        # The same browser posted twice at once: the other request stored it.
        existing = db.scalar(
            select(PushSubscription).where(
                PushSubscription.membership_id == membership.id,
                PushSubscription.endpoint == keys.endpoint,
            )
        )
        if existing is None:
            raise
        return existing, False
    replaced = rows[: max(0, len(rows) + 1 - MAX_PUSH_DEVICES)]
    for old in replaced:
        db.delete(old)
    db.flush()
    _push_audit(
        db,
        "notifications.push_subscribed",
        membership,
        keys.endpoint,
        actor=actor,
        ip_address=ip,
        replaced_oldest=len(replaced),
    )
    return row, True


def remove_push_subscription(
    db: Session, membership: Membership, endpoint: object, *, actor: User, ip: str | None = None
) -> int:
    """Forget the member's subscription for this endpoint; how many rows went (0 or 1: doing
    it twice is harmless). Only the member's own row: another member on the same browser
    keeps theirs."""
    if not isinstance(endpoint, str) or not endpoint.strip() or len(endpoint) > ENDPOINT_CHARS:
        raise _push_error("Send the endpoint of the push subscription to turn off.", "endpoint")
    result = db.execute(
        delete(PushSubscription)
        .where(
            PushSubscription.membership_id == membership.id,
            PushSubscription.endpoint == endpoint.strip(),
        )
        .execution_options(synchronize_session="fetch")
    )
    removed = result.rowcount or 0  # type: ignore[attr-defined]
    db.flush()
    if removed:
        _push_audit(
            db,
            "notifications.push_unsubscribed",
            membership,
            endpoint.strip(),
            actor=actor,
            ip_address=ip,
        )
    return removed
