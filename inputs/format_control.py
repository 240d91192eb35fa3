"""pip's ``--no-binary`` and ``--only-binary``: which files a package may come from.

Same values and precedence as pip (``pip._internal.models.format_control``): each option
takes a comma list of names, ``:all:`` or ``:none:``; a later mention of a name moves it
from the other set; ``:all:`` clears both sets before it; ``:none:`` clears its own set.
For a package, its own name decides first (``--only-binary`` before ``--no-binary``), then
``:all:`` (``--only-binary`` first again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from packaging.utils import canonicalize_name

from refinery.lib.pins import name_problem

ALL = ":all:"
NONE = ":none:"


class FormatControlError(ValueError):
    """A bad option value; the message names the option and the value."""


@dataclass
class FormatControl:
    no_binary: set[str] = field(default_factory=set)
    only_binary: set[str] = field(default_factory=set)

    def add(self, option: str, value: str) -> None:
        """Apply one ``--no-binary VALUE`` or ``--only-binary VALUE`` as pip does."""
        if option == "--no-binary":
            target, other = self.no_binary, self.only_binary
        elif option == "--only-binary":
            target, other = self.only_binary, self.no_binary
        else:
            raise FormatControlError(f"{option} is not --no-binary or --only-binary")
        items = [item.strip() for item in value.split(",")]
        if not value.strip() or value.startswith("-"):
            raise FormatControlError(f"{option} needs a value: package names, {ALL} or {NONE}")
        for item in items:
            if item in (ALL, NONE):
                continue
            problem = name_problem(item)
            if problem is not None:
                raise FormatControlError(f"{option} {value!r}: {problem}")
        while ALL in items:
            other.clear()
            target.clear()
            target.add(ALL)
            del items[: items.index(ALL) + 1]
            if NONE not in items:
                return  # with no :none: after it, :all: covers whatever follows
        for item in items:
            if item == NONE:
                target.clear()
                continue
            name = canonicalize_name(item)
            other.discard(name)
            target.add(name)

    def allowed(self, name: str) -> frozenset[str]:
        """``binary`` and/or ``source``: where ``name`` may come from."""
        canonical = canonicalize_name(name)
        if canonical in self.only_binary:
            return frozenset({"binary"})
        if canonical in self.no_binary:
            return frozenset({"source"})
        if ALL in self.only_binary:
            return frozenset({"binary"})
        if ALL in self.no_binary:
            return frozenset({"source"})
        return frozenset({"binary", "source"})

    def why(self, name: str) -> str:
        """The option that decides for ``name``, e.g. ``--no-binary six``; "" when none does."""
        canonical = canonicalize_name(name)
        for option, names in (("--only-binary", self.only_binary), ("--no-binary", self.no_binary)):
            if canonical in names:
                return f"{option} {canonical}"
        for option, names in (("--only-binary", self.only_binary), ("--no-binary", self.no_binary)):
            if ALL in names:
                return f"{option} {ALL}"
        return ""

    def __bool__(self) -> bool:
        return bool(self.no_binary or self.only_binary)

    def as_json(self) -> dict[str, list[str]]:
        return {"no_binary": sorted(self.no_binary), "only_binary": sorted(self.only_binary)}

    @classmethod
    def from_json(cls, data: Any) -> FormatControl:
        data = data or {}
        return cls(set(data.get("no_binary", [])), set(data.get("only_binary", [])))
