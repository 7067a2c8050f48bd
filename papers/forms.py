"""Form fields for what editors type about papers: arXiv categories as plain text."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from papers.categories import CategoryError, parse_categories


class CategoriesField(forms.CharField):
    """`cs.CV, cs.LG` in the form, `["cs.CV", "cs.LG"]` in the JSON column."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "arXiv categories, separated by commas: cs.CV, cs.LG")
        super().__init__(**kwargs)

    def prepare_value(self, value: object) -> object:
        if isinstance(value, list | tuple):
            return ", ".join(str(item) for item in value)
        return value

    def to_python(self, value: object) -> list[str]:
        text = super().to_python(value)
        try:
            return parse_categories(text)
        except CategoryError as error:
            raise ValidationError(str(error), code="invalid_category") from error

    def has_changed(self, initial: object, data: object) -> bool:
        try:
            return self.to_python(self.prepare_value(initial)) != self.to_python(data)
        except ValidationError:
            return True
