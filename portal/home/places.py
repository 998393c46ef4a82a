"""A child's away periods and a household's anchor times, set by the people who run them."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from portal.extensions import client_address, db
from portal.forms import ButtonForm
from portal.helpers import require_button_form, saved
from portal.home import bp
from portal.home.forms import AnchorForm, AwayForm
from routines import away as away_ops
from routines import children as children_ops
from routines import places as places_ops
from routines.access import can_mark_away, team_entry
from routines.models import ANCHORS, AWAY_KINDS, Child, Household, TeamRole
from tenants.db import utcnow
from tenants.errors import NotFound
from tenants.isolation import get_scoped
from tenants.roles import Role

# --- away --------------------------------------------------------------------------------


def _away_child(child_id: int) -> Child:
    """404 if the member cannot see the child; 403 if they see it but do not mark it away."""
    child = children_ops.get_child(db.session, child_id, g.membership)
    if not can_mark_away(g.membership, child):
        abort(403, description="Only the child's carers and clinicians mark the child away.")
    return child


def _render_away(child: Child, form: AwayForm, status: int = 200):  # type: ignore[no-untyped-def]
    periods = away_ops.active(db.session, child)
    return (
        render_template(
            "home/away.html",
            child=child,
            form=form,
            periods=periods,
            kinds=AWAY_KINDS,
            button=ButtonForm(),
            time_zone=children_ops.child_time_zone(child, g.org.time_zone),
            now=utcnow(),
        ),
        status,
    )


@bp.route("/children/<id:child_id>/away", methods=["GET", "POST"])
def away(child_id: int):  # type: ignore[no-untyped-def]
    child = _away_child(child_id)
    form = AwayForm()
    if request.method == "GET":
        children_ops.record_view(db.session, child, actor=current_user.user, ip=client_address())
        db.session.commit()
        return _render_away(child, form)
    if form.validate_on_submit():
        with saved(form, "kind") as outcome:
            period = away_ops.add_away(
                db.session,
                child,
                kind=form.kind.data,
                starts_on=form.starts_on.data,
                ends_on=form.ends_on.data,
                start_time=form.start_time.data,
                end_time=form.end_time.data,
                note=form.note.data,
                time_zone=children_ops.child_time_zone(child, g.org.time_zone),
                actor=current_user.user,
                ip=client_address(),
            )
        if outcome:
            flash(
                f"{child.display_name} is marked away ({AWAY_KINDS[period.kind].lower()}); "
                "routines in that time are excused.",
                "success",
            )
            return redirect(url_for("home.away", child_id=child.id)), 303
    return _render_away(child, form, 400)


@bp.post("/children/<id:child_id>/away/<id:away_id>/cancel")
def cancel_away(child_id: int, away_id: int):  # type: ignore[no-untyped-def]
    child = _away_child(child_id)
    require_button_form()
    away_ops.cancel_away(
        db.session, child, away_id, actor=current_user.user, now=utcnow(), ip=client_address()
    )
    db.session.commit()
    flash("Away period cancelled: its routines are due again.", "success")
    return redirect(url_for("home.away", child_id=child.id)), 303


# --- anchors -----------------------------------------------------------------------------


def _household(household_id: int) -> tuple[Household, list[Child]]:
    """The household, if the member runs or supports one of its children: a carer of such a
    child, a clinician on such a child's team, or an admin. Everyone else: 404."""
    household = get_scoped(db.session, Household, household_id)
    if household is None:
        raise NotFound("household")
    kids = list(
        db.session.scalars(
            select(Child).where(Child.household_id == household.id).order_by(Child.id)
        )
    )
    if g.membership.has_role(Role.ADMIN):
        return household, kids
    for kid in kids:
        entry = team_entry(kid, g.membership)
        if entry is not None and (entry.role is TeamRole.CARER or entry.role.is_clinical):
            return household, kids
    raise NotFound("household")


@bp.route("/households/<id:household_id>/anchors", methods=["GET", "POST"])
def anchors(household_id: int):  # type: ignore[no-untyped-def]
    household, kids = _household(household_id)
    current = places_ops.anchor_settings(household)
    own = household.anchor_times or {}
    form = AnchorForm(data={key: own.get(key, "") for key in ANCHORS})
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            with saved(form) as outcome:
                places_ops.set_anchor_times(
                    db.session,
                    household,
                    {key: getattr(form, key).data for key in ANCHORS},
                    actor=current_user.user,
                    now=utcnow(),
                    ip=client_address(),
                )
            if outcome:
                flash(
                    "Times saved. Routines from now on follow them.",
                    "success",
                )
                return redirect(url_for("home.anchors", household_id=household.id)), 303
        status = 400
        household = get_scoped(db.session, Household, household_id) or household
        current = places_ops.anchor_settings(household)
    return (
        render_template(
            "home/anchors.html",
            household=household,
            children=kids,
            form=form,
            current=current,
            defaults=places_ops.DEFAULT_ANCHOR_TIMES,
            anchors=ANCHORS,
        ),
        status,
    )
