"""The workload in zen-engine: a JSON Decision Model of expression nodes, one per layer.

zen-engine evaluates a decision graph once, front to back; it has no working memory and no
forward chaining. So the layers are nodes in sequence (input -> thresholds -> layer 1 ->
layer 2 -> flags -> output), each computing lists with ZEN expressions: `filter` and `map`
over the line items for layer 1, nested `flatMap`/`filter` over the dependencies (joins on
category, one on commitment) for layer 2 with `none(...)` and plain comparisons on the
transparency measures for the negations, and joins on commitment or category for the flags.
Per-category thresholds are lookup tables built by the first node. The case dict's
conversion into the decision's input (with the values of the specification computed in
Python) and reading the result back are part of the timed work.

The same fact derived twice appears twice in a list here (zen has no identity of facts); a
flag's pair is returned as [rule, key a, key b], and the canonical set, built in Python with
repeated atoms dropped from the key, is the same as the other engines'.
"""
from __future__ import annotations

import json

import zen

try:
    from . import workload as w
except ImportError:  # loaded as a top-level module
    import workload as w  # type: ignore[no-redef]

P = w.PARAMS


def _table(values: dict) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in values.items()) + "}"


def _node(node_id: str, expressions: list[tuple[str, str]], pass_through: bool) -> dict:
    return {"id": node_id, "name": node_id, "type": "expressionNode",
            "position": {"x": 0, "y": 0},
            "content": {"expressions": [{"id": f"{node_id}-{i}", "key": k, "value": v}
                                        for i, (k, v) in enumerate(expressions)],
                        "passThrough": pass_through, "inputField": None, "outputPath": None,
                        "executionMode": "single"}}


def _derive2(x_list: str, dep_filter: str, extra: str = "") -> str:
    """Layer 2: each fact of x_list joined with the dependencies on its category."""
    cond = "d.category == x.category" + (f" and {dep_filter}" if dep_filter else "")
    return (f"flatMap({x_list} as x, map(filter(deps as d, {cond}) as d, "
            f"{{key: x.line + '+' + d.key{extra}, commitment: d.commitment, "
            "category: d.category}))")


def _pairs(rule: str, a_list: str, b_list: str, cond: str) -> str:
    return (f"flatMap({a_list} as a, map(filter({b_list} as b, {cond}) as b, "
            f"['{rule}', a.key, b.key]))")


