"""The Web Push channel: an encrypted message (RFC 8291) to each browser a person subscribed,
signed with the organisation-independent VAPID key pair (RFC 8292) from the environment.

VAPID_PRIVATE_KEY  the private key, base64url (the raw 32 bytes, as `cadence vapid` prints;
                   a base64url DER key works too)
VAPID_PUBLIC_KEY   its public key (the browser subscribes with it; checked to match)
VAPID_SUBJECT      a contact for the push services: mailto:someone@example.org or https://...

A subscription the push service no longer knows (404/410) is deleted: the browser
unsubscribed or the person cleared its data, and nothing will bring it back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from email.utils import parseaddr
from typing import Any

import requests
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid
from py_vapid.utils import b64urlencode
from pywebpush import WebPushException, webpush
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from routines.deliveries import Message, PermanentFailure, Sender, TemporaryFailure
from routines.models import PushSubscription

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0
# How long a push service keeps a message for a phone that is offline: a reminder that
# arrives half a day late is noise, not help.
TTL_SECONDS = 6 * 60 * 60
# Push services accept about 4 KB of encrypted payload; leave room for the encryption.
MAX_BODY_CHARS = 1000
GONE = (404, 410)
# Kinds that concern something happening now; the rest can wait for the phone to wake.
URGENT_KINDS = ("reminder", "nudge", "escalation")


def generate_vapid_keys() -> tuple[str, str]:
    """A new VAPID key pair as (private, public), both base64url: the private key as its raw
    32 bytes, the public key as the uncompressed P-256 point browsers take as
    applicationServerKey."""
    vapid = Vapid()
    vapid.generate_keys()
    raw = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
    return b64urlencode(raw), public_key_of(vapid)


def public_key_of(vapid: Vapid) -> str:
    point = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64urlencode(point)


def _subject(config: Mapping[str, Any]) -> str:
    subject = (config.get("VAPID_SUBJECT") or "").strip()
    if subject:
        return subject
    # Push services want a way to reach the sender; the mail sender is the next best thing.
    address = parseaddr(config.get("MAIL_FROM") or "")[1]
    return f"mailto:{address or 'no-reply@cadence.invalid'}"


def _load_vapid(config: Mapping[str, Any]) -> Vapid | str:
    """The signing key, or why there is none (a reason a delivery records as its failure)."""
    private = (config.get("VAPID_PRIVATE_KEY") or "").strip()
    if not private:
        return "Web Push is not configured: set VAPID_PRIVATE_KEY (see `cadence vapid`)"
    try:
        vapid = Vapid.from_string(private)
    except Exception:  # noqa: BLE001 - any parse failure means the same thing
        return "VAPID_PRIVATE_KEY is not a valid key (make a new pair with `cadence vapid`)"
    public = (config.get("VAPID_PUBLIC_KEY") or "").strip().rstrip("=")
    if public and public != public_key_of(vapid):
        # Browsers subscribed with the public key; a signature by another key is refused.
        return "VAPID_PUBLIC_KEY does not belong to VAPID_PRIVATE_KEY"
    return vapid


def payload_of(message: Message) -> str:
    body = message.body
    if len(body) > MAX_BODY_CHARS:
        body = body[: MAX_BODY_CHARS - 3].rstrip() + "..."
    return json.dumps({"title": message.title, "body": body, "url": message.link})


def push_sender(config: Mapping[str, Any]) -> Sender:
    vapid = _load_vapid(config)
    subject = _subject(config)

    def send(db: Session, message: Message) -> None:
        if isinstance(vapid, str):
            raise PermanentFailure(vapid)
        subscriptions = list(
            db.scalars(
                select(PushSubscription)
                .where(PushSubscription.membership_id == message.membership.id)
                .order_by(PushSubscription.id)
            )
        )
        if not subscriptions:
            raise PermanentFailure("no push subscription")
        data = payload_of(message)
        urgency = "high" if message.kind in URGENT_KINDS else "normal"
        sent, gone, errors = 0, [], []
        for subscription in subscriptions:
            try:
                webpush(
                    {
                        "endpoint": subscription.endpoint,
                        "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
                    },
                    data,
                    vapid_private_key=vapid,
                    # webpush fills in aud and exp, so each call gets a fresh dict.
                    vapid_claims={"sub": subject},
                    timeout=TIMEOUT_SECONDS,
                    ttl=TTL_SECONDS,
                    headers={"Urgency": urgency},
                )
            except WebPushException as exc:
                status = exc.status_code
                if status in GONE:
                    gone.append(subscription.id)
                else:
                    errors.append(f"push service answered {status}: {_reason(exc)}")
            except requests.RequestException as exc:
                errors.append(f"push service unreachable: {type(exc).__name__}")
            except (ValueError, TypeError) as exc:
                # Malformed keys stored for the subscription: it can never be sent to.
                logger.warning("push subscription %s is unusable: %s", subscription.id, exc)
                gone.append(subscription.id)
            else:
                sent += 1
        if gone:
            db.execute(
                delete(PushSubscription)
                .where(PushSubscription.id.in_(gone))
                .execution_options(synchronize_session=False)
            )
            db.flush()
        if sent:
            # Reached at least one of the person's browsers: done. Retrying for the others
            # would send this one twice.
            if errors:
                logger.warning("push delivery %s partly failed: %s", message.delivery_id, errors)
            return
        if errors:
            raise TemporaryFailure("; ".join(errors))
        raise PermanentFailure("the push subscription has expired (removed)")

    return send


def _reason(exc: WebPushException) -> str:
    response = exc.response
    reason = getattr(response, "reason", None) or ""
    text = ""
    try:
        text = (response.text or "").strip() if response is not None else ""
    except Exception:  # noqa: BLE001 - a body we cannot read is no reason to fail differently
        text = ""
    return " ".join(part for part in (reason, text[:200]) if part) or "no reason given"
