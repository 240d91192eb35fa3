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

# What an ``env`` recipe may set: compiler, linker and library-discovery variables, and a
# project's own ``*_DIR``/``*_CONFIG``-style pointers to a system library. Anything else is
# refused, so no hint can steer the builder, pip's sources or TLS.
ENV_ALLOWED = frozenset(
    {
        *("CC", "CXX", "CPP", "FC", "F77", "F90", "LD", "AR", "AS", "NM", "RANLIB", "STRIP"),
        *("CFLAGS", "CXXFLAGS", "CPPFLAGS", "FFLAGS", "FCFLAGS", "LDFLAGS", "LDSHARED"),
        *("LIBS", "LDLIBS", "ARFLAGS", "MAKEFLAGS", "NINJAFLAGS", "MAX_JOBS"),
        *("CPATH", "C_INCLUDE_PATH", "CPLUS_INCLUDE_PATH", "LIBRARY_PATH"),
        *("PKG_CONFIG", "PKG_CONFIG_PATH"),
        *("CMAKE_ARGS", "CMAKE_GENERATOR", "CMAKE_BUILD_PARALLEL_LEVEL", "CMAKE_BUILD_TYPE"),
        *("CMAKE_PREFIX_PATH", "CMAKE_INCLUDE_PATH", "CMAKE_LIBRARY_PATH"),
        *("SKBUILD_CMAKE_ARGS", "SKBUILD_CMAKE_DEFINE"),
        *("BLAS", "LAPACK", "ATLAS", "NPY_BLAS_ORDER", "NPY_LAPACK_ORDER", "NPY_NUM_BUILD_JOBS"),
        *("RUSTFLAGS", "CARGO_BUILD_JOBS"),
    }
)
_ENV_ALLOWED_SUFFIXES = (
    "_DIR",
    "_DIRS",
    "_CONFIG",
    "_ROOT",
    "_PREFIX",
    "_INCLUDE_PATH",
    "_LIBRARY_PATH",
    "_NO_EXTENSIONS",
    "_PKGCONFIG_NAME",
    "_PKG_CONFIG_NAME",
)
# Never, whatever the suffix: what the builder itself is told (the job, its sources, where
# it writes), what steers a package manager or a download (pip, uv, proxies, git, cargo and
# go sources, XDG config that pip reads), TLS, and the dynamic loader.
BUILDER_VARIABLES = frozenset(
    {
        *("JOB_NAME", "JOB_VERSION", "PYTHON_TAG", "PLATFORM_TAG", "RECIPES", "SDIST_URL"),
        *("SDIST_SHA256", "INDEX_URLS", "SOURCE_DATE_EPOCH", "BUILD_CONSTRAINTS"),
        *("REPAIR_WHEEL", "REPAIR_PLAT", "REPAIR_TOOLS", "OUTPUT_DIR", "WORK_DIR"),
        *("WHEELHOUSE", "REFINERY_BUILD_VENV", "HOME", "PATH", "TMPDIR", "SHELL"),
        "SYSTEM_PACKAGES_READY",
    }
)
_ENV_DENIED_PREFIXES = (
    *("PIP_", "UV_", "PYTHON", "PYPI", "VIRTUAL_ENV", "CONDA", "SETUPTOOLS_SCM"),
    *("HTTP", "FTP_", "ALL_PROXY", "NO_PROXY", "SSL_", "REQUESTS_", "CURL_", "OPENSSL_CONF"),
    *("GIT_", "CARGO_HOME", "CARGO_NET", "CARGO_HTTP", "CARGO_REGISTR", "CARGO_SOURCE"),
    *("RUSTUP_", "GOPROXY", "GONOSUMDB", "GOSUMDB", "GOPRIVATE", "GOFLAGS", "GOINSECURE"),
    *("NPM_", "NODE_", "YARN_", "XDG_", "LD_", "DYLD_", "JOB_", "SDIST_", "REPAIR_"),
    *("REFINERY_", "INDEX_", "WORKER_", "DATABASE_", "REDIS_", "OBJECT_STORE_", "DJANGO_"),
)


def env_name_problem(name: str) -> str | None:
    """Why a recipe may not set ``name``, or None when it may."""
    if not _ENV_NAME.fullmatch(name):
        return f"{name!r} is not a valid environment variable name"
    if name in BUILDER_VARIABLES or name.startswith(_ENV_DENIED_PREFIXES):
        return f"{name} may not be set by a recipe: it steers the builder, its sources or TLS"
    if name in ENV_ALLOWED or name.endswith(_ENV_ALLOWED_SUFFIXES):
        return None
    return (
        f"{name} may not be set by a recipe: only compiler and library variables "
        "(CC, CFLAGS, LDFLAGS, PKG_CONFIG_PATH, CMAKE_ARGS, …) and a library's own "
        "*_DIR / *_CONFIG / *_ROOT / *_PREFIX pointers are"
    )


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
            problem = env_name_problem(name) if isinstance(name, str) else f"{name!r} is not a name"
            if problem is not None:
                _fail(index, problem)
            if not isinstance(val, str) or len(val) > 1000 or not val.isprintable():
                _fail(
                    index,
                    f"value of {name} must be printable text of at most 1000 characters",
                )
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


def combine(*recipe_lists: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Recipes in one canonical form: a single recipe of each type, system packages and
    build requirements in first-seen order, later environment values winning. Two recipe
    lists that do the same thing combine to equal lists."""
    packages: dict[str, None] = {}
    requirements: dict[str, None] = {}
    variables: dict[str, str] = {}
    args: dict[str, None] = {}
    skip = ""
    for recipes in recipe_lists:
        for recipe in recipes:
            kind = recipe.get("type")
            if kind == "system_packages":
                packages.update(dict.fromkeys(recipe["packages"]))
            elif kind == "build_requires":
                requirements.update(dict.fromkeys(recipe["requirements"]))
            elif kind == "env":
                variables.update(recipe["vars"])
            elif kind == "pip_args":
                args.update(dict.fromkeys(recipe["args"]))
            elif kind == "skip":
                skip = skip or recipe["reason"]
    combined: list[dict[str, Any]] = []
    if packages:
        combined.append({"type": "system_packages", "packages": list(packages)})
    if requirements:
        combined.append({"type": "build_requires", "requirements": list(requirements)})
    if variables:
        combined.append({"type": "env", "vars": variables})
    if args:
        combined.append({"type": "pip_args", "args": list(args)})
    if skip:
        combined.append({"type": "skip", "reason": skip})
    return combined


def system_packages(recipes: list[dict[str, Any]]) -> list[str]:
    """Every system package the recipes install."""
    return [p for r in recipes if r.get("type") == "system_packages" for p in r["packages"]]


def skip_reason(recipes: list[dict[str, Any]]) -> str | None:
    return next((str(r["reason"]) for r in recipes if r.get("type") == "skip"), None)
