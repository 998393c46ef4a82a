"""The member's notification centre and reminder settings, and the unread count in the nav."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError
from wtforms.fields.choices import SelectChoice

from portal.extensions import client_address, db
from portal.forms import ButtonForm
from portal.helpers import require_button_form, saved
from portal.notifications.forms import NotificationSettingsForm
from routines import preferences
from routines.models import CHANNELS
from tenants.db import utcnow

logger = logging.getLogger(__name__)
bp = Blueprint("notifications", __name__, url_prefix="/o/<org_slug>/notifications")


@bp.before_request
@login_required
def _members_only() -> None:
    return None


@bp.app_context_processor
def _unread_notifications() -> dict[str, Any]:
    """The nav's unread count: one COUNT, only on pages of an organisation the person is a
    member of (everywhere else the nav has no Notifications link)."""
    membership = g.get("membership")
    if membership is None:
        return {}
    try:
        return {"unread_notifications": preferences.unread_count(db.session, membership.id)}
    except SQLAlchemyError:
        # An error page rendered after a failed statement must still render.
        logger.warning("unread count unavailable", exc_info=True)
        return {}


def sms_available() -> bool:
    return bool(current_app.config.get("SMS_PROVIDER"))


def _local_path(link: str | None) -> str | None:
    """The same-site part of a notification's link: its links are absolute (an email needs
    them so), but following one never leaves the host the person is using."""
    if not link:
        return None
    parts = urlsplit(link)
    if not parts.path.startswith("/") or parts.path.startswith("//") or "\\" in link:
        return None
    path = parts.path
    if parts.query:
        path += "?" + parts.query
    if parts.fragment:
        path += "#" + parts.fragment
    return path


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    page_arg = request.args.get("page", "1")
    if not (page_arg.isascii() and page_arg.isdigit()) or not 1 <= int(page_arg) <= 100_000:
        abort(400, description="Page must be a whole number of 1 or more.")
    page = preferences.list_notifications(db.session, g.membership.id, page=int(page_arg))
    return render_template(
        "notifications/index.html",
        page=page,
        button=ButtonForm(),
        path_of=_local_path,
    )


@bp.post("/read")
def mark_all_read():  # type: ignore[no-untyped-def]
    require_button_form()
    count = preferences.mark_all_read(db.session, g.membership.id, now=utcnow())
    db.session.commit()
    if count:
        flash(f"{count} notification{'s' if count != 1 else ''} marked read.", "success")
    return redirect(url_for("notifications.index")), 303


@bp.post("/<id:notification_id>/read")
def mark_read(notification_id: int):  # type: ignore[no-untyped-def]
    notification = preferences.get_notification(db.session, g.membership.id, notification_id)
    require_button_form()
    preferences.mark_read(db.session, notification, now=utcnow())
    target = _local_path(notification.link) or url_for("notifications.index")
    db.session.commit()
    return redirect(target), 303


@bp.route("/settings", methods=["GET", "POST"])
def settings():  # type: ignore[no-untyped-def]
    sms = sms_available()
    current = preferences.preference_values(db.session, g.membership.id)
    form = NotificationSettingsForm(
        data={**current.__dict__, "channels": list(current.channels)}
        if request.method == "GET"
        else None
    )
    if not sms:
        form.channels.choices = [SelectChoice(k, v) for k, v in CHANNELS.items() if k != "sms"]
    if form.validate_on_submit():
        values = preferences.PreferenceValues(
            channels=tuple(form.channels.data or ()),
            lead_minutes=form.lead_minutes.data,  # type: ignore[arg-type]
            quiet_start=form.quiet_start.data,
            quiet_end=form.quiet_end.data,
            remind_inside_quiet=form.remind_inside_quiet.data,
            digest=form.digest.data,
            phone=form.phone.data if sms else None,
        )
        with saved(form, "channels") as outcome:
            preferences.update_preference(
                db.session,
                g.membership,
                values,
                sms_available=sms,
                actor=current_user.user,
                ip=client_address(),
            )
        if outcome:
            flash("Your reminder settings are saved.", "success")
            return redirect(url_for("notifications.settings")), 303
    status = 400 if request.method == "POST" else 200
    return render_template(
        "notifications/settings.html",
        form=form,
        sms=sms,
        email=current_user.user.email,
    ), status
