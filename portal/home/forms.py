"""Forms of the carer's pages: an away period and a household's anchor times."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField, TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from routines import away
from routines.models import ANCHORS, AWAY_KINDS
from routines.places import DEFAULT_ANCHOR_TIMES


class AwayForm(FlaskForm):
    kind = SelectField(
        "Why is the child away?",
        choices=[SelectChoice(k, v) for k, v in AWAY_KINDS.items()],
        validators=[DataRequired("Choose why the child is away.")],
    )
    starts_on = DateField(
        "First day away",
        validators=[DataRequired("Enter the first day away as a date, for example 2026-12-01.")],
    )
    ends_on = DateField(
        "Last day away",
        validators=[DataRequired("Enter the last day away as a date, for example 2026-12-03.")],
    )
    start_time = TimeField(
        "From (optional)",
        validators=[Optional()],
        description="Leave empty when the child is away from the start of the first day.",
    )
    end_time = TimeField(
        "Until (optional)",
        validators=[Optional()],
        description="Leave empty when the child is away until the end of the last day.",
    )
    note = TextAreaField(
        "Note (optional)",
        validators=[
            Optional(),
            Length(max=away.NOTE_MAX, message="Use at most %(max)d characters."),
        ],
    )


class AnchorForm(FlaskForm):
    """Five clock times; an empty one means Cadence's default (the placeholder)."""

    after_waking = StringField(ANCHORS["after_waking"], validators=[Optional(), Length(max=5)])
    before_school = StringField(ANCHORS["before_school"], validators=[Optional(), Length(max=5)])
    after_school = StringField(ANCHORS["after_school"], validators=[Optional(), Length(max=5)])
    after_dinner = StringField(ANCHORS["after_dinner"], validators=[Optional(), Length(max=5)])
    before_bed = StringField(ANCHORS["before_bed"], validators=[Optional(), Length(max=5)])

    def anchor_fields(self) -> list[StringField]:
        return [getattr(self, key) for key in ANCHORS]

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        for key in ANCHORS:
            getattr(self, key).render_kw = {
                "placeholder": DEFAULT_ANCHOR_TIMES[key],
                "inputmode": "numeric",
                "autocomplete": "off",
                "pattern": "[0-2][0-9]:[0-5][0-9]",
            }
