"""Private calendar (ICS) feeds: the address is the credential."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("feeds", __name__, url_prefix="/feeds")
