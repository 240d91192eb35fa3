"""Query parameters read through DRF fields, so every bad one is a 400 that names it."""

from __future__ import annotations

from collections.abc import Mapping

from rest_framework import serializers


class QueryParamError(ValueError):
    """A query parameter's value is not acceptable; the message names it and says why."""


# Past this a number is no id, offset or count of ours (and no database integer either).
CEILING = 2**62


def integer_param(
    params: Mapping[str, str],
    name: str,
    *,
    default: int,
    minimum: int = 0,
    maximum: int | None = None,
) -> int:
    """``params[name]`` as an integer within [minimum, maximum], ``default`` when absent."""
    raw = params.get(name)
    if raw is None:
        return default
    if maximum is not None:
        wanted = f"an integer from {minimum} to {maximum}"
    else:
        wanted = "a non-negative integer" if minimum == 0 else f"an integer of {minimum} or more"
    field = serializers.IntegerField(min_value=minimum, max_value=maximum or CEILING)
    try:
        if not raw.isascii():  # int() reads "٣" as 3: digits are ASCII here, as in URLs
            raise serializers.ValidationError("not ASCII")
        value: int = field.run_validation(raw)
    except serializers.ValidationError:
        raise QueryParamError(f"{name}: {raw!r} is not {wanted}") from None
    return value
