"""Bad input, generated: whatever bytes or requirement-like text arrive, the parser answers
with parsed requirements that fit the database or one RequirementsError naming a line of the
file, and the upload API with a 2xx or a one-line 4xx that stores nothing — never a 5xx, a
traceback, a partial row or a stray file. Derandomized, so CI runs the same examples."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name

from inputs.models import PendingInput
from inputs.requirements import (
    MAX_NAME_CHARS,
    MAX_VERSION_CHARS,
    RequirementsError,
    parse_requirements,
)
from inputs.target_env import TargetEnvironment
from tests.conftest import one_line_refusal, stored_files

TARGET = TargetEnvironment("3.11", "manylinux_2_17_s390x")
# Pieces of real requirement lines, pip options and the separators pip's line splitting
# knows, so generated files reach deep into the parser rather than failing on line 1.
TOKENS = [
    "six",
    "Django",
    "zope.interface",
    "a_b-c",
    "==",
    "===",
    ">=",
    "<",
    "~=",
    "!=",
    ",",
    "1.0",
    "2!1.0.post1",
    "1.*",
    "",
    " ",
    "  ",
    "[",
    "]",
    "extra",
    ";",
    'python_version >= "3.8"',
    'platform_machine == "s390x"',
    "os_name",
    " and ",
    " or ",
    "(",
    ")",
    "@",
    "https://example.com/x.whl",
    "git+https://x",
    "./local",
    "#",
    " # comment",
    "\\",
    "\n",
    "\r",
    "\r\n",
    "\x0c",
    "\t",
    "-r other.txt",
    "-e .",
    "--hash=sha256:" + "a" * 64,
    "--hash=md5:0",
    " --hash",
    "--no-binary",
    "--only-binary=:all:",
    ":none:",
    "-i",
    "--index-url=http://x",
    "\x00",
    "é",
    "\ufeff",
    "x" * 300,
    "9" * 120,
]
requirement_text = st.lists(st.sampled_from(TOKENS), max_size=40).map("".join)


def check_parse(content: bytes) -> None:
    lines = max(1, len(content.decode("utf-8", "replace").splitlines()))
    refusal: RequirementsError | None = None
    try:
        parsed = parse_requirements(content, TARGET, max_bytes=100_000, max_lines=500)
    except RequirementsError as exc:
        refusal = exc
    if refusal is not None:
        assert refusal.line is None or 1 <= refusal.line <= lines, (refusal.line, lines)
        assert "\n" not in str(refusal)
        return
    assert parsed.requirements
    for item in parsed.requirements:
        assert 1 <= item.line <= lines
        assert len(item.requirement.name) <= MAX_NAME_CHARS
        assert canonicalize_name(item.requirement.name)
        for specifier in item.requirement.specifier:
            assert specifier.version.strip()
            assert len(specifier.version) <= MAX_VERSION_CHARS
        assert not item.requirement.url


@settings(max_examples=400, derandomize=True, deadline=None)
@given(requirement_text)
def test_requirement_like_text_is_parsed_or_refused_with_its_line(text):
    check_parse(text.encode("utf-8"))


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_are_parsed_or_refused_with_their_line(content):
    check_parse(content)


@pytest.mark.parametrize("line", ["six===", "six==", "six ===  ", "six===;os_name=='posix'"])
def test_an_operator_without_a_version_is_refused_with_the_line(line):
    with pytest.raises(RequirementsError) as caught:
        parse_requirements(f"wheel\n{line}\n".encode(), TARGET, max_bytes=1000, max_lines=10)
    assert caught.value.line == 2


@pytest.mark.django_db
@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    body=st.one_of(requirement_text.map(lambda t: t.encode("utf-8")), st.binary(max_size=300)),
    filename=st.sampled_from(["requirements.txt", "reqs", "../../etc/passwd", "é.txt", ""]),
    platform=st.sampled_from(["manylinux_2_17_s390x", "win32", "", "manylinux_2_17_" + "x" * 80]),
)
def test_the_upload_api_answers_any_file_with_a_2xx_or_a_4xx_and_keeps_nothing_it_refused(
    worker_api, storage_dir, settings, body, filename, platform
):
    settings.AUTO_PLAN = False
    rows, files = PendingInput.objects.count(), len(stored_files(storage_dir))
    upload = SimpleUploadedFile(filename or "x", body, content_type="text/plain")
    data = {"file": upload, **({"platform_tag": platform} if platform else {})}

    response = worker_api.post("/api/requirements/upload", data)

    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        assert one_line_refusal(response), response.content
        assert PendingInput.objects.count() == rows
        assert len(stored_files(storage_dir)) == files
    else:
        stored = PendingInput.objects.get(pk=response.json()["input"]["id"])
        assert stored.parsed["requirements"]
        assert len(stored_files(storage_dir)) in (files, files + 1)
