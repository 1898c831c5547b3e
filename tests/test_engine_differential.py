"""The rule engine gives what the rule language says, for packs nobody wrote by hand.

Rules are generated from a grammar of the language's conditions (comparisons with constants and
with an earlier pattern's fields, 'and', 'or', 'not', 'in', exists(), arithmetic), over one,
two or three patterns, some negated; cases are generated too. Each rule's findings are then
worked out a second time, in plain Python, straight from the language's meaning: every
combination of distinct facts for the positive patterns whose conditions evaluate true
(engine.lang.expr.evaluate, an absent field failing every comparison), which have every field
a negated pattern's condition reads of them (docs/rule-language.md, Absent fields), and for
which no other fact meets a negated pattern's. The two must agree, finding for finding. A translation that the
engine evaluates otherwise than it reads (as the order of a pattern's tests once made it:
tests/test_join_order.py) shows up here as a difference."""
from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from engine import assess, load_pack
from engine.core.facts import case_facts
from engine.errors import DiploError
from engine.lang import expr as ex
from engine.model import Case

from conftest import CITE, write_pack

CATEGORIES = ["personnel", "procurement", "joint_exercises"]
NUMERIC = ["amount", "prior", "real_change_pct", "share_of_total_pct", "partner_count"]
CONSTANTS = ["0", "1", "5", "9", "-10", "2.5", "100"]


@st.composite
def cases(draw) -> dict:
    lines = []
    for i in range(draw(st.integers(1, 4))):
        line = {"id": f"l{i}", "category": draw(st.sampled_from(CATEGORIES)),
                "amount": draw(st.sampled_from([0, 1, 5, 9, 9, 100]))}
        if draw(st.booleans()):
            line["prior"] = draw(st.sampled_from([1, 5, 9, 100]))
        if draw(st.booleans()):
            line["partners"] = ["P"] * draw(st.integers(1, 2))
        if draw(st.booleans()):
            line["change_reason"] = draw(st.sampled_from(["efficiency_saving",
                                                          "mandate_ended"]))
        lines.append(line)
    return {"id": "gen", "title": "Generated", "country": "G", "fiscal_year": 2027,
            "currency": "USD", "inflation_pct": draw(st.sampled_from([0, 2, 10])),
            "line_items": lines}


@st.composite
def comparison(draw, earlier: list[str], joins: bool) -> str:
    kind = draw(st.sampled_from(["number", "number", "category", "reason", "exists", "flag"]))
    if kind == "category":
        if draw(st.booleans()):
            return f"category in {draw(st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=2, unique=True))!r}"
        op = draw(st.sampled_from(["==", "!="]))
        if joins and earlier and draw(st.booleans()):
            return f"category {op} {draw(st.sampled_from(earlier))}.category"
        return f"category {op} {draw(st.sampled_from(CATEGORIES))!r}"
    if kind == "reason":
        return f"change_reason {draw(st.sampled_from(['==', '!=']))} 'efficiency_saving'"
    if kind == "exists":
        return "exists(prior)"
    if kind == "flag":
        return "programme_declared"
    field = draw(st.sampled_from(NUMERIC))
    op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
    if joins and earlier and draw(st.booleans()):
        other = f"{draw(st.sampled_from(earlier))}.{draw(st.sampled_from(NUMERIC))}"
        right = other if draw(st.booleans()) else f"{other} * 2 + 1"
    else:
        right = draw(st.sampled_from(CONSTANTS))
    return f"{field} {op} {right}"


@st.composite
def join(draw, earlier: list[str]) -> str:
    """A comparison with an earlier pattern's field."""
    other = draw(st.sampled_from(earlier))
    if draw(st.booleans()):
        return f"category {draw(st.sampled_from(['==', '!=']))} {other}.category"
    right = f"{other}.{draw(st.sampled_from(NUMERIC))}"
    if draw(st.booleans()):
        right += " * 2 + 1"
    return f"{draw(st.sampled_from(NUMERIC))} " \
           f"{draw(st.sampled_from(['==', '!=', '<', '<=', '>', '>=']))} {right}"


