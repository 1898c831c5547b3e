"""Proof trees as text.

`draw` is the drawing that every proof tree shares (`diplo explain`, the table and the Markdown
memo): a node's first line on its branch, its other lines under it, its children below on
branches of `├─`, `└─` and `│`. `proof_lines` is a finding's tree drawn from a report's `facts`
alone, which is all a format sees: each fact with its rule, pack, fields, parameters and the
case fields it read. `diplo explain` (engine/analysis/proof.py), which also has the case and
the packs, draws richer nodes (rule titles, the values of the case fields) with the same
`draw`.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, TypeVar

from . import show_value
from .escape import one_line

Node = TypeVar("Node")


def draw(root: Node, content: Callable[[Node], list[str]],
         children: Callable[[Node], Iterable[Node]]) -> list[str]:
    """The lines of the tree under `root`. `content(node)` gives a node's lines: the first
    goes on its branch, the others (which start with their own indent) under it."""
    lines: list[str] = []

    def walk(node, prefix: str, last: bool, top: bool) -> None:
        head = "" if top else ("└─ " if last else "├─ ")
        pad = prefix + ("" if top else ("   " if last else "│  "))
        # a node's lines are one line each, whatever text of a case or a pack they hold
        first, *rest = (one_line(line) for line in content(node))
        lines.append(f"{prefix}{head}{first}")
        lines.extend(pad + line for line in rest)
        below = list(children(node))
        for j, child in enumerate(below):
            walk(child, pad, j == len(below) - 1, False)

    walk(root, "", True, True)
    return lines


def _show(value: Any) -> str:
    return ", ".join(show_value(v) for v in value) if isinstance(value, list) \
        else show_value(value)


def _made_by(node, quote: bool) -> list[str]:
    lines = [f"  by rule {node.rule} ({node.pack}), guidance {node.citation.section}"
             + (f": \"{node.citation.quote}\"" if quote else "")]
    if node.parameters:
        lines.append("  parameters: " + ", ".join(
            f"${k} = {_show(v)}" for k, v in node.parameters.items()))
    if node.inputs:
        lines.append("  case fields: " + ", ".join(node.inputs))
    return lines


def proof_lines(report, finding) -> list[str]:
    """The proof tree of one finding of `report` (assessed with `explain`): the finding, the
    facts it rests on and theirs in turn. A fact already shown higher up the same branch, or
    missing from the report, is named without its subtree. Each line is one line of text."""
    facts = {fact.id: fact for fact in report.facts or []}

    # a node is the finding, or (fact id, the facts above it on its branch)
    def content(node) -> list[str]:
        if node is finding:
            what = finding.severity if finding.kind == "risk" else "strength"
            return ([f"{finding.id}  [{what}] {' '.join(finding.title.split())}"]
                    + _made_by(finding, False))
        fact_id, above = node
        fact = facts.get(fact_id)
        if fact is None or fact_id in above:
            return [f"{fact_id}  ({'not in the report' if fact is None else 'shown above'})"]
        lines = [f"{fact.id}  (derived {fact.kind})"]
        if fact.fields:
            lines.append("  fields: " + ", ".join(
                f"{k} = {_show(v)}" for k, v in fact.fields.items()))
        return lines + _made_by(fact, True)

    def children(node):
        if node is finding:
            return [(child, ()) for child in finding.because]
        fact_id, above = node
        fact = facts.get(fact_id)
        if fact is None or fact_id in above:
            return []
        return [(child, above + (fact_id,)) for child in fact.because]

    return draw(finding, content, children)
