from __future__ import annotations

from django import forms

from builds.index.catalog import index_targets
from hints.recipes import validate_recipes


def _target_choices() -> list[tuple[str, str]]:
    return [(t.slug, t.slug) for t in index_targets()]


class WheelUploadForm(forms.Form):
    file = forms.FileField(help_text="A .whl file; checked completely before it is stored")
    target = forms.ChoiceField(
        choices=_target_choices, help_text="The index it is published for; it must install there"
    )


class YankForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False)


class RecipesForm(forms.Form):
    recipes = forms.JSONField(
        validators=[validate_recipes],
        help_text='JSON, e.g. [{"type": "system_packages", "packages": ["libffi-dev"]}]',
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80}),
    )
