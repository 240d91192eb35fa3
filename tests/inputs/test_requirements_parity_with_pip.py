"""Our requirements parser reads every file of a corpus (tests/inputs/requirements_corpus:
continuations, comments, markers, extras, options, whitespace, line endings, encodings) as
pip's own parser does: the same requirements, extras, specifiers, markers, hashes and
format options. The only differences allowed are our deliberate refusals, listed below
with the reason each one gives; anything pip refuses, we refuse too."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from packaging.utils import canonicalize_name
from pip._internal.exceptions import PipError
from pip._internal.models.format_control import FormatControl as PipFormatControl
from pip._internal.models.release_control import ReleaseControl
from pip._internal.network.session import PipSession
from pip._internal.req import req_file
from pip._internal.req.constructors import install_req_from_parsed_requirement
from pip._internal.req.req_file import (
    RequirementsFileParser,
    get_line_parser,
    handle_requirement_line,
)

from inputs.requirements import RequirementsError, parse_requirements
from inputs.target_env import TargetEnvironment

CORPUS = sorted((Path(__file__).parent / "requirements_corpus").iterdir())

# Files pip reads and we refuse on purpose, with what our refusal says.
DELIBERATE = {
    "url_requirement.txt": "URL requirements (name @ url) are not allowed",
    "vcs_requirement.txt": "VCS requirements are not allowed",
    "editable.txt": "editable requirements are not allowed",
    "index_url.txt": "index options are not allowed",
    "extra_index_url.txt": "index options are not allowed",
    "find_links.txt": "--find-links is not allowed",
    "trusted_host.txt": "--trusted-host is not allowed",
    "pre.txt": "option '--pre' is not allowed",
    "environment_variable.txt": "${FOO_VERSION} is not expanded",
    "sha512_hash.txt": "only sha256 is supported",
    "hash_without_pin.txt": "--hash needs the requirement pinned with ==",
    "conflicting_pins.txt": "a==2 conflicts with a==1 on line 1",
    "config_settings.txt": "option '--config-settings=editable_mode=compat' is not allowed",
    "local_wheel.txt": "local paths are not allowed",
    "only_comments.txt": "the file names no requirements",
    "latin1_without_cookie.txt": "not UTF-8 (byte 0xe9)",  # pip: the locale's encoding
}
TARGET = TargetEnvironment("3.11", "manylinux_2_17_x86_64")

Outcome = tuple[str, Any]


def _entry(
    name: str, extras: Any, specifier: Any, marker: Any, hashes: list[str]
) -> tuple[Any, ...]:
    return (
        canonicalize_name(name),
        tuple(sorted(canonicalize_name(e) for e in extras)),
        str(specifier),
        str(marker) if marker else "",
        tuple(sorted(h.lower() for h in hashes)),
    )


def _read_by_pip(path: Path) -> Outcome:
    """pip's parser and its requirement constructor, as ``pip install -r`` runs them."""
    formats = SimpleNamespace(
        format_control=PipFormatControl(set(), set()),
        release_control=ReleaseControl(set(), set()),
    )
    parser = RequirementsFileParser(PipSession(), get_line_parser(formats))  # type: ignore[arg-type]
    entries: list[tuple[Any, ...]] = []
    try:
        for line in parser.parse(str(path), constraint=False):
            if line.requirement is None:
                continue  # an option line: its format options land in ``formats``
            ireq = install_req_from_parsed_requirement(handle_requirement_line(line))
            if ireq.editable or ireq.link is not None or ireq.req is None:
                entries.append(("not a name", ireq.editable, str(ireq.link)))
                continue
            hashes = [
                f"{algorithm}:{digest}"
                for algorithm, digests in ireq.hash_options.items()
                for digest in digests
            ]
            entries.append(
                _entry(ireq.req.name, ireq.req.extras, ireq.req.specifier, ireq.markers, hashes)
            )
    except (PipError, ValueError, UnicodeError) as exc:
        return ("refused", str(exc))
    control = formats.format_control
    return ("read", (entries, sorted(control.no_binary), sorted(control.only_binary)))


def _read_by_us(path: Path) -> Outcome:
    try:
        parsed = parse_requirements(path.read_bytes(), TARGET, max_bytes=10**6, max_lines=10**4)
    except RequirementsError as exc:
        return ("refused", str(exc))
    entries = [
        _entry(
            item.requirement.name,
            item.requirement.extras,
            item.requirement.specifier,
            item.requirement.marker,
            [f"sha256:{h}" for h in item.hashes],
        )
        for item in parsed.requirements
    ]
    control = parsed.format_control
    return ("read", (entries, sorted(control.no_binary), sorted(control.only_binary)))


@pytest.mark.parametrize("path", CORPUS, ids=[path.name for path in CORPUS])
def test_each_file_means_to_us_what_it_means_to_pip_or_is_refused_on_purpose(path, monkeypatch):
    monkeypatch.setenv("FOO_VERSION", "1.0")  # pip expands it; we refuse to
    # pip decodes what is not UTF-8 with the locale's encoding; on a latin-1 machine:
    monkeypatch.setattr(req_file, "get_locale_encoding", lambda: "latin-1")
    pip, ours = _read_by_pip(path), _read_by_us(path)
    if path.name in DELIBERATE:
        assert pip[0] == "read", f"pip refuses {path.name} too: {pip[1]}"
        assert ours[0] == "refused", f"we read {path.name}: {ours[1]}"
        assert DELIBERATE[path.name] in ours[1]
    elif pip[0] == "refused":
        assert ours[0] == "refused", f"pip refuses {path.name} ({pip[1]}), we read {ours[1]}"
    else:
        assert ours == pip


def test_every_deliberate_refusal_is_a_file_of_the_corpus():
    assert set(DELIBERATE) <= {path.name for path in CORPUS}
