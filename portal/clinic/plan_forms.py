"""Forms of the plan pages: adding and changing a planned activity, moving it, publishing.

The forms parse what was typed; routines.plans checks the rules and names the field at
fault, so the message lands next to it.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Optional
from wtforms.validators import ValidationError as FieldError

from portal.forms import MultiCheckboxField
from routines import plan_words
from routines import plans as ops
from routines.content import DOMAINS
from routines.models import ANCHORS, ASSIGNEES, Activity, Child, PlanItem

WHOLE_NUMBER = "Give a whole number."


def _whole(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() else None


class _WholeNumber:
    def __init__(self, required_message: str | None = None) -> None:
        self.required_message = required_message

    def __call__(self, form: FlaskForm, field: StringField) -> None:
        text = (field.data or "").strip()
        if not text:
            if self.required_message:
                raise FieldError(self.required_message)
            return
        if not text.isdigit():
            raise FieldError(WHOLE_NUMBER)


class ItemForm(FlaskForm):
    domain = SelectField("Domain it works on", choices=[SelectChoice("", "Choose a domain")])
    assignee = RadioField(
        "Who does it",
        choices=[SelectChoice(k, v) for k, v in ASSIGNEES.items()],
        validate_choice=False,
    )
    assignee_membership_id = SelectField(
        "Named carer or teacher", choices=[], validate_choice=False
    )
    days = MultiCheckboxField(
        "Days of the week",
        choices=[SelectChoice(n, day) for n, day in enumerate(plan_words.DAY_NAMES)],
        coerce=int,
    )
    mode = RadioField(
        "When in the day",
        choices=[SelectChoice(k, v) for k, v in ops.MODES.items()],
        validate_choice=False,
    )
    times = StringField("Clock times")
    anchors = MultiCheckboxField(
        "Points in the day", choices=[SelectChoice(k, v) for k, v in ANCHORS.items()]
    )
    spread_count = StringField("Times a day", validators=[_WholeNumber()])
    spread_from = StringField("Between")
    spread_to = StringField("And")
    minutes = StringField(
        "Minutes each time", validators=[_WholeNumber("Give the minutes per dose.")]
    )
    start_date = DateField(
        "Start date",
        validators=[DataRequired("Enter the start date, for example 2026-12-01.")],
    )
    end_date = DateField(
        "End date (optional)",
        validators=[Optional()],
    )
    notes = TextAreaField("Notes for the person doing it")

    def fill_choices(self, child: Child) -> None:
        self.domain.choices = [SelectChoice("", "Choose a domain")] + [
            SelectChoice(key, label) for key, label in DOMAINS.items()
        ]
        people = [
            SelectChoice(str(m.membership_id), f"{m.membership.user.name} ({m.role.label.lower()})")
            for m in child.team
            if m.role.value in ("carer", "teacher", "teaching_assistant")
        ]
        self.assignee_membership_id.choices = [SelectChoice("", "Nobody named")] + people

    def fill_from(self, item: PlanItem) -> None:
        frequency = item.frequency
        self.domain.data = item.domain
        self.assignee.data = item.assignee
        self.assignee_membership_id.data = (
            str(item.assignee_membership_id) if item.assignee_membership_id else ""
        )
        self.days.data = list(frequency.get("days") or [])
        self.mode.data = frequency.get("mode")
        self.times.data = ", ".join(frequency.get("times") or [])
        self.anchors.data = list(frequency.get("anchors") or [])
        spread = frequency.get("spread") or {}
        self.spread_count.data = str(spread.get("count", ""))
        self.spread_from.data = spread.get("from", "")
        self.spread_to.data = spread.get("to", "")
        self.minutes.data = str(item.minutes)
        self.start_date.data = item.start_date
        self.end_date.data = item.end_date
        self.notes.data = item.notes

    def details(self) -> ops.ItemDetails:
        return ops.ItemDetails(
            domain=self.domain.data or None,
            assignee=self.assignee.data or None,
            assignee_membership_id=_whole(self.assignee_membership_id.data),
            days=list(self.days.data or []),
            mode=self.mode.data or None,
            times=ops.parse_times(self.times.data),
            anchors=list(self.anchors.data or []),
            spread_count=_whole(self.spread_count.data),
            spread_from=self.spread_from.data,
            spread_to=self.spread_to.data,
            minutes=_whole(self.minutes.data),
            start_date=self.start_date.data,
            end_date=self.end_date.data,
            notes=self.notes.data or "",
        )


class AddItemForm(ItemForm):
    activity_id = SelectField(
        "Activity", choices=[], validate_choice=False, validators=[_WholeNumber()]
    )

    def fill_activities(self, activities: list[Activity]) -> None:
        self.activity_id.choices = [SelectChoice("", "Choose an activity")] + [
            SelectChoice(str(a.id), a.name) for a in activities
        ]


class MoveForm(FlaskForm):
    direction = HiddenField()


class PublishForm(FlaskForm):
    effective_from = DateField(
        "Takes effect on",
        validators=[DataRequired("Enter the date the plan takes effect, for example 2026-12-01.")],
    )
    share_map = BooleanField("Share the functional brain map with the carers and teachers")
    acknowledged = BooleanField("I have read the warnings and publish past them")
    reason = TextAreaField("Reason for publishing past the warnings")
