"""Forms for the activity library."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, NumberRange, Optional

from portal.forms import MultiCheckboxField
from routines import content
from routines import library as library_ops

SETTING_LABELS = {"home": "Home", "school": "School", "clinic": "Clinic"}
RS_LABELS = {
    "relational": "Relational (safe)",
    "relevant": "Relevant (developmentally matched)",
    "repetitive": "Repetitive (patterned)",
    "rewarding": "Rewarding (pleasurable)",
    "rhythmic": "Rhythmic (resonant)",
    "respectful": "Respectful (of child, family, culture)",
}


def _domain_choices() -> list[SelectChoice]:
    return [SelectChoice(k, v) for k, v in content.DOMAINS.items()]


def _setting_choices() -> list[SelectChoice]:
    return [SelectChoice(s, SETTING_LABELS.get(s, s)) for s in content.SETTINGS]


class LibraryFilterForm(FlaskForm):
    """GET filters; no CSRF (it changes nothing)."""

    class Meta:
        csrf = False

    q = StringField("Search", validators=[Optional(), Length(max=library_ops.SEARCH_MAX)])
    domain = SelectField(
        "Domain",
        choices=[SelectChoice("", "Any domain"), *_domain_choices()],
        validate_choice=False,
        validators=[
            Optional(),
            AnyOf(list(content.DOMAINS), message="Choose one of the four domains."),
        ],
    )
    setting = SelectField(
        "Setting",
        choices=[SelectChoice("", "Any setting"), *_setting_choices()],
        validate_choice=False,
        validators=[Optional(), AnyOf(list(content.SETTINGS), message="Choose a setting.")],
    )
    retired = BooleanField("Include retired activities")


class ActivityForm(FlaskForm):
    name = StringField(
        "Name",
        validators=[
            DataRequired("Enter the activity's name."),
            Length(max=library_ops.NAME_MAX),
        ],
    )
    instructions = TextAreaField(
        "Instructions",
        validators=[
            DataRequired("Enter the instructions."),
            Length(max=library_ops.INSTRUCTIONS_MAX),
        ],
    )
    why = TextAreaField(
        "Why it helps (optional)", validators=[Optional(), Length(max=library_ops.WHY_MAX)]
    )
    domains = MultiCheckboxField(
        "Domains it targets",
        choices=_domain_choices,
        validators=[DataRequired("Choose at least one domain it targets.")],
    )
    rs = MultiCheckboxField(
        "The 6 Rs it meets",
        choices=[SelectChoice(k, RS_LABELS.get(k, k)) for k in content.SIX_RS],
        validators=[DataRequired("Choose the Rs the activity meets.")],
    )
    typical_minutes = IntegerField(
        "Typical minutes",
        validators=[
            InputRequired("Enter the typical minutes as a whole number."),
            NumberRange(
                *content.MINUTES_RANGE,
                message="Typical minutes must be a whole number from %(min)s to %(max)s.",
            ),
        ],
    )
    settings = MultiCheckboxField(
        "Settings",
        choices=_setting_choices,
        validators=[DataRequired("Choose at least one setting.")],
    )
    dev_age_min_months = IntegerField(
        "Youngest developmental age (months)",
        validators=[
            InputRequired("Enter the youngest developmental age in months."),
            NumberRange(0, content.MAX_AGE_MONTHS, message="Enter %(min)s to %(max)s months."),
        ],
    )
    dev_age_max_months = IntegerField(
        "Oldest developmental age (months)",
        validators=[
            InputRequired("Enter the oldest developmental age in months."),
            NumberRange(0, content.MAX_AGE_MONTHS, message="Enter %(min)s to %(max)s months."),
        ],
    )
    regulating = BooleanField("Regulating: suits a dysregulated child (a first-step activity)")
