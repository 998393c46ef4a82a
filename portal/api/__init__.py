"""The JSON API, /api/v1, authenticated by bearer tokens bound to one membership."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