def decision_content(full: bool) -> str:
    deep = P["deep_cut_pct"]
    engagement = ", ".join(f"'{c}'" for c in P["engagement_categories"])
    thresholds = [
        ("cutMax", _table({c: -P[f"cut_{c}_pct"] for c in w.CATEGORIES})),
        ("riseMin", _table({c: P[f"rise_{c}_pct"] for c in w.CATEGORIES})),
        ("floorShare", _table({c: P[f"floor_{c}_share_pct"] for c in w.FLOOR_CATEGORIES})),
    ]
    line = "{line: x.id, category: x.category}"
    real = "x.real_change_pct"
    layer1 = [
        ("cut", f"map(filter(lines as x, {real} != null and (({real} <= cutMax[x.category] "
                f"and {real} > -{deep}) or {real} <= -{deep})) as x, {line})"),
        ("increase", f"map(filter(lines as x, x.real_change_pct != null and "
                     f"x.real_change_pct >= riseMin[x.category]) as x, {line})"),
        ("underfunded", f"map(filter(lines as x, (floorShare[x.category] != null and "
                        f"x.share_of_total_pct < floorShare[x.category]) or (x.amount == 0 and "
                        f"x.prior != null and x.prior > 0)) as x, {line})"),
        ("new_programme", f"map(filter(lines as x, x.is_new == true and "
                          f"x.category in [{engagement}]) as x, {line})"),
        ("squeezed", f"map(filter(lines as x, x.change_pct != null and x.change_pct >= 0 and "
                     f"x.real_change_pct <= -{P['squeeze_pct']}) as x, {line})"),
        ("surge", f"total_real != null and total_real <= {P['surge_total_max_pct']} ? "
                  f"map(filter(lines as x, {real} != null and {real} >= {P['surge_pct']}) "
                  f"as x, {line}) : []"),
    ]
    no_review = "t.legislative_review != true"
    layer2 = [
        ("exposed", "flatten([" + ", ".join([
            _derive2("cut", "d.status == 'active'"),
            _derive2("squeezed", "d.status == 'active'"),
            _derive2("underfunded", "d.kind == 'peacekeeping_mandate' and d.status != 'ending'"),
        ]) + "])"),
        ("undermined", "flatten([" + ", ".join([
            _derive2("cut", "d.status == 'proposed'"),
            _derive2("underfunded", "d.status == 'proposed'"),
        ]) + "])"),
        ("unfunded", "flatten([" + ", ".join([
            _derive2("underfunded", "d.status == 'active'"),
            _derive2("filter(squeezed as s, none(increase as i, i.category == s.category))",
                     "d.status != 'ending'"),
        ]) + "])"),
        ("unscrutinised", "flatten([" + ", ".join([
            f"{no_review} ? " + _derive2("cut", "") + " : []",
            "t.audit_reports_published != true ? "
            + _derive2("underfunded", "d.status == 'active'") + " : []",
            "t.external_audit != 'financial_and_performance' ? "
            + _derive2("cut", "d.kind in ['alliance', 'security_agreement']") + " : []",
        ]) + "])"),
        ("opaque_growth", "flatten([" + ", ".join([
            "t.budget_publication != 'disaggregated' ? " + _derive2("increase", "") + " : []",
            f"{no_review} ? " + _derive2("surge", "") + " : []",
        ]) + "])"),
        ("backed", "flatten([" + ", ".join([
            _derive2("filter(increase as i, none(cut as c, c.category == i.category))",
                     "d.status == 'active'"),
            _derive2("new_programme", "d.status == 'proposed'"),
        ]) + "])"),
        ("wind_down",
         "flatMap(cut as x, flatMap(filter(deps as d, d.category == x.category and "
         "d.status == 'ending') as d, map(filter(commitments as m, m.id == d.commitment and "
         f"m.years_left != null and m.years_left <= {P['wind_down_years']}) as m, "
         "{key: x.line + '+' + d.key + '+' + m.id, commitment: d.commitment, "
         "category: d.category})))"),
    ]
    flags = [("flags", "flatten([" + ", ".join([
        _pairs("PB-FLG-01", "exposed", "unscrutinised", "b.commitment == a.commitment"),
        _pairs("PB-FLG-02", "exposed", "unfunded",
               "b.commitment == a.commitment and b.category != a.category"),
        _pairs("PB-FLG-03", "undermined", "opaque_growth", "b.commitment == a.commitment"),
        _pairs("PB-FLG-04", "backed", "exposed", "b.commitment == a.commitment"),
        _pairs("PB-FLG-05", "wind_down", "opaque_growth", "b.category == a.category"),
    ]) + "])")]
    if full:
        flags += [(k, k) for k in w.LAYER1_KINDS + w.LAYER2_KINDS]
    nodes = [
        {"id": "input", "name": "input", "type": "inputNode", "position": {"x": 0, "y": 0}},
        _node("thresholds", thresholds, True),
        _node("layer1", layer1, True),
        _node("layer2", layer2, True),
        _node("layer3", flags, False),
        {"id": "output", "name": "output", "type": "outputNode", "position": {"x": 0, "y": 0}},
    ]
    order = [n["id"] for n in nodes]
    edges = [{"id": f"e{i}", "sourceId": a, "targetId": b, "type": "edge"}
             for i, (a, b) in enumerate(zip(order, order[1:]))]
    return json.dumps({"nodes": nodes, "edges": edges})


class ZenWorkload:
    """The decision graphs (flags only, and everything) loaded once; `assess(case)`.

    The graphs are served by the engine's static loader and evaluated by key: in zen-engine
    2.1 that is about twice as fast per call as `ZenDecision.evaluate` on a decision made
    with `create_decision` (measured on this workload)."""

    name = "zen"

    def __init__(self):
        self.engine = zen.ZenEngine({"loader": {"type": "static", "content": {
            "flags": json.loads(decision_content(full=False)),
            "full": json.loads(decision_content(full=True))}}})
        self.evaluate = self.engine.evaluate

    @staticmethod
    def context(case: dict) -> dict:
        head, lines, commitments, deps, t = w.case_values(case)
        return {"total_real": head["total_real_change_pct"], "lines": lines,
                "commitments": commitments, "deps": deps, "t": t}

    def assess(self, case: dict, full: bool = False) -> frozenset:
        result = self.evaluate("full" if full else "flags", self.context(case))["result"]
        join = w.join_key
        flags = [f"{rule}:{join(a, b)}" for rule, a, b in result["flags"]]
        if not full:
            return frozenset(("flag", f) for f in flags)
        facts = [f"{kind}:{item['line']}" for kind in w.LAYER1_KINDS for item in result[kind]]
        facts += [f"{kind}:{item['key']}" for kind in w.LAYER2_KINDS for item in result[kind]]
        return w.canonical(facts, flags)
