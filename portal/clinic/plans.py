"""A child's sequenced plan: the clinician's builder, publishing, versions, and the
plain-language view for carers and teachers on the care team.

The child's clinicians (and admins) edit the one draft and publish it; carers and
teachers on the care team see the version in effect, in plain words (403 on the
clinical pages); everyone else gets 404 through get_child. Every page view and change
leaves an audit row.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from portal.clinic import _today
from portal.clinic.plan_forms import AddItemForm, ItemForm, MoveForm, PublishForm
from portal.extensions import client_address, db
from portal.forms import ButtonForm
from portal.helpers import clinical_child, require_button_form, saved
from routines import assessments as assessments_ops
from routines import children as children_ops
from routines import library, summaries
from routines import plan_words as words
from routines import plans as ops
from routines.access import can_change_clinical_record
from routines.map_svg import domain_label
from routines.models import ASSIGNEES, Child, PlanItem, PlanVersion
from tenants.errors import ValidationError

bp = Blueprint("plans", __name__, url_prefix="/o/<org_slug>/children/<id:child_id>/plan")


@bp.before_request
@login_required
def _members_only() -> None:
    return None


def _clinical_child(child_id: int) -> Child:
    return clinical_child(
        child_id,
        "Only the child's clinicians and admins change the plan.",
    )


def _words() -> dict[str, object]:
    return {
        "frequency": words.describe_frequency,
        "days": words.describe_days,
        "domain_name": words.domain_name,
        "domain_label": domain_label,
        "rs_words": words.rs_words,
        "assignees": ASSIGNEES,
    }


def _add_form(child: Child, form: AddItemForm | None = None) -> AddItemForm:
    if form is None:
        form = AddItemForm(formdata=None)
        form.assignee.data = "household"
        form.days.data = list(words.EVERY_DAY)
        form.mode.data = "anchors"
        form.anchors.data = [ops.DEFAULT_ANCHOR]
        form.start_date.data = _today()
    form.fill_choices(child)
    form.fill_activities(library.list_activities(db.session))
    return form


def _version_rows(versions: list[PlanVersion], today) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    in_effect = ops.in_effect_among(versions, today)
    rows = []
    for v in reversed(versions):
        until = ops.superseded_on(v, versions)
        if v is in_effect:
            state = "In effect"
        elif v.effective_from is not None and v.effective_from > today:
            state = "Scheduled"
        else:
            state = "Superseded"
        rows.append({"version": v, "state": state, "until": until})
    return rows


def _render_editor(  # type: ignore[no-untyped-def]
    child: Child,
    *,
    add_form: AddItemForm | None = None,
    publish_form: PublishForm | None = None,
    messages: list[str] | None = None,
    status: int = 200,
):
    today = _today()
    draft = ops.current_draft(db.session, child)
    versions = ops.published_versions(db.session, child)
    if publish_form is None:
        publish_form = PublishForm(formdata=None)
        publish_form.effective_from.data = today
        publish_form.share_map.data = draft.share_map if draft is not None else False
    assessment = assessments_ops.latest_completed(db.session, child)
    # Beside each activity the draft copied from the current (latest published) version: its
    # adherence since that version took effect. The version in effect comes from the versions
    # already read, so the rollups' read is the page's only extra query.
    adherence = None
    if draft is not None:
        adherence = summaries.draft_adherence(
            db.session,
            child,
            versions[-1] if versions else None,
            children_ops.child_today(child, g.org),
            g.org.adherence_threshold,
        )
    return render_template(
        "plans/editor.html",
        child=child,
        today=today,
        draft=draft,
        adherence=adherence,
        warnings=ops.warnings_for(db.session, draft, child, g.org) if draft is not None else [],
        in_effect=ops.in_effect_among(versions, today),
        versions=_version_rows(versions, today),
        assessment=assessment,
        add_form=_add_form(child, add_form),
        publish_form=publish_form,
        button=ButtonForm(),
        move=MoveForm(),
        messages=messages or [],
        describe_assignee=words.describe_assignee,
        **_words(),
    ), status


def _render_carer_view(child: Child):  # type: ignore[no-untyped-def]
    today = _today()
    version = ops.version_in_effect(db.session, child, today)
    domains = None
    if version is not None and version.share_map:
        assessment = ops.assessment_of(db.session, version)
        if assessment is not None:
            result = assessments_ops.map_for(assessment, g.org)
            domains = assessments_ops.developmental_ages(result, assessment.framework.age_bands)
    return render_template(
        "plans/carer.html",
        child=child,
        version=version,
        domains=domains,
        describe_assignee=words.describe_assignee,
        **_words(),
    )


@bp.get("/")
def index(child_id: int):  # type: ignore[no-untyped-def]
    child = children_ops.get_child(db.session, child_id, g.membership)
    editable = can_change_clinical_record(g.membership, child)
    ops.record_view(
        db.session,
        child,
        actor=current_user.user,
        page="editor" if editable else "plain",
        ip=client_address(),
    )
    db.session.commit()
    if editable:
        return _render_editor(child)
    return _render_carer_view(child)


def _reloaded(child_id: int) -> Child:
    db.session.rollback()
    return children_ops.get_child(db.session, child_id, g.membership)


@bp.post("/propose")
def propose(child_id: int):  # type: ignore[no-untyped-def]
    child = _clinical_child(child_id)
    require_button_form()
    try:
        draft = ops.draft_for(db.session, child, actor=current_user.user, ip=client_address())
        added = ops.propose_into_draft(
            db.session,
            draft,
            child,
            g.org,
            actor=current_user.user,
            today=_today(),
            ip=client_address(),
        )
    except ValidationError as exc:
        return _render_editor(_reloaded(child_id), messages=[exc.message], status=400)
    db.session.commit()
    if added:
        flash(f"Cadence proposed {len(added)} activities, bottom-up.", "success")
    else:
        flash("Nothing new to propose: the draft already holds the proposal.", "info")
    return redirect(url_for("plans.index", child_id=child.id)), 303


@bp.post("/items")
def add_item(child_id: int):  # type: ignore[no-untyped-def]
    child = _clinical_child(child_id)
    form = _add_form(child, AddItemForm())
    if form.validate_on_submit():
        with saved(form) as outcome:
            draft = ops.draft_for(db.session, child, actor=current_user.user, ip=client_address())
            item = ops.add_item(
                db.session,
                draft,
                child,
                int(form.activity_id.data) if form.activity_id.data else None,
                form.details(),
                actor=current_user.user,
                ip=client_address(),
            )
        if outcome:
            flash(f"{item.activity.name} added to the draft.", "success")
            return redirect(url_for("plans.index", child_id=child.id)), 303
    child = _reloaded(child_id)
    if not form.form_errors and not any(f.errors for f in form):
        form.form_errors.append("This form has expired. Reload the page and try again.")
    form.fill_choices(child)
    form.fill_activities(library.list_activities(db.session))
    return _render_editor(child, add_form=form, status=400)


def _render_item(child: Child, item: PlanItem, form: ItemForm, status: int = 200):  # type: ignore[no-untyped-def]
    form.fill_choices(child)
    return render_template(
        "plans/item.html",
        child=child,
        item=item,
        form=form,
        published=item.version.status != ops.DRAFT,
        **_words(),
    ), status


@bp.route("/items/<id:plan_item_id>", methods=["GET", "POST"])
def item(child_id: int, plan_item_id: int):  # type: ignore[no-untyped-def]
    child = _clinical_child(child_id)
    planned = ops.get_item(db.session, child, plan_item_id)
    if request.method == "GET":
        ops.record_view(
            db.session,
            child,
            actor=current_user.user,
            page="item",
            version=planned.version,
            ip=client_address(),
            item_id=planned.id,
        )
        db.session.commit()
        form = ItemForm(formdata=None)
        form.fill_from(planned)
        return _render_item(child, planned, form)

    form = ItemForm()
    form.fill_choices(child)
    if planned.version.status != ops.DRAFT:
        form.form_errors.append(ops.PUBLISHED_MESSAGE)
        return _render_item(child, planned, form, 400)
    if form.validate_on_submit():
        with saved(form) as outcome:
            ops.update_item(
                db.session,
                planned,
                child,
                form.details(),
                actor=current_user.user,
                ip=client_address(),
            )
        if outcome:
            flash(f"{planned.activity.name} saved.", "success")
            return redirect(url_for("plans.index", child_id=child.id)), 303
    child = _reloaded(child_id)
    planned = ops.get_item(db.session, child, plan_item_id)
    if not form.form_errors and not any(f.errors for f in form):
        form.form_errors.append("This form has expired. Reload the page and try again.")
    return _render_item(child, planned, form, 400)


@bp.post("/items/<id:plan_item_id>/remove")
def remove_item(child_id: int, plan_item_id: int):  # type: ignore[no-untyped-def]
    child = _clinical_child(child_id)
    planned = ops.get_item(db.session, child, plan_item_id)
    require_button_form()
    name = planned.activity.name
    ops.remove_item(db.session, planned, child, actor=current_user.user, ip=client_address())
    db.session.commit()
    flash(f"{name} removed from the draft.", "success")
    return redirect(url_for("plans.index", child_id=child.id)), 303


@bp.post("/items/<id:plan_item_id>/move")
def move_item(child_id: int, plan_item_id: int):  # type: ignore[no-untyped-def]
    child = _clinical_child(child_id)
    planned = ops.get_item(db.session, child, plan_item_id)
    form = MoveForm()
    if not form.validate_on_submit():
        abort(400, description="This form has expired. Reload the page and try again.")
    ops.move_item(
        db.session,
        planned,
        child,
        form.direction.data,
        actor=current_user.user,
        ip=client_address(),
    )
    db.session.commit()
    return redirect(url_for("plans.index", child_id=child.id, _anchor="draft")), 303


@bp.post("/publish")
def publish(child_id: int):  # type: ignore[no-untyped-def]
    child = _clinical_child(child_id)
    form = PublishForm()
    if form.validate_on_submit():
        draft = ops.current_draft(db.session, child)
        with saved(form) as outcome:
            if draft is None:
                raise ValidationError("There is no draft to publish: add activities first.")
            version = ops.publish(
                db.session,
                draft,
                child,
                effective_from=form.effective_from.data,
                reason=form.reason.data,
                acknowledged=bool(form.acknowledged.data),
                share_map=bool(form.share_map.data),
                actor=current_user.user,
                org=g.org,
                ip=client_address(),
            )
        if outcome:
            flash(
                f"Version {version.number} published, in effect from "
                f"{version.effective_from.strftime('%d %B %Y')}.",
                "success",
            )
            return redirect(url_for("plans.index", child_id=child.id)), 303
    child = _reloaded(child_id)
    if not form.form_errors and not any(f.errors for f in form):
        form.form_errors.append("This form has expired. Reload the page and try again.")
    return _render_editor(child, publish_form=form, status=400)


@bp.get("/versions/<id:version_id>")
def version(child_id: int, version_id: int):  # type: ignore[no-untyped-def]
    child = _clinical_child(child_id)
    shown = ops.get_version(db.session, child, version_id)
    ops.record_view(
        db.session,
        child,
        actor=current_user.user,
        page="version",
        version=shown,
        ip=client_address(),
    )
    db.session.commit()
    versions = ops.published_versions(db.session, child)
    return render_template(
        "plans/version.html",
        child=child,
        version=shown,
        until=ops.superseded_on(shown, versions),
        describe_assignee=words.describe_assignee,
        **_words(),
    )


def _id_arg(name: str) -> int:
    raw = request.args.get(name, "")
    if not raw.isdigit() or len(raw) > 18:
        abort(400, description="Choose two versions to compare.")
    return int(raw)


@bp.get("/compare")
def compare(child_id: int):  # type: ignore[no-untyped-def]
    child = _clinical_child(child_id)
    first = ops.get_version(db.session, child, _id_arg("a"))
    second = ops.get_version(db.session, child, _id_arg("b"))
    ops.record_view(
        db.session,
        child,
        actor=current_user.user,
        page="compare",
        ip=client_address(),
        versions=[first.id, second.id],
    )
    db.session.commit()
    return render_template(
        "plans/compare.html",
        child=child,
        a=first,
        b=second,
        diff=words.diff_versions(first, second),
        fields=words.COMPARED_FIELDS,
        **_words(),
    )
