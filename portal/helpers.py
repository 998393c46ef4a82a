"""Small helpers shared by the portal's views."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from flask import abort, current_app, g, url_for
from flask_wtf import FlaskForm

from portal.extensions import db
from portal.forms import ButtonForm
from routines import children
from routines.access import can_change_clinical_record
from routines.models import Child
from tasks.channels.email import Mailer
from tenants.errors import ValidationError


def field_error(form: FlaskForm, exc: ValidationError, default_field: str | None = None) -> None:
    """Show a domain validation message next to its field (or at the form's top)."""
    name = exc.field or default_field
    field = getattr(form, name, None) if name else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*list(field.errors), exc.message]
    else:
        form.form_errors.append(exc.message)


def external_url(endpoint: str, **values: object) -> str:
    public = current_app.config.get("PUBLIC_URL")
    if public:
        return public + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def mailer() -> Mailer:
    return Mailer(
        sender=current_app.config["MAIL_FROM"],
        smtp_url=current_app.config.get("SMTP_URL"),
        outbox_dir=Path(current_app.config["INSTANCE_PATH"]) / "outbox",
    )


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths are followed after sign-in."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:
        return None
    return target


class Outcome:
    """Whether the operation inside `saved(...)` committed."""

    def __init__(self) -> None:
        self.ok = False

    def __bool__(self) -> bool:
        return self.ok


@contextmanager
def saved(form: FlaskForm, default_field: str | None = None) -> Iterator[Outcome]:
    """The request's unit of work for a submitted form: commit what the block did, or, on a
    domain ValidationError, roll it all back and show the message next to its field.

        with saved(form, "email") as outcome:
            issued = organisations.invite(...)
        if outcome:
            flash(...)
    """
    outcome = Outcome()
    try:
        yield outcome
    except ValidationError as exc:
        db.session.rollback()
        field_error(form, exc, default_field)
        return
    db.session.commit()
    outcome.ok = True


def clinical_child(child_id: int, refusal: str) -> Child:
    """The child whose clinical record the signed-in member is about to see or change: 404
    when they may not see the child at all (as if it did not exist), 403 with `refusal` when
    they are on the team but not one of its clinicians (or an admin)."""
    child = children.get_child(db.session, child_id, g.membership)
    if not can_change_clinical_record(g.membership, child):
        abort(403, description=refusal)
    return child


EXPIRED_FORM = "This form has expired. Reload the page and try again."


def require_button_form() -> None:
    """A one-button POST (cancel, remove, revoke...) must carry a valid CSRF token: 400
    otherwise, before anything changes."""
    if not ButtonForm().validate_on_submit():
        abort(400, description=EXPIRED_FORM)
