"""The recipe schema: what a hint may do to a failing build.

Recipes reach the builder as data (the ``RECIPES`` environment variable, JSON) and
are applied with argument lists, never a shell; this schema keeps them to the few
shapes the builder understands and rejects values that could redirect or subvert
a build (other indexes, arbitrary pip options, odd package names).
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from packaging.requirements import InvalidRequirement, Requirement

RECIPE_TYPES = ("system_packages", "env", "build_requires", "pip_args", "skip")

_DEBIAN_OR_RPM_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.\-]{0,99}")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,99}")
_FORBIDDEN_ENV = frozenset({"PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "PYTHONPATH", "HOME"})
# pip options a recipe may add; anything that changes where files come from is excluded.
_PIP_FLAGS = frozenset({"--no-build-isolation", "--use-pep517", "--no-use-pep517"})
_PIP_CONFIG_SETTING = re.compile(r"--config-settings=[A-Za-z0-9_.\-]+=[^\s]{0,200}")


def validate_recipes(value: Any) -> None:
    """Raise ``ValidationError`` naming the first bad recipe (by index) and field."""
    if not isinstance(value, list):
        raise ValidationError("recipes must be a list of recipe objects")
    for index, recipe in enumerate(value):
        _validate_recipe(index, recipe)


def _fail(index: int, message: str) -> None:
    raise ValidationError(f"recipe {index}: {message}")


def _string_list(index: int, recipe: dict[str, Any], field: str) -> list[str]:
    items = recipe.get(field)
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        _fail(index, f"{field!r} must be a non-empty list of strings")
    return list(items)  # type: ignore[arg-type]


def _validate_recipe(index: int, recipe: Any) -> None:
    if not isinstance(recipe, dict):
        _fail(index, "must be an object with a 'type'")
    kind = recipe.get("type")
    if kind not in RECIPE_TYPES:
        _fail(index, f"type {kind!r} is not one of: {', '.join(RECIPE_TYPES)}")
    allowed_keys = {
        "system_packages": {"type", "packages"},
        "env": {"type", "vars"},
        "build_requires": {"type", "requirements"},
        "pip_args": {"type", "args"},
        "skip": {"type", "reason"},
    }[kind]
    unknown = sorted(set(recipe) - allowed_keys)
    if unknown:
        _fail(index, f"unknown field(s) for {kind}: {', '.join(unknown)}")

    if kind == "system_packages":
        for package in _string_list(index, recipe, "packages"):
            if not _DEBIAN_OR_RPM_PACKAGE.fullmatch(package):
                _fail(index, f"{package!r} is not a valid system package name")
    elif kind == "env":
        variables = recipe.get("vars")
        if not isinstance(variables, dict) or not variables:
            _fail(index, "'vars' must be a non-empty object of NAME: value")
        for name, val in variables.items():
            if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
                _fail(index, f"{name!r} is not a valid environment variable name")
            if name in _FORBIDDEN_ENV:
                _fail(index, f"{name} may not be set by a recipe")
            if not isinstance(val, str) or len(val) > 1000 or "\x00" in val:
                _fail(index, f"value of {name} must be a string of at most 1000 characters")
    elif kind == "build_requires":
        for text in _string_list(index, recipe, "requirements"):
            try:
                requirement = Requirement(text)
            except InvalidRequirement as exc:
                _fail(index, f"{text!r} is not a valid requirement: {exc}")
            if requirement.url:
                _fail(index, f"{text!r}: URL requirements are not allowed")
    elif kind == "pip_args":
        for arg in _string_list(index, recipe, "args"):
            if arg not in _PIP_FLAGS and not _PIP_CONFIG_SETTING.fullmatch(arg):
                allowed = ", ".join(sorted(_PIP_FLAGS))
                _fail(
                    index,
                    f"pip argument {arg!r} is not allowed; "
                    f"use {allowed} or --config-settings=KEY=VALUE",
                )
    elif kind == "skip":
        reason = recipe.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            _fail(index, "'reason' must be a non-empty string")
