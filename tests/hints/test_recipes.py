"""Hints validate their pattern and recipes before they are saved."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from builds.runners.podman import PodmanRunner
from hints.models import Hint
from hints.recipes import validate_recipes
from tests.factories import BuildSpecFactory, HintFactory

pytestmark = pytest.mark.django_db


def test_a_hint_with_every_kind_of_recipe_is_valid():
    hint = HintFactory.build(
        recipes=[
            {"type": "system_packages", "packages": ["libffi-dev", "libxml2-dev"]},
            {"type": "env", "vars": {"CFLAGS": "-O1", "NPY_BLAS_ORDER": "openblas"}},
            {"type": "build_requires", "requirements": ["cython<3", "numpy>=2"]},
            {
                "type": "pip_args",
                "args": ["--no-build-isolation", "--config-settings=setup-args=-Dblas=openblas"],
            },
            {"type": "skip", "reason": "needs CUDA"},
        ]
    )
    hint.full_clean()


@pytest.mark.parametrize(
    ("recipes", "message"),
    [
        ({"type": "env"}, "must be a list"),
        ([{"type": "shell", "cmd": "rm -rf /"}], "recipe 0: type 'shell' is not one of"),
        (
            [{"type": "system_packages", "packages": ["libffi-dev; curl x|sh"]}],
            "not a valid system package",
        ),
        ([{"type": "env", "vars": {"LD_PRELOAD": "/x.so"}}], "LD_PRELOAD may not be set"),
        ([{"type": "env", "vars": {"lower-case": "1"}}], "not a valid environment variable name"),
        (
            [{"type": "build_requires", "requirements": ["foo @ https://evil/x.whl"]}],
            "URL requirements",
        ),
        (
            [{"type": "build_requires", "requirements": ["not a requirement!"]}],
            "not a valid requirement",
        ),
        ([{"type": "pip_args", "args": ["--index-url=https://evil/simple"]}], "is not allowed"),
        ([{"type": "skip"}], "'reason' must be a non-empty string"),
        ([{"type": "env", "vars": {"A": "1"}, "extra": 1}], "unknown field(s) for env: extra"),
    ],
)
def test_bad_recipes_are_refused_naming_the_recipe_and_the_problem(recipes, message):
    with pytest.raises(ValidationError) as refused:
        validate_recipes(recipes)
    assert message in " ".join(refused.value.messages)


def test_a_pattern_that_does_not_compile_is_refused():
    with pytest.raises(ValidationError, match="not a valid regular expression"):
        HintFactory.build(pattern="ffi.h(").full_clean()


def test_a_package_hint_needs_its_package_and_the_database_enforces_it_too():
    with pytest.raises(ValidationError, match="needs a package name"):
        HintFactory.build(scope=Hint.Scope.PACKAGE).full_clean()
    with pytest.raises(IntegrityError):
        HintFactory(scope=Hint.Scope.PACKAGE, package="")


@pytest.mark.parametrize(
    "name",
    [
        "SDIST_URL",
        "SDIST_SHA256",
        "PIP_EXTRA_INDEX_URL",
        "PIP_INDEX_URL",
        "PIP_TRUSTED_HOST",
        "PIP_CONSTRAINT",
        "PIP_FIND_LINKS",
        "UV_INDEX_URL",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "XDG_CONFIG_DIRS",
        "PYTHONPATH",
        "GIT_SSL_NO_VERIFY",
        "CARGO_REGISTRIES_CRATES_IO_PROTOCOL",
        "GOPROXY",
        "OUTPUT_DIR",
        "WORK_DIR",
        "WHEELHOUSE",
        "BUILD_CONSTRAINTS",
        "SETUPTOOLS_SCM_PRETEND_VERSION",
        "WORKER_TOKEN",
        "SOME_UNKNOWN_SWITCH",
    ],
)
def test_a_recipe_may_not_set_what_steers_the_builder_its_sources_or_tls(name):
    with pytest.raises(ValidationError, match=f"{name} may not be set by a recipe"):
        validate_recipes([{"type": "env", "vars": {name: "x"}}])


@pytest.mark.parametrize(
    "name",
    [
        "CC",
        "CFLAGS",
        "LDFLAGS",
        "PKG_CONFIG_PATH",
        "CMAKE_ARGS",
        "OPENSSL_DIR",
        "LIBXML2_CONFIG",
        "HDF5_DIR",
        "BLAS",
        "AIOHTTP_NO_EXTENSIONS",
    ],
)
def test_a_recipe_may_set_compiler_and_library_variables(name):
    validate_recipes([{"type": "env", "vars": {name: "/usr/lib/x86_64-linux-gnu"}}])


def test_every_variable_the_runners_set_for_a_build_is_refused_to_recipes(tmp_path):
    spec = BuildSpecFactory(wheelhouse=tmp_path)
    runner = PodmanRunner(timeout=60, image="img", ca_bundle="/x")
    argv = runner.command(spec, tmp_path, "container")
    names = {argv[i + 1].split("=", 1)[0] for i, arg in enumerate(argv) if arg == "-e"}
    assert "JOB_NAME" in names
    for name in names:
        with pytest.raises(ValidationError, match="may not be set by a recipe"):
            validate_recipes([{"type": "env", "vars": {name: "x"}}])


def test_a_recipe_value_with_a_newline_or_control_character_is_refused():
    with pytest.raises(ValidationError, match="printable text"):
        validate_recipes([{"type": "env", "vars": {"CFLAGS": "-O2\n-I/evil"}}])
