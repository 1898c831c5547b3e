"""What the rules read of each kind of fact: a case's facts are built with those fields only
(engine.core.facts)."""
from __future__ import annotations

from ..lang import expr as ex
from ..lang.pack import PackSet


def _negated_reads(rule) -> dict[str, set[str]]:
    """The fields each negated pattern's own condition reads of its kind (a rule's
    `fields_read` holds only its matched patterns')."""
    read: dict[str, set[str]] = {}
    for pattern in rule.patterns:
        if not pattern.negated or pattern.where is None:
            continue
        for node in ex.walk(pattern.where):
            if isinstance(node, ex.Ref) and (len(node.parts) == 1
                                             or node.parts[0] == pattern.name):
                read.setdefault(pattern.kind, set()).add(node.parts[-1])
    return read


def read_by_kind(packset: PackSet) -> dict[str, frozenset]:
    """The fields of each kind of fact that the rules read: in a condition (a negated
    pattern's included), a let, a derived field or a message. A case's facts keep only
    these once built, and the builder computes no other (engine.core.facts): the others are
    read by nothing, and held with their provenance they were most of a large case's
    memory and time."""
    read: dict[str, set] = {}
    for rule in packset.rules:
        kinds = {p.name: p.kind for p in rule.patterns}
        for pattern in rule.patterns:
            read.setdefault(pattern.kind, set())
        for binding, names in rule.fields_read.items():
            read.setdefault(kinds.get(binding, binding), set()).update(names)
        for kind, names in _negated_reads(rule).items():
            read[kind].update(names)
    return {kind: frozenset(names) for kind, names in read.items()}


def history_kinds(read: dict[str, frozenset]) -> frozenset:
    """The kinds among line_item and category whose volatility fields some rule reads; a
    category's also when a rule reads them of a dependency, which copies them."""
    from .facts import _WHOLE_CATEGORY, HISTORY_FIELDS
    empty: frozenset = frozenset()
    found = {kind for kind in ("line_item", "category")
             if read.get(kind, empty) & HISTORY_FIELDS}
    if read.get("dependency", empty) & HISTORY_FIELDS & set(_WHOLE_CATEGORY):
        found.add("category")
    return frozenset(found)
