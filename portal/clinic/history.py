"""A child's developmental history: adversity and relational health by period, and the
timeline of risk against relational buffers. A clinical record: only the child's
clinicians and admins see or change it."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from portal.extensions import client_address, db
from portal.forms import ButtonForm
from portal.helpers import clinical_child, require_button_form, saved
from routines import history as history_ops
from routines.history_svg import render_timeline
from routines.models.history import PERIODS, SEVERITIES

bp = Blueprint("history", __name__, url_prefix="/o/<org_slug>/children/<id:child_id>/history")

SEVERITY_LABELS = {s: s.capitalize() for s in SEVERITIES}
RELATIONAL_LABELS = {
    "none": "None: no one safe and connected",
    "low": "Low: little connection or support",
    "moderate": "Moderate: some steady connection",
    "strong": "Strong: well connected and supported",
}


@bp.before_request
@login_required
def _members_only() -> None:
    return None


class AdversityForm(FlaskForm):
    period = SelectField(
        "Developmental period",
        id="adversity-period",
        choices=[SelectChoice(k, PERIODS[k]) for k in history_ops.ADVERSITY_PERIODS],
        validators=[DataRequired("Choose the developmental period it happened in.")],
    )
    kind = StringField(
        "Adversity",
        validators=[
            DataRequired("Describe the adversity, for example neglect or a move."),
            Length(max=history_ops.KIND_MAX, message="Use at most %(max)d characters."),
        ],
    )
    severity = SelectField(
        "Severity",
        choices=[SelectChoice(k, v) for k, v in SEVERITY_LABELS.items()],
        validators=[DataRequired("Choose a severity.")],
    )
    certainty = SelectField(
        "Known or estimated",
        choices=[SelectChoice("known", "Known"), SelectChoice("estimated", "Estimated")],
        validators=[DataRequired("Say whether this is known or estimated.")],
    )
    note = TextAreaField(
        "Note (optional)",
        id="adversity-note",
        validators=[
            Optional(),
            Length(max=history_ops.NOTE_MAX, message="Use at most %(max)d characters."),
        ],
    )


class RelationalForm(FlaskForm):
    period = SelectField(
        "Period",
        id="relational-period",
        choices=[SelectChoice(k, v) for k, v in PERIODS.items()],
        validators=[DataRequired("Choose a developmental period or now.")],
    )
    relational_level = SelectField(
        "Relational health (buffers)",
        choices=[SelectChoice(k, v) for k, v in RELATIONAL_LABELS.items()],
        validators=[DataRequired("Choose how connected and supported the child was.")],
    )
    note = TextAreaField(
        "Note (optional)",
        id="relational-note",
        validators=[
            Optional(),
            Length(max=history_ops.NOTE_MAX, message="Use at most %(max)d characters."),
        ],
    )


def _clinical_child(child_id: int):  # type: ignore[no-untyped-def]
    return clinical_child(
        child_id,
        "The developmental history is part of the clinical record: only the child's "
        "clinicians and admins see and change it.",
    )


def _page(record, adversity_form=None, relational_form=None, status: int = 200):  # type: ignore[no-untyped-def]
    points = history_ops.timeline(db.session, record)
    chart = Markup(  # noqa: S704 - render_timeline escapes every piece of text it emits
        render_timeline(points, title=f"Developmental timeline for {record.display_name}")
    )
    return render_template(
        "history/index.html",
        child=record,
        points=points,
        chart=chart,
        periods=PERIODS,
        grouped=history_ops.entries_by_period(db.session, record),
        adversity_form=adversity_form or AdversityForm(),
        relational_form=relational_form or RelationalForm(),
        button=ButtonForm(),
        severity_labels=SEVERITY_LABELS,
    ), status


@bp.get("/")
def index(child_id: int):  # type: ignore[no-untyped-def]
    record = _clinical_child(child_id)
    history_ops.record_view(db.session, record, actor=current_user.user, ip=client_address())
    db.session.commit()
    return _page(record)


@bp.post("/adversity")
def add_adversity(child_id: int):  # type: ignore[no-untyped-def]
    record = _clinical_child(child_id)
    form = AdversityForm()
    if form.validate_on_submit():
        with saved(form) as outcome:
            history_ops.add_adversity(
                db.session,
                record,
                period=form.period.data,
                kind=form.kind.data,
                severity=form.severity.data,
                certainty=form.certainty.data,
                note=form.note.data,
                actor=current_user.user,
                ip=client_address(),
            )
        if outcome:
            flash("Adversity added to the history.", "success")
            return redirect(url_for("history.index", child_id=record.id)), 303
    db.session.rollback()
    record = _clinical_child(child_id)
    return _page(record, adversity_form=form, status=400)


@bp.post("/relational")
def set_relational(child_id: int):  # type: ignore[no-untyped-def]
    record = _clinical_child(child_id)
    form = RelationalForm()
    if form.validate_on_submit():
        with saved(form) as outcome:
            history_ops.set_relational_health(
                db.session,
                record,
                period=form.period.data,
                level=form.relational_level.data,
                note=form.note.data,
                actor=current_user.user,
                ip=client_address(),
            )
        if outcome:
            flash("Relational health saved.", "success")
            return redirect(url_for("history.index", child_id=record.id)), 303
    db.session.rollback()
    record = _clinical_child(child_id)
    return _page(record, relational_form=form, status=400)


@bp.post("/<id:entry_id>/remove")
def remove_entry(child_id: int, entry_id: int):  # type: ignore[no-untyped-def]
    record = _clinical_child(child_id)
    history_ops.get_entry(db.session, record, entry_id)  # 404 before any CSRF answer
    require_button_form()
    history_ops.remove_entry(
        db.session, record, entry_id, actor=current_user.user, ip=client_address()
    )
    db.session.commit()
    flash("Removed from the history.", "success")
    return redirect(url_for("history.index", child_id=record.id)), 303
