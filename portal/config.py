"""Configuration from environment variables (documented in README.md)."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE = ROOT / "instance"

# Secrets that must never reach production: the development fallback and the README example.
KNOWN_SECRETS = frozenset(
    {
        "",
        "dev",
        "development",
        "changeme",
        "change-me",
        "secret",
        "cadence-development-only-secret",
        "replace-me",
    }
)


class ConfigurationError(RuntimeError):
    pass


def instance_path() -> Path:
    return Path(os.environ.get("CADENCE_INSTANCE_PATH", DEFAULT_INSTANCE)).resolve()


def default_database_url() -> str:
    return f"sqlite:///{instance_path() / 'cadence.db'}"


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or default_database_url()


def migration_database_url() -> str:
    return os.environ.get("MIGRATION_DATABASE_URL") or database_url()


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def from_environment() -> dict[str, Any]:
    env = os.environ.get("CADENCE_ENV", "production").lower()
    development = env == "development"
    redis_url = os.environ.get("REDIS_URL") or None
    return {
        "CADENCE_ENV": env,
        "SECRET_KEY": os.environ.get("SECRET_KEY", ""),
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url,
        "SMTP_URL": os.environ.get("SMTP_URL") or None,
        "MAIL_FROM": os.environ.get("MAIL_FROM", "Cadence <no-reply@cadence.invalid>"),
        "PUBLIC_URL": (os.environ.get("PUBLIC_URL") or "").rstrip("/") or None,
        "VAPID_PRIVATE_KEY": os.environ.get("VAPID_PRIVATE_KEY") or None,
        "VAPID_PUBLIC_KEY": os.environ.get("VAPID_PUBLIC_KEY") or None,
        "VAPID_SUBJECT": os.environ.get("VAPID_SUBJECT") or None,
        "SMS_PROVIDER": (os.environ.get("SMS_PROVIDER") or "").strip().lower() or None,
        "TWILIO_ACCOUNT_SID": os.environ.get("TWILIO_ACCOUNT_SID") or None,
        "TWILIO_AUTH_TOKEN": os.environ.get("TWILIO_AUTH_TOKEN") or None,
        "TWILIO_FROM": os.environ.get("TWILIO_FROM") or None,
        "TWILIO_API_BASE": os.environ.get("TWILIO_API_BASE") or None,
        "INSTANCE_PATH": str(instance_path()),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI")
        or redis_url
        or "memory://",
        "LOGIN_LIMIT_PER_ACCOUNT": os.environ.get("LOGIN_LIMIT_PER_ACCOUNT", "5 per 15 minutes"),
        "LOGIN_LIMIT_PER_ADDRESS": os.environ.get("LOGIN_LIMIT_PER_ADDRESS", "20 per 15 minutes"),
        "RESET_LIMIT_PER_ADDRESS": os.environ.get("RESET_LIMIT_PER_ADDRESS", "10 per hour"),
        "SESSION_IDLE_MINUTES": _int("SESSION_IDLE_MINUTES", 30),
        "SESSION_ABSOLUTE_HOURS": _int("SESSION_ABSOLUTE_HOURS", 12),
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", not development),
        "TRUSTED_PROXIES": _int("TRUSTED_PROXIES", 0),
    }


def finalise(config: dict[str, Any]) -> None:
    """Derived settings and the start-up refusal for unsafe production configs."""
    development = config.get("CADENCE_ENV") == "development" or config.get("TESTING")
    secret = config.get("SECRET_KEY") or ""
    if not development and (secret.lower() in KNOWN_SECRETS or len(secret) < 32):
        raise ConfigurationError(
            "SECRET_KEY is missing, too short or a well-known value. Set SECRET_KEY to at least "
            "32 random characters (python -c 'import secrets; print(secrets.token_urlsafe(48))'), "
            "or set CADENCE_ENV=development for a local demo."
        )
    if not secret:
        # Development without a key: a random one for this process (sessions end on restart).
        config["SECRET_KEY"] = secrets.token_urlsafe(48)
    # Flask's defaults already hold these keys (SameSite None), so setdefault would not apply.
    config["SESSION_COOKIE_HTTPONLY"] = True
    if not config.get("SESSION_COOKIE_SAMESITE"):
        config["SESSION_COOKIE_SAMESITE"] = "Lax"
    config["SESSION_COOKIE_NAME"] = (
        "__Host-cadence" if config.get("SESSION_COOKIE_SECURE") else "cadence_session"
    )
    config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=config["SESSION_ABSOLUTE_HOURS"])
    config["SESSION_REFRESH_EACH_REQUEST"] = False
    config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the token lives as long as the session
    config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    config.setdefault("RATELIMIT_KEY_PREFIX", "cadence")
    # If Redis is briefly unreachable, keep limiting in this process rather than failing sign-in.
    config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    # ...and find out quickly: a Redis that hangs (frozen, or packets dropped) would otherwise
    # hold a sign-in for as long as it hangs, as the client has no timeouts by default.
    if str(config.get("RATELIMIT_STORAGE_URI") or "").startswith(("redis", "unix")):
        options = config.setdefault("RATELIMIT_STORAGE_OPTIONS", {})
        options.setdefault("socket_connect_timeout", 0.25)
        options.setdefault("socket_timeout", 0.25)
    if config.get("MAX_CONTENT_LENGTH") is None:
        config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024
