"""Requirements files written to hurt: parsed in linear time, limits counted the way pip
splits lines, names and versions that must fit their columns, refused with the line."""

from __future__ import annotations

import threading

import pytest

from inputs.models import PendingInput
from inputs.requirements import parse_requirements
from inputs.services import UploadError, upload_requirements
from inputs.target_env import TargetEnvironment
from tests.conftest import stored_files

pytestmark = pytest.mark.django_db

TARGET = TargetEnvironment("3.11", "manylinux_2_17_x86_64")


def _parse_within(content: bytes, seconds: float) -> object:
    """Parse in a thread; the answer (requirements or the error) if it came in time.
    The backtracking comment pattern needed 37 s for 30,000 spaces and grows with the
    square of the length: these inputs would take hours."""
    outcome: list[object] = []

    def parse() -> None:
        try:
            outcome.append(parse_requirements(content, TARGET, max_bytes=10**7, max_lines=2000))
        except ValueError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=parse, daemon=True)
    worker.start()
    worker.join(seconds)
    assert outcome, f"parsing {len(content)} bytes took over {seconds} s"
    return outcome[0]


@pytest.mark.parametrize(
    "content",
    [
        b"six" + b" " * 250_000 + b"x\n",
        b"six " + b" \t" * 200_000 + b"#\n",
        b"six" + b" #" * 200_000 + b"\n",
        (b"six" + b" " * 3_000 + b"x\n") * 1_000,
    ],
    ids=["spaces", "tabs-and-spaces", "many-hashes", "many-long-lines"],
)
def test_worst_case_lines_parse_in_linear_time(content):
    _parse_within(content, seconds=10)


def test_a_comment_starts_at_a_hash_after_whitespace_as_in_pip():
    parsed = parse_requirements(
        b"idna==3.7 # a comment\nsix==1.16.0\t#tab\n# whole line\n   # indented\n",
        TARGET,
        max_bytes=10_000,
        max_lines=10,
    )
    assert [str(p.requirement) for p in parsed.requirements] == ["idna==3.7", "six==1.16.0"]


def test_a_comment_ending_in_a_backslash_does_not_swallow_the_next_line():
    parsed = parse_requirements(
        b"# note \\\nrequests==2.32.3\n", TARGET, max_bytes=10_000, max_lines=10
    )
    assert [(p.line, str(p.requirement)) for p in parsed.requirements] == [(2, "requests==2.32.3")]


@pytest.mark.parametrize("separator", [b"\r", b"\x0c", b"\x0b", b"\x1c", b"\xc2\x85"])
def test_the_line_limit_counts_lines_as_pip_splits_them(separator, settings, storage_dir):
    settings.REQUIREMENTS_MAX_LINES = 100
    settings.REQUIREMENTS_MAX_BYTES = 1024 * 1024
    content = separator.join(b"pkg%d" % i for i in range(30_000))
    with pytest.raises(UploadError, match="30000 lines, over the limit of 100"):
        upload_requirements(content, "r.txt")
    assert PendingInput.objects.count() == 0
    assert stored_files(storage_dir) == []


def test_lines_split_by_carriage_returns_are_numbered_as_pip_numbers_them(storage_dir):
    with pytest.raises(UploadError, match="line 3: includes"):
        upload_requirements(b"six\ridna\r-r other.txt\r", "r.txt")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"six\n" + b"a" * 300 + b"==1.0\n", "line 2: the name 'aaaa"),
        (b"six\n" + b"a" * 250_000 + b"\n", "line 2: the requirement is 250000 characters"),
        (b"six==" + b"1" * 200 + b"\n", "line 1: the version '1111"),
        (b"six==" + b"1" * 200_000 + b"\n", "line 1: the requirement is 200005 characters"),
        (b"six[" + b"x" * 250 + b"]\n", "line 1: the name 'xxxx"),
        (b"name===\n", "line 1: "),
        (b"six===   \n", "line 1: "),
    ],
)
def test_names_and_versions_that_cannot_fit_are_refused_with_the_line(
    content, message, storage_dir
):
    with pytest.raises(UploadError) as refused:
        upload_requirements(content, "r.txt")
    assert message in str(refused.value)
    assert len(str(refused.value)) < 300
    assert PendingInput.objects.count() == 0
    assert stored_files(storage_dir) == []


def test_a_long_but_legal_requirement_is_accepted(settings, storage_dir):
    settings.AUTO_PLAN = False
    name = "a" * 200
    result = upload_requirements(f"{name}==1.0\n".encode(), "r.txt")
    assert result.pending.parsed["requirements"][0]["name"] == name
