"""Teachers' pages: a classroom's day, group logging, the school calendar, anchor times.

Views are thin: routines.classroom decides which classes and children a member sees and
does the group logging; routines.logs the one-tap logs; routines.places calendars and
anchors. A class the member does not see answers 404, as one that does not exist."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from portal.classroom.forms import AnchorForm, CalendarEntryForm
from portal.extensions import client_address, db
from portal.forms import ButtonForm
from portal.helpers import require_button_form, saved
from routines import classroom as ops
from routines import logs, places, summaries
from routines.models import ANCHORS, SKIP_REASONS, Classroom, Occurrence
from tenants.db import utcnow
from tenants.isolation import get_scoped

bp = Blueprint("classroom", __name__, url_prefix="/o/<org_slug>/classroom")


@bp.before_request
@login_required
def _members_only() -> None:
    return None


def _classroom(classroom_id: int) -> Classroom:
    return ops.get_classroom(db.session, classroom_id, g.membership)


def _today(classroom: Classroom) -> date:
    return utcnow().astimezone(ZoneInfo(classroom.time_zone)).date()


def _day_arg(classroom: Classroom, value: str | None) -> date:
    if not value:
        return _today(classroom)
    try:
        return date.fromisoformat(value)
    except ValueError:
        abort(400, description=f"{value!r} is not a date: use YYYY-MM-DD, for example 2026-11-23.")


def _form_int(name: str, value: str | None) -> int:
    if value is None or not value.isdigit() or not 1 <= int(value) < 2**31:
        abort(400, description=f"The form's {name} is missing or not a whole number.")
    return int(value)


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    classrooms = ops.visible_classrooms(db.session, g.membership)
    if len(classrooms) == 1:
        return redirect(url_for("classroom.day", classroom_id=classrooms[0].id))
    return render_template("classroom/index.html", classrooms=classrooms)


@bp.get("/<id:classroom_id>")
def day(classroom_id: int):  # type: ignore[no-untyped-def]
    classroom = _classroom(classroom_id)
    shown = _day_arg(classroom, request.args.get("date"))
    class_day = ops.class_day(db.session, classroom, g.membership, shown)
    today = _today(classroom)
    # The class's week so far, for the children this member sees (one read of the rollups).
    week = summaries.class_week(db.session, classroom.id, class_day.children, today)
    ops.record_class_view(db.session, class_day, actor=current_user.user, ip=client_address())
    db.session.commit()
    return render_template(
        "classroom/day.html",
        classroom=classroom,
        class_day=class_day,
        week=week,
        today=today,
        previous=shown - timedelta(days=1),
        following=shown + timedelta(days=1),
        form=ButtonForm(),
        # Fresh for each page: a double submit of this page repeats, never duplicates.
        new_uuid=lambda: str(uuid.uuid4()),
        exceptions=ops.EXCEPTIONS,
        skip_reasons=SKIP_REASONS,
        status_labels=logs.STATUS_LABELS,
    )


def _back_to_day(classroom: Classroom, shown: str | None):  # type: ignore[no-untyped-def]
    values = {"classroom_id": classroom.id}
    if shown:
        values["date"] = shown
    return redirect(url_for("classroom.day", **values)), 303


def _shown_date(classroom: Classroom) -> str | None:
    """The day page to return to (validated, so a bad value is a 400, not a bad redirect)."""
    value = request.form.get("date") or None
    return _day_arg(classroom, value).isoformat() if value else None


@bp.post("/<id:classroom_id>/group")
def log_group(classroom_id: int):  # type: ignore[no-untyped-def]
    classroom = _classroom(classroom_id)
    require_button_form()
    shown = _shown_date(classroom)
    ids = [_form_int("routine", v) for v in request.form.getlist("occurrence_id")]
    exceptions: dict[int, str] = {}
    uuids: dict[int, str] = {}
    for occurrence_id in ids:
        child_id = _form_int("child", request.form.get(f"child-{occurrence_id}"))
        exceptions[child_id] = request.form.get(f"choice-{occurrence_id}") or "done"
        uuids[occurrence_id] = request.form.get(f"uuid-{occurrence_id}") or ""
    results = ops.log_group(
        db.session,
        classroom,
        ids,
        exceptions,
        actor=current_user.user,
        membership=g.membership,
        now=utcnow(),
        client_uuids=uuids,
        ip=client_address(),
    )
    db.session.commit()
    _flash_group(results)
    return _back_to_day(classroom, shown)


def _flash_group(results: list[ops.ChildResult]) -> None:
    counts = ops.summary(results)
    said = ", ".join(f"{n} {ops.EXCEPTIONS[k].lower()}" for k, n in counts.items() if n)
    if said:
        flash(f"Group activity logged: {said}.", "success")
    for result in results:
        if not result.ok:
            flash(result.message or "That child's routine could not be logged.", "error")


@bp.post("/<id:classroom_id>/log")
def log_one(classroom_id: int):  # type: ignore[no-untyped-def]
    """One tap on a child's own activity: done, partly, or skipped with its reason."""
    classroom = _classroom(classroom_id)
    require_button_form()
    shown = _shown_date(classroom)
    occurrence_id = _form_int("routine", request.form.get("occurrence_id"))
    status = request.form.get("status")
    reason = request.form.get("reason") or None
    if status == "skipped" and reason is None:
        abort(400, description="Say why it was skipped: child unwell, refused, no time or other.")
    occurrence = get_scoped(db.session, Occurrence, occurrence_id)
    children = {c.id for c in ops.class_children(db.session, classroom, g.membership)}
    if occurrence is None or occurrence.child_id not in children:
        abort(404)  # logged through this class's page, so it must be this class's child
    [result] = logs.record_logs(
        db.session,
        [
            logs.LogInput(
                client_uuid=request.form.get("client_uuid"),
                occurrence_id=occurrence_id,
                status=status,
                reason=reason if status != "done" else None,
            )
        ],
        actor=current_user.user,
        membership=g.membership,
        now=utcnow(),
        source="classroom",
        ip=client_address(),
    )
    if not result.ok:
        db.session.rollback()
        abort(result.code if result.code in (400, 403, 404, 409, 422) else 400, result.message)
    db.session.commit()
    flash(f"Logged: {logs.STATUS_LABELS[result.log.status]}.", "success")  # type: ignore[union-attr]
    return _back_to_day(classroom, shown)


