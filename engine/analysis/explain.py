"""Explanations of an assessment: proof trees, why a rule did not fire, near misses, and the
smallest change to an input that clears a risk.

Proof trees are read from the provenance recorded while the rules ran (`assess(...,
explain=True)`); nothing is re-derived. Why-not and near-miss read the same parsed conditions
the compiler turned into the rule network, evaluated against the same facts, to say which
condition failed and by how much. Remedies are searched by re-assessing changed cases with the
compiled rules themselves, and each is verified that way before it is shown.
"""
from __future__ import annotations

import itertools
import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..core.facts import case_facts
from ..errors import DiploError, UsageError
from ..inputs.validation import did_you_mean
from ..lang import expr as ex
from ..lang.pack import PackSet, Pattern
from ..model import SEVERITIES, Case, Citation, NearMiss, Report
from .edit import case_data, get_value, id_path, parse_path, show_path, with_values

MAX_COMBINATIONS = 20_000   # bindings tried when diagnosing one rule
NEAR_MARGIN = 0.2


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Input(_Out):
    path: str
    value: Any


class ProofNode(_Out):
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


# --- proof trees -----------------------------------------------------------------------------

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
        findings = [f for f in findings if f.id == finding_id]
        if not findings:
            ids = [f.id for f in report.findings]
            raise UsageError(f"no finding '{finding_id}' in this case"
                             f"{did_you_mean(finding_id, ids)}", path="FINDING_ID")
    return [ProofNode(id=f.id, kind="finding", rule=f.rule, pack=f.pack, title=f.title,
                      severity=f.severity if f.kind == "risk" else "strength",
                      message=f.message, citation=f.citation, parameters=f.parameters,
                      inputs=input_values(case, f.inputs),
                      because=[fact_node(b, 1) for b in f.because]) for f in findings]


def render_proof(nodes: list[ProofNode]) -> str:
    lines: list[str] = []

    def show(value) -> str:
        if isinstance(value, float):
            return f"{value:g}"
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return str(value)

    def walk(node: ProofNode, prefix: str, last: bool, top: bool):
        head = "" if top else ("└─ " if last else "├─ ")
        pad = prefix + ("" if top else ("   " if last else "│  "))
        if node.kind == "finding":
            lines.append(f"{prefix}{head}{node.id}  [{node.severity}] {node.title}")
            lines.append(f"{pad}  {node.message}")
        else:
            lines.append(f"{prefix}{head}{node.id}  (derived {node.kind})")
            if node.fields:
                lines.append(f"{pad}  fields: " + ", ".join(
                    f"{k} = {show(v)}" for k, v in node.fields.items()))
        made = f"rule {node.rule}" if node.kind == "finding" else \
            f"rule {node.rule} ({node.title})"
        lines.append(f"{pad}  by {made}, guidance {node.citation.section}: "
                     f"\"{node.citation.quote}\"")
        if node.parameters:
            lines.append(f"{pad}  parameters: " + ", ".join(
                f"${k} = {show(v)}" for k, v in node.parameters.items()))
        if node.inputs:
            lines.append(f"{pad}  case fields: " + ", ".join(
                f"{i.path} = {show(i.value)}" for i in node.inputs))
        for j, child in enumerate(node.because):
            walk(child, pad, j == len(node.because) - 1, False)

    for i, node in enumerate(nodes):
        if i:
            lines.append("")
        walk(node, "", True, True)
    return "\n".join(lines) + "\n"


# --- why a rule did not fire -------------------------------------------------------------------

class Failure(_Out):
    """One condition that a candidate fact did not meet."""

    fact: str
    condition: str
    detail: str
    field: str | None = None
    value: float | None = None
    threshold: float | None = None
    op: str | None = None
    gap: float | None = None          # how far the value is from meeting the condition
    failed_conditions: int = 1        # of the pattern's conditions, how many this fact failed


class WhyNot(_Out):
    rule: str
    title: str
    fired: bool
    results: list[str] = Field(default_factory=list)     # what it produced, when it fired
    pattern: str | None = None        # the pattern no fact satisfied
    reason: str
    failures: list[Failure] = Field(default_factory=list)
    upstream: list["WhyNot"] = Field(default_factory=list)


