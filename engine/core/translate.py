"""Translating analysed rules into durable-rules' rule language (as data: JSON-shaped rulesets):
each pattern a condition on one fact kind, each comparison an engine test, each join a
reference to an earlier pattern's field, with the engine's caps checked as rules are written.
Nothing here imports durable; engine.core.compile hands the result to it."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from ..lang import expr as ex
from ..lang.pack import PackSet, Pattern, Rule, Where
from .facts import clean_number
from .network import KIND_PREFIX, MAX_PATTERNS_PER_NODE, MAX_SEQUENCE, Network, NetworkLimit

KIND = "k"               # the fact-kind field in the engine; user fields are prefixed


STAGE = "__stage"


def kind_field(kind: str) -> str:
    """The field that marks a fact's kind in the engine (a fact of kind `x` has `t_x: 1`):
    the engine finds a condition's first test by the name of the field it reads, in a table,
    but tries the tests on one field one after another, so that a test on the kind's value
    would be tried against every kind of fact the rules match."""
    return KIND_PREFIX + kind


# every ruleset also holds a guard (every session runs an action: deleting one where none
# ran crashes) and a sink (every fact is consumed by some rule); engine.core.compile adds
# their actions
GUARD = [{"m": {kind_field("case"): 1}}]
SINK = [{"never": {kind_field("__never__"): 1}}, {"any": {"$ex": {KIND: 1}}}]


def _stage_gate(stratum: int) -> dict:
    """The binding that holds a rule of stratum > 0 until its stage fact is asserted."""
    return {"g": {"$and": [{kind_field(STAGE): 1}, {"level": stratum}]}}


MAX_JOIN_REFS = 25       # durable: at most 29 cross-fact comparisons per condition


MAX_TESTS_PER_FIELD = 400  # durable hangs with more than 512 distinct tests under one node


_INVERSE = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<",
            "in": "not in", "not in": "in"}


_MIRROR = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


_OPS = {"==": "$eq", "!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}


_COLLECTIONS = {"line_item": "line_items", "category": "line_items", "group": "line_items",
                "commitment": "commitments", "dependency": "commitments"}


@functools.lru_cache(maxsize=8192)
def _natural(path: str) -> tuple:
    """line_items[2] before line_items[10]. Cached: the same paths recur in every case."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", path))


def durable_field(name: str) -> str:
    return "f_" + name


def _fields_in(definition) -> set[str]:
    """The fact fields a compiled ruleset reads, as the packs name them."""
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key.startswith("f_"):
                    found.add(key[2:])
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, str) and node.startswith("f_"):
            found.add(node[2:])
    walk(definition)
    return found


@dataclass
class _Scope:
    aliases: dict[str, str]          # pattern name -> engine alias
    current: Pattern
    at: Where
    joins: int = 0
    referenced: set = field(default_factory=set)   # (alias, engine field) used in joins
    nested: int = 0          # inside an 'or' or a 'not'


class _ShardFull(Exception):
    """The rules do not fit in the current shard."""