# --- the school calendar -------------------------------------------------------------------


def _render_calendar(classroom: Classroom, form: CalendarEntryForm, status: int = 200):  # type: ignore[no-untyped-def]
    entries = places.calendar_entries(db.session, [classroom.id])[classroom.id]
    return render_template(
        "classroom/calendar.html",
        classroom=classroom,
        entries=entries,
        form=form,
        button=ButtonForm(),
        kinds=places.CALENDAR_KINDS,
    ), status


@bp.get("/<id:classroom_id>/calendar")
def calendar(classroom_id: int):  # type: ignore[no-untyped-def]
    return _render_calendar(_classroom(classroom_id), CalendarEntryForm())


@bp.post("/<id:classroom_id>/calendar")
def add_calendar_entry(classroom_id: int):  # type: ignore[no-untyped-def]
    classroom = _classroom(classroom_id)
    form = CalendarEntryForm()
    if form.validate_on_submit():
        with saved(form, "kind") as outcome:
            entry = places.add_calendar_entry(
                db.session,
                classroom,
                kind=form.kind.data,
                starts_on=form.starts_on.data,
                ends_on=form.ends_on.data,
                label=form.label.data,
                actor=current_user.user,
                now=utcnow(),
                ip=client_address(),
            )
        if outcome:
            flash(
                f"{places.CALENDAR_KINDS[entry.kind]} {entry.starts_on:%-d %b %Y} to "
                f"{entry.ends_on:%-d %b %Y} added; the class's routines follow it.",
                "success",
            )
            return redirect(url_for("classroom.calendar", classroom_id=classroom.id)), 303
    return _render_calendar(classroom, form, 400)


@bp.post("/<id:classroom_id>/calendar/<id:calendar_entry_id>/remove")
def remove_calendar_entry(classroom_id: int, calendar_entry_id: int):  # type: ignore[no-untyped-def]
    classroom = _classroom(classroom_id)
    require_button_form()
    places.remove_calendar_entry(
        db.session,
        classroom,
        calendar_entry_id,
        actor=current_user.user,
        now=utcnow(),
        ip=client_address(),
    )
    db.session.commit()
    flash("Removed from the school calendar; the class's routines follow it.", "success")
    return redirect(url_for("classroom.calendar", classroom_id=classroom.id)), 303


# --- anchor times --------------------------------------------------------------------------


@bp.route("/<id:classroom_id>/anchors", methods=["GET", "POST"])
def anchors(classroom_id: int):  # type: ignore[no-untyped-def]
    classroom = _classroom(classroom_id)
    form = AnchorForm()
    if request.method == "GET":
        own = classroom.anchor_times or {}
        for key in ANCHORS:
            getattr(form, key).data = own.get(key, "")
    elif form.validate_on_submit():
        values = {key: getattr(form, key).data for key in ANCHORS}
        with saved(form) as outcome:
            places.set_anchor_times(
                db.session,
                classroom,
                values,
                actor=current_user.user,
                now=utcnow(),
                ip=client_address(),
            )
        if outcome:
            flash("Anchor times saved; the class's coming routines have moved.", "success")
            return redirect(url_for("classroom.anchors", classroom_id=classroom.id)), 303
    status = 400 if request.method == "POST" else 200
    return render_template(
        "classroom/anchors.html",
        classroom=classroom,
        form=form,
        anchors=ANCHORS,
        defaults=places.DEFAULT_ANCHOR_TIMES,
    ), status