def _conjuncts(node: ex.Node) -> list[ex.Node]:
    if isinstance(node, ex.BoolOp) and node.op == "and":
        return [c for item in node.items for c in _conjuncts(item)]
    return [node]


class _Facts:
    """The facts of one assessed case by kind: the case's own and those the rules derived."""

    def __init__(self, case: Case, pack: PackSet, report: Report):
        self.by_kind: dict[str, list[tuple[str, dict]]] = {}
        for fact in case_facts(case, pack.groups):
            self.by_kind.setdefault(fact.kind, []).append((fact.id, fact.fields))
        for fact in report.facts or []:
            self.by_kind.setdefault(fact.kind, []).append((fact.id, fact.fields))

    def of(self, kind: str) -> list[tuple[str, dict]]:
        return self.by_kind.get(kind, [])


def _lookup(bound: dict[str, dict], current: str | None, params):
    def lookup(parts):
        if len(parts) == 1:
            fields = bound.get(current, {})
            return fields.get(parts[0], ex.MISSING)
        fields = bound.get(parts[0])
        if fields is None:
            return ex.MISSING
        return fields.get(parts[1], ex.MISSING)
    return lookup


def _failure(fact_id: str, node: ex.Node, lookup, params) -> Failure:
    text = ex.unparse(node)
    if isinstance(node, ex.Compare) and node.op in ("<", "<=", ">", ">=", "==", "!="):
        left = ex.evaluate(node.left, lookup, params)
        right = ex.evaluate(node.right, lookup, params)
        if left is ex.MISSING or right is ex.MISSING:
            missing = ex.unparse(node.left if left is ex.MISSING else node.right)
            return Failure(fact=fact_id, condition=text, detail=f"{missing} is not stated")
        if isinstance(left, (int, float)) and isinstance(right, (int, float)) \
                and not isinstance(left, bool) and node.op not in ("==", "!="):
            gap = abs(left - right)
            return Failure(fact=fact_id, condition=text, field=ex.unparse(node.left),
                           value=left, threshold=right, op=node.op, gap=gap,
                           detail=f"{ex.unparse(node.left)} is {_num(left)}; it must be {node.op} "
                                  f"{_num(right)} ({_num(gap)} away)")
        return Failure(fact=fact_id, condition=text,
                       detail=f"{ex.unparse(node.left)} is {left!r}, not {node.op} {right!r}")
    if isinstance(node, ex.Compare) and node.op in ("in", "not in"):
        left = ex.evaluate(node.left, lookup, params)
        shown = "not stated" if left is ex.MISSING else repr(left)
        return Failure(fact=fact_id, condition=text,
                       detail=f"{ex.unparse(node.left)} is {shown}, not {node.op} "
                              f"{ex.unparse(node.right)}")
    return Failure(fact=fact_id, condition=text, detail=f"{text} does not hold")


