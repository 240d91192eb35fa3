"""pip's --no-binary and --only-binary, in requirements files and as upload flags: the
same values and precedence as pip's own option handling, bad values refused with their
line, and honoured by the planner (a --no-binary name is built from its sdist)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from pip._internal.models.format_control import FormatControl as PipFormatControl

from builds.models import Artifact, BuildJob
from builds.plan_builds import enqueue_plan_builds
from inputs.format_control import FormatControl
from inputs.models import PendingInput
from inputs.requirements import parse_requirements
from inputs.services import UploadError, upload_requirements
from inputs.target_env import TargetEnvironment
from plans.dag import PlanError
from plans.index_client import IndexClient
from plans.planner import PlanRequest, compute_plan
from tests.factories import ArtifactFactory, PlanFactory, TargetFactory

pytestmark = pytest.mark.django_db

TARGET = TargetEnvironment("3.11", "manylinux_2_17_x86_64")

SEQUENCES = [
    [("--no-binary", "six")],
    [("--no-binary", ":all:")],
    [("--no-binary", ":all:"), ("--only-binary", "six")],
    [("--only-binary", ":all:"), ("--no-binary", "six,idna")],
    [("--no-binary", "six"), ("--only-binary", "six")],
    [("--no-binary", "six,:none:,idna")],
    [("--no-binary", ":all:,:none:,idna")],
    [("--only-binary", "Six_Pkg"), ("--no-binary", ":all:")],
    [("--no-binary", ":none:"), ("--only-binary", ":none:")],
]


@pytest.mark.parametrize("sequence", SEQUENCES)
def test_options_mean_what_they_mean_to_pip(sequence):
    ours, pips = FormatControl(), PipFormatControl(set(), set())
    for option, value in sequence:
        ours.add(option, value)
        target, other = (
            (pips.no_binary, pips.only_binary)
            if option == "--no-binary"
            else (pips.only_binary, pips.no_binary)
        )
        PipFormatControl.handle_mutual_excludes(value, target, other)
    for name in ("six", "idna", "six-pkg", "other"):
        assert ours.allowed(name) == pips.get_allowed_formats(name), (sequence, name)


def _parse(text: str):
    return parse_requirements(text.encode(), TARGET, max_bytes=10_000, max_lines=100)


def test_a_file_may_carry_the_options_on_lines_of_their_own():
    parsed = _parse("--only-binary=:all:\n--no-binary six,idna\nsix==1.16.0\n")
    assert parsed.format_control.allowed("six") == {"source"}
    assert parsed.format_control.allowed("requests") == {"binary"}
    assert [str(r.requirement) for r in parsed.requirements] == ["six==1.16.0"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("six\n--no-binary\n", "line 2: --no-binary needs a value"),
        ("six\n--no-binary=\n", "line 2: --no-binary needs a value"),
        ("six\n--only-binary -x\n", "line 2: --only-binary needs a value"),
        ("six\n--no-binary not/a/name\n", "line 2: --no-binary 'not/a/name': 'not/a/name' is not"),
        ("six\n--no-binary six idna\n", "line 2: --no-binary takes one value"),
        (
            "six --no-binary six\n",
            "line 1: option '--no-binary' is not allowed after a requirement",
        ),
    ],
)
def test_bad_values_are_refused_with_their_line(text, message, storage_dir):
    with pytest.raises(UploadError) as refused:
        upload_requirements(text.encode(), "r.txt")
    assert message in str(refused.value)
    assert PendingInput.objects.count() == 0


def test_upload_flags_come_after_the_files_own_lines(settings, storage_dir):
    settings.AUTO_PLAN = False
    pending = upload_requirements(
        b"--only-binary six\nsix==1.16.0\n", "r.txt", no_binary="six"
    ).pending
    assert pending.parsed["format_control"] == {"no_binary": ["six"], "only_binary": []}


def test_the_same_file_with_other_options_takes_them_and_is_replanned(settings, storage_dir):
    settings.AUTO_PLAN = True
    first = upload_requirements(b"six==1.16.0\n", "r.txt").pending
    PendingInput.objects.filter(pk=first.pk).update(status="planned")
    again = upload_requirements(b"six==1.16.0\n", "r.txt", no_binary=":all:")
    assert not again.created
    assert again.options_changed
    assert again.pending.pk == first.pk
    assert again.pending.status == "planning"
    assert again.pending.parsed["format_control"]["no_binary"] == [":all:"]
    assert "it now has this upload's options" in again.message
    same = upload_requirements(b"six==1.16.0\n", "r.txt", no_binary=":all:")
    assert not same.options_changed


def test_a_bad_flag_is_named(storage_dir):
    with pytest.raises(UploadError, match="--no-binary needs a value"):
        upload_requirements(b"six\n", "r.txt", no_binary="")


def test_the_upload_command_takes_the_flags(settings, storage_dir, tmp_path, capsys):
    settings.AUTO_PLAN = False
    path = tmp_path / "r.txt"
    path.write_text("six==1.16.0\n")
    call_command("upload", str(path), "--no-binary", "six")
    assert PendingInput.objects.get().parsed["format_control"]["no_binary"] == ["six"]


def test_the_api_takes_the_flags(automation_api, settings, storage_dir):
    settings.AUTO_PLAN = False
    response = automation_api.post(
        "/api/requirements/upload",
        {"file": SimpleUploadedFile("r.txt", b"six==1.16.0\n"), "only_binary": ":all:"},
        format="multipart",
    )
    assert response.status_code == 201
    bad = automation_api.post(
        "/api/requirements/upload",
        {"file": SimpleUploadedFile("s.txt", b"idna\n"), "no_binary": "-x"},
        format="multipart",
    )
    assert bad.status_code == 400
    assert "--no-binary needs a value" in bad.json()["error"]


def _plan(tmp_path, requirement: str, **formats: list[str]):
    request = PlanRequest(
        requirements=[{"requirement": requirement, "line": 1}],
        python_version="3.11",
        platform_tag="manylinux_2_17_x86_64",
        strategy="eager",
        format_control=formats,
    )
    with IndexClient(["https://pypi.org/simple/"], tmp_path / "cache") as client:
        return compute_plan(request, client)


@pytest.mark.network
def test_a_no_binary_name_is_planned_as_a_build_and_says_why(tmp_path):
    dag, snapshot = _plan(tmp_path, "six==1.16.0", no_binary=["six"])
    (node,) = [n for n in dag["nodes"] if n["name"] == "six"]
    assert node["action"] == "build"
    assert node["no_binary"] is True
    assert node["why"].startswith("--no-binary six: build from six-1.16.0.tar.gz")
    assert snapshot["format_control"] == {"no_binary": ["six"], "only_binary": []}
    plain, _ = _plan(tmp_path, "six==1.16.0")
    assert plain["nodes"][0]["action"] == "reuse"


@pytest.mark.network
def test_only_binary_refuses_a_version_that_has_no_wheel(tmp_path):
    with pytest.raises(PlanError, match="docopt"):
        _plan(tmp_path, "docopt==0.6.2", only_binary=[":all:"])


def test_an_upstream_wheel_in_our_store_does_not_satisfy_no_binary(storage_dir):
    target = TargetFactory()
    ArtifactFactory(target=target, name="six", version="1.16.0", origin=Artifact.Origin.REUSED)
    node = {
        "name": "six",
        "version": "1.16.0",
        "action": "build",
        "no_binary": True,
        "source": {"kind": "sdist", "url": "https://x/six-1.16.0.tar.gz", "sha256": "a" * 64},
    }
    plan = PlanFactory(target=target, dag={"nodes": [node], "edges": []})
    enqueue_plan_builds(plan, actor="test")
    assert BuildJob.objects.get(plan=plan).status == "pending"
    ArtifactFactory(
        target=target,
        name="six",
        version="1.16.0",
        origin=Artifact.Origin.BUILT,
        filename="six-1.16.0-py2.py3-none-any.whl",
    )
    other = PlanFactory(target=target, dag={"nodes": [node], "edges": []})
    BuildJob.objects.filter(plan=plan).update(status="cancelled")
    enqueue_plan_builds(other, actor="test")
    assert BuildJob.objects.get(plan=other).status == "cached"
