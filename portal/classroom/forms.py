"""Forms of the classroom pages. They parse what was typed; routines.places checks the rules
and names the field at fault, so the message lands next to it."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from routines.models import ANCHORS
from routines.places import CALENDAR_KINDS, DEFAULT_ANCHOR_TIMES, LABEL_MAX

DATE_HINT = "Enter the date as a date, for example 2027-01-04."


class CalendarEntryForm(FlaskForm):
    kind = SelectField(
        "Kind",
        choices=[SelectChoice(k, v) for k, v in CALENDAR_KINDS.items()],
        validate_choice=False,  # routines.places names an unknown kind itself
    )
    starts_on = DateField("First day", validators=[Optional()])
    ends_on = DateField("Last day", validators=[Optional()])
    label = StringField(
        "Name (optional)",
        validators=[Optional()],
        render_kw={"maxlength": LABEL_MAX, "placeholder": "Spring term, INSET day…"},
    )


class AnchorForm(FlaskForm):
    """One 24-hour time per point in the day; empty keeps Cadence's default."""

    @classmethod
    def keys(cls) -> list[str]:
        return list(ANCHORS)


for _key, _label in ANCHORS.items():
    setattr(
        AnchorForm,
        _key,
        StringField(
            _label,
            validators=[Optional()],
            render_kw={
                "placeholder": DEFAULT_ANCHOR_TIMES[_key],
                "autocomplete": "off",
                "inputmode": "text",
                "maxlength": 5,
                "size": 5,
            },
        ),
    )
