"""``manage.py contents_index`` fetches a preset's Contents files and writes the index that
repairs look packages up in; bad arguments get one line."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from builds import images
from builds.repairs import contents_index, index_path


@pytest.fixture
def local_mirror(monkeypatch, mirror):
    preset = {**images.PRESETS["debian-bookworm"], "mirror": mirror}
    monkeypatch.setitem(images.PRESETS, "debian-bookworm", preset)


def test_the_command_builds_the_index_repairs_use(local_mirror, settings, tmp_path, capsys):
    settings.CONTENTS_INDEX_DIR = tmp_path / "contents"
    call_command("contents_index", "--arch", "amd64")
    out = capsys.readouterr().out
    assert out.startswith("indexed bookworm/amd64 in ")
    index = contents_index("debian-bookworm", "amd64")
    assert index is not None
    assert [hit.package for hit in index.header("portaudio.h")] == ["portaudio19-dev"]
    call_command("contents_index", "--arch", "amd64", "--if-missing")
    assert "exists; nothing to do" in capsys.readouterr().out
    assert index_path("debian-bookworm", "amd64").parent == tmp_path / "contents"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--arch", "sparc"], "--arch 'sparc' is not one of"),
        (["--arch", "amd64", "--preset", "fedora"], "--preset 'fedora' is not one of"),
    ],
)
def test_bad_arguments_are_named(argv, message):
    with pytest.raises(CommandError, match=message):
        call_command("contents_index", *argv)


def test_an_unreachable_mirror_is_one_line(monkeypatch, settings, tmp_path):
    preset = {**images.PRESETS["debian-bookworm"], "mirror": "http://127.0.0.1:9/debian"}
    monkeypatch.setitem(images.PRESETS, "debian-bookworm", preset)
    settings.CONTENTS_INDEX_DIR = tmp_path
    with pytest.raises(CommandError, match="could not fetch"):
        call_command("contents_index", "--arch", "amd64")
