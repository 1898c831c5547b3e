"""The case fields each fact's value was computed from, held so that a case's provenance grows
with its size, not with its square."""
from __future__ import annotations


class Paths:
    """Case fields a value was computed from, as a sequence that shares its parts.

    A value computed from every line item (the total, when the case states none) rests on
    every line's amount; each line's share of that total rests on them too. Adding the
    paths to a tuple or another Paths refers to both instead of copying them, so that a
    case's provenance grows with its size, not with its square. Iterates, adds, compares
    and hashes as the tuple it stands for."""

    __slots__ = ("_parts", "_len")

    def __init__(self, *parts):
        self._parts = parts
        self._len = sum(len(part) for part in parts)

    def __iter__(self):
        for part in self._parts:
            yield from part

    def __len__(self) -> int:
        return self._len

    def __add__(self, other):
        if isinstance(other, (tuple, Paths)):
            return Paths(self, other) if other else self
        return NotImplemented

    def __radd__(self, other):
        if isinstance(other, tuple):
            return Paths(other, self) if other else self
        return NotImplemented

    def __eq__(self, other):
        if isinstance(other, (tuple, Paths)):
            return len(self) == len(other) and tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __getitem__(self, index):
        return tuple(self)[index]

    def __repr__(self) -> str:
        return f"Paths{tuple(self)!r}"


class _LinePaths:
    """The paths of the line items' fields (`line_items[3].amount`), each made once per case
    and shared by every fact that rests on it: a line, its programme, its category's
    figures, the commitments it funds."""

    __slots__ = ("prefixes", "by_name")

    def __init__(self, count: int):
        self.prefixes = [f"line_items[{i}]" for i in range(count)]
        self.by_name: dict[str, list] = {}

    def one(self, i: int, name: str) -> tuple[str]:
        made = self.by_name.get(name)
        if made is None:
            made = self.by_name[name] = [None] * len(self.prefixes)
        found = made[i]
        if found is None:
            found = made[i] = (f"{self.prefixes[i]}.{name}",)
        return found

    def many(self, members, name: str) -> tuple[str, ...]:
        if len(members) == 1:
            return self.one(members[0], name)
        return tuple(self.one(i, name)[0] for i in members)
