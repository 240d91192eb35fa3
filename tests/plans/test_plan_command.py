"""`manage.py plan` prints what would be built and why, and can write the plan as JSON."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = [pytest.mark.network]


def test_plan_prints_a_table_and_writes_json(tmp_path, settings, capsys):
    settings.INDEX_CACHE_DIR = tmp_path / "cache"
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("markupsafe==2.1.5\npyyaml==6.0.2\n")
    out_json = tmp_path / "plan.json"

    call_command(
        "plan",
        str(requirements),
        "--python",
        "3.11",
        "--platform",
        "manylinux_2_17_s390x",
        "--json",
        str(out_json),
    )

    output = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:3] for line in output.splitlines()[2:] if line.strip()}
    assert rows["markupsafe"] == ["2.1.5", "build"]
    assert rows["pyyaml"] == ["6.0.2", "reuse"]
    assert "packages for cp311-manylinux_2_17_s390x: 1 to build" in output
    saved = json.loads(out_json.read_text())
    assert {n["name"] for n in saved["dag"]["nodes"]} >= {"markupsafe", "pyyaml", "setuptools"}
    assert saved["snapshot"]["platform_tag"] == "manylinux_2_17_s390x"


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("six\n-r x.txt\n", [], "line 2: includes (-r) are not allowed"),
        ("six\n", ["--platform", "win_amd64"], "not a Linux platform tag"),
        ("six\n", ["--max-deps", "zero"], "--max-deps 'zero' is not a positive integer"),
        ("six==99\n", [], "no version of six matching it can be installed"),
    ],
)
def test_plan_reports_bad_input_in_one_line(tmp_path, settings, content, args, message):
    settings.INDEX_CACHE_DIR = tmp_path / "cache"
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(content)
    with pytest.raises(CommandError) as refused:
        call_command("plan", str(requirements), *args)
    assert message in str(refused.value)
