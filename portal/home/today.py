"""Today and the week: a carer's children's home routines, one tap to log each, corrections
of one's own logs, the device token the offline script uses, and the service worker."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

from flask import (
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
from flask_login import current_user

from portal.extensions import client_address, db, limiter
from portal.home import bp
from portal.home.days import carer_children, home_days, local_today
from routines import children as children_ops
from routines import logs, summaries
from routines.access import logging_side
from routines.models import AROUSAL_STATES, AWAY_KINDS, SKIP_REASONS
from tenants import api_tokens, audit
from tenants.db import utcnow
from tenants.errors import ValidationError
from tenants.roles import Role

logger = logging.getLogger(__name__)

WEEK_DAYS = 7
_LOG_FIELDS = ("status", "reason", "minutes", "state_before", "state_after", "enjoyment", "note")


def _date_arg(value: str | None, what: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        abort(400, description=f"Give the {what} as YYYY-MM-DD, for example 2026-11-23.")


def _choices() -> dict[str, Any]:
    return {
        "reasons": SKIP_REASONS,
        "states": AROUSAL_STATES,
        "enjoyment": range(1, 6),
        "minutes_max": logs.MINUTES_MAX,
        "note_max": logs.NOTE_MAX,
        "kinds": AWAY_KINDS,
        "statuses": logs.STATUS_LABELS,
    }


def _is_carer() -> bool:
    return g.membership.has_role(Role.CARER)


def _read_days(kids, first_days, span, now, action, **detail):  # type: ignore[no-untyped-def]
    """The children's routines over `span` days, and one audit row for the read: which
    children's routines were seen (one row per page view keeps the query count fixed)."""
    shown = home_days(
        db.session,
        kids,
        first_days=first_days,
        span=span,
        org_zone=g.org.time_zone,
        viewer=current_user.user,
        now=now,
    )
    if kids:
        audit.record(
            db.session,
            action,
            actor=current_user.user,
            object_type="child",
            object_id=kids[0].id if len(kids) == 1 else None,
            ip_address=client_address(),
            child_ids=[k.id for k in kids],
            **detail,
        )
        db.session.commit()
    return shown


def _render_today(day: date | None, *, failed: dict[int, dict[str, Any]] | None = None):  # type: ignore[no-untyped-def]
    """The Today page for `day` (None: today in each child's home zone)."""
    if not _is_carer():
        return render_template("home/not_carer.html")
    now = utcnow()
    kids = carer_children(db.session, g.membership)
    todays = {
        kid.id: local_today(children_ops.child_time_zone(kid, g.org.time_zone), now) for kid in kids
    }
    firsts = {kid.id: day or todays[kid.id] for kid in kids}
    # Read before _read_days commits, inside the page's one transaction.
    weeks = summaries.child_weeks(db.session, kids, todays)
    shown = _read_days(
        kids, firsts, 1, now, "routines.today_viewed", day=day.isoformat() if day else None
    )
    return render_template(
        "home/today.html",
        shown=shown,
        weeks=weeks,
        requested=day,
        failed=failed or {},
        **_choices(),
    )


@bp.get("/today")
def today():  # type: ignore[no-untyped-def]
    return _render_today(_date_arg(request.args.get("date"), "date"))


def _form_input(form: Any) -> logs.LogInput:
    def value(name: str) -> str | None:
        text = (form.get(name) or "").strip()
        return text or None

    return logs.LogInput(
        client_uuid=value("client_uuid"),
        occurrence_id=value("occurrence_id"),
        status=value("status"),
        reason=value("reason"),
        minutes=value("minutes"),
        state_before=value("state_before"),
        state_after=value("state_after"),
        enjoyment=value("enjoyment"),
        note=form.get("note") or None,
    )


@bp.post("/today/log")
def log():  # type: ignore[no-untyped-def]
    """One log from a Today form (no script): the client_uuid was made when the page was
    rendered, so pressing the button twice stores one log."""
    day = _date_arg(request.form.get("date"), "date")
    item = _form_input(request.form)
    if item.status == "done":
        item.reason = None  # a reason chosen before pressing Done belongs to partly or skipped
    [result] = logs.record_logs(
        db.session,
        [item],
        actor=current_user.user,
        membership=g.membership,
        now=utcnow(),
        source="web",
        ip=client_address(),
    )
    if result.ok:
        db.session.commit()
        label = logs.STATUS_LABELS.get(result.log.status if result.log else "", "Logged")
        flash(
            f"Saved: {label.lower()}." if result.code == 201 else "That log was already saved.",
            "success",
        )
        return redirect(url_for("home.today", date=day.isoformat() if day else None)), 303
    db.session.rollback()
    flash(result.message or "That log could not be saved.", "error")
    failed: dict[int, dict[str, Any]] = {}
    try:
        failed[int(item.occurrence_id or 0)] = {
            **{name: request.form.get(name, "") for name in _LOG_FIELDS},
            "client_uuid": item.client_uuid,
            "field": result.field,
            "message": result.message,
        }
    except ValueError:
        pass
    return _render_today(day, failed=failed), result.code


