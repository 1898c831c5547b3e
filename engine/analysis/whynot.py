"""Why a rule did not fire, and near misses: the same parsed conditions the compiler turned into
the rule network, evaluated against the same facts, to say which condition failed and by how
much."""
from __future__ import annotations

import itertools

from pydantic import Field

from ..core.facts import case_facts
from ..errors import UsageError
from ..inputs.validation import did_you_mean
from ..lang import expr as ex
from ..lang.pack import PackSet, Pattern
from ..model import Case, FrozenModel, NearMiss, Report

MAX_COMBINATIONS = 20_000   # bindings tried when diagnosing one rule


NEAR_MARGIN = 0.2


class Failure(FrozenModel):
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


class WhyNot(FrozenModel):
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
    # a finding folded into another by their common cause still means its rule fired
    results = [f.id for f in report.findings if f.rule == rule_id] + \
              [e.id for f in report.findings for e in f.effects if e.rule == rule_id] + \
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
            if failure.field and failure.field.endswith("_count") \
                    and failure.op in ("<", ">") and failure.gap == 0:
                # a count meets a strict bound only one whole unit past it: a count of 0 that
                # must be above 0 is one away, not at no distance
                failure = failure.model_copy(update={"gap": 1.0})
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
