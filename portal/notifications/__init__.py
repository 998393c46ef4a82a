"""The member's notification centre and reminder settings, the unread count in the nav, and
turning Web Push on and off for the browser in hand (push.js posts its PushSubscription)."""

from __future__ import annotations

import hashlib
import logging
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from py_vapid import Vapid
from sqlalchemy.exc import SQLAlchemyError
from wtforms.fields.choices import SelectChoice

from portal.errors import TITLES
from portal.extensions import client_address, db, limiter
from portal.forms import ButtonForm
from portal.helpers import require_button_form, saved
from portal.notifications.forms import NotificationSettingsForm
from routines import preferences, push_subscriptions
from routines.models import CHANNELS
from tasks.channels.push import public_key_of
from tenants.db import utcnow
from tenants.errors import ValidationError

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


def vapid_public_key() -> str | None:
    """The key browsers subscribe with (applicationServerKey), or None when Web Push is not
    set up: no private key, or one the push channel would refuse to sign with."""
    config = current_app.config
    private = (config.get("VAPID_PRIVATE_KEY") or "").strip()
    if not private:
        return None
    try:
        public = public_key_of(Vapid.from_string(private))
    except Exception:  # noqa: BLE001 - any parse failure means push cannot work
        logger.warning("VAPID_PRIVATE_KEY is not a valid key; push is off")
        return None
    configured = (config.get("VAPID_PUBLIC_KEY") or "").strip().rstrip("=")
    if configured and configured != public:
        logger.warning("VAPID_PUBLIC_KEY does not belong to VAPID_PRIVATE_KEY; push is off")
        return None
    return public


def _allow_local_push_services() -> bool:
    # A push service on http://127.0.0.1 exists only as a stand-in in tests and development.
    return bool(current_app.testing or current_app.config.get("CADENCE_ENV") == "development")


def _endpoint_digest(endpoint: str) -> str:
    """What the settings page tells push.js about the member's devices: enough to see
    whether this browser is one of them, without putting the endpoints in the page."""
    return hashlib.sha256(endpoint.encode()).hexdigest()


def _json_error(status: int, message: str, field: str | None = None):  # type: ignore[no-untyped-def]
    body = {"status": status, "title": TITLES.get(status, "Error"), "message": message}
    if field:
        body["field"] = field
    return jsonify({"error": body}), status


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
            if "push" in values.channels:
                _warn_if_push_cannot_reach()
            return redirect(url_for("notifications.settings")), 303
    status = 400 if request.method == "POST" else 200
    devices = push_subscriptions.push_devices(db.session, g.membership.id)
    return render_template(
        "notifications/settings.html",
        form=form,
        sms=sms,
        email=current_user.user.email,
        vapid_key=vapid_public_key(),
        push_devices=len(devices),
        push_digests=" ".join(_endpoint_digest(d.endpoint) for d in devices),
    ), status


def _warn_if_push_cannot_reach() -> None:
    """Push is chosen but nothing would arrive: say so (the choice is still saved, so it
    works as soon as a device is turned on)."""
    if vapid_public_key() is None:
        flash(
            "Push notifications are not set up on this server yet, so reminders will not "
            "arrive that way. Keep another way of being reminded ticked.",
            "warning",
        )
    elif not push_subscriptions.push_devices(db.session, g.membership.id):
        flash(
            "Push is ticked, but no phone or browser has push turned on for you yet. Use "
            "“Turn on push on this device” below on each device you want reminders on.",
            "warning",
        )


@bp.post("/push/subscribe")
@limiter.limit("30 per hour")
def push_subscribe():  # type: ignore[no-untyped-def]
    """Store this browser's PushSubscription.toJSON() for the member. Cookie session and an
    X-CSRFToken header (checked before this runs); JSON in, JSON out."""
    data = request.get_json(silent=True)
    if data is None:
        return _json_error(400, "Send the browser's push subscription as JSON.")
    if vapid_public_key() is None:
        return _json_error(409, "Push notifications are not set up on this server.")
    try:
        _row, created = push_subscriptions.save_push_subscription(
            db.session,
            g.membership,
            data,
            actor=current_user.user,
            now=utcnow(),
            user_agent=request.headers.get("User-Agent"),
            allow_insecure=_allow_local_push_services(),
            ip=client_address(),
        )
    except ValidationError as exc:
        db.session.rollback()
        return _json_error(400, exc.message, exc.field)
    db.session.commit()
    devices = push_subscriptions.push_devices(db.session, g.membership.id)
    return jsonify(
        {"subscribed": True, "created": created, "devices": len(devices)}
    ), 201 if created else 200


@bp.post("/push/unsubscribe")
@limiter.limit("30 per hour")
def push_unsubscribe():  # type: ignore[no-untyped-def]
    """Forget this browser for the member ({endpoint}); 200 whether or not it was stored."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return _json_error(400, "Send the endpoint of the push subscription as JSON.")
    try:
        removed = push_subscriptions.remove_push_subscription(
            db.session,
            g.membership,
            data.get("endpoint"),
            actor=current_user.user,
            ip=client_address(),
        )
    except ValidationError as exc:
        db.session.rollback()
        return _json_error(400, exc.message, exc.field)
    db.session.commit()
    devices = push_subscriptions.push_devices(db.session, g.membership.id)
    return jsonify({"subscribed": False, "removed": removed, "devices": len(devices)}), 200