@bp.post("/today/logs/<id:log_id>/correct")
def correct(log_id: int):  # type: ignore[no-untyped-def]
    """The author changes a log within 48 hours; every correction is kept."""
    record = logs.get_log(db.session, log_id)
    child = children_ops.get_child(db.session, record.child_id, g.membership)
    if logging_side(g.membership, child) != "home":
        abort(403, description="Only the child's carers correct home logs.")
    changes = {name: (request.form.get(name) or "").strip() or None for name in _LOG_FIELDS}
    changes["note"] = request.form.get("note") or ""
    day = _date_arg(request.form.get("date"), "date")
    try:
        logs.correct_log(
            db.session,
            record,
            changes,
            actor=current_user.user,
            now=utcnow(),
            ip=client_address(),
        )
    except ValidationError as exc:
        db.session.rollback()
        flash(f"Not corrected: {exc.message}", "error")
        return _render_today(day), 422
    db.session.commit()
    flash("Log corrected.", "success")
    return redirect(url_for("home.today", date=day.isoformat() if day else None)), 303


@bp.get("/today/week")
def week():  # type: ignore[no-untyped-def]
    if not _is_carer():
        return render_template("home/not_carer.html")
    now = utcnow()
    start = _date_arg(request.args.get("start"), "start")
    if start is None:
        this_day = local_today(g.org.time_zone, now)
        start = this_day - timedelta(days=this_day.weekday())
    kids = carer_children(db.session, g.membership)
    shown = _read_days(
        kids,
        {kid.id: start for kid in kids},
        WEEK_DAYS,
        now,
        "routines.week_viewed",
        start=start.isoformat(),
    )
    return render_template(
        "home/week.html",
        shown=shown,
        start=start,
        days=[start + timedelta(days=i) for i in range(WEEK_DAYS)],
        previous=start - timedelta(days=WEEK_DAYS),
        following=start + timedelta(days=WEEK_DAYS),
        today=local_today(g.org.time_zone, now),
        now=now,
    )


def _browser_name(agent: str) -> str:
    """A human label for the device token ("Today on Firefox, Android"), from the
    User-Agent: only for the person reading their list of tokens."""
    browser = next(
        (
            label
            for marker, label in (
                ("Edg/", "Edge"),
                ("Firefox/", "Firefox"),
                ("SamsungBrowser/", "Samsung Internet"),
                ("Chrome/", "Chrome"),
                ("Chromium/", "Chromium"),
                ("Safari/", "Safari"),
            )
            if marker in agent
        ),
        "a browser",
    )
    system = next(
        (
            label
            for marker, label in (
                ("Android", "Android"),
                ("iPhone", "iPhone"),
                ("iPad", "iPad"),
                ("Windows", "Windows"),
                ("Mac OS X", "Mac"),
                ("Linux", "Linux"),
            )
            if marker in agent
        ),
        None,
    )
    return f"Today on {browser}" + (f", {system}" if system else "")


@bp.post("/today/device-token")
@limiter.limit("30 per hour")
def device_token():  # type: ignore[no-untyped-def]
    """An API token for this browser, so logs kept offline can be sent after the session
    has ended (sessions last hours; tokens 90 days). Cookie and CSRF header required."""
    if not _is_carer():
        abort(403, description="Today is for carers.")
    token, secret = api_tokens.create_token(
        db.session,
        current_user.user,
        g.membership,
        name=_browser_name(request.headers.get("User-Agent", "")),
        now=utcnow(),
        ip=client_address(),
    )
    db.session.commit()
    return jsonify({"token": secret, "expires_at": token.expires_at.isoformat()}), 201


@bp.get("/sw.js")
def service_worker():  # type: ignore[no-untyped-def]
    """The service worker, served inside /o/<org_slug>/ so that is its scope."""
    response = current_app.send_static_file("sw.js")
    response.headers["Content-Type"] = "text/javascript; charset=utf-8"
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = url_for("home.today").rsplit("/", 1)[0] + "/"
    return response
