from __future__ import annotations

from typing import Any

from django import forms

from builds.index.catalog import index_targets
from hints.recipes import validate_recipes
from inputs.priority import Priority
from plans.models import Plan


def _target_choices() -> list[tuple[str, str]]:
    return [(t.slug, t.slug) for t in index_targets()]


class WheelUploadForm(forms.Form):
    file = forms.FileField(help_text="A .whl file; checked completely before it is stored")
    target = forms.ChoiceField(
        choices=_target_choices, help_text="The index it is published for; it must install there"
    )


class RecipesForm(forms.Form):
    recipes = forms.JSONField(
        validators=[validate_recipes],
        help_text='JSON, e.g. [{"type": "system_packages", "packages": ["libffi-dev"]}]',
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80}),
    )


class JobActionForm(forms.Form):
    """An operator's action on one job from the pages."""

    PRIORITIES = [(str(p.value), p.label) for p in Priority]

    action = forms.ChoiceField(
        choices=[("retry", "retry"), ("cancel", "cancel"), ("prioritize", "prioritize")]
    )
    priority = forms.ChoiceField(choices=PRIORITIES, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") == "prioritize" and not data.get("priority"):
            raise forms.ValidationError("priority: choose low, normal, high or critical")
        return data


class NodeEnqueueForm(forms.Form):
    """Enqueue a whole plan (no ``node``) or one of its nodes (``name==version``)."""

    node = forms.CharField(max_length=320, required=False, strip=True)

    def __init__(self, *args: Any, plan: Plan, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plan = plan

    def clean_node(self) -> str:
        node: str = self.cleaned_data["node"]
        if node and node not in {f"{n['name']}=={n['version']}" for n in self.plan.nodes()}:
            raise forms.ValidationError(f"{node!r} is not a node of plan {self.plan.pk}")
        return node
