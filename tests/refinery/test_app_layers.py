"""The apps stand in layers, each importing only those below it: refinery/lib (shared
infrastructure) < inputs (uploads and the plan queue) < plans (resolution) < builds; hints
(the repair catalog) stands beside inputs and plans, below builds. A module that reaches
up a layer fails here, naming the file and the import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = {"inputs", "plans", "hints", "builds"}
# What each part must not import.
FORBIDDEN = {
    "refinery/lib": APPS,
    "inputs": {"plans", "hints", "builds"},
    "plans": {"hints", "builds"},
    "hints": {"inputs", "plans", "builds"},
}


def _imported_packages(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_no_module_imports_from_a_later_layer(part):
    reaching_up = [
        f"{path.relative_to(ROOT)}:{line} imports {package}"
        for path in sorted((ROOT / part).rglob("*.py"))
        for line, package in _imported_packages(path)
        if package in FORBIDDEN[part]
    ]
    assert reaching_up == []
