from __future__ import annotations

from django import forms
from django.conf import settings

from refinery.lib.priority import Priority


class RequirementsUploadForm(forms.Form):
    file = forms.FileField(help_text="A requirements.txt (PEP 508 lines, --hash options allowed)")
    python_version = forms.CharField(max_length=16, initial=lambda: settings.PYTHON_VERSION)
    platform_tag = forms.CharField(max_length=64, initial=lambda: settings.PLATFORM_TAG)
    priority = forms.ChoiceField(
        choices=[(p.value, p.label) for p in Priority], initial=Priority.NORMAL
    )
    strategy = forms.ChoiceField(
        choices=[("", "default (UPGRADE_STRATEGY)"), ("pinned", "pinned"), ("eager", "eager")],
        required=False,
    )