def _groups(rules: list[Rule], derived_by: dict[str, list[str]]) -> list[list[int]]:
    """Rule indices grouped so that every rule deriving a fact kind and every rule using it
    are in one group; groups in the order of their first rule."""
    parent = list(range(len(rules)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, rule in enumerate(rules):
        kinds = {p.kind for p in rule.patterns if p.kind in derived_by}
        if rule.derive_kind:
            kinds.add(rule.derive_kind)
        for kind in kinds:
            if kind in owner:
                parent[find(i)] = find(owner[kind])
            else:
                owner[kind] = i
    groups: dict[int, list[int]] = {}
    for i in range(len(rules)):
        groups.setdefault(find(i), []).append(i)
    return sorted(groups.values(), key=lambda g: g[0])


class _Translator:
    def __init__(self, packset: PackSet):
        self.packset = packset
        self.tests: dict[tuple[str, str], set] = {}
        self.params: dict = {}
        self.network = Network()
        for binding in GUARD + SINK:
            for condition in binding.values():
                self.network.add(condition, "")

    def snapshot(self) -> tuple:
        return {k: set(v) for k, v in self.tests.items()}, self.network.mark()

    def restore(self, saved: tuple) -> None:
        self.tests, mark = saved
        self.network.rollback(mark)

    def rule(self, rule: Rule) -> list[dict]:
        bindings: list[dict] = []
        aliases: dict[str, str] = {}
        positive = [p for p in rule.patterns if not p.negated]
        negated = [p for p in rule.patterns if p.negated]
        if not positive:
            # a negation cannot come first: anchor the rule on the one case fact
            bindings.append({"anchor": {kind_field("case"): 1}})
        joins = 0
        referenced: set = set()
        for i, pattern in enumerate(positive + negated):
            if pattern.negated and rule.stratum > 0 and i == len(positive):
                # after the positive patterns, so the gate is rarely a rule's first condition
                bindings.append(_stage_gate(rule.stratum))
            alias = f"p{i}"
            scope = _Scope(aliases, pattern, pattern.at)
            aliases[pattern.name] = alias
            self.count_test("", KIND, pattern.kind, scope)
            cond = {kind_field(pattern.kind): 1}
            if pattern.where is not None:
                cond = {"$and": [cond, self.cond(pattern.where, scope, pattern.kind)]}
            joins += scope.joins
            referenced |= scope.referenced
            bindings.append({alias + ("$not" if pattern.negated else ""): cond})
        # A join on a field that the other fact lacks aborts the whole batch (error 311), so
        # the fact a join reads from must have the field: a comparison with it would be false.
        for binding in bindings:
            (alias, cond), = binding.items()
            needed = sorted(name for ref_alias, name in referenced if ref_alias == alias)
            if needed:
                binding[alias] = {"$and": [cond] + [{"$ex": {name: 1}} for name in needed]}
        if rule.stratum > 0 and not negated:
            bindings.append(_stage_gate(rule.stratum))
        if joins > MAX_JOIN_REFS:
            raise rule.at.error(f"the rule compares {joins} fields across facts; the engine "
                                f"allows {MAX_JOIN_REFS}")
        try:
            for binding in bindings:
                (alias, condition), = binding.items()
                binding[alias] = self.network.add(_engine_order(condition), rule.id)
        except NetworkLimit as limit:
            raise _network_error(limit, rule) from None
        return bindings

    # conditions

    def cond(self, node: ex.Node, scope: _Scope, kind: str) -> dict:
        if isinstance(node, ex.BoolOp):
            key = "$and" if node.op == "and" else "$or"
            scope.nested += node.op == "or"
            try:
                return {key: [self.cond(item, scope, kind) for item in node.items]}
            finally:
                scope.nested -= node.op == "or"
        if isinstance(node, ex.Unary) and node.op == "not":
            scope.nested += 1
            try:
                return self.negate(node.operand, scope, kind)
            finally:
                scope.nested -= 1
        if isinstance(node, ex.Call) and node.name == "exists":
            return {"$ex": {self.own_field(node.args[0], scope): 1}}
        if isinstance(node, ex.Ref):
            return {"$eq": {self.own_field(node, scope): True}}
        if isinstance(node, ex.Compare):
            return self.compare(node.op, node.left, node.right, scope, kind)
        raise scope.at.error("this condition does not test the pattern's fields", node.offset)

    def negate(self, node: ex.Node, scope: _Scope, kind: str) -> dict:
        if isinstance(node, ex.BoolOp):
            key = "$or" if node.op == "and" else "$and"
            return {key: [self.negate(item, scope, kind) for item in node.items]}
        if isinstance(node, ex.Unary) and node.op == "not":
            return self.cond(node.operand, scope, kind)
        if isinstance(node, ex.Call) and node.name == "exists":
            return {"$nex": {self.own_field(node.args[0], scope): 1}}
        if isinstance(node, ex.Ref):
            name = self.own_field(node, scope)
            return {"$or": [{"$nex": {name: 1}}, {"$eq": {name: False}}]}
        if isinstance(node, ex.Compare):
            # an absent field fails every comparison, so its negation holds
            left, right, op = self.orient(node, scope)
            name = self.own_field(left, scope)
            return {"$or": [{"$nex": {name: 1}},
                            self.compare(_INVERSE[op], left, right, scope, kind)]}
        raise scope.at.error("this condition does not test the pattern's fields", node.offset)

    def orient(self, node: ex.Compare, scope: _Scope):
        """(field, value, op) with the pattern's own field alone on the left.

        The engine compares a field of the matched fact with a value, so `amount * 2 < x`
        is solved to `amount < x / 2`, flipping the comparison where a negative factor or a
        swap of sides requires it."""
        left, right, op = node.left, node.right, node.op
        if self._own_ref(left, scope) is None:
            if self._own_ref(right, scope) is None or op not in _MIRROR:
                raise scope.at.error(
                    f"one side of '{op}' must use a field of the fact this pattern matches "
                    f"('{scope.current.name}'); move the condition to the pattern it is about",
                    node.offset)
            left, right, op = right, left, _MIRROR[op]
        target = self._own_ref(left, scope)
        while left is not target:
            if op not in _MIRROR:
                raise scope.at.error(f"the left side of '{op}' must be a plain field",
                                     left.offset)
            left, right, op = self._unwrap(left, right, op, target, scope)
        return left, right, op

    def _own_ref(self, node: ex.Node, scope: _Scope):
        return next((n for n in ex.walk(node) if isinstance(n, ex.Ref)
                     and self.is_own(n, scope)), None)

    def _unwrap(self, left, right, op, target, scope):
        def has(n):
            return any(x is target for x in ex.walk(n))
        if isinstance(left, ex.Unary) and left.op == "-":
            return left.operand, ex.Unary(right.offset, "-", right), _MIRROR[op]
        if isinstance(left, ex.Binary):
            inner, other = (left.left, left.right) if has(left.left) else (left.right,
                                                                           left.left)
            first = inner is left.left
            if left.op == "+":
                return inner, ex.Binary(left.offset, "-", right, other), op
            if left.op == "-":
                if first:
                    return inner, ex.Binary(left.offset, "+", right, other), op
                return inner, ex.Binary(left.offset, "-", other, right), _MIRROR[op]
            if any(isinstance(n, ex.Ref) for n in ex.walk(other)) or (
                    left.op == "/" and not first):
                raise scope.at.error(
                    f"cannot solve this condition for '{target.text}': it multiplies or "
                    "divides it by a field; derive the product or ratio in a 'derive' rule "
                    "and test that", left.offset)
            factor = ex.evaluate(other, lambda parts: ex.MISSING, self.params)
            if factor == 0:
                raise scope.at.error("multiplication or division by zero", other.offset)
            flip = _MIRROR[op] if factor < 0 else op
            if left.op == "*":
                return inner, ex.Binary(left.offset, "/", right, other), flip
            return inner, ex.Binary(left.offset, "*", right, other), flip
        raise scope.at.error("the left side of a comparison must be a field", left.offset)

    def compare(self, op: str, left: ex.Node, right: ex.Node, scope: _Scope, kind: str) -> dict:
        left, right, op = self.orient(ex.Compare(left.offset, op, left, right), scope)
        name = self.own_field(left, scope)
        if op in ("in", "not in"):
            values = self.constant(right, scope)
            for value in values:
                self.count_test(kind, name, value, scope)
            if op == "in":
                if not values:
                    return {"$and": [{"$ex": {name: 1}}, {"$nex": {name: 1}}]}
                return {"$or": [{"$eq": {name: self.literal(v, scope, right)}} for v in values]}
            if not values:
                return {"$ex": {name: 1}}
            return {"$and": [{"$neq": {name: self.literal(v, scope, right)}} for v in values]}
        joins = scope.joins
        rhs = self.value(right, scope)
        if not isinstance(rhs, dict):
            self.count_test(kind, name, rhs, scope)
        if scope.joins > joins:
            self._guard_join(name, rhs, scope, right)
        return {_OPS[op]: {name: rhs}}

    def _guard_join(self, name: str, rhs: dict, scope: _Scope, node: ex.Node) -> None:
        """The engine reads a comparison with another fact's field apart from the tests
        before it, and fails the whole case (error 311) when the matched fact lacks a field it
        reads. At the top of a condition the fact must then have them: an absent field fails
        the comparison, and so the condition, anyway. Inside an 'or' or a 'not' that would
        change what the condition means, so such a comparison is refused there."""
        if scope.nested:
            raise scope.at.error(
                "a comparison with another pattern's field cannot be inside 'or' or 'not': "
                "the engine fails the case when the fact lacks a field the comparison reads. "
                "Test it at the top of the condition, or in a rule of its own for each "
                "alternative", node.offset)
        own = scope.aliases[scope.current.name]
        scope.referenced.add((own, name))
        scope.referenced.update((own, field) for field in _own_fields(rhs))

    def count_test(self, kind: str, name: str, value, scope: _Scope):
        tests = self.tests.setdefault((kind, name), set())
        tests.add(repr(value))
        if len(tests) > MAX_TESTS_PER_FIELD and name == KIND:
            # every condition starts with the fact's kind: the same limit holds for kinds
            raise scope.at.error(f"the rules match more than {MAX_TESTS_PER_FIELD} kinds of "
                                 "fact that depend on one another; the engine cannot build "
                                 "such a network (derive fewer kinds of fact)")
        if len(tests) > MAX_TESTS_PER_FIELD:
            raise scope.at.error(f"the packs test {kind}.{name[2:]} against more than "
                                 f"{MAX_TESTS_PER_FIELD} different values; the engine cannot "
                                 "build such a network (use fewer distinct thresholds)")

    # values

    def is_own(self, node: ex.Node, scope: _Scope) -> bool:
        if not isinstance(node, ex.Ref):
            return False
        return len(node.parts) == 1 or node.parts[0] == scope.current.name

    def own_field(self, node: ex.Node, scope: _Scope) -> str:
        if not self.is_own(node, scope):
            raise scope.at.error(f"'{getattr(node, 'text', '?')}' must be a field of "
                                 f"'{scope.current.name}' here", node.offset)
        return durable_field(node.parts[-1])

    def constant(self, node: ex.Node, scope: _Scope):
        if any(isinstance(n, ex.Ref) for n in ex.walk(node)):
            raise scope.at.error("the right side of 'in' must be a list of values or a "
                                 "$parameter", node.offset)
        value = ex.evaluate(node, lambda parts: ex.MISSING, self.params)
        return value if isinstance(value, list) else [value]

    def literal(self, value, scope: _Scope, node: ex.Node):
        if isinstance(value, bool) or isinstance(value, str):
            return value
        if value != value or value in (float("inf"), float("-inf")):
            raise scope.at.error("the value is not a finite number", node.offset)
        if value != 0 and abs(value) < 1e-4:
            raise scope.at.error(f"{value!r} is closer to zero than 0.0001; facts are rounded "
                                 "to 0.0001, so scale the comparison", node.offset)
        return clean_number(value)

    def value(self, node: ex.Node, scope: _Scope):
        if not any(isinstance(n, ex.Ref) for n in ex.walk(node)):
            value = ex.evaluate(node, lambda parts: ex.MISSING, self.params)
            if value is ex.MISSING:
                raise scope.at.error("division by zero", node.offset)
            return self.literal(value, scope, node)
        if isinstance(node, ex.Ref):
            if self.is_own(node, scope):
                return {"$m": durable_field(node.parts[-1])}
            scope.joins += 1
            alias, name = scope.aliases[node.parts[0]], durable_field(node.parts[1])
            scope.referenced.add((alias, name))
            return {alias: name}
        if isinstance(node, ex.Unary) and node.op == "-":
            return {"$mul": {"$l": -1, "$r": self.value(node.operand, scope)}}
        if isinstance(node, ex.Binary):
            if node.op == "/":
                if any(isinstance(n, ex.Ref) for n in ex.walk(node.right)):
                    raise scope.at.error(
                        "a condition cannot divide by a field (the engine truncates and "
                        "crashes on zero); compare against a multiplication, or derive the "
                        "ratio in a 'derive' rule", node.offset)
                divisor = ex.evaluate(node.right, lambda parts: ex.MISSING, self.params)
                if divisor == 0:
                    raise scope.at.error("division by zero", node.right.offset)
                return {"$mul": {"$l": self.value(node.left, scope),
                                 "$r": self.literal(1.0 / divisor, scope, node.right)}}
            key = {"+": "$add", "-": "$sub", "*": "$mul"}[node.op]
            return {key: {"$l": self.value(node.left, scope),
                          "$r": self.value(node.right, scope)}}
        if isinstance(node, ex.Call):
            raise scope.at.error(f"{node.name}() cannot be used in a condition; compute the "
                                 "value in a 'derive' rule and test the derived field",
                                 node.offset)
        raise scope.at.error("this value cannot be used in a condition", node.offset)


# The engine keeps a pattern's tests that read other facts (joins), with the 'and' and 'or'
# groups around them, in a sequence that each group opens with its operator and closes with an
# end mark, and walks it with two flaws (durable-rules 2.0.28, events.c,
# reduceExpressionSequence): after a nested group it leaves the enclosing group without reading
# what follows, so a join after an 'or' was never tested and the rule fired without it; and a
# join that fails in an 'and' makes it skip the entry after the join before looking for the
# group's end, so a failing join just before that end read past the sequence, into whatever
# the heap held (a crash that came and went with the memory layout). So a pattern's tests are
# one flat 'and' whose 'or' groups come after every join, and which ends on a group (its last
# test that is not a join, in a group of its own, when it has no 'or'): the walk then tests
# every join, and its skip lands on that group's end mark. The tests keep their order
# otherwise, and with it the engine's network (its kind first, shared by many patterns).


def _engine_order(condition: dict) -> dict:
    """A pattern's condition, the same tests in the order the engine evaluates correctly."""
    (key, items), = condition.items()
    if key != "$and":
        return condition
    flat: list = []

    def spread(items):
        for item in items:
            (inner_key, inner), = item.items()
            if inner_key == "$and":
                spread(inner)
            else:
                flat.append(item)
    spread(items)
    if not any(_is_join(item) for item in flat):
        return condition
    plain = [item for item in flat if next(iter(item)) != "$or"]
    groups = [item for item in flat if next(iter(item)) == "$or"]
    if not groups:
        # the last test that is not a join closes the pattern, in a group of its own: it
        # stays the last test of the engine's network for the pattern, which gains no node
        last = max(i for i, item in enumerate(plain) if not _is_join(item))
        groups = [{"$and": [plain.pop(last)]}]
    return {"$and": plain + groups}


def _is_join(item: dict) -> bool:
    (key, inner), = item.items()
    if key not in _JOIN_OPS:
        return False
    (_, value), = inner.items()
    return isinstance(value, dict)


_JOIN_OPS = frozenset(_OPS.values())


def _own_fields(value) -> set[str]:
    """The matched fact's own fields ({"$m": field}) an engine value reads."""
    if isinstance(value, dict):
        found = {value["$m"]} if "$m" in value else set()
        for inner in value.values():
            found |= _own_fields(inner)
        return found
    return set()


def _rules_named(ids: list[str]) -> str:
    names = list(dict.fromkeys(i for i in ids if i))
    shown = ", ".join(names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _network_error(limit: NetworkLimit, rule: Rule):
    """A limit of the engine's network, in the pack's terms: the condition the rules share
    and which rules they are."""
    where = limit.node.describe()
    rules = _rules_named(limit.rules)
    if limit.what == "sequence":
        return rule.at.error(
            f"a pattern of this rule has too many 'and', 'or' and 'not' groups and "
            f"comparisons with other facts: the engine allows {MAX_SEQUENCE} of them in one "
            "pattern (an 'and' or 'or' counts 2). Compute part of it in a 'derive' rule, or "
            "use 'in [...]' for several values")
    if limit.what == "patterns":
        return rule.at.error(
            f"more than {MAX_PATTERNS_PER_NODE} patterns start with the same condition "
            f"({where}), in rules {rules}; the engine cannot hold more on one condition. "
            "Give some of them a more specific condition")
    if limit.what == "stack":
        kind, _, tests = where.partition(" where ")
        after = f" after {tests}" if tests else ""
        article = "an" if kind[:1] in "aeiou" else "a"
        return rule.at.error(
            f"rules {rules} make more than {limit.limit} tests on {article} {kind} fact side by "
            f"side{after}, and one fact could pass them all at once; the engine cannot "
            f"follow more than {limit.limit} at a time. Derive a value once (a band, a flag) "
            "and test that, or give these rules a more specific first test")
    if limit.what == "children":
        return rule.at.error(
            f"more than {limit.limit} different tests follow the same condition ({where}), "
            f"in rules {rules}; the engine cannot build such a network (use fewer distinct "
            "thresholds, or give the rules a more specific first test)")
    return rule.at.error(
        f"more than {limit.limit} 'not exists' tests and 'or' alternatives follow the same "
        f"condition ({where}), in rules {rules}; the engine cannot hold more (use 'in [...]' "
        "instead of several 'or', or give the rules a more specific first test)")
