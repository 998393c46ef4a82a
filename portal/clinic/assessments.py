"""Functional brain map assessments of a child.

Only the child's clinicians (and admins) see or change assessments: carers and
teachers on the care team get 403 (the clinician may later choose to share a
map), everyone else 404 through get_child. Every page view and change leaves
an audit row.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup

from portal.clinic import _today
from portal.clinic.assessment_forms import (
    StartAssessmentForm,
    items_by_domain,
    rating_form,
    score_field_name,
)
from portal.extensions import client_address, db
from portal.helpers import clinical_child, field_error, saved
from routines import assessments as ops
from routines import children as children_ops
from routines import reassessment
from routines.map_svg import brain_map_svg, domain_label, format_percent, typical_map_svg
from routines.models import Assessment, Child
from tenants.errors import ValidationError

bp = Blueprint(
    "assessments", __name__, url_prefix="/o/<org_slug>/children/<id:child_id>/assessments"
)


@bp.before_request
@login_required
def _members_only() -> None:
    return None


def _clinical_child(child_id: int) -> Child:
    return clinical_child(
        child_id,
        "Assessments are for the child's clinicians and admins.",
    )


def _render_list(child: Child, form: StartAssessmentForm, status: int = 200):  # type: ignore[no-untyped-def]
    return render_template(
        "assessments/list.html",
        child=child,
        assessments=ops.list_assessments(db.session, child),
        form=form,
    ), status


@bp.get("/")
def index(child_id: int):  # type: ignore[no-untyped-def]
    child = _clinical_child(child_id)
    ops.record_list_view(db.session, child, actor=current_user.user, ip=client_address())
    db.session.commit()
    form = StartAssessmentForm()
    form.assessed_on.data = _today()
    return _render_list(child, form)


@bp.post("/new")
def start(child_id: int):  # type: ignore[no-untyped-def]
    child = _clinical_child(child_id)
    form = StartAssessmentForm()
    if form.validate_on_submit():
        with saved(form, "assessed_on") as outcome:
            assessment = ops.start_assessment(
                db.session,
                child,
                assessed_on=form.assessed_on.data,
                today=_today(),
                actor=current_user.user,
                ip=client_address(),
            )
        if outcome:
            flash("Assessment started: rate each item, saving as you go.", "success")
            return redirect(
                url_for("assessments.rate", child_id=child.id, assessment_id=assessment.id)
            ), 303
    db.session.rollback()
    child = children_ops.get_child(db.session, child_id, g.membership)
    return _render_list(child, form, 400)


def _since_previous(child: Child, assessment: Assessment) -> dict[str, object]:
    """For the rating page and the map: beside each domain, the change since the previous
    complete assessment and the adherence and dose in that domain since then (nothing
    when there is no previous complete assessment)."""
    summary = reassessment.reassess(
        db.session, assessment, g.org, today=children_ops.child_today(child, g.org)
    )
    return {
        "summary": summary,
        "since": {d.change.domain: d for d in summary.domains} if summary else {},
        "long_date": reassessment.long_date,
        "adherence_words": reassessment.adherence_words,
        "minutes_words": reassessment.minutes_words,
        "pct": format_percent,
    }


def _render_rating(child: Child, assessment: Assessment, form, status: int = 200):  # type: ignore[no-untyped-def]
    return render_template(
        "assessments/rate.html",
        child=child,
        assessment=assessment,
        form=form,
        groups=items_by_domain(assessment.framework),
        field_name=score_field_name,
        domain_label=domain_label,
        scores=ops.scores_of(assessment),
        **_since_previous(child, assessment),
    ), status


@bp.route("/<id:assessment_id>", methods=["GET", "POST"])
def rate(child_id: int, assessment_id: int):  # type: ignore[no-untyped-def]
    child = _clinical_child(child_id)
    assessment = ops.get_assessment(db.session, child, assessment_id)
    if request.method == "GET":
        ops.record_view(
            db.session, assessment, actor=current_user.user, page="ratings", ip=client_address()
        )
        db.session.commit()
        return _render_rating(
            child, assessment, rating_form(assessment.framework, ops.scores_of(assessment))
        )

    form = rating_form(assessment.framework)
    if assessment.status == ops.COMPLETE:
        form.form_errors.append(ops.COMPLETED_MESSAGE)
        return _render_rating(child, assessment, form, 400)
    if not form.validate_on_submit():
        form.form_errors.append("Some scores could not be used; nothing was saved.")
        return _render_rating(child, assessment, form, 400)
    completing = request.form.get("action") == "complete"
    try:
        ops.save_ratings(
            db.session,
            assessment,
            form.scores(assessment.framework),
            actor=current_user.user,
            ip=client_address(),
        )
        if completing:
            ops.complete_assessment(
                db.session, assessment, child, actor=current_user.user, ip=client_address()
            )
    except ValidationError as exc:
        db.session.rollback()
        child = children_ops.get_child(db.session, child_id, g.membership)
        assessment = ops.get_assessment(db.session, child, assessment_id)
        if completing and not exc.field:
            posted = form.scores(assessment.framework)
            form.flag_unrated([i for i in assessment.framework.items if posted[i.code] is None])
        if exc.field:
            item = next((i for i in assessment.framework.items if i.code == exc.field), None)
            exc = ValidationError(exc.message, score_field_name(item) if item else None)
        field_error(form, exc)
        return _render_rating(child, assessment, form, 400)
    db.session.commit()
    if completing:
        flash("Assessment completed.", "success")
        return redirect(
            url_for("assessments.brain_map", child_id=child.id, assessment_id=assessment.id)
        ), 303
    flash("Draft saved.", "success")
    return redirect(
        url_for("assessments.rate", child_id=child.id, assessment_id=assessment.id)
    ), 303


@bp.get("/<id:assessment_id>/map")
def brain_map(child_id: int, assessment_id: int):  # type: ignore[no-untyped-def]
    child = _clinical_child(child_id)
    assessment = ops.get_assessment(db.session, child, assessment_id)
    if assessment.status != ops.COMPLETE:
        flash("Complete the assessment to see its map.", "info")
        return redirect(url_for("assessments.rate", child_id=child.id, assessment_id=assessment.id))
    ops.record_view(
        db.session, assessment, actor=current_user.user, page="map", ip=client_address()
    )
    db.session.commit()
    result = ops.map_for(assessment, g.org)
    thresholds = ops.thresholds_of(g.org)
    framework = assessment.framework
    labels = {item.code: item.label for item in framework.items}
    # Both SVGs come from routines.map_svg, which escapes every piece of text it draws.
    child_svg = Markup(  # noqa: S704
        brain_map_svg(
            result,
            labels,
            thresholds=thresholds,
            title=f"Functional brain map of {child.display_name}, "
            f"{assessment.assessed_on.isoformat()}",
            id_prefix="child-map",
        )
    )
    typical_svg = Markup(  # noqa: S704
        typical_map_svg(
            result,
            labels,
            thresholds=thresholds,
            title=f"Age-typical map, {result.age_band.label}",
            id_prefix="typical-map",
        )
    )
    return render_template(
        "assessments/map.html",
        child=child,
        assessment=assessment,
        result=result,
        labels=labels,
        thresholds=thresholds,
        ages=ops.developmental_ages(result, framework.age_bands),
        child_svg=child_svg,
        typical_svg=typical_svg,
        domain_label=domain_label,
        **_since_previous(child, assessment),
    )
