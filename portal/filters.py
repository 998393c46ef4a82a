"""Jinja filters and globals: local times, role labels."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, g
from flask_login import current_user

from tenants.roles import ALL_ROLES, Role


def _viewer_zone() -> ZoneInfo:
    zone = None
    if current_user and current_user.is_authenticated:
        zone = current_user.time_zone
    elif g.get("org") is not None:
        zone = g.org.time_zone
    return ZoneInfo(zone or "Europe/London")


def local_time(value: datetime | None, fmt: str = "%d %b %Y, %H:%M") -> str:
    if value is None:
        return "—"
    return value.astimezone(_viewer_zone()).strftime(fmt)


def role_label(value: str) -> str:
    try:
        return Role(value).label
    except ValueError:
        return value


def init_app(app: Flask) -> None:
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["role_label"] = role_label
    app.jinja_env.globals["ALL_ROLES"] = ALL_ROLES
    app.jinja_env.globals["Role"] = Role
