"""DRF validation errors as the one line our API answers with."""

from __future__ import annotations

from typing import Any


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
