"""Signing in and out, password resets and accepting invitations."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.auth_session import sign_in, sign_out
from portal.extensions import client_address, db, limiter, submitted_email_key
from portal.forms import (
    AcceptInvitationForm,
    ButtonForm,
    ResetPasswordForm,
    ResetRequestForm,
    SignInForm,
)
from portal.helpers import external_url, mailer, safe_next, saved
from tasks.channels.email import EmailDeliveryError
from tenants import accounts, organisations
from tenants.context import tenant_context
from tenants.models import Invitation, Organisation, User
from tenants.tokens import InvalidToken

logger = logging.getLogger(__name__)
bp = Blueprint("auth", __name__, url_prefix="/auth")

SIGN_IN_FAILED = "Email or password is incorrect."
LINK_REFUSED = (
    "This link cannot be used. It may have expired, been replaced by a newer one, "
    "been withdrawn, or been used already. Ask for a new one."
)


def _failed(response) -> bool:  # type: ignore[no-untyped-def]
    # Only failed attempts count towards the limits; a successful sign-in redirects.
    return response.status_code != 302


@bp.route("/sign-in", methods=["GET", "POST"], endpoint="sign_in")
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"],
    methods=["POST"],
    deduct_when=_failed,
    scope="sign-in-address",
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    methods=["POST"],
    key_func=submitted_email_key,
    deduct_when=_failed,
    scope="sign-in-account",
)
def sign_in_view():  # type: ignore[no-untyped-def]
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("workspace.choose"))
    form = SignInForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next"))
    if form.validate_on_submit():
        user = accounts.authenticate(
            db.session, form.email.data, form.password.data, client_address()
        )
        db.session.commit()  # keeps the audit rows of failed attempts too
        if user is not None:
            sign_in(user)
            return redirect(safe_next(form.next.data) or url_for("workspace.choose"))
        form.form_errors.append(SIGN_IN_FAILED)
    status = 400 if request.method == "POST" else 200
    return render_template("auth/sign_in.html", form=form), status


@bp.post("/sign-out", endpoint="sign_out")
def sign_out_view():  # type: ignore[no-untyped-def]
    form = ButtonForm()
    if not form.validate_on_submit():
        return redirect(url_for("workspace.choose"))
    if current_user.is_authenticated:
        sign_out()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.sign_in"))


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["RESET_LIMIT_PER_ADDRESS"], methods=["POST"], scope="reset-address"
)
def reset_request():  # type: ignore[no-untyped-def]
    form = ResetRequestForm()
    if form.validate_on_submit():
        user = accounts.find_user_by_email(db.session, form.email.data)
        if user is not None and user.is_active:
            token = accounts.make_reset_token(current_app.config["SECRET_KEY"], user)
            link = external_url("auth.reset_password", token=token)
            body = render_template("email/password_reset.txt", user=user, link=link)
            try:
                mailer().send(user.email, "Reset your Cadence password", body, link=link)
            except EmailDeliveryError:
                logger.exception("password reset email not sent")
        # The same answer whether or not the address has an account.
        flash(
            "If an account exists for that address, we have emailed a link to reset the "
            "password. It works for one hour.",
            "info",
        )
        return redirect(url_for("auth.sign_in"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/reset_request.html", form=form), status


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):  # type: ignore[no-untyped-def]
    secret = current_app.config["SECRET_KEY"]
    try:
        accounts.user_for_reset_token(db.session, secret, token)
    except InvalidToken:
        return render_template("auth/link_refused.html", message=LINK_REFUSED), 400
    form = ResetPasswordForm()
    if form.validate_on_submit():
        with saved(form, "password") as outcome:
            accounts.reset_password(db.session, secret, token, form.password.data, client_address())
        if outcome:
            flash("Your password has been changed. Sign in with the new one.", "success")
            return redirect(url_for("auth.sign_in"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/reset_password.html", form=form), status


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):  # type: ignore[no-untyped-def]
    secret = current_app.config["SECRET_KEY"]
    try:
        invitation = organisations.open_invitation(db.session, secret, token)
    except InvalidToken:
        return render_template("auth/link_refused.html", message=LINK_REFUSED), 400
    with tenant_context(invitation.tenant_id):
        org = invitation_org(invitation.tenant_id)
        existing = accounts.find_user_by_email(db.session, invitation.email)
        signed_in: User | None = current_user.user if current_user.is_authenticated else None
        if existing is not None:
            return _accept_as_existing(invitation, org, existing, signed_in)
        if signed_in is not None:
            return render_template(
                "auth/invitation_wrong_account.html", invitation=invitation, org=org
            ), 403
        form = AcceptInvitationForm()
        if form.validate_on_submit():
            with saved(form, "password") as outcome:
                user, _ = organisations.accept_invitation(
                    db.session,
                    invitation,
                    user=None,
                    name=form.name.data,
                    password=form.password.data,
                    ip=client_address(),
                )
            if outcome:
                sign_in(user)
                flash(f"Welcome to {org.name}.", "success")
                return redirect(url_for("workspace.home", org_slug=org.slug))
        status = 400 if request.method == "POST" else 200
        return render_template(
            "auth/accept_invitation.html", form=form, invitation=invitation, org=org
        ), status


def invitation_org(tenant_id: int) -> Organisation:
    org = db.session.get(Organisation, tenant_id)
    assert org is not None  # the invitation's foreign key guarantees it
    return org


def _accept_as_existing(  # type: ignore[no-untyped-def]
    invitation: Invitation, org: Organisation, existing: User, signed_in: User | None
):
    if signed_in is None:
        flash(f"Sign in as {invitation.email} to accept the invitation.", "info")
        return redirect(url_for("auth.sign_in", next=request.path))
    if signed_in.id != existing.id:
        return render_template(
            "auth/invitation_wrong_account.html", invitation=invitation, org=org
        ), 403
    form = ButtonForm()
    if form.validate_on_submit():
        organisations.accept_invitation(db.session, invitation, user=signed_in, ip=client_address())
        db.session.commit()
        flash(f"You have joined {org.name}.", "success")
        return redirect(url_for("workspace.home", org_slug=org.slug))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/join.html", form=form, invitation=invitation, org=org), status
