"""WTForms for the portal. Every POST form carries Flask-WTF's CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DecimalField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from tenants.roles import ALL_ROLES
from tenants.validation import PASSWORD_MAX, PASSWORD_MIN, time_zone_choices


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _role_choices() -> list[SelectChoice]:
    return [SelectChoice(r.value, r.label) for r in ALL_ROLES]


def _zone_choices() -> list[SelectChoice]:
    return [SelectChoice(z, z.replace("_", " ")) for z in time_zone_choices()]


def action_choices(actions: list[str]) -> list[SelectChoice]:
    return [SelectChoice("", "Any action"), *(SelectChoice(a, a) for a in actions)]


class WholeNumberField(IntegerField):
    """An optional whole number: empty is None, anything else that is not a whole number
    gets a message that says so (WTForms' own is "Not a valid integer value")."""

    def process_formdata(self, valuelist: list) -> None:  # type: ignore[type-arg]
        if not valuelist:
            return  # not submitted at all: keep the value the form was built with
        if not str(valuelist[0]).strip():
            self.data = None
            return
        text = str(valuelist[0]).strip()
        if not (text.isascii() and text.isdigit() and len(text) <= 6):
            self.data = None
            raise ValueError("Enter a whole number, or leave it empty.")
        self.data = int(text)


class ButtonForm(FlaskForm):
    """A POST button: nothing but the CSRF token."""


class SignInForm(FlaskForm):
    email = EmailField(
        "Email",
        validators=[DataRequired("Enter your email address."), Length(max=254)],
        render_kw={"autocomplete": "username"},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password."), Length(max=PASSWORD_MAX)],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()


class ResetRequestForm(FlaskForm):
    email = EmailField(
        "Email",
        validators=[DataRequired("Enter your email address."), Length(max=254)],
        render_kw={"autocomplete": "username"},
    )


def _new_password_fields(label: str = "New password") -> tuple[PasswordField, PasswordField]:
    password = PasswordField(
        label,
        validators=[
            DataRequired("Choose a password."),
            Length(
                min=PASSWORD_MIN,
                max=PASSWORD_MAX,
                message=f"Use between {PASSWORD_MIN} and {PASSWORD_MAX} characters.",
            ),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[
            DataRequired("Repeat the password."),
            EqualTo("password", "The two passwords do not match."),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    return password, confirm


class ResetPasswordForm(FlaskForm):
    password, confirm = _new_password_fields()


class AcceptInvitationForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired("Enter your name."), Length(max=200)])
    password, confirm = _new_password_fields("Choose a password")


class ProfileForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Enter your name."), Length(max=200)])
    time_zone = SelectField(
        "Time zone", choices=_zone_choices, validators=[DataRequired("Choose a time zone.")]
    )


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        validators=[DataRequired("Enter your current password."), Length(max=PASSWORD_MAX)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        "New password",
        validators=[
            DataRequired("Choose a new password."),
            Length(
                min=PASSWORD_MIN,
                max=PASSWORD_MAX,
                message=f"Use between {PASSWORD_MIN} and {PASSWORD_MAX} characters.",
            ),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[
            DataRequired("Repeat the new password."),
            EqualTo("new_password", "The two passwords do not match."),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class InviteForm(FlaskForm):
    email = EmailField(
        "Email", validators=[DataRequired("Enter an email address."), Length(max=254)]
    )
    roles = MultiCheckboxField(
        "Roles", choices=_role_choices, validators=[DataRequired("Choose at least one role.")]
    )


class RolesForm(FlaskForm):
    roles = MultiCheckboxField(
        "Roles", choices=_role_choices, validators=[DataRequired("Choose at least one role.")]
    )


class OrganisationSettingsForm(FlaskForm):
    name = StringField(
        "Organisation name",
        validators=[DataRequired("Enter the organisation's name."), Length(max=200)],
    )
    time_zone = SelectField(
        "Default time zone", choices=_zone_choices, validators=[DataRequired("Choose a time zone.")]
    )
    map_red_below = DecimalField(
        "Red below (% of age-typical)",
        places=None,
        validators=[InputRequired("Enter a percent, for example 60.")],
    )
    map_green_from = DecimalField(
        "Green from (% of age-typical)",
        places=None,
        validators=[InputRequired("Enter a percent, for example 85.")],
    )
    # Background work; ranges are checked by routines.preferences.update_reminder_settings.
    nudge_after_minutes = WholeNumberField("Nudge after (minutes)", validators=[Optional()])
    escalate_after_minutes = WholeNumberField("Escalate after (minutes)", validators=[Optional()])
    missed_after_minutes = WholeNumberField(
        "Count as missed after (minutes)", validators=[Optional()]
    )
    adherence_percent = WholeNumberField("Adherence alert below (%)", validators=[Optional()])
    reassessment_interval_days = WholeNumberField(
        "Reassessment due after (days)", validators=[Optional()]
    )


class EscalationForm(FlaskForm):
    """Who on a child's care team hears of a routine still unlogged, and after how long."""

    escalate_to = SelectField("Escalate to", validators=[Optional()])
    escalate_after = WholeNumberField("After (minutes)", validators=[Optional()])


class AuditFilterForm(FlaskForm):
    """GET filters for the audit trail; no CSRF (it changes nothing)."""

    class Meta:
        csrf = False

    action = SelectField(
        "Action", choices=action_choices([]), validators=[Optional()], validate_choice=True
    )
    actor = StringField("Person (email contains)", validators=[Optional(), Length(max=254)])
    since = StringField("From", validators=[Optional(), Length(max=10)], render_kw={"type": "date"})
    until = StringField("To", validators=[Optional(), Length(max=10)], render_kw={"type": "date"})


class ChildForm(FlaskForm):
    given_name = StringField(
        "Given name", validators=[DataRequired("Enter the given name."), Length(max=100)]
    )
    family_name = StringField(
        "Family name", validators=[DataRequired("Enter the family name."), Length(max=100)]
    )
    preferred_name = StringField(
        "Preferred name (optional)", validators=[Optional(), Length(max=100)]
    )
    pronouns = StringField("Pronouns (optional)", validators=[Optional(), Length(max=40)])
    date_of_birth = DateField(
        "Date of birth",
        validators=[DataRequired("Enter the date of birth as a date, for example 2017-05-21.")],
    )
    household_name = StringField("Household (optional)", validators=[Optional(), Length(max=200)])
    time_zone = SelectField(
        "Household time zone",
        choices=_zone_choices,
        validators=[DataRequired("Choose a time zone.")],
    )
    school_name = StringField("School (optional)", validators=[Optional(), Length(max=200)])
    classroom_name = StringField("Class (optional)", validators=[Optional(), Length(max=100)])


def _team_role_choices() -> list[SelectChoice]:
    from routines.models import TeamRole

    return [SelectChoice(r.value, r.label) for r in TeamRole]


def _relationship_choices() -> list[SelectChoice]:
    from routines.models import CarerRelationship

    return [SelectChoice("", "— (carers only)")] + [
        SelectChoice(r.value, r.label) for r in CarerRelationship
    ]


class TeamMemberForm(FlaskForm):
    membership_id = SelectField("Person", coerce=int, validators=[DataRequired("Choose a person.")])
    team_role = SelectField(
        "Role on the team", choices=_team_role_choices, validators=[DataRequired("Choose a role.")]
    )
    relationship = SelectField(
        "Relationship to the child", choices=_relationship_choices, validators=[Optional()]
    )