def why_not(rule_id: str, case: Case, pack: PackSet, report: Report, *, depth: int = 0,
            facts: "_Facts | None" = None) -> WhyNot:
    """Why `rule_id` did (or did not) fire on this assessed case (report with explain=True)."""
    rules = {rule.id: rule for rule in pack.rules}
    rule = rules.get(rule_id)
    if rule is None:
        raise UsageError(f"no loaded rule '{rule_id}'{did_you_mean(rule_id, rules)}",
                         path="--rule")
    results = [f.id for f in report.findings if f.rule == rule_id] + \
              [f.id for f in report.facts or [] if f.rule == rule_id]
    if results:
        return WhyNot(rule=rule.id, title=rule.title, fired=True, results=results,
                      reason=f"{rule.id} fired {len(results)} time(s)")
    facts = facts or _Facts(case, pack, report)
    params = dict(rule.params)
    positive = [p for p in rule.patterns if not p.negated]
    negated = [p for p in rule.patterns if p.negated]
    deepest: dict = {"index": -1, "failures": [], "pattern": None, "blocked": []}
    combinations = itertools.count()

    def matches(pattern: Pattern, fields: dict, bound: dict) -> list[ex.Node]:
        """The conjuncts of the pattern's condition that fail for a fact (empty: it matches)."""
        if pattern.where is None:
            return []
        scope = dict(bound)
        scope[pattern.name] = fields
        lookup = _lookup(scope, pattern.name, params)
        return [c for c in _conjuncts(pattern.where) if ex.evaluate(c, lookup, params) is not True]

    def search(i: int, bound: dict) -> bool:
        if next(combinations) > MAX_COMBINATIONS:
            return False
        if i == len(positive):
            blockers = []
            for pattern in negated:
                for fact_id, fields in facts.of(pattern.kind):
                    if not matches(pattern, fields, bound):
                        blockers.append(fact_id)
            if blockers:
                if deepest["index"] <= i:
                    deepest.update(index=i, failures=[], pattern=None, blocked=blockers)
                return False
            return True
        pattern = positive[i]
        candidates = facts.of(pattern.kind)
        failures = []
        for fact_id, fields in candidates:
            failed = matches(pattern, fields, bound)
            if not failed:
                if search(i + 1, {**bound, pattern.name: fields}):
                    return True
                continue
            scope = {**bound, pattern.name: fields}
            failures.append(_failure(fact_id, failed[0], _lookup(scope, pattern.name, params),
                                     params).model_copy(update={"failed_conditions": len(failed)}))
        if i > deepest["index"] or (i == deepest["index"] and not deepest["blocked"]):
            deepest.update(index=i, failures=failures, pattern=pattern, blocked=[])
        return False

    if search(0, {}):
        return WhyNot(rule=rule.id, title=rule.title, fired=False,
                      reason="its conditions hold for these facts, but the rule did not fire: "
                             "report this as a bug")
    pattern: Pattern | None = deepest["pattern"]
    upstream = []
    if deepest["blocked"]:
        reason = ("a 'not' pattern is contradicted by "
                  + ", ".join(deepest["blocked"][:5]))
        return WhyNot(rule=rule.id, title=rule.title, fired=False, reason=reason)
    described = f"{pattern.kind}" + (f" where {ex.unparse(pattern.where)}" if pattern.where else "")
    if not facts.of(pattern.kind):
        reason = f"no {pattern.kind} fact exists"
        if depth < 3 and pattern.kind in pack.derived_by:
            upstream = [why_not(r, case, pack, report, depth=depth + 1, facts=facts)
                        for r in pack.derived_by[pattern.kind]]
            reason += f" (derived by {', '.join(pack.derived_by[pattern.kind])})"
    else:
        where = ex.unparse(pattern.where) if pattern.where else ""
        reason = f"no {pattern.kind} fact meets: {where}"
    return WhyNot(rule=rule.id, title=rule.title, fired=False, pattern=described,
                  reason=reason, failures=deepest["failures"], upstream=upstream)


def render_why_not(result: WhyNot, indent: str = "") -> str:
    lines = [f"{indent}{result.rule} ({result.title}): "
             + ("fired: " + ", ".join(result.results) if result.fired
                else f"did not fire: {result.reason}")]
    for failure in result.failures:
        lines.append(f"{indent}  {failure.fact}: {failure.detail}")
    for up in result.upstream:
        lines.append(render_why_not(up, indent + "  ").rstrip("\n"))
    return "\n".join(lines) + "\n"


# --- near misses ---------------------------------------------------------------------------------

def near_misses(case: Case, pack: PackSet, report: Report, *, margin: float = NEAR_MARGIN
                ) -> list[NearMiss]:
    """Rules that did not fire because one numeric condition fell short by at most `margin`
    of its threshold."""
    found = []
    facts = _Facts(case, pack, report)   # once: every rule is diagnosed on the same facts
    for rule in pack.rules:
        result = why_not(rule.id, case, pack, report, depth=3, facts=facts)
        if result.fired:
            continue
        for failure in result.failures:
            if failure.gap is None or failure.threshold is None:
                continue
            scale = abs(failure.threshold) or 1.0
            # a fact that fails another condition too is not near
            if failure.gap > margin * scale or failure.failed_conditions != 1:
                continue
            found.append(NearMiss(
                rule=rule.id, title=rule.title, fact=failure.fact, condition=failure.condition,
                field=failure.field, value=failure.value, threshold=failure.threshold,
                op=failure.op, gap=failure.gap,
                message=f"{_subject(failure.fact)}: {failure.field} is {_num(failure.value)}; "
                        f"{rule.id} ({rule.title}) starts at {failure.op} "
                        f"{_num(failure.threshold)}, {_num(failure.gap)} away"))
    return sorted(found, key=lambda n: (n.rule, n.fact))


