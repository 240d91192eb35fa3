"""Auto-repair the whole way: real PyPI sdists that fail on the bare builder for want of
Debian packages are refined from source with the podman runner and end as wheels, with no
human action; a control builds as before; a negative ends failed with its problem named;
and what a repair learned serves the package's next build from its first attempt.

A few representative cases from the corpus (bench/repair/corpus.toml; bench/repair.py runs
them all): one library named only in prose, one config tool the catalog knows, one build
that needs two rounds (pkg-config, then the module it was asked for)."""

from __future__ import annotations

import contextlib

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from builds.models import Artifact, BuildJob
from hints.models import Hint

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.network,
    pytest.mark.podman,
]

TARGET = "cp311-manylinux_2_36_x86_64"


@pytest.fixture(autouse=True)
def _catalog(seeded_catalog) -> None:
    """The cases rely on the seeded catalog (psycopg2's pg_config, say)."""


@pytest.fixture(autouse=True)
def _contents_index(settings):
    index = settings.CONTENTS_INDEX_DIR / "debian-bookworm-amd64.sqlite3"
    assert index.exists(), f"{index} is missing: run `make images` (manage.py contents_index)"


def _refine(tmp_path, name: str, version: str, target: str = TARGET) -> BuildJob:
    requirements = tmp_path / f"{name}.txt"
    requirements.write_text(f"{name}=={version}\n")
    argv = ["--runner", "podman", "--no-binary", name, "--target", target, "--timeout", "1500"]
    with contextlib.suppress(CommandError):  # a failed build: the job says what happened
        call_command("refine", str(requirements), *argv)
    return BuildJob.objects.filter(name=name.lower()).order_by("-pk").first()


def _packages(job: BuildJob) -> list[str]:
    return [p for r in job.recipes if r["type"] == "system_packages" for p in r["packages"]]


def test_a_library_named_only_in_prose_is_found_and_the_next_build_starts_with_it(
    amd64_image, storage_dir, tmp_path
):
    job = _refine(tmp_path, "python-prctl", "1.8.1")

    assert job.status == "built", job.error
    assert job.repair_rounds == 1
    assert _packages(job) == ["libcap-dev"]
    (origin,) = job.recipe_origins
    assert origin["problem"]["evidence"] == (
        "You need to install libcap development headers to build this module"
    )
    wheel = Artifact.objects.get(job=job)
    assert wheel.filename.endswith("manylinux_2_36_x86_64.whl")
    assert wheel.provenance["recipe_origins"][0]["packages"] == ["libcap-dev"]
    learned = Hint.objects.get(source=Hint.Source.AUTO, package="python-prctl")
    assert learned.recipes == job.recipes

    again = _refine(tmp_path, "python-prctl", "1.7")
    assert again.status == "built", again.error
    assert again.repair_rounds == 0  # no failing round: the learned recipes came first
    assert again.recipe_origins[0]["up_front"] is True


def test_a_config_tool_the_catalog_knows_is_repaired(amd64_image, storage_dir, tmp_path):
    job = _refine(tmp_path, "psycopg2", "2.9.9")
    assert job.status == "built", job.error
    assert _packages(job) == ["libpq-dev"]
    assert {"hint", "problem"} <= {key for origin in job.recipe_origins for key in origin}


def test_pkg_config_first_then_the_module_it_was_asked_for(amd64_image, storage_dir, tmp_path):
    job = _refine(tmp_path, "pycairo", "1.26.0")
    assert job.status == "built", job.error
    assert job.repair_rounds == 2
    assert set(_packages(job)) == {"pkgconf", "libcairo2-dev"}
    rounds = job.events.filter(to_status="retry").order_by("pk")
    assert [e.data["problems"][0]["name"] for e in rounds] == ["pkg-config", "cairo"]


def test_a_build_that_needs_nothing_runs_as_before(amd64_image, storage_dir, tmp_path):
    job = _refine(tmp_path, "markupsafe", "2.1.5")
    assert job.status == "built"
    assert (job.recipes, job.repair_rounds, job.attempts) == ([], 0, 1)


def test_a_failure_no_package_fixes_ends_failed_with_its_problem(
    amd64_image, storage_dir, tmp_path
):
    job = _refine(tmp_path, "typed-ast", "1.4.3")
    assert job.status == "failed"
    assert job.failure_reason == "no_repair_found"
    assert job.attempts == 1  # not retried: nothing could change
    assert job.error == (
        "no repair found: missing header code.h (no package in the builder's suite ships it)"
    )
