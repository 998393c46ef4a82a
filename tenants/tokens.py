"""Signed, expiring links (invitations, password resets)."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


class InvalidToken(Exception):
    """A link that is forged, expired, already used or revoked. One message for all."""


def new_secret_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def sign(secret_key: str, purpose: str, payload: Any) -> str:
    return URLSafeTimedSerializer(secret_key, salt=f"cadence.{purpose}").dumps(payload)


def unsign(secret_key: str, purpose: str, token: str, max_age: int) -> Any:
    serializer = URLSafeTimedSerializer(secret_key, salt=f"cadence.{purpose}")
    try:
        return serializer.loads(token, max_age=max_age)
    except (SignatureExpired, BadSignature):
        raise InvalidToken from None
