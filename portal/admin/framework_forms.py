"""Forms of the assessment-framework pages. Every POST form carries Flask-WTF's CSRF token."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from routines.content import SCALE_MAX
from routines.framework_files import LABEL_MAX, NAME_MAX


class FrameworkImportForm(FlaskForm):
    file = FileField(
        "Framework file (.csv or .json)",
        validators=[
            FileRequired("Choose a .csv or .json file."),
            FileAllowed(["csv", "json"], "The file must be a .csv or a .json file."),
        ],
    )
    key = StringField(
        "Key (CSV only)",
        validators=[Optional(), Length(max=63, message="The key must be at most 63 characters.")],
    )
    name = StringField(
        "Name (CSV only)",
        validators=[
            Optional(),
            Length(max=NAME_MAX, message=f"The name must be at most {NAME_MAX} characters."),
        ],
    )


class _ItemFormBase(FlaskForm):
    label = StringField(
        "Label",
        validators=[
            DataRequired("Enter a label."),
            Length(max=LABEL_MAX, message=f"The label must be at most {LABEL_MAX} characters."),
        ],
    )
    description = TextAreaField("Description", validators=[DataRequired("Enter a description.")])

    band_fields: list[tuple[str, str]]  # (field name, band code)

    def expected(self) -> dict[str, int]:
        return {code: getattr(self, name).data for name, code in self.band_fields}

    def band_field_for(self, code: str) -> Any:
        for name, band_code in self.band_fields:
            if band_code == code:
                return getattr(self, name)
        return None


def item_form(age_bands: list[dict[str, Any]], **kwargs: Any) -> _ItemFormBase:
    """The item edit form, with one whole-number field per age band of the framework."""

    class ItemForm(_ItemFormBase):
        pass

    names: list[tuple[str, str]] = []
    for index, band in enumerate(age_bands):
        name = f"band_{index}"
        setattr(
            ItemForm,
            name,
            IntegerField(
                f"{band['label']} ({band['code']})",
                validators=[
                    InputRequired(f"Enter the expected score for {band['label']}."),
                    NumberRange(
                        min=0, max=SCALE_MAX, message=f"Enter a whole number from 0 to {SCALE_MAX}."
                    ),
                ],
            ),
        )
        names.append((name, band["code"]))
    ItemForm.band_fields = names
    return ItemForm(**kwargs)
