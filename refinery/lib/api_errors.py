"""DRF validation errors as the one line our API answers with."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def first_error(errors: Any, path: str = "") -> str:
    """The first error with the path to its field.

    ``{"dag": {"nodes": {2: {"action": ["bad"]}}}}`` -> ``dag.nodes[2].action: bad``."""
    if isinstance(errors, dict):
        for field, messages in errors.items():
            if not messages:
                continue
            if field == "non_field_errors":
                nested = path
            elif isinstance(field, int):  # a list field's items are keyed by index
                nested = f"{path}[{field}]"
            else:
                nested = f"{path}.{field}" if path else str(field)
            return first_error(messages, nested)
    if isinstance(errors, list):
        for index, item in enumerate(errors):
            if isinstance(item, dict | list):
                if item:
                    return first_error(item, f"{path}[{index}]")
                continue
            return f"{path}: {item}" if path else str(item)
    return f"{path}: {errors}" if path else str(errors)


def _already_one_line(data: Any) -> bool:
    """``{"error": "…"}``; not a serializer's errors for a field that is called ``error``."""
    return isinstance(data, dict) and set(data) == {"error"} and isinstance(data["error"], str)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's own refusals (bad JSON, no credentials, no permission, not found, throttled) in
    the same shape as ours: ``{"error": "one line"}``, with DRF's status and headers."""
    response = drf_exception_handler(exc, context)
    if response is not None:
        data = response.data
        if isinstance(data, dict) and set(data) == {"detail"}:
            response.data = {"error": str(data["detail"])}
        elif not _already_one_line(data):
            response.data = {"error": first_error(data)}
    return response
