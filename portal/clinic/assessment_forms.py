"""Forms of the assessment pages: starting a draft and rating every item."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, Field, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Optional
from wtforms.validators import ValidationError as FieldError

from routines.metrics import DOMAINS
from routines.models import Framework, FrameworkItem


class StartAssessmentForm(FlaskForm):
    assessed_on = DateField(
        "Date of the assessment",
        validators=[DataRequired("Enter the date of the assessment, for example 2025-05-21.")],
    )


def score_field_name(item: FrameworkItem) -> str:
    # Item codes come from tenants' own frameworks; ids are safe as field names.
    return f"score_{item.id}"


class _ScoreInRange:
    def __init__(self, scale_max: int) -> None:
        self.scale_max = scale_max

    def __call__(self, form: FlaskForm, field: Field) -> None:
        value = (field.data or "").strip()
        if not value.isdigit() or not 0 <= int(value) <= self.scale_max:
            raise FieldError(f"Choose a score from 0 to {self.scale_max}.")


class RatingFormBase(FlaskForm):
    def scores(self, framework: Framework) -> dict[str, int | None]:
        """Item code -> score (None: not rated yet) after validation."""
        result: dict[str, int | None] = {}
        for item in framework.items:
            raw = (self[score_field_name(item)].data or "").strip()
            result[item.code] = int(raw) if raw else None
        return result

    def flag_unrated(self, items: list[FrameworkItem]) -> None:
        for item in items:
            field = self[score_field_name(item)]
            field.errors = [*list(field.errors), "Rate this item before completing."]


def rating_form(framework: Framework, scores: dict[str, int] | None = None) -> RatingFormBase:
    """A form with a 0–scale_max choice per item; `scores` (by code) fill it on GET."""

    class RatingForm(RatingFormBase):
        pass

    choices = [SelectChoice("", "Not rated yet")] + [
        SelectChoice(str(n), str(n)) for n in range(framework.scale_max + 1)
    ]
    for item in framework.items:
        setattr(
            RatingForm,
            score_field_name(item),
            SelectField(
                f"{item.code} · {item.label}",
                choices=choices,
                validate_choice=False,  # _ScoreInRange says what is wrong, in words
                validators=[Optional(), _ScoreInRange(framework.scale_max)],
            ),
        )
    data = {
        score_field_name(item): str(scores[item.code])
        for item in framework.items
        if scores and item.code in scores
    }
    return RatingForm(data=data)


def items_by_domain(framework: Framework) -> list[tuple[str, list[FrameworkItem]]]:
    """The framework's items grouped by domain, bottom-up (sensory integration first)."""
    groups = [(d, [i for i in framework.items if i.domain == d]) for d in DOMAINS]
    others = sorted({i.domain for i in framework.items} - set(DOMAINS))
    groups += [(d, [i for i in framework.items if i.domain == d]) for d in others]
    return [(d, items) for d, items in groups if items]
