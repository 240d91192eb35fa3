"""The wheel upload form, shown on the inputs page (inputs/ cannot import builds/)."""

from __future__ import annotations

from typing import Any

from django import template

from builds.forms import WheelUploadForm

register = template.Library()


@register.inclusion_tag("builds/wheel_upload_form.html", takes_context=True)
def wheel_upload_form(context: dict[str, Any]) -> dict[str, Any]:
    return {
        "form": WheelUploadForm(),
        "csrf_token": context.get("csrf_token"),
        "request": context.get("request"),
    }
