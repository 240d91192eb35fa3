from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO, cast

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from inputs.command_options import add_plan_options, overrides_option
from inputs.format_control import FormatControlError
from inputs.overrides import merge_overrides
from inputs.requirements import RequirementsError
from inputs.services import UploadError, parse_with_limits, read_requirements_path
from inputs.target_env import TargetEnvironment, TargetError
from plans.dag import PlanError
from plans.index_client import IndexFetchError
from plans.planner import PlanRequest, compute_plan, make_index_client
from refinery.lib.cli import table
from refinery.lib.numbers import natural_number
from refinery.lib.progress import ProgressLine


class Command(BaseCommand):
    help = (
        "Plan a requirements file for a target without storing anything: which wheels "
        "can be reused, which must be built, and why."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE")
        parser.add_argument("--python", default=None, help="target Python (default PYTHON_VERSION)")
        parser.add_argument(
            "--platform", default=None, help="target platform tag (default PLATFORM_TAG)"
        )
        add_plan_options(parser)
        parser.add_argument(
            "--json", metavar="OUT", help="also write the plan (DAG + snapshot) here"
        )
        parser.add_argument(
            "--max-deps", default=None, help="fail when the plan needs more packages"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            target = TargetEnvironment(
                options["python"] or settings.PYTHON_VERSION,
                options["platform"] or settings.PLATFORM_TAG,
            )
        except TargetError as exc:
            raise CommandError(str(exc)) from None
        request = self._request(path, target, options)
        progress = ProgressLine(cast(TextIO, self.stderr._out))
        try:
            with make_index_client() as client:
                dag, snapshot = compute_plan(request, client, progress)
        except (PlanError, IndexFetchError) as exc:
            raise CommandError(str(exc)) from None
        finally:
            progress.done()
        self._show(dag, snapshot, target)
        if options["json"]:
            Path(options["json"]).write_text(
                json.dumps({"dag": dag, "snapshot": snapshot}, indent=2), encoding="utf-8"
            )
            self.stdout.write(f"plan written to {options['json']}")

    def _request(
        self, path: Path, target: TargetEnvironment, options: dict[str, Any]
    ) -> PlanRequest:
        """The file and the options, checked, as the planner takes them."""
        try:
            parsed = parse_with_limits(read_requirements_path(path), target)
            formats = parsed.format_control
            for option in ("no_binary", "only_binary"):
                if options[option] is not None:
                    formats.add("--" + option.replace("_", "-"), options[option])
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror}") from None
        except RequirementsError as exc:
            raise CommandError(f"{path}: {exc}") from None
        except (UploadError, FormatControlError) as exc:
            raise CommandError(str(exc)) from None
        max_deps = settings.MAX_DEPS
        if options["max_deps"] is not None:
            if natural_number(str(options["max_deps"])) is None or int(options["max_deps"]) < 1:
                raise CommandError(f"--max-deps {options['max_deps']!r} is not a positive integer")
            max_deps = int(options["max_deps"])
        try:
            overrides = merge_overrides(
                settings.PLAN_OVERRIDES_JSON, overrides_option(options["overrides"]) or {}
            )
        except ValueError as exc:
            raise CommandError(f"--overrides: {exc}") from None
        return PlanRequest(
            requirements=[item.as_json() for item in parsed.requirements],
            python_version=target.python_version,
            platform_tag=target.platform_tag,
            strategy=options["strategy"] or settings.UPGRADE_STRATEGY,
            overrides=overrides,
            max_deps=max_deps,
            format_control=formats.as_json(),
        )

    def _show(
        self, dag: dict[str, Any], snapshot: dict[str, Any], target: TargetEnvironment
    ) -> None:
        nodes = dag["nodes"]
        self.stdout.write(
            table(
                ["name", "version", "action", "why"],
                [[n["name"], n["version"], n["action"], _why(n)] for n in nodes],
            )
        )
        counts = snapshot["counts"]
        self.stdout.write(
            f"\n{len(nodes)} packages for {target}: {counts['build']} to build, "
            f"{counts['reuse']} to reuse, {counts['cached']} cached ({snapshot['seconds']:.2f} s)"
        )


def _why(node: dict[str, Any]) -> str:
    why = str(node["why"])
    if "build" in node.get("roles", []) and "runtime" not in node.get("roles", []):
        why += " (build requirement)"
    if node.get("build_requires"):
        why += f"; builds with {', '.join(node['build_requires'])}"
    return why
