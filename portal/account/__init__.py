"""A person's own account: profile, password, signed-in devices, and (in access.py) calendar
addresses and API tokens."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from portal.auth_session import current_token
from portal.extensions import client_address, db
from portal.forms import PasswordChangeForm, ProfileForm
from portal.helpers import saved
from tenants import accounts

bp = Blueprint("account", __name__, url_prefix="/profile")


@bp.route("/", methods=["GET", "POST"])
@login_required
def profile():  # type: ignore[no-untyped-def]
    user = current_user.user
    form = ProfileForm(obj=user)
    if form.validate_on_submit():
        with saved(form) as outcome:
            accounts.update_profile(
                db.session, user, name=form.name.data, time_zone=form.time_zone.data
            )
        if outcome:
            flash("Your profile has been saved.", "success")
            return redirect(url_for("account.profile"))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "account/profile.html",
        form=form,
        password_form=PasswordChangeForm(formdata=None),
        sessions=accounts.live_sessions(db.session, user),
        memberships=accounts.active_memberships(db.session, user),
        **access.profile_sections(user),
    ), status


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():  # type: ignore[no-untyped-def]
    user = current_user.user
    form = PasswordChangeForm()
    if form.validate_on_submit():
        with saved(form, "new_password") as outcome:
            accounts.change_password(
                db.session,
                user,
                current_password=form.current_password.data,
                new_password=form.new_password.data,
                keep_token=current_token(),
                ip_address=client_address(),
            )
        if outcome:
            flash("Your password has been changed. Other devices have been signed out.", "success")
            return redirect(url_for("account.profile"))
    status = 400 if request.method == "POST" else 200
    return render_template("account/password.html", form=form), status


# The feed and token views register on this blueprint; imported last because they need `bp`.
from portal.account import access  # noqa: E402
