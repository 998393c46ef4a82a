"""The worker's entry point: `celery -A tasks worker` finds `app` here."""

from __future__ import annotations

from portal import create_app

flask_app = create_app()
app = flask_app.extensions["celery"]
