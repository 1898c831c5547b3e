"""Output formats, in a registry by name.

A format renders assessment reports and rule listings to text. Register a new one with
`@register`; the CLI offers every registered name for `--format`.
"""
from __future__ import annotations

from typing import Protocol

from ..model import Report, RuleInfo


class Format(Protocol):
    name: str
    description: str

    def reports(self, reports: list[Report], *, details: bool = False) -> str: ...

    def rules(self, rules: list[RuleInfo]) -> str: ...


_REGISTRY: dict[str, Format] = {}


def register(cls):
    instance = cls()
    _REGISTRY[instance.name] = instance
    return cls


def get(name: str) -> Format:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown format '{name}'; formats are {', '.join(names())}") from None


def names() -> list[str]:
    return sorted(_REGISTRY)


from . import json_format, table  # noqa: E402,F401  (registers the built-in formats)