def _num(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _subject(fact_id: str) -> str:
    return fact_id.split(":", 1)[1] if ":" in fact_id else fact_id


# --- the change that clears a risk ---------------------------------------------------------------

# inputs a proposal can change: this year's amounts and the stated economic and transparency
# figures; last year's amounts and earlier totals are history, not levers
_LEVERS = re.compile(r"^(line_items\[\d+\]\.amount|total\.amount|gdp|inflation_pct|"
                     r"transparency\.(secret_share_pct|off_budget_share_pct))$")
_BOUNDS = {"inflation_pct": (-50.0, 1000.0), "transparency.secret_share_pct": (0.0, 100.0),
           "transparency.off_budget_share_pct": (0.0, 100.0)}
MAX_LEVERS = 8
_STEPS = (0.01, 0.03, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0)   # shares of the way to a bound


class Remedy(_Out):
    path: str                 # by id: line_items.multinational-exercises.amount
    current: float
    value: float              # the nearest value at which the finding is gone
    change: float
    verified: bool            # re-assessed at `value`: the finding is gone
    message: str


class Remedies(_Out):
    finding: str
    title: str
    remedies: list[Remedy]
    note: str | None = None   # why no single change clears it, when none does


def _inputs_of(report: Report, finding) -> list[str]:
    facts = {fact.id: fact for fact in report.facts or []}
    seen, paths, todo = set(), list(finding.inputs), list(finding.because)
    while todo:
        fact = facts.get(todo.pop(0))
        if fact is None or fact.id in seen:
            continue
        seen.add(fact.id)
        paths.extend(fact.inputs)
        todo.extend(fact.because)
    return list(dict.fromkeys(p for p in paths if _LEVERS.match(p)))


def remedies(case: Case, pack: PackSet, report: Report, *, finding_id: str | None = None,
             assess=None) -> list[Remedies]:
    """For each risk (or the one named), the smallest change to one input that clears it,
    found by re-assessing changed cases and verified the same way."""
    if assess is None:
        from ..core.run import assess
    results = []
    for finding in report.findings:
        if finding.kind != "risk" or (finding_id is not None and finding.id != finding_id):
            continue
        levers = _inputs_of(report, finding)[:MAX_LEVERS]
        found = []
        for path in levers:
            remedy = _search(case, pack, report, finding,
                             show_path(id_path(path, case_data(case))), assess)
            if remedy is not None:
                found.append(remedy)
        found.sort(key=lambda r: abs(r.change) / (abs(r.current) or 1.0))
        note = None
        if not found:
            note = ("no change to a single amount, total, GDP, inflation or share clears it"
                    if levers else "it rests on no amount, total, GDP, inflation or share that "
                    "could be changed (it depends on what the case has or lacks)")
        results.append(Remedies(finding=finding.id, title=finding.title, remedies=found,
                                note=note))
    return results


def changed_case(case: Case, path: str, value: float) -> Case:
    """The case with one input changed. Money restored to (or taken from) a line moves a
    stated total with it, so that the line items never exceed the total."""
    changes: dict = {path: value}
    if path.startswith("line_items.") and path.endswith(".amount") and case.total is not None:
        full = case_data(case)
        delta = value - get_value(full, parse_path(path, full))
        changes["total.amount"] = max(0.0, case.total.amount + delta)
    return with_values(case, changes)


def _search(case: Case, pack: PackSet, report: Report, finding, path: str, assess
            ) -> Remedy | None:
    full = case_data(case)
    current = get_value(full, parse_path(path, full))
    if not isinstance(current, (int, float)) or isinstance(current, bool):
        return None
    low, high = _BOUNDS.get(path, (0.0, max(4.0 * current, current + 100.0)))
    rank = SEVERITIES.index(finding.severity)

    def serious(findings) -> int:
        return sum(f.kind == "risk" and SEVERITIES.index(f.severity) >= rank for f in findings)

    baseline = serious(report.findings)

    def present(value: float) -> bool:
        """Whether the flag stays: it does unless the finding is gone and the case has fewer
        risks at least as serious (moving a share into a worse band clears nothing; a high
        risk becoming a medium one does)."""
        try:
            findings = assess(changed_case(case, path, value), pack).findings
        except DiploError:
            return True  # a change the case cannot hold clears nothing
        return any(f.id == finding.id for f in findings) or serious(findings) >= baseline

    best = None
    for bound in (high, low):
        if bound == current:
            continue
        # step outwards, so that a side effect far away (a volatile total at four times the
        # amount) cannot hide the nearer value that clears the flag
        inside, outside = current, None
        for share in _STEPS:
            probe = current + (bound - current) * share
            if not present(probe):
                outside = probe
                break
            inside = probe
        if outside is None:
            continue
        tolerance = max(abs(outside - inside) * 1e-5, 0.001)
        while abs(outside - inside) > tolerance:
            middle = (inside + outside) / 2
            if present(middle):
                inside = middle
            else:
                outside = middle
        value = _round_towards(outside, inside)
        if present(value):
            value = outside
        if best is None or abs(value - current) < abs(best - current):
            best = value
    if best is None:
        return None
    verified = not present(best)
    change = best - current
    verb = "raise" if change > 0 else "lower"
    unit = _unit_of(path, case)
    return Remedy(path=path, current=current, value=best, change=change, verified=verified,
                  message=f"{verb} {path} from {_exact(current)} to {_exact(best)} "
                          f"({'+' if change > 0 else ''}{_exact(change)}{unit})")


def _unit_of(path: str, case: Case) -> str:
    if path.endswith("_pct"):
        return " points"
    scale = "" if case.unit == "one" else f" {case.unit}"
    return f"{scale} {case.currency}"


def _exact(value: float) -> str:
    """Two decimals at most: a remedy's value is the one that was verified, not a rounding."""
    text = f"{value:,.2f}"
    return text.rstrip("0").rstrip(".")


def _round_towards(value: float, away_from: float) -> float:
    """`value` rounded to two decimals, on the side away from `away_from`."""
    scaled = value * 100
    rounded = math.ceil(scaled) if value > away_from else math.floor(scaled)
    return rounded / 100


def render_remedies(items: list[Remedies], unit: str = "") -> str:
    lines = []
    for item in items:
        lines.append(f"{item.finding}  {item.title}")
        if item.note:
            lines.append(f"  {item.note}")
        for remedy in item.remedies:
            mark = "" if remedy.verified else "  (not verified)"
            lines.append(f"  {remedy.message}{mark}")
    return "\n".join(lines) + "\n"


# --- one call for the command line ------------------------------------------------------------

class Explanation(_Out):
    case: str
    source: str | None = None
    proofs: list[ProofNode] | None = None
    why_not: WhyNot | None = None
    remedies: list[Remedies] | None = None

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, exclude_none=True) + "\n"


def explain_case(case: Case, pack: PackSet, *, finding_id: str | None = None,
                 rule: str | None = None, with_remedies: bool = False) -> Explanation:
    """Proof trees (all findings or one), or why a rule did not fire, and optionally the
    changes that clear each risk."""
    from ..core.run import assess
    report = assess(case, pack, explain=True)
    proofs = why = fixes = None
    if rule is not None:
        why = why_not(rule, case, pack, report)
    else:
        proofs = proof(report, case, pack, finding_id)
    if with_remedies:
        fixes = remedies(case, pack, report, finding_id=finding_id)
    return Explanation(case=case.id, source=case.source, proofs=proofs, why_not=why,
                       remedies=fixes)


def render_explanation(explanation: Explanation) -> str:
    parts = []
    if explanation.proofs is not None:
        parts.append(render_proof(explanation.proofs) if explanation.proofs
                     else "No findings to explain.\n")
    if explanation.why_not is not None:
        parts.append(render_why_not(explanation.why_not))
    if explanation.remedies is not None:
        parts.append("Changes that clear each risk (each verified by assessing the changed "
                     "case):\n" + (render_remedies(explanation.remedies)
                                    if explanation.remedies else "No risks.\n"))
    return "\n".join(parts)
