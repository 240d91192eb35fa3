from __future__ import annotations

from django import forms

from inputs.priority import Priority
from inputs.services import UploadResult, read_limited, upload_requirements
from inputs.strategy import STRATEGIES
from refinery import runtime_settings


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
        choices=[("", "default (UPGRADE_STRATEGY)"), *((s, s) for s in STRATEGIES)],
        required=False,
    )
    no_binary = forms.CharField(
        required=False, help_text="as pip's --no-binary: names to build from source, or :all:"
    )
    only_binary = forms.CharField(
        required=False, help_text="as pip's --only-binary: names to take as wheels only, or :all:"
    )

    def upload(self) -> UploadResult:
        """Store the valid form's file as an input (``UploadError`` says what was wrong)."""
        data = self.cleaned_data
        filename = data["file"].name or "requirements.txt"
        return upload_requirements(
            read_limited(data["file"], filename, data["file"].size),
            filename,
            python_version=data["python_version"],
            platform_tag=data["platform_tag"],
            priority=int(data["priority"]),
            strategy=data["strategy"] or None,
            no_binary=data["no_binary"] or None,
            only_binary=data["only_binary"] or None,
        )