@st.composite
def condition(draw, earlier: list[str], depth: int = 0, top: bool = True) -> str:
    """A condition; joins (comparisons with an earlier pattern) only where the language
    allows them: in the conjunction at the top, never inside 'or' or 'not'."""
    if top and depth == 0 and earlier and draw(st.booleans()):
        # the shape that matters most to the engine: a join beside groups, in any order
        parts = [draw(join(earlier)),
                 draw(condition(earlier, 1, top=False)),
                 f"not ({draw(comparison(earlier, joins=False))})"]
        return " and ".join(f"({p})" for p in draw(st.permutations(parts)))
    if depth >= 2 or draw(st.integers(0, 2)) == 0:
        return draw(comparison(earlier, joins=top))
    op = draw(st.sampled_from(["and", "and", "or", "not"]))
    if op == "not":
        return f"not ({draw(condition(earlier, depth + 1, top=False))})"
    inner_top = top and op == "and"
    parts = [draw(condition(earlier, depth + 1, top=inner_top))
             for _ in range(draw(st.integers(2, 3)))]
    return f" {op} ".join(f"({p})" for p in parts)


@st.composite
def rules(draw) -> list[dict]:
    found = []
    for r in range(draw(st.integers(1, 3))):
        names: list[str] = []
        when = []
        for i in range(draw(st.integers(1, 3))):
            negated = i > 0 and draw(st.integers(0, 3)) == 0
            name = f"p{i}"
            pattern = {"fact": "line_item", "as": name}
            if draw(st.integers(0, 4)):
                pattern["where"] = draw(condition(list(names)))
            if negated:
                pattern = {"not": {k: v for k, v in pattern.items() if k != "as"}}
            else:
                names.append(name)
            when.append(pattern)
        found.append({"id": f"G-{r:03d}", "title": f"Generated rule {r}", "when": when,
                      "report": {"kind": "risk", "severity": "low",
                                 "concern": "engagement_limited", "message": "m"},
                      "citation": CITE})
    return found


def _holds(pattern, own: dict, bound: dict, params) -> bool:
    """Whether a fact (its fields `own`) meets a pattern, the earlier patterns bound."""
    if pattern.where is None:
        return True

    def lookup(parts):
        source = own if len(parts) == 1 else bound.get(parts[0])
        return ex.MISSING if source is None else source.get(parts[-1], ex.MISSING)
    try:
        return ex.evaluate(pattern.where, lookup, params) is True
    except ex.ExprError:
        return False


def _reads_bound(pattern, bound: dict) -> bool:
    """Whether the earlier patterns' facts have every field a pattern's condition reads of
    them: the language asks it for the rule to match at all (docs/rule-language.md, Absent
    fields), a negated pattern's condition included."""
    if pattern.where is None:
        return True
    return all(node.parts[-1] in bound.get(node.parts[0], {})
               for node in ex.walk(pattern.where)
               if isinstance(node, ex.Ref) and len(node.parts) == 2
               and node.parts[0] in bound)


def _facts_by_kind(pack, case: Case) -> dict[str, list]:
    facts: dict[str, list] = {}
    for fact in case_facts(case, pack.groups):
        facts.setdefault(fact.kind, []).append((fact.key, fact.fields))
    return facts


def _findings(rules, facts: dict[str, list]) -> set[str]:
    """The findings of reporting rules over facts by kind, as the language defines them."""
    found: set[str] = set()
    for rule in rules:
        positive = [p for p in rule.patterns if not p.negated]
        negated = [p for p in rule.patterns if p.negated]
        for combo in itertools.product(*(facts.get(p.kind, []) for p in positive)):
            taken = {(p.kind, key) for p, (key, _) in zip(positive, combo)}
            if len(taken) < len(combo):
                continue   # one fact bound twice
            bound: dict[str, dict] = {}
            for pattern, (_, fields) in zip(positive, combo):
                if not _holds(pattern, fields, bound, rule.params):
                    break
                bound[pattern.name] = fields
            else:
                if not all(_reads_bound(pattern, bound) for pattern in negated):
                    continue
                if any(_holds(pattern, fields, bound, rule.params)
                       for pattern in negated for key, fields in facts.get(pattern.kind, [])
                       if (pattern.kind, key) not in taken):
                    continue
                keys = list(dict.fromkeys(atom for key, _ in combo if key
                                          for atom in key.split("+")))
                found.add(f"{rule.id}:{'+'.join(keys)}" if keys else rule.id)
    return found


