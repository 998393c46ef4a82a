"""The SMS channel: a short text (the title and a link) to the phone number a person gave in
their reminder settings, through whichever provider the environment configures.

SMS_PROVIDER=twilio with
  TWILIO_ACCOUNT_SID   the account (AC...)
  TWILIO_AUTH_TOKEN    its auth token
  TWILIO_FROM          the sending number (E.164) or a Messaging Service SID (MG...)
  TWILIO_API_BASE      optional; https://api.twilio.com unless a proxy or test server is used

Without SMS_PROVIDER the channel does not exist (deliveries to it fail as "not
configured"). Another provider is one more class with a `send(to, text)` method.
"""

from __future__ import annotations

import base64
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from routines.deliveries import Message, PermanentFailure, Sender, TemporaryFailure
from routines.models import NotificationPreference

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0
# One SMS segment in the GSM alphabet: longer texts cost two and arrive in pieces.
MAX_TEXT = 160


class SmsProvider(Protocol):
    def send(self, to: str, text: str) -> None:
        """Send or raise TemporaryFailure (try again later) / PermanentFailure."""


@dataclass(frozen=True)
class Twilio:
    """Twilio's Programmable Messaging REST API (POST .../Messages.json)."""

    account_sid: str
    auth_token: str
    sender: str
    api_base: str = "https://api.twilio.com"
    timeout: float = TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        if not self.api_base.startswith(("https://", "http://")):
            raise ValueError("the Twilio API base must be an http(s) URL")

    def send(self, to: str, text: str) -> None:
        url = (
            f"{self.api_base.rstrip('/')}/2010-04-01/Accounts/"
            f"{quote(self.account_sid, safe='')}/Messages.json"
        )
        # A Messaging Service SID goes in its own field; a phone number in From.
        origin = "MessagingServiceSid" if self.sender.startswith("MG") else "From"
        form = urlencode({"To": to, origin: self.sender, "Body": text}).encode()
        credentials = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        # The scheme is checked in __post_init__: http(s) only, never file: or ftp:.
        request = urllib.request.Request(  # noqa: S310
            url,
            data=form,
            method="POST",
            headers={
                "Authorization": f"Basic {credentials}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
                "User-Agent": "Cadence",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                response.read()
        except urllib.error.HTTPError as exc:
            reason = _twilio_reason(exc)
            # 429 is Twilio's rate limit: later will work. Any other 4xx (a bad number, an
            # unverified trial recipient, wrong credentials) will fail again the same way.
            if 400 <= exc.code < 500 and exc.code != 429:
                raise PermanentFailure(f"Twilio refused the text ({exc.code}): {reason}") from None
            raise TemporaryFailure(f"Twilio answered {exc.code}: {reason}") from None
        except TimeoutError as exc:
            raise TemporaryFailure("Twilio did not answer in time") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                raise TemporaryFailure("Twilio did not answer in time") from exc
            raise TemporaryFailure(f"Twilio could not be reached: {reason}") from exc


def _twilio_reason(exc: urllib.error.HTTPError) -> str:
    """Twilio's own words: {"code": 21211, "message": "The 'To' number ... is not valid"}."""
    try:
        body = json.loads(exc.read().decode("utf-8", "replace") or "{}")
    except (ValueError, OSError):
        body = {}
    if isinstance(body, dict) and body.get("message"):
        code = f" (error {body['code']})" if body.get("code") else ""
        return f"{body['message']}{code}"
    return exc.reason if isinstance(exc.reason, str) else "no reason given"


def provider_from(config: Mapping[str, Any]) -> SmsProvider | str | None:
    """The configured provider, a reason it cannot be used, or None (no SMS at all)."""
    name = (config.get("SMS_PROVIDER") or "").strip().lower()
    if not name:
        return None
    if name != "twilio":
        return f"SMS_PROVIDER={name!r} is not a known provider (twilio is)"
    needed = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM")
    missing = [key for key in needed if not config.get(key)]
    if missing:
        return f"SMS_PROVIDER=twilio needs {', '.join(missing)}"
    api_base = config.get("TWILIO_API_BASE") or "https://api.twilio.com"
    if not api_base.startswith(("https://", "http://")):
        return "TWILIO_API_BASE must be an http(s) URL"
    return Twilio(
        config["TWILIO_ACCOUNT_SID"],
        config["TWILIO_AUTH_TOKEN"],
        config["TWILIO_FROM"],
        api_base=api_base,
    )


def sms_text(title: str, link: str, limit: int = MAX_TEXT) -> str:
    """Title and link in one segment where possible; the link is never cut (it is the action),
    the title is shortened with ASCII dots (an ellipsis character would switch the whole
    text to UCS-2 and halve the segment)."""
    room = limit - len(link) - 1
    if len(title) > room:
        title = title[: max(room - 3, 0)].rstrip() + "..." if room > 3 else ""
    return f"{title} {link}".strip()


def sms_sender(config: Mapping[str, Any]) -> Sender | None:
    provider = provider_from(config)
    if provider is None:
        return None

    def send(db: Session, message: Message) -> None:
        if isinstance(provider, str):
            raise PermanentFailure(provider)
        # deliver() runs inside the message's organisation: this reads its preference only.
        phone = db.scalar(
            select(NotificationPreference.phone).where(
                NotificationPreference.membership_id == message.membership.id
            )
        )
        if not phone or not phone.strip():
            raise PermanentFailure("no phone number for text messages")
        provider.send(phone.strip(), sms_text(message.title, message.link))

    return send
