"""Proof trees: each finding traced through the derived facts and rules behind it down to the
case fields and parameters it used, read from the provenance recorded while the rules ran
(`assess(..., explain=True)`); nothing is re-derived."""
from __future__ import annotations

from typing import Any

from pydantic import Field

from ..errors import DiploError, UsageError
from ..formats.tree import draw
from ..inputs.validation import did_you_mean
from ..lang.pack import PackSet
from ..model import Case, Citation, FrozenModel, Report
from .edit import case_data, get_value, parse_path


class Input(FrozenModel):
    path: str
    value: Any


class ProofNode(FrozenModel):
    id: str
    kind: str                       # "finding" or the derived fact's kind
    rule: str
    pack: str
    title: str
    severity: str | None = None
    message: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict)
    citation: Citation
    parameters: dict[str, Any] = Field(default_factory=dict)
    inputs: list[Input] = Field(default_factory=list)
    because: list["ProofNode"] = Field(default_factory=list)
    # a finding's effects: the findings folded into it because they have the same cause
    effects: list[str] | None = None


def input_values(case: Case, paths: list[str]) -> list[Input]:
    data = case_data(case)
    full = case.model_dump(mode="json")
    out = []
    for path in paths:
        try:
            value = get_value(full, parse_path(path, full))
        except DiploError:
            value = None
        if isinstance(value, list):
            value = f"{len(value)} entries"
        elif value is None and get_value(data, ()) is not None:
            value = "not stated"
        out.append(Input(path=path, value=value))
    return out


def proof(report: Report, case: Case, pack: PackSet, finding_id: str | None = None
          ) -> list[ProofNode]:
    """A proof tree for each finding (or the one named), from the report's provenance."""
    if report.facts is None:
        raise UsageError("the report has no provenance: assess with explain=True")
    rules = {rule.id: rule for rule in pack.rules}
    facts = {fact.id: fact for fact in report.facts}

    def fact_node(fact_id: str, depth: int) -> ProofNode:
        fact = facts[fact_id]
        rule = rules[fact.rule]
        return ProofNode(id=fact.id, kind=fact.kind, rule=fact.rule, pack=fact.pack,
                         title=rule.title, fields=fact.fields, citation=fact.citation,
                         parameters=fact.parameters, inputs=input_values(case, fact.inputs),
                         because=[fact_node(b, depth + 1) for b in fact.because])

    findings = report.findings
    if finding_id is not None:
        # an effect folded into a finding (same cause) is explained by that finding's tree
        findings = [f for f in findings
                    if f.id == finding_id or any(e.id == finding_id for e in f.effects)]
        if not findings:
            ids = [f.id for f in report.findings]
            raise UsageError(f"no finding '{finding_id}' in this case"
                             f"{did_you_mean(finding_id, ids)}", path="FINDING_ID")
    return [ProofNode(id=f.id, kind="finding", rule=f.rule, pack=f.pack, title=f.title,
                      severity=f.severity if f.kind == "risk" else "strength",
                      message=f.message, citation=f.citation, parameters=f.parameters,
                      inputs=input_values(case, f.inputs),
                      because=[fact_node(b, 1) for b in f.because],
                      effects=[e.id for e in f.effects] or None) for f in findings]


def render_proof(nodes: list[ProofNode], width: int | None = None) -> str:
    """The proof trees as text, each line wrapped to `width` (the terminal's when not given;
    not wrapped when there is none), its branches carried down to its continuation lines."""
    from ..formats.terminal import fit_lines
    return "\n\n".join("\n".join(fit_lines(draw(node, _node_lines, lambda n: n.because), width))
                       for node in nodes) + "\n"


def _show(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _node_lines(node: ProofNode) -> list[str]:
    if node.kind == "finding":
        lines = [f"{node.id}  [{node.severity}] {node.title}", f"  {node.message}"]
        made = f"rule {node.rule}"
    else:
        lines = [f"{node.id}  (derived {node.kind})"]
        if node.fields:
            lines.append("  fields: " + ", ".join(
                f"{k} = {_show(v)}" for k, v in node.fields.items()))
        made = f"rule {node.rule} ({node.title})"
    lines.append(f"  by {made}, guidance {node.citation.section}: \"{node.citation.quote}\"")
    if node.parameters:
        lines.append("  parameters: " + ", ".join(
            f"${k} = {_show(v)}" for k, v in node.parameters.items()))
    if node.inputs:
        lines.append("  case fields: " + ", ".join(
            f"{i.path} = {_show(i.value)}" for i in node.inputs))
    if node.effects:
        lines.append("  folded into it (the same cause): " + ", ".join(node.effects))
    return lines
