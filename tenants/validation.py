"""Small validators shared by every entry point (forms, CLI, API)."""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from tenants.errors import ValidationError

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
RESERVED_SLUGS = frozenset({"admin", "api", "auth", "static", "new", "o"})
PASSWORD_MIN = 10
PASSWORD_MAX = 256  # argon2 hashes anything, but an unbounded input is a cheap DoS


def normalise_email(value: str, field: str = "email") -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError("Enter an email address.", field)
    if len(value) > 254:
        raise ValidationError("That email address is too long.", field)
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationError(f"That is not a valid email address: {exc}", field) from None
    return result.normalized.lower()


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def time_zone_choices() -> list[str]:
    return sorted(z for z in _zones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))


def check_time_zone(value: str, field: str = "time_zone") -> str:
    value = (value or "").strip()
    if value not in _zones():
        raise ValidationError(
            "Choose a time zone from the list (for example Europe/London).", field
        )
    return value


def check_name(value: str, field: str = "name", label: str = "Name", max_len: int = 200) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise ValidationError(f"{label} is required.", field)
    if len(value) > max_len:
        raise ValidationError(f"{label} must be at most {max_len} characters.", field)
    return value


def check_slug(value: str, field: str = "slug") -> str:
    value = (value or "").strip().lower()
    if not SLUG_RE.match(value):
        raise ValidationError(
            "Use 1–63 lower-case letters, digits and hyphens,"
            " not starting or ending with a hyphen.",
            field,
        )
    if value in RESERVED_SLUGS:
        raise ValidationError("That short name is reserved; choose another.", field)
    return value


def check_new_password(password: str, email: str | None = None, field: str = "password") -> str:
    password = password or ""
    if len(password) < PASSWORD_MIN:
        raise ValidationError(f"Use at least {PASSWORD_MIN} characters.", field)
    if len(password) > PASSWORD_MAX:
        raise ValidationError(f"Use at most {PASSWORD_MAX} characters.", field)
    if email and password.strip().lower() == email.lower():
        raise ValidationError("Your password must not be your email address.", field)
    if len(set(password)) < 4:
        raise ValidationError("That password is too easy to guess.", field)
    return password
