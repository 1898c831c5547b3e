"""What running a case gives: the derived facts and findings the rules emitted, each with the
provenance (the facts and case fields behind it) that reports and proof trees are built from."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..lang.pack import Rule
from .translate import _COLLECTIONS, _natural


class _Provenance:
    """What a result rests on, worked out only when a report asks: the derived facts it
    matched (`because`) and the case fields it read (`inputs`)."""

    __slots__ = ()

    @property
    def because(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.bound if r.rule is not None)

    @property
    def inputs(self) -> tuple[str, ...]:
        rule = self.rule
        if rule is None:
            return ()
        found: set[str] = set()
        for pattern, record in zip(rule.positive, self.bound):
            if record.rule is None:
                for name in rule.fields_read.get(pattern.name, ()):
                    found.update(record.sources.get(name, ()))
        for pattern in rule.patterns:
            # an absence rests on the whole list it was looked for in
            if pattern.negated and pattern.kind in _COLLECTIONS:
                found.add(_COLLECTIONS[pattern.kind])
        return tuple(sorted(found, key=_natural))


class Record(_Provenance):
    """A fact as the session knows it: base facts from the case and facts rules derived."""

    __slots__ = ("id", "kind", "key", "fields", "subjects", "sources", "rule", "bound")

    def __init__(self, id: str, kind: str, key: str, fields: dict, subjects: tuple,
                 sources: dict | None = None, rule: Rule | None = None, bound: tuple = ()):
        self.id = id
        self.kind = kind
        self.key = key            # what makes it one of its kind: "+"-joined base fact keys
        self.fields = fields
        self.subjects = subjects
        self.sources = sources if sources is not None else {}
        self.rule = rule
        self.bound = bound        # the records the deriving rule matched, in its order


class Emitted(_Provenance):
    """A finding as a rule produced it, before the report shapes it."""

    __slots__ = ("id", "rule", "subjects", "message", "remediation", "bound", "cause")

    def __init__(self, id: str, rule: Rule, subjects: tuple, message: str,
                 remediation: str | None, bound: tuple, cause: str | None = None):
        self.id = id
        self.rule = rule
        self.subjects = subjects
        self.message = message
        self.remediation = remediation
        self.bound = bound
        self.cause = cause


@dataclass
class Outcome:
    records: dict[str, Record] = field(default_factory=dict)
    derived: list[Record] = field(default_factory=list)
    findings: list[Emitted] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    finding_ids: set[str] = field(default_factory=set)
    ctx: dict = field(default_factory=dict)
    overflow: bool = False
    activations: int = 0      # actions the engine ran: the main cost of a case
