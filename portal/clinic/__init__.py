"""The clinician's desk: caseload, children and their care teams."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from portal.extensions import client_address, db
from portal.forms import ButtonForm, ChildForm, EscalationForm, TeamMemberForm
from portal.helpers import clinical_child, saved
from routines import assessments as assessments_ops
from routines import children as children_ops
from routines import preferences
from routines.access import can_add_child, can_change_clinical_record
from routines.metrics import age_in_months
from tenants.errors import ValidationError
from tenants.organisations import list_members

bp = Blueprint("clinic", __name__, url_prefix="/o/<org_slug>/children")


@bp.before_request
@login_required
def _members_only() -> None:
    return None


def _today() -> date:
    from tenants.db import utcnow

    return utcnow().astimezone(ZoneInfo(g.org.time_zone)).date()


def _age(born: date) -> str:
    months = age_in_months(born, _today())
    years, rest = divmod(months, 12)
    if years == 0:
        return f"{rest} month{'s' if rest != 1 else ''}"
    return f"{years} year{'s' if years != 1 else ''}, {rest} month{'s' if rest != 1 else ''}"


@bp.get("/")
def caseload():  # type: ignore[no-untyped-def]
    children = children_ops.visible_children(db.session, g.membership)
    return render_template(
        "clinic/caseload.html", children=children, age=_age, can_add=can_add_child(g.membership)
    )


@bp.route("/new", methods=["GET", "POST"])
def add_child():  # type: ignore[no-untyped-def]
    if not can_add_child(g.membership):
        abort(403, description="Only clinicians and admins add children.")
    form = ChildForm()
    if request.method == "GET":
        form.time_zone.data = g.org.time_zone
    if form.validate_on_submit():
        details = children_ops.ChildDetails(
            given_name=form.given_name.data,
            family_name=form.family_name.data,
            date_of_birth=form.date_of_birth.data,
            preferred_name=form.preferred_name.data,
            pronouns=form.pronouns.data,
            household_name=form.household_name.data,
            time_zone=form.time_zone.data,
            school_name=form.school_name.data,
            classroom_name=form.classroom_name.data,
        )
        with saved(form) as outcome:
            child = children_ops.add_child(
                db.session,
                details,
                actor=current_user.user,
                actor_membership=g.membership,
                default_time_zone=g.org.time_zone,
                today=_today(),
                ip=client_address(),
            )
        if outcome:
            flash(f"{child.display_name} has been added.", "success")
            return redirect(url_for("clinic.child", child_id=child.id))
    status = 400 if request.method == "POST" else 200
    return render_template("clinic/child_form.html", form=form), status


def _team_form(child) -> TeamMemberForm:  # type: ignore[no-untyped-def]
    form = TeamMemberForm()
    on_team = {m.membership_id for m in child.team}
    form.membership_id.choices = [
        SelectChoice(m.id, f"{m.user.name} ({', '.join(r.label for r in m.roles)})")
        for m in list_members(db.session)
        if m.is_active and m.id not in on_team
    ]
    return form


@bp.get("/<id:child_id>")
def child(child_id: int):  # type: ignore[no-untyped-def]
    record = children_ops.get_child(db.session, child_id, g.membership)
    children_ops.record_view(db.session, record, actor=current_user.user, ip=client_address())
    db.session.commit()
    return _render_child(record)


def _escalation_form(child, submitted: bool = False) -> EscalationForm:  # type: ignore[no-untyped-def]
    if submitted:
        form = EscalationForm()
    else:
        form = EscalationForm(
            formdata=None,
            data={
                "escalate_to": str(child.escalate_to_membership_id or ""),
                "escalate_after": child.escalate_after_minutes,
            },
        )
    form.escalate_to.choices = [SelectChoice("", "Nobody (escalation off)")] + [
        SelectChoice(str(m.membership_id), f"{m.membership.user.name} ({m.role.label.lower()})")
        for m in preferences.escalation_candidates(child)
    ]
    return form


def _render_child(  # type: ignore[no-untyped-def]
    record,
    team_form: TeamMemberForm | None = None,
    escalation_form: EscalationForm | None = None,
):
    """The child's page; clinical parts (team form, escalation, developmental ages) only for
    its editors."""
    editable = can_change_clinical_record(g.membership, record)
    dev = None
    if editable:
        team_form = team_form or _team_form(record)
        escalation_form = escalation_form or _escalation_form(record)
        dev = assessments_ops.latest_developmental_ages(db.session, record, g.org)
    return render_template(
        "clinic/child.html",
        child=record,
        age=_age(record.date_of_birth),
        editable=editable,
        team_form=team_form if editable else None,
        escalation_form=escalation_form if editable else None,
        org_escalate_after=g.org.escalate_after_minutes,
        dev=dev,
        button=ButtonForm(),
        time_zone=children_ops.child_time_zone(record, g.org.time_zone),
    )


def _editable_child(child_id: int):  # type: ignore[no-untyped-def]
    return clinical_child(child_id, "Only the child's clinicians and admins change the care team.")


@bp.post("/<id:child_id>/team")
def add_team_member(child_id: int):  # type: ignore[no-untyped-def]
    record = _editable_child(child_id)
    form = _team_form(record)
    if form.validate_on_submit():
        with saved(form, "membership_id") as outcome:
            children_ops.add_team_member(
                db.session,
                record,
                membership_id=form.membership_id.data,
                team_role=form.team_role.data,
                relationship=form.relationship.data or None,
                actor=current_user.user,
                ip=client_address(),
            )
        if outcome:
            flash("Added to the care team.", "success")
            return redirect(url_for("clinic.child", child_id=record.id)), 303
    db.session.rollback()
    record = children_ops.get_child(db.session, child_id, g.membership)
    return _render_child(record, team_form=form), 400


@bp.post("/<id:child_id>/team/<id:member_id>/remove")
def remove_team_member(child_id: int, member_id: int):  # type: ignore[no-untyped-def]
    record = _editable_child(child_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        children_ops.remove_team_member(
            db.session, record, member_id, actor=current_user.user, ip=client_address()
        )
    except ValidationError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("clinic.child", child_id=child_id)), 303
    db.session.commit()
    flash("Removed from the care team.", "success")
    return redirect(url_for("clinic.child", child_id=child_id)), 303


@bp.post("/<id:child_id>/escalation")
def set_escalation(child_id: int):  # type: ignore[no-untyped-def]
    record = clinical_child(
        child_id, "Only the child's clinicians and admins choose who hears of unlogged routines."
    )
    form = _escalation_form(record, submitted=True)
    if form.validate_on_submit():
        with saved(form, "escalate_to") as outcome:
            preferences.set_escalation(
                db.session,
                record,
                int(form.escalate_to.data) if form.escalate_to.data else None,
                form.escalate_after.data,
                current_user.user,
                ip=client_address(),
            )
        if outcome:
            flash("Escalation saved.", "success")
            return redirect(url_for("clinic.child", child_id=record.id)), 303
    db.session.rollback()
    record = children_ops.get_child(db.session, child_id, g.membership)
    return _render_child(record, escalation_form=form), 400
