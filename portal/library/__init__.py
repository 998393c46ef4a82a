"""The organisation's activity library: everyone browses it; admins and clinicians add,
retire and restore activities."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from portal.extensions import client_address, db
from portal.forms import ButtonForm
from portal.helpers import field_error, require_button_form, saved
from portal.library.forms import RS_LABELS, SETTING_LABELS, ActivityForm, LibraryFilterForm
from portal.tenancy import require_role
from routines import content
from routines import library as library_ops
from tenants.errors import ValidationError
from tenants.roles import Role

bp = Blueprint("library", __name__, url_prefix="/o/<org_slug>/activities")

EDITORS = (Role.ADMIN, Role.CLINICIAN)


@bp.before_request
@login_required
def _members_only() -> None:
    return None


def _can_edit() -> bool:
    return bool(g.membership.has_role(*EDITORS))


def _ensure_defaults() -> None:
    if library_ops.ensure_default_library(db.session):
        db.session.commit()


def _labels() -> dict[str, object]:
    return {
        "domain_labels": content.DOMAINS,
        "rs_labels": RS_LABELS,
        "setting_labels": SETTING_LABELS,
    }


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    _ensure_defaults()
    form = LibraryFilterForm(request.args)
    activities = []
    status = 200
    if form.validate():
        try:
            activities = library_ops.list_activities(
                db.session,
                domain=form.domain.data or None,
                setting=form.setting.data or None,
                include_retired=bool(form.retired.data),
                search=form.q.data,
            )
        except ValidationError as exc:
            field_error(form, exc)
            status = 400
    else:
        status = 400
    return render_template(
        "library/index.html",
        form=form,
        activities=activities,
        can_edit=_can_edit(),
        filtered=any(request.args.get(k) for k in ("q", "domain", "setting", "retired")),
        **_labels(),
    ), status


@bp.get("/<id:activity_id>")
def activity(activity_id: int):  # type: ignore[no-untyped-def]
    item = library_ops.get_activity(db.session, activity_id)
    return render_template(
        "library/activity.html",
        activity=item,
        can_edit=_can_edit(),
        button=ButtonForm(),
        **_labels(),
    )


@bp.route("/new", methods=["GET", "POST"])
@require_role(*EDITORS)
def add_activity():  # type: ignore[no-untyped-def]
    _ensure_defaults()
    form = ActivityForm()
    if form.validate_on_submit():
        details = library_ops.ActivityDetails(
            name=form.name.data,
            instructions=form.instructions.data,
            why=form.why.data or "",
            domains=form.domains.data,
            rs=form.rs.data,
            typical_minutes=form.typical_minutes.data,
            settings=form.settings.data,
            dev_age_min_months=form.dev_age_min_months.data,
            dev_age_max_months=form.dev_age_max_months.data,
            regulating=bool(form.regulating.data),
        )
        with saved(form) as outcome:
            item = library_ops.add_activity(
                db.session, details, actor=current_user.user, ip=client_address()
            )
        if outcome:
            flash(f"{item.name} has been added to the library.", "success")
            return redirect(url_for("library.activity", activity_id=item.id)), 303
    status = 400 if request.method == "POST" else 200
    return render_template("library/form.html", form=form), status


def _change(activity_id: int, operation, done: str, unchanged: str):  # type: ignore[no-untyped-def]
    item = library_ops.get_activity(db.session, activity_id)
    require_button_form()
    changed = operation(db.session, item, actor=current_user.user, ip=client_address())
    db.session.commit()
    flash(
        done.format(name=item.name) if changed else unchanged.format(name=item.name),
        "success" if changed else "info",
    )
    return redirect(url_for("library.activity", activity_id=item.id)), 303


@bp.post("/<id:activity_id>/retire")
@require_role(*EDITORS)
def retire(activity_id: int):  # type: ignore[no-untyped-def]
    return _change(
        activity_id,
        library_ops.retire_activity,
        "{name} is retired: new plans cannot use it; plans that already do keep it.",
        "{name} was already retired.",
    )


@bp.post("/<id:activity_id>/restore")
@require_role(*EDITORS)
def restore(activity_id: int):  # type: ignore[no-untyped-def]
    return _change(
        activity_id,
        library_ops.restore_activity,
        "{name} is back in the library.",
        "{name} was not retired.",
    )
