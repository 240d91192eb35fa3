from __future__ import annotations

from django import forms

from refinery import runtime_settings
from refinery.lib.priority import Priority


class RequirementsUploadForm(forms.Form):
    file = forms.FileField(help_text="A requirements.txt (PEP 508 lines, --hash options allowed)")
    python_version = forms.CharField(
        max_length=16, initial=lambda: runtime_settings.value("python_version")
    )
    platform_tag = forms.CharField(
        max_length=64, initial=lambda: runtime_settings.value("platform_tag")
    )
    priority = forms.ChoiceField(
        choices=[(p.value, p.label) for p in Priority], initial=Priority.NORMAL
    )
    strategy = forms.ChoiceField(
        choices=[("", "default (UPGRADE_STRATEGY)"), ("pinned", "pinned"), ("eager", "eager")],
        required=False,
    )
    no_binary = forms.CharField(
        required=False, help_text="as pip's --no-binary: names to build from source, or :all:"
    )
    only_binary = forms.CharField(
        required=False, help_text="as pip's --only-binary: names to take as wheels only, or :all:"
    )
