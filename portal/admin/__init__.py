"""Organisation administration: members and roles, invitations, settings, audit trail."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from portal.extensions import client_address, db
from portal.forms import (
    AuditFilterForm,
    ButtonForm,
    InviteForm,
    OrganisationSettingsForm,
    RolesForm,
    action_choices,
)
from portal.helpers import external_url, mailer, saved
from portal.tenancy import require_role
from routines import preferences
from tasks.channels.email import EmailDeliveryError
from tenants import audit, organisations
from tenants.db import utcnow
from tenants.errors import ValidationError
from tenants.models import Invitation
from tenants.roles import Role

logger = logging.getLogger(__name__)
bp = Blueprint("admin", __name__, url_prefix="/o/<org_slug>/admin")

AUDIT_PER_PAGE = 50


@bp.before_request
@login_required
@require_role(Role.ADMIN)
def _admins_only() -> None:
    return None


def _send_invitation(invitation: Invitation, token: str) -> bool:
    link = external_url("auth.accept_invitation", token=token)
    body = render_template(
        "email/invitation.txt",
        invitation=invitation,
        org=g.org,
        inviter=current_user.user,
        link=link,
    )
    try:
        mailer().send(
            invitation.email, f"You are invited to {g.org.name} on Cadence", body, link=link
        )
    except EmailDeliveryError:
        logger.exception("invitation email not sent")
        flash(
            "The invitation is saved, but the email could not be sent. Try Resend later.", "error"
        )
        return False
    return True


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    return redirect(url_for("admin.members"))


@bp.get("/members")
def members():  # type: ignore[no-untyped-def]
    return render_template(
        "admin/members.html",
        members=organisations.list_members(db.session),
        button=ButtonForm(),
        invite_form=InviteForm(formdata=None),
    )


@bp.route("/members/<id:membership_id>", methods=["GET", "POST"])
def member(membership_id: int):  # type: ignore[no-untyped-def]
    membership = organisations.get_membership(db.session, membership_id)
    form = RolesForm(
        data={"roles": [r.value for r in membership.roles]} if request.method == "GET" else None
    )
    if form.validate_on_submit():
        with saved(form, "roles") as outcome:
            organisations.set_roles(
                db.session,
                membership,
                form.roles.data,
                actor=current_user.user,
                ip=client_address(),
            )
        if outcome:
            flash(f"Roles of {membership.user.name} saved.", "success")
            return redirect(url_for("admin.members"))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "admin/member.html", membership=membership, form=form, button=ButtonForm()
    ), status


def _member_action(membership_id: int, action, done: str):  # type: ignore[no-untyped-def]
    membership = organisations.get_membership(db.session, membership_id)
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        action(db.session, membership, actor=current_user.user, ip=client_address())
    except ValidationError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("admin.member", membership_id=membership.id)), 303
    db.session.commit()
    flash(done.format(name=membership.user.name), "success")
    return redirect(url_for("admin.members")), 303


@bp.post("/members/<id:membership_id>/deactivate")
def deactivate(membership_id: int):  # type: ignore[no-untyped-def]
    return _member_action(
        membership_id,
        organisations.deactivate_member,
        "{name} is deactivated and has been signed out.",
    )


@bp.post("/members/<id:membership_id>/reactivate")
def reactivate(membership_id: int):  # type: ignore[no-untyped-def]
    return _member_action(membership_id, organisations.reactivate_member, "{name} is active again.")


@bp.route("/invitations", methods=["GET", "POST"])
def invitations():  # type: ignore[no-untyped-def]
    form = InviteForm()
    if form.validate_on_submit():
        with saved(form, "email") as outcome:
            issued = organisations.invite(
                db.session,
                secret_key=current_app.config["SECRET_KEY"],
                actor=current_user.user,
                email=form.email.data,
                roles=form.roles.data,
                ip=client_address(),
            )
        if outcome:
            if _send_invitation(issued.invitation, issued.token):
                flash(f"Invitation sent to {issued.invitation.email}.", "success")
            return redirect(url_for("admin.invitations"))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "admin/invitations.html",
        form=form,
        button=ButtonForm(),
        now=utcnow(),
        invitations=organisations.list_invitations(db.session, include_closed=True),
    ), status


def _invitation_action(invitation_id: int):  # type: ignore[no-untyped-def]
    invitation = organisations.get_invitation(db.session, invitation_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    return invitation


@bp.post("/invitations/<id:invitation_id>/resend")
def resend_invitation(invitation_id: int):  # type: ignore[no-untyped-def]
    invitation = _invitation_action(invitation_id)
    try:
        issued = organisations.resend_invitation(
            db.session,
            invitation,
            secret_key=current_app.config["SECRET_KEY"],
            actor=current_user.user,
            ip=client_address(),
        )
    except ValidationError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("admin.invitations")), 303
    db.session.commit()
    if _send_invitation(issued.invitation, issued.token):
        flash(
            f"Invitation to {invitation.email} sent again; earlier links no longer work.", "success"
        )
    return redirect(url_for("admin.invitations")), 303


@bp.post("/invitations/<id:invitation_id>/revoke")
def revoke_invitation(invitation_id: int):  # type: ignore[no-untyped-def]
    invitation = _invitation_action(invitation_id)
    try:
        organisations.revoke_invitation(
            db.session, invitation, actor=current_user.user, ip=client_address()
        )
    except ValidationError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("admin.invitations")), 303
    db.session.commit()
    flash(f"Invitation to {invitation.email} withdrawn.", "success")
    return redirect(url_for("admin.invitations")), 303


@bp.route("/settings", methods=["GET", "POST"])
def settings():  # type: ignore[no-untyped-def]
    form = OrganisationSettingsForm(
        obj=g.org, data={"adherence_percent": preferences.threshold_percent(g.org)}
    )
    if form.validate_on_submit():
        with saved(form) as outcome:
            organisations.update_settings(
                db.session,
                g.org,
                actor=current_user.user,
                name=form.name.data,
                time_zone=form.time_zone.data,
                ip=client_address(),
                map_red_below=float(form.map_red_below.data),
                map_green_from=float(form.map_green_from.data),
            )
            preferences.update_reminder_settings(
                db.session,
                g.org,
                nudge_after_minutes=form.nudge_after_minutes.data,
                escalate_after_minutes=form.escalate_after_minutes.data,
                missed_after_minutes=form.missed_after_minutes.data,
                adherence_percent=form.adherence_percent.data,
                reassessment_interval_days=form.reassessment_interval_days.data,
                actor=current_user.user,
                ip=client_address(),
            )
        if outcome:
            flash("Organisation settings saved.", "success")
            return redirect(url_for("admin.settings"))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "admin/settings.html",
        form=form,
        ranges={
            "nudge": preferences.NUDGE_MINUTES,
            "escalate": preferences.ESCALATE_MINUTES,
            "grace": preferences.GRACE_MINUTES,
            "threshold": preferences.THRESHOLD_PERCENT,
            "interval": preferences.REASSESSMENT_DAYS,
        },
    ), status


def _parse_day(value: str | None, label: str) -> date | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{label} must be a date like 2026-03-31.") from None
    if not date(1900, 1, 1) <= day <= date(9998, 12, 31):
        raise ValidationError(f"{label} must be a date between 1900 and 9998.")
    return day


@bp.get("/audit")
def audit_trail():  # type: ignore[no-untyped-def]
    form = AuditFilterForm(request.args)
    actions = audit.known_actions(db.session)
    form.action.choices = action_choices(actions)
    page_arg = request.args.get("page", "1")
    if not (page_arg.isascii() and page_arg.isdigit()) or not 1 <= int(page_arg) <= 100_000:
        return _bad_filter(form, "Page must be a whole number of 1 or more.")
    if not form.validate():
        return _bad_filter(form, None)
    try:
        since = _parse_day(form.since.data, "From")
        until = _parse_day(form.until.data, "To")
    except ValidationError as exc:
        return _bad_filter(form, exc.message)
    if since and until and until < since:
        return _bad_filter(form, "The To date must not be before the From date.")
    zone = ZoneInfo(g.org.time_zone)

    def _instant(day: date | None) -> datetime | None:
        if day is None:
            return None
        return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)

    filters = audit.AuditFilter(
        action=form.action.data or None,
        actor=(form.actor.data or "").strip() or None,
        since=_instant(since),
        until=_instant(until + timedelta(days=1)) if until else None,
    )
    page = audit.list_events(db.session, filters, page=int(page_arg), per_page=AUDIT_PER_PAGE)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("admin/audit.html", form=form, page=page, args=args)


def _bad_filter(form: AuditFilterForm, message: str | None):  # type: ignore[no-untyped-def]
    if message:
        form.form_errors.append(message)
    empty = audit.AuditPage(events=[], page=1, per_page=AUDIT_PER_PAGE, total=0)
    return render_template("admin/audit.html", form=form, page=empty, args={}), 400


from portal.admin import background  # noqa: E402, F401
