"""Assessment frameworks: the default, imports and versions.

Clinicians and admins see the organisation's frameworks; only admins import and edit.
Carers and teachers get 403 everywhere here.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from portal.admin.framework_forms import FrameworkImportForm, item_form
from portal.extensions import client_address, db
from portal.helpers import field_error
from routines import content, framework_files
from routines import frameworks as framework_ops
from tenants.roles import Role

bp = Blueprint("frameworks", __name__, url_prefix="/o/<org_slug>/frameworks")


@bp.before_request
@login_required
def _members_only() -> None:
    membership = g.get("membership")
    if membership is None:
        abort(404)
    if not membership.has_role(Role.ADMIN, Role.CLINICIAN):
        abort(403, description="Only clinicians and admins see assessment frameworks.")
    return None


def _admins_only() -> None:
    if not g.membership.has_role(Role.ADMIN):
        abort(403, description="Only organisation admins import and edit frameworks.")


def _is_admin() -> bool:
    return bool(g.membership.has_role(Role.ADMIN))


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    framework_ops.ensure_default_framework(db.session)
    db.session.commit()
    versions = framework_ops.list_frameworks(db.session)
    current = framework_ops.current_framework(db.session)
    return render_template(
        "frameworks/index.html", versions=versions, current=current, is_admin=_is_admin()
    )


@bp.get("/<id:framework_id>")
def show(framework_id: int):  # type: ignore[no-untyped-def]
    framework = framework_ops.get_framework(db.session, framework_id)
    return render_template(
        "frameworks/show.html",
        framework=framework,
        domains=content.DOMAINS,
        in_use=framework_ops.framework_in_use(db.session, framework),
        newest=framework_ops.newest_version(db.session, framework.key),
        is_admin=_is_admin(),
    )


def _render_import(form: FrameworkImportForm, problems: list[str], status: int):  # type: ignore[no-untyped-def]
    return render_template(
        "frameworks/import.html",
        form=form,
        problems=problems,
        domains=content.DOMAINS,
        bands=content.load_default_framework()["age_bands"],
    ), status


@bp.route("/import", methods=["GET", "POST"])
def import_framework():  # type: ignore[no-untyped-def]
    _admins_only()
    form = FrameworkImportForm()
    if request.method == "GET":
        return _render_import(form, [], 200)
    problems: list[str] = []
    if form.validate_on_submit():
        upload = form.file.data
        filename = upload.filename or ""
        if filename.lower().endswith(".csv"):
            if not (form.key.data or "").strip():
                form.key.errors = [*form.key.errors, "Enter a key for a CSV file."]
            if not (form.name.data or "").strip():
                form.name.errors = [*form.name.errors, "Enter a name for a CSV file."]
        if not form.key.errors and not form.name.errors:
            data, problems = framework_files.parse_upload(
                filename, upload.read(), key=form.key.data, name=form.name.data
            )
            try:
                framework = framework_ops.import_framework(
                    db.session,
                    data,
                    actor=current_user.user,
                    ip=client_address(),
                    problems=problems,
                )
            except framework_files.FrameworkImportError as exc:
                db.session.rollback()
                problems = exc.problems
                field_error(form, exc)
            else:
                db.session.commit()
                flash(
                    f"Imported {framework.name} (key {framework.key}), version "
                    f"{framework.version}, with {len(framework.items)} items.",
                    "success",
                )
                return redirect(url_for("frameworks.show", framework_id=framework.id)), 303
    db.session.rollback()
    return _render_import(form, problems, 400)


@bp.get("/template.csv")
def template_csv():  # type: ignore[no-untyped-def]
    return Response(
        framework_files.template_csv(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="cadence-framework-template.csv"'},
    )


@bp.route("/<id:framework_id>/items/<id:item_id>/edit", methods=["GET", "POST"])
def edit_item(framework_id: int, item_id: int):  # type: ignore[no-untyped-def]
    _admins_only()
    framework = framework_ops.get_framework(db.session, framework_id)
    item = framework_ops.get_item(framework, item_id)
    newest = framework_ops.newest_version(db.session, framework.key)
    if framework.version != newest:
        abort(
            409,
            description=f"Version {framework.version} of this framework is not the newest; "
            f"edit version {newest} instead.",
        )
    form = item_form(framework.age_bands)
    if request.method == "GET":
        form.label.data = item.label
        form.description.data = item.description
        for name, code in form.band_fields:
            getattr(form, name).data = item.expected.get(code)
    elif form.validate_on_submit():
        change = framework_ops.ItemChange(
            label=form.label.data, description=form.description.data, expected=form.expected()
        )
        try:
            successor = framework_ops.edit_item(
                db.session, framework, item, change, actor=current_user.user, ip=client_address()
            )
        except framework_ops.FrameworkEditError as exc:
            db.session.rollback()
            for problem in exc.problems:
                target = next(
                    (
                        form.band_field_for(code)
                        for _, code in form.band_fields
                        if f" {code} " in f" {problem} ".replace(",", " ")
                    ),
                    None,
                )
                if exc.field in ("label", "description"):
                    target = getattr(form, exc.field)
                if target is not None:
                    target.errors = [*list(target.errors), problem]
                else:
                    form.form_errors.append(problem)
        else:
            db.session.commit()
            flash(
                f"Saved as version {successor.version} of {successor.name}. Version "
                f"{framework.version} is unchanged.",
                "success",
            )
            return redirect(url_for("frameworks.show", framework_id=successor.id)), 303
    status = 400 if request.method == "POST" else 200
    if status == 400:
        db.session.rollback()
        framework = framework_ops.get_framework(db.session, framework_id)
        item = framework_ops.get_item(framework, item_id)
    return render_template(
        "frameworks/edit_item.html",
        form=form,
        framework=framework,
        item=item,
        in_use=framework_ops.framework_in_use(db.session, framework),
        domains=content.DOMAINS,
    ), status