def _agree(drawn_rules: list[dict], data: dict, expected) -> None:
    """The engine's findings for the drawn rules and case are `expected(pack, case)`."""
    with tempfile.TemporaryDirectory() as scratch:
        try:
            pack = load_pack(str(write_pack(Path(scratch) / "pack", drawn_rules)))
        except DiploError as exc:
            event(f"refused: {str(exc).split(': ')[-1][:60]}")
            return   # a pack the language refuses (a type error in a generated condition)
        case = Case.model_validate(data)
        got = {f.id for f in assess(case, pack).findings}
        event(f"findings: {min(len(got), 3)}{'+' if len(got) >= 3 else ''}")
        assert got == expected(pack, case)


@settings(max_examples=120, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(rules(), cases())
def test_the_engine_finds_what_the_language_means(drawn_rules, data):
    _agree(drawn_rules, data, lambda pack, case: _findings(pack.rules,
                                                           _facts_by_kind(pack, case)))


# --- derived facts, and negation over them ---------------------------------------------------

@st.composite
def derivations(draw) -> list[dict]:
    """Rules that derive `flagged` facts from line items, and rules that report from line
    items and flagged facts, negated or not, joined on their fields."""
    found = []
    for r in range(draw(st.integers(1, 2))):
        when = [{"fact": "line_item", "as": "p0"}]
        if draw(st.integers(0, 3)):
            when[0]["where"] = draw(condition([]))
        found.append({"id": f"D-{r:03d}", "title": f"Derive {r}", "when": when,
                      "derive": {"fact": "flagged", "fields": {
                          "line": "p0.id", "category": "p0.category",
                          "amount": draw(st.sampled_from(["p0.amount", "p0.amount * 2 + 1",
                                                          "p0.amount - 5"]))}},
                      "citation": CITE})
    shapes = [
        lambda: [{"fact": "line_item", "as": "p0", "where": draw(condition([]))},
                 {"not": {"fact": "flagged", "where": "line == p0.id"}}],
        lambda: [{"fact": "flagged", "as": "p0",
                  "where": f"amount {draw(st.sampled_from(['>', '<=', '!=']))} "
                           f"{draw(st.sampled_from(CONSTANTS))}"},
                 {"fact": "line_item", "as": "p1",
                  "where": "category == p0.category and id != p0.line"}],
        lambda: [{"fact": "flagged", "as": "p0"},
                 {"not": {"fact": "line_item",
                          "where": f"amount {draw(st.sampled_from(['>', '<']))} p0.amount"}}],
        lambda: [{"fact": "line_item", "as": "p0"},
                 {"not": {"fact": "flagged",
                          "where": "category == p0.category and amount > p0.prior"}}],
    ]
    for r in range(draw(st.integers(1, 2))):
        when = draw(st.sampled_from(shapes))()
        found.append({"id": f"R-{r:03d}", "title": f"Report {r}", "when": when,
                      "report": {"kind": "risk", "severity": "low",
                                 "concern": "engagement_limited", "message": "m"},
                      "citation": CITE})
    return found


def _expected_with_derivations(pack, case: Case) -> set[str]:
    from engine.core.facts import clean_number
    facts = {"line_item": _facts_by_kind(pack, case)["line_item"], "flagged": []}
    seen: set[str] = set()
    for rule in (r for r in pack.rules if r.derive_kind):
        (pattern,) = rule.patterns   # one pattern on line items each: no chaining among them
        for key, fields in facts["line_item"]:
            if _holds(pattern, fields, {}, rule.params) and key not in seen:
                seen.add(key)
                lookup = lambda parts, f=fields: f.get(parts[-1], ex.MISSING)  # noqa: E731
                made = {name: clean_number(ex.evaluate(node, lookup, rule.params))
                        for name, node in rule.derive_fields.items()}
                facts["flagged"].append((key, {k: v for k, v in made.items()
                                               if v is not None and v is not ex.MISSING}))
    return _findings([r for r in pack.rules if not r.derive_kind], facts)


@settings(max_examples=80, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(derivations(), cases())
def test_derived_facts_and_negation_over_them_are_what_the_language_means(drawn_rules, data):
    _agree(drawn_rules, data, _expected_with_derivations)


# --- commitments, their dependencies and funding, and the case --------------------------------

@st.composite
def committed_cases(draw) -> dict:
    data = draw(cases())
    lines = [line["id"] for line in data["line_items"]]
    commitments = []
    for j in range(draw(st.integers(0, 3))):
        entry = {"id": f"c{j}", "kind": draw(st.sampled_from(["alliance", "aid_program"])),
                 "status": draw(st.sampled_from(["active", "active", "proposed"]))}
        if draw(st.booleans()):
            entry["depends_on"] = draw(st.lists(st.sampled_from(CATEGORIES), min_size=1,
                                                max_size=2, unique=True))
        if draw(st.booleans()):
            entry["funded_by"] = draw(st.lists(st.sampled_from(lines), min_size=1,
                                               max_size=2, unique=True))
        if draw(st.booleans()):
            entry["ends_year"] = draw(st.sampled_from([2027, 2028, 2035]))
        commitments.append(entry)
    data["commitments"] = commitments
    if draw(st.booleans()):
        data["threat_environment"] = draw(st.sampled_from(["low", "elevated"]))
    return data


@st.composite
def commitment_rules(draw) -> list[dict]:
    status = lambda: f"status {draw(st.sampled_from(['==', '!=']))} 'active'"  # noqa: E731
    number = lambda field: (f"{field} {draw(st.sampled_from(['<', '<=', '>', '>=', '==']))} "  # noqa: E731
                            f"{draw(st.sampled_from(CONSTANTS))}")
    shapes = [
        lambda: [{"fact": "commitment", "as": "c", "where": status()},
                 {"fact": "dependency", "as": "d",
                  "where": f"commitment == c.id and ({number('amount')} or not (funded))"}],
        lambda: [{"fact": "commitment", "as": "c",
                  "where": f"kind in ['alliance'] or {number('years_left')}"},
                 {"not": {"fact": "dependency",
                          "where": f"commitment == c.id and funded and {status()}"}}],
        lambda: [{"fact": "dependency", "as": "d", "where": status()},
                 {"fact": "line_item", "as": "l",
                  "where": f"category == d.category and amount "
                           f"{draw(st.sampled_from(['<', '>=']))} d.amount * 0.5"}],
        lambda: [{"fact": "funding", "as": "f", "where": number("amount")},
                 {"fact": "line_item", "as": "l",
                  "where": "id != f.line and category == f.category"}],
        lambda: [{"fact": "line_item", "as": "l",
                  "where": f"amount > case.inflation_pct and "
                           f"{draw(st.sampled_from(['exists(prior)', 'not (exists(prior))']))}"}],
        lambda: [{"fact": "case", "where": "threat_environment in ['elevated', 'severe']"},
                 {"fact": "commitment", "as": "c", "where": status()},
                 {"not": {"fact": "funding", "where": "commitment == c.id"}}],
    ]
    found = []
    for r in range(draw(st.integers(1, 3))):
        found.append({"id": f"C-{r:03d}", "title": f"Rule {r}",
                      "when": draw(st.sampled_from(shapes))(),
                      "report": {"kind": "risk", "severity": "low",
                                 "concern": "engagement_limited", "message": "m"},
                      "citation": CITE})
    return found


@settings(max_examples=80, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(commitment_rules(), committed_cases())
def test_commitments_dependencies_funding_and_the_case_are_what_the_language_means(
        drawn_rules, data):
    _agree(drawn_rules, data, lambda pack, case: _findings(pack.rules,
                                                           _facts_by_kind(pack, case)))


def test_a_negated_pattern_reading_a_field_an_earlier_fact_lacks_gives_no_finding(tmp_path):
    # docs/rule-language.md, Absent fields: the rule does not match an item with no prior
    folder = write_pack(tmp_path / "pack", [{
        "id": "N-001", "title": "No line above this item's prior",
        "when": [{"fact": "line_item", "as": "item"},
                 {"not": {"fact": "line_item", "where": "amount > item.prior"}}],
        "report": {"kind": "risk", "severity": "low", "concern": "engagement_limited",
                   "message": "m"}, "citation": CITE}])
    case = Case.model_validate({
        "id": "gen", "title": "G", "country": "G", "fiscal_year": 2027, "currency": "USD",
        "line_items": [{"id": "stated", "category": "personnel", "amount": 5, "prior": 50},
                       {"id": "unstated", "category": "personnel", "amount": 9}]})
    found = {f.id for f in assess(case, load_pack(str(folder))).findings}
    assert found == {"N-001:stated"}
