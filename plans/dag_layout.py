"""A plan's DAG laid out for the page: layered by depth (longest path from the requirements
the input names), ordered within each layer to cross fewer edges, wide layers wrapped into
rows so hundreds of nodes stay on a screen's width. Geometry only; the page draws it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

NODE_WIDTH = 176
NODE_HEIGHT = 40
GAP_X = 16
LAYER_GAP = 56  # between layers: room for the edges to bend
ROW_GAP = 14  # between the wrapped rows of one layer
MAX_PER_ROW = 10
MARGIN = 12
SWEEPS = 4
LABEL_CHARS = 22


@dataclass(frozen=True)
class LaidOutNode:
    key: str
    name: str
    version: str
    label: str
    action: str
    top_level: bool
    layer: int
    x: int
    y: int
    node: dict[str, Any]


@dataclass(frozen=True)
class LaidOutEdge:
    source: str
    target: str
    kind: str
    path: str


@dataclass(frozen=True)
class DagLayout:
    nodes: list[LaidOutNode]
    edges: list[LaidOutEdge]
    width: int
    height: int
    layers: int


def _key(node: dict[str, Any]) -> str:
    return f"{node['name']}=={node['version']}"


def _forward_edges(
    keys: list[str], edges: list[tuple[str, str]], roots: list[str]
) -> set[tuple[str, str]]:
    """The edges left once each cycle loses the edge that closes it (depth-first, from the
    roots first), so layering by longest path terminates."""
    children: dict[str, list[str]] = defaultdict(list)
    for source, target in edges:
        children[source].append(target)
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    forward: set[tuple[str, str]] = set()
    for start in [*roots, *keys]:
        if start in state:
            continue
        state[start] = 1
        stack = [(start, iter(children[start]))]
        while stack:
            parent, pending = stack[-1]
            child = next(pending, None)
            if child is None:
                state[parent] = 2
                stack.pop()
                continue
            if state.get(child) == 1:
                continue  # closes a cycle: drawn, but not used for depth
            forward.add((parent, child))
            if child not in state:
                state[child] = 1
                stack.append((child, iter(children[child])))
    return forward


def _layers(keys: list[str], forward: set[tuple[str, str]]) -> dict[str, int]:
    incoming: dict[str, int] = dict.fromkeys(keys, 0)
    children: dict[str, list[str]] = defaultdict(list)
    for source, target in forward:
        incoming[target] += 1
        children[source].append(target)
    layer = dict.fromkeys(keys, 0)
    ready = [k for k in keys if incoming[k] == 0]
    while ready:
        current = ready.pop()
        for child in children[current]:
            layer[child] = max(layer[child], layer[current] + 1)
            incoming[child] -= 1
            if incoming[child] == 0:
                ready.append(child)
    return layer


def _order(by_layer: list[list[str]], edges: list[tuple[str, str]]) -> list[list[str]]:
    """Barycenter sweeps: each node moves towards the mean position of its neighbours in
    the layer above (downward sweeps) or below (upward sweeps)."""
    parents: dict[str, list[str]] = defaultdict(list)
    children: dict[str, list[str]] = defaultdict(list)
    for source, target in edges:
        parents[target].append(source)
        children[source].append(target)
    order = [sorted(layer) for layer in by_layer]
    for sweep in range(SWEEPS):
        downward = sweep % 2 == 0
        indices = range(1, len(order)) if downward else range(len(order) - 2, -1, -1)
        for index in indices:
            neighbour_layer = order[index - 1] if downward else order[index + 1]
            position = {key: i for i, key in enumerate(neighbour_layer)}
            links = parents if downward else children
            current = {key: i for i, key in enumerate(order[index])}

            def barycenter(
                key: str,
                position: dict[str, int] = position,
                current: dict[str, int] = current,
                links: dict[str, list[str]] = links,
            ) -> float:
                seen = [position[n] for n in links[key] if n in position]
                return sum(seen) / len(seen) if seen else float(current[key])

            order[index] = sorted(order[index], key=barycenter)
    return order


def _label(name: str) -> str:
    return name if len(name) <= LABEL_CHARS else name[: LABEL_CHARS - 1] + "…"


def layout_dag(dag: dict[str, Any]) -> DagLayout:
    nodes = {_key(n): n for n in dag.get("nodes", []) if isinstance(n, dict)}
    keys = sorted(nodes)
    edges = [
        (e["from"], e["to"], e.get("kind", "install"))
        for e in dag.get("edges", [])
        if isinstance(e, dict) and e.get("from") in nodes and e.get("to") in nodes
    ]
    pairs = [(source, target) for source, target, _ in edges if source != target]
    has_parent = {target for _, target in pairs}
    roots = [k for k in keys if nodes[k].get("top_level") or k not in has_parent]
    layer = _layers(keys, _forward_edges(keys, pairs, roots))
    depth = max(layer.values(), default=-1) + 1
    by_layer: list[list[str]] = [[] for _ in range(depth)]
    for key in keys:
        by_layer[layer[key]].append(key)
    order = _order(by_layer, pairs)

    widest = min(MAX_PER_ROW, max((len(row) for row in order), default=1))
    width = 2 * MARGIN + widest * NODE_WIDTH + (widest - 1) * GAP_X
    placed: list[LaidOutNode] = []
    y = MARGIN
    for index, members in enumerate(order):
        for start in range(0, len(members), MAX_PER_ROW):
            row = members[start : start + MAX_PER_ROW]
            row_width = len(row) * NODE_WIDTH + (len(row) - 1) * GAP_X
            x = (width - row_width) // 2
            for key in row:
                node = nodes[key]
                placed.append(
                    LaidOutNode(
                        key=key,
                        name=node["name"],
                        version=node["version"],
                        label=_label(node["name"]),
                        action=node.get("action", ""),
                        top_level=bool(node.get("top_level")),
                        layer=index,
                        x=x,
                        y=y,
                        node=node,
                    )
                )
                x += NODE_WIDTH + GAP_X
            y += NODE_HEIGHT + ROW_GAP
        y += LAYER_GAP - ROW_GAP
    where = {n.key: n for n in placed}
    drawn = []
    for source, target, kind in edges:
        a, b = where[source], where[target]
        x1, y1 = a.x + NODE_WIDTH // 2, a.y + NODE_HEIGHT
        x2, y2 = b.x + NODE_WIDTH // 2, b.y
        bend = max(24, abs(y2 - y1) // 2)
        path = f"M{x1},{y1} C{x1},{y1 + bend} {x2},{y2 - bend} {x2},{y2}"
        drawn.append(LaidOutEdge(source, target, kind, path))
    height = y - (LAYER_GAP - ROW_GAP) + MARGIN if placed else 2 * MARGIN
    return DagLayout(placed, drawn, width, height, depth)
