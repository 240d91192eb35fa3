"""The local runner builds on the host itself: a recipe's system packages are refused there
even when the worker runs as root, so no package manager ever changes the host."""

from __future__ import annotations

from builds.log_sink import KeptLines
from builds.runners.local import LocalRunner
from tests.factories import BuildSpecFactory


def test_system_packages_are_refused_on_the_host_whoever_runs_the_worker(tmp_path):
    spec = BuildSpecFactory(
        sdist_url="http://127.0.0.1:9/six-1.16.0.tar.gz",  # never fetched: refused before
        recipes=[
            # A recipe cannot pretend the host is a container either (refused by validation
            # when stored; here the build script is handed it directly).
            {"type": "env", "vars": {"REFINERY_CONTAINER": "1"}},
            # No such package: were the gate ever broken, apt would change nothing here.
            {"type": "system_packages", "packages": ["refinery-no-such-package"]},
        ],
    )
    sink = KeptLines()

    result = LocalRunner(timeout=120).run(spec, tmp_path / "out", sink, cancelled=lambda: False)

    assert result.reason == "system_recipe", (result, sink.lines)
    assert result.exit_code == 66
    refused = [line for line in sink.lines if "need root in a builder container" in line]
    assert refused, sink.lines
    assert not [line for line in sink.lines if "apt-get" in line]
