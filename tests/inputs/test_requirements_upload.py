"""Uploading requirements: validated completely, stored once, queued for planning per AUTO_PLAN."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from inputs.models import PendingInput
from inputs.services import UploadError, upload_requirements
from tests.conftest import queued_tasks, stored_files

pytestmark = pytest.mark.django_db

GOOD = b"""# the web bits
requests[socks]==2.32.3  # pinned
six==1.16.0 \\
    --hash=sha256:1e61c37477a1626458e36f7b1d82aa5c9b094fa4802892072e49de9c60c4c926
numpy>=1.26; platform_machine == "s390x"
"""


def test_a_valid_file_is_stored_with_its_parsed_requirements(settings, storage_dir):
    settings.AUTO_PLAN = False
    result = upload_requirements(GOOD, "reqs.txt", platform_tag="manylinux_2_17_s390x")

    pending = result.pending
    assert result.created
    assert pending.status == PendingInput.Status.PENDING
    assert [r["requirement"] for r in pending.parsed["requirements"]] == [
        "requests[socks]==2.32.3",
        "six==1.16.0",
        'numpy>=1.26; platform_machine == "s390x"',
    ]
    assert pending.parsed["requirements"][1]["hashes"] == [
        "1e61c37477a1626458e36f7b1d82aa5c9b094fa4802892072e49de9c60c4c926"
    ]
    (stored,) = stored_files(storage_dir)
    assert stored.read_bytes() == GOOD
    assert pending.size == len(GOOD)


def test_with_auto_plan_on_the_input_goes_straight_to_the_plan_queue(
    settings, storage_dir, django_capture_on_commit_callbacks
):
    settings.AUTO_PLAN = True
    with django_capture_on_commit_callbacks(execute=True):
        pending = upload_requirements(GOOD, "reqs.txt").pending
    assert pending.status == PendingInput.Status.PLANNING
    assert [(t["func"], t["args"]) for t in queued_tasks()] == [
        ("plans.tasks.plan_input", (pending.pk,))
    ]


def test_an_identical_upload_is_recognised_and_not_stored_twice(settings, storage_dir):
    settings.AUTO_PLAN = False
    first = upload_requirements(GOOD, "a.txt")
    again = upload_requirements(GOOD, "b.txt")
    assert not again.created
    assert again.pending.pk == first.pending.pk
    assert "identical to input" in again.message
    assert PendingInput.objects.count() == 1
    assert len(stored_files(storage_dir)) == 1


REJECTED = [
    (b"six==1.16.0\n-r base.txt\n", "line 2: includes (-r) are not allowed"),
    (b"-c constraints.txt\n", "line 1: constraint files (-c) are not allowed"),
    (b"six\n\n--index-url https://evil.example/simple\n", "line 3: index options are not allowed"),
    (
        b"six --extra-index-url=https://evil.example/simple\n",
        "line 1: index options are not allowed",
    ),
    (b"--find-links /tmp/wheels\n", "line 1: --find-links is not allowed"),
    (b"--trusted-host evil.example\n", "line 1: --trusted-host is not allowed"),
    (b"-e git+https://github.com/x/y\n", "line 1: editable requirements are not allowed"),
    (b"git+https://github.com/x/y\n", "line 1: VCS requirements are not allowed"),
    (b"https://example.com/x-1.0.tar.gz\n", "line 1: URL requirements are not allowed"),
    (
        b"x @ https://example.com/x-1.0.whl\n",
        "line 1: URL requirements (name @ url) are not allowed",
    ),
    (b"./local/package\n", "line 1: local paths are not allowed"),
    (b"six\n\xff\xfe bad\n", "line 2: not UTF-8"),
    (b"six\x00\x01\x02", "line 1: binary content"),
    (
        b"six==1.16.0\nrequests\nsix==1.17.0\n",
        "line 3: six==1.17.0 conflicts with six==1.16.0 on line 1",
    ),
    (b"six>>1\n", "line 1: not a valid requirement"),
    (b"six --hash=sha256:abc\n", "line 1: --hash 'sha256:abc' is not sha256:<64 hex digits>"),
    (b"# only a comment\n\n", "the file names no requirements"),
]


@pytest.mark.parametrize(("content", "message"), REJECTED)
def test_a_rejected_file_gets_a_line_numbered_reason_and_nothing_is_stored(
    content, message, settings, storage_dir
):
    settings.AUTO_PLAN = True
    with pytest.raises(UploadError) as rejected:
        upload_requirements(content, "reqs.txt")
    assert str(rejected.value).startswith("reqs.txt: ")
    assert message in str(rejected.value)
    assert "\n" not in str(rejected.value)
    assert PendingInput.objects.count() == 0
    assert stored_files(storage_dir) == []


def test_size_and_line_limits_are_settings(settings, storage_dir):
    settings.REQUIREMENTS_MAX_BYTES = 100
    with pytest.raises(UploadError, match="101 bytes, over the limit of 100"):
        upload_requirements(b"a" * 101, "big.txt")
    settings.REQUIREMENTS_MAX_BYTES = 10_000
    settings.REQUIREMENTS_MAX_LINES = 3
    with pytest.raises(UploadError, match="4 lines, over the limit of 3"):
        upload_requirements(b"a\nb\nc\nd\n", "long.txt")
    assert stored_files(storage_dir) == []


def test_pins_that_only_apply_elsewhere_do_not_conflict_for_this_target(settings, storage_dir):
    settings.AUTO_PLAN = False
    content = (
        b'six==1.16.0; platform_machine == "s390x"\nsix==1.17.0; platform_machine == "x86_64"\n'
    )
    assert upload_requirements(content, "r.txt", platform_tag="manylinux_2_17_s390x").created


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"platform_tag": "win_amd64"}, "not a Linux platform tag"),
        ({"python_version": "three"}, "is not like 3.11"),
        ({"strategy": "latest"}, "strategy 'latest' is not one of: pinned, eager"),
        ({"overrides": {"force": {"six": "x.y"}}}, "'x.y' is not a valid version of six"),
        ({"overrides": ["six"]}, "overrides must be an object"),
    ],
)
def test_bad_upload_options_are_named(kwargs, message, storage_dir):
    with pytest.raises(UploadError, match=message):
        upload_requirements(b"six\n", "r.txt", **kwargs)
    assert stored_files(storage_dir) == []


def test_the_upload_command_reports_and_refuses_with_one_line(
    settings, storage_dir, tmp_path, capsys
):
    settings.AUTO_PLAN = False
    good = tmp_path / "requirements.txt"
    good.write_bytes(GOOD)
    call_command("upload", str(good), "--priority", "high")
    assert "stored (pending)" in capsys.readouterr().out
    assert PendingInput.objects.get().priority == 2

    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"six\n-r other.txt\n")
    with pytest.raises(CommandError, match=r"bad\.txt: line 2: includes \(-r\) are not allowed"):
        call_command("upload", str(bad))
    with pytest.raises(CommandError, match="No such file"):
        call_command("upload", str(tmp_path / "missing.txt"))
    with pytest.raises(CommandError, match="--priority: unknown priority 'urgent'"):
        call_command("upload", str(good), "--priority", "urgent")
