"""The member's reminder settings form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, StringField, TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from portal.forms import MultiCheckboxField
from routines.models import CHANNELS

LEAD_CHOICES = [
    SelectChoice(0, "At the due time"),
    SelectChoice(5, "5 minutes before"),
    SelectChoice(10, "10 minutes before"),
    SelectChoice(15, "15 minutes before"),
]


def _whole_or_none(value: object) -> int | None:
    """Anything that is not a whole number becomes None, which the domain refuses with a
    message people can act on (rather than WTForms' "could not coerce")."""
    if isinstance(value, int):
        return value
    text = str(value or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 6 else None


class NotificationSettingsForm(FlaskForm):
    # Choices are checked by routines.preferences, which says why (e.g. no SMS provider).
    channels = MultiCheckboxField(
        "How to remind me",
        choices=[SelectChoice(k, v) for k, v in CHANNELS.items()],
        validate_choice=False,
    )
    lead_minutes = RadioField(
        "When to remind me", choices=LEAD_CHOICES, coerce=_whole_or_none, validate_choice=False
    )
    quiet_start = TimeField("Quiet hours from", validators=[Optional()])
    quiet_end = TimeField("Quiet hours until", validators=[Optional()])
    remind_inside_quiet = BooleanField(
        "Still remind me of routines that are themselves in my quiet hours (like before bed)"
    )
    digest = BooleanField("Send me a daily digest of tomorrow's routines by email")
    phone = StringField(
        "Mobile number for text messages",
        validators=[Optional(), Length(max=30, message="Use at most %(max)d characters.")],
        render_kw={"type": "tel", "autocomplete": "tel", "placeholder": "+44 7700 900123"},
    )
