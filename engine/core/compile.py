"""Compiling analysed rule packs onto durable_rules, and running one case through them.

This is the only module that imports durable_rules. It contains the engine's known failure
modes (see docs/rule-language.md, "How packs run"):

* no background threads: the Host's timer dispatcher is never started;
* every session runs at least one action (a guard rule on the case fact), because deleting a
  session in which nothing fired frees an uninitialised pointer;
* every fact is consumed (a sink rule), so no fact raises "not handled";
* a case is asserted as one batch; one session serves up to SESSION_CASES cases in turn
  (creating and deleting a session cost a third of a case): after each case its facts are
  retracted, stage facts first so that no retraction can activate a rule, and after any
  failure the session is given up; never more than one open at a time per compiled pack
  (a lock), far below the engine's cap of 1024 live sessions;
* actions are driven through the engine's native calls, without durable's per-action
  closure, state re-serialisation and clock reads, which cost more than diplo's actions;
* only the fields some condition reads are sent to the engine;
* no integer division is ever compiled (division by a field is refused, by a constant becomes a
  multiplication), so division by zero cannot reach the engine;
* every number given to the engine is finite, within int64 and never in bare exponent form;
* negation is stratified: the engine never withdraws an activation when a blocking fact
  arrives later, so a rule with a 'not' waits for a stage fact that is asserted only after
  every fact of the negated kind exists (the case's facts, then each stratum's derivations);
* aliases are generated, so no binding can shadow the engine's own names;
* action errors are caught in the action and raised after the run, never swallowed.
"""
from __future__ import annotations

import functools
import itertools
import json
import re
import threading
import traceback
import weakref
from dataclasses import dataclass, field

import orjson as _orjson

from ..errors import CaseError, EngineFailure, PackError
from ..lang import expr as ex
from ..lang.pack import PackSet, Pattern, Rule, Where
from ..lang.template import Template
from .facts import Fact, clean_number

try:
    import durable_rules_engine as _native
    from durable import engine as _durable
except ImportError as _exc:  # pragma: no cover - depends on the interpreter
    raise ImportError(
        "diplo needs durable-rules 2.0.28, which runs on Python 3.11 and 3.12 only "
        f"(this is Python {__import__('sys').version.split()[0]}): {_exc}") from _exc

KIND = "k"               # the fact-kind field in the engine; user fields are prefixed
STAGE = "__stage"
MAX_JOIN_REFS = 25       # durable: at most 29 cross-fact comparisons per condition
MAX_TESTS_PER_FIELD = 400  # durable hangs with more than 512 distinct tests under one node
MAX_LEAKED_SESSIONS = 64
MAX_RESULTS = 10_000       # findings and derived facts of one case: beyond, joins multiply
SESSION_CASES = 1000       # cases one session serves before a fresh one (bounds any leftover)
MAX_SHARD_RULES = 4000     # durable: 4096 actions per ruleset, ours (guard, sink) included
MAX_SHARED_JOIN_HEADS = 250  # durable: error 108 past 256 joins on one identical condition

_ruleset_names = itertools.count(1)
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


def _dumps(value) -> str:
    # facts and messages cross into the engine as JSON for every fact and every action:
    # orjson does that several times faster than the standard library, with the same text
    # for the numbers diplo sends (finite, rounded, within int64; see clean_number)
    return _orjson.dumps(value).decode()


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


class _QuietHost(_durable.Host):
    """A Host without the background dispatcher threads, which crash the process."""

    def _run(self):
        pass


# --- per-case state ---------------------------------------------------------------------------

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

    __slots__ = ("id", "rule", "subjects", "message", "remediation", "bound")

    def __init__(self, id: str, rule: Rule, subjects: tuple, message: str,
                 remediation: str | None, bound: tuple):
        self.id = id
        self.rule = rule
        self.subjects = subjects
        self.message = message
        self.remediation = remediation
        self.bound = bound


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


# --- translation --------------------------------------------------------------------------------

@dataclass
class _Scope:
    aliases: dict[str, str]          # pattern name -> engine alias
    current: Pattern
    at: Where
    joins: int = 0
    referenced: set = field(default_factory=set)   # (alias, engine field) used in joins


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
        self.join_heads: dict[str, int] = {}

    def snapshot(self) -> tuple:
        return {k: set(v) for k, v in self.tests.items()}, dict(self.join_heads)

    def restore(self, saved: tuple) -> None:
        self.tests, self.join_heads = saved

    def rule(self, rule: Rule) -> list[dict]:
        bindings: list[dict] = []
        aliases: dict[str, str] = {}
        positive = [p for p in rule.patterns if not p.negated]
        negated = [p for p in rule.patterns if p.negated]
        if not positive:
            # a negation cannot come first: anchor the rule on the one case fact
            bindings.append({"anchor": {KIND: "case"}})
        joins = 0
        referenced: set = set()
        for i, pattern in enumerate(positive + negated):
            if pattern.negated and rule.stratum > 0 and i == len(positive):
                # after the positive patterns, so the gate is rarely a rule's first condition
                bindings.append({"g": {"$and": [{KIND: STAGE}, {"level": rule.stratum}]}})
            alias = f"p{i}"
            scope = _Scope(aliases, pattern, pattern.at)
            aliases[pattern.name] = alias
            self.count_test("", KIND, pattern.kind, scope)
            cond = {KIND: pattern.kind}
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
            bindings.append({"g": {"$and": [{KIND: STAGE}, {"level": rule.stratum}]}})
        if joins > MAX_JOIN_REFS:
            raise rule.at.error(f"the rule compares {joins} fields across facts; the engine "
                                f"allows {MAX_JOIN_REFS}")
        if len(bindings) > 1:
            first = json.dumps(next(iter(bindings[0].values())), sort_keys=True)
            self.join_heads[first] = self.join_heads.get(first, 0) + 1
            if self.join_heads[first] > MAX_SHARED_JOIN_HEADS:
                raise rule.at.error(
                    f"more than {MAX_SHARED_JOIN_HEADS} rules with several patterns start with "
                    f"the same condition ({first}); the engine cannot hold more. Give some of "
                    "them a more specific first pattern")
        return bindings

    # conditions

    def cond(self, node: ex.Node, scope: _Scope, kind: str) -> dict:
        if isinstance(node, ex.BoolOp):
            key = "$and" if node.op == "and" else "$or"
            return {key: [self.cond(item, scope, kind) for item in node.items]}
        if isinstance(node, ex.Unary) and node.op == "not":
            return self.negate(node.operand, scope, kind)
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
        rhs = self.value(right, scope)
        if not isinstance(rhs, dict):
            self.count_test(kind, name, rhs, scope)
        return {_OPS[op]: {name: rhs}}

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


# --- the compiled pack -----------------------------------------------------------------------------

class _Session:
    """A shard's session kept open between cases: apart from the shard, so that deleting it
    when the compiled pack goes needs nothing that refers back to the pack."""

    __slots__ = ("handle", "sid", "guarded", "cases")

    def __init__(self):
        self.handle = None
        self.sid: str | None = None
        self.guarded = False     # an action ran in the current case
        self.cases = 0           # cases the session has served


class _Shard:
    """One durable ruleset holding some of a pack set's rules, with the session it keeps
    open between cases. Rules that derive a fact and the rules that use it are always in
    the same shard, so each shard runs a case on its own."""

    def __init__(self, name: str, entries: dict[str, dict], kinds: set[str], counted):
        self.name = name

        def guard(matched):
            self.session.guarded = True
            counted()
        definition = dict(entries)
        definition["zz_guard"] = {"all": [{"m": {KIND: "case"}}], "run": guard}
        definition["zz_sink"] = {"all": [{"never": {KIND: "__never__"}},
                                         {"any": {"$ex": {KIND: 1}}}], "run": guard}
        self.definition = definition
        # only the fields some condition reads go to the engine: a fact's other fields stay
        # in its Record, for messages and explanations, and cost nothing to send; likewise
        # only the kinds of fact its rules match
        self.fields = _fields_in(definition)
        self.kinds = kinds | {"case"}
        self.runs = {key: entry["run"] for key, entry in definition.items()}
        self.session = _Session()

    @property
    def handle(self):
        return self.session.handle

    def fact_json(self, fact_id: str, kind: str, fields: dict) -> str:
        """A fact as the engine gets it, in JSON; kept to retract it exactly as asserted."""
        wanted = self.fields
        engine_fact = {"f_" + k: v for k, v in fields.items() if k in wanted}
        engine_fact["sid"] = self.session.sid
        engine_fact["id"] = fact_id
        engine_fact[KIND] = kind
        return _dumps(engine_fact)

    def stage_json(self, level: int) -> str:
        return _dumps({"sid": self.session.sid, "id": f"{STAGE}{level}", KIND: STAGE,
                       "level": level})


def _close_sessions(sessions: list[_Session]) -> None:
    for session in sessions:
        sid, session.sid = session.sid, None
        if sid is not None and session.guarded:
            _native.delete_state(session.handle, sid)


class CompiledPack:
    """A PackSet compiled into durable rulesets (one, unless the engine's per-ruleset limits
    need more), ready to assess cases."""

    def __init__(self, packset: PackSet):
        self.packset = packset
        self.name = f"diplo_{next(_ruleset_names)}"
        self._lock = threading.Lock()
        self._sessions = itertools.count(1)
        self._current: Outcome | None = None
        self._active: _Shard | None = None
        self._asserted: list[str] = []
        self._pending: list[str] = []   # derived facts waiting for the queue to empty
        self._leaked = 0
        self.host = _QuietHost()
        self.shards = [self._shard(i, entries, kinds)
                       for i, (entries, kinds) in enumerate(self._partition(packset))]
        try:
            self.host.register_rulesets({shard.name: shard.definition for shard in self.shards})
        except Exception as exc:  # durable reports its own limits as bare codes
            raise PackError(f"the rule engine refused the compiled pack: {exc}",
                            file=str(packset.packs[0].root)) from None
        for shard in self.shards:
            shard.session.handle = self.host.get_ruleset(shard.name)._handle
        # the kinds of fact some rule matches (the case's, for the guard, always)
        self.kinds = frozenset().union(*(shard.kinds for shard in self.shards))
        # a session kept open between cases holds engine memory (about 11 KB per rule) until
        # it is deleted: when the compiled pack goes, its sessions go too (rulesets stay; the
        # engine cannot free them)
        weakref.finalize(self, _close_sessions, [shard.session for shard in self.shards])

    @property
    def definition(self) -> dict:
        """Every compiled rule (keys r0, r1, ... in the pack set's order), across shards."""
        merged: dict = {}
        for shard in self.shards:
            merged.update(shard.definition)
        return merged

    def _shard(self, index: int, entries: dict, kinds: set[str]) -> _Shard:
        return _Shard(self.name if index == 0 else f"{self.name}_{index}", entries, kinds,
                      self._count_guard)

    def _partition(self, packset: PackSet) -> list[tuple[dict, set[str]]]:
        """The rules, translated, in shards that each fit the engine's limits.

        A fact's deriving rules and the rules that use it form one group, which no limit may
        split (a group too big for one ruleset is an error that names its facts). Groups are
        added to the current shard while its limits allow, else to a new one."""
        groups = _groups(packset.rules, packset.derived_by)
        shards: list[tuple[dict, set[str]]] = []
        entries: dict = {}
        kinds: set[str] = set()
        translator = _Translator(packset)
        for group in groups:
            attempt = 0
            while True:
                saved = translator.snapshot()
                try:
                    if len(entries) + len(group) > MAX_SHARD_RULES:
                        raise _ShardFull()
                    translated = {}
                    for index in group:
                        rule = packset.rules[index]
                        translator.params = {name: spec.value for name, spec in
                                             packset.visible_parameters(rule.pack).items()}
                        translated[f"r{index}"] = {"all": translator.rule(rule),
                                                   "run": self._action(rule)}
                    break
                except (_ShardFull, PackError) as exc:
                    translator.restore(saved)
                    if not entries or attempt:
                        if isinstance(exc, _ShardFull):
                            first = packset.rules[group[0]]
                            raise first.at.error(
                                f"{len(group)} rules derive or use the same facts as rule "
                                f"'{first.id}'; the engine holds at most {MAX_SHARD_RULES} "
                                "rules that share facts") from None
                        raise
                    shards.append((entries, kinds))
                    entries, kinds, translator = {}, set(), _Translator(packset)
                    attempt += 1
            entries.update(translated)
            kinds |= {p.kind for index in group for p in packset.rules[index].patterns}
        shards.append((entries, kinds))
        return shards

    # actions

    def _count_guard(self) -> None:
        if self._current is not None:
            self._current.activations += 1
    def _action(self, rule: Rule):
        positive = rule.positive
        aliases = [f"p{i}" for i in range(len(positive))]   # positive patterns come first
        names = [p.name for p in positive]
        single = len(positive) == 1
        derive_kind = rule.derive_kind
        params = rule.params
        lets = list(rule.lets.items())
        # most derived fields copy a matched fact's field: read those directly, evaluate the rest
        derive_fields = [(name, node.parts if isinstance(node, ex.Ref) and len(node.parts) == 2
                          and node.parts[0] in names else None, node)
                         for name, node in rule.derive_fields.items()]

        def fire(matched: dict, outcome: Outcome):
            records = outcome.records
            bound = tuple(records[matched[alias]["id"]] for alias in aliases)
            if single:
                subjects, key = bound[0].subjects, bound[0].key
            else:
                subjects = tuple(dict.fromkeys(s for r in bound for s in r.subjects))
                # identity comes from every matched fact, so two firings on different facts
                # about the same subjects (a commitment's two dependencies) are two results
                key = "+".join(dict.fromkeys(atom for r in bound if r.key
                                             for atom in r.key.split("+")))
            if derive_kind is not None:
                fact_id = f"{derive_kind}:{key}" if key else derive_kind
                if fact_id in records:
                    return  # derived already by an earlier firing; the first derivation stands
            elif (f"{rule.id}:{key}" if key else rule.id) in outcome.finding_ids:
                return
            named = dict(zip(names, bound))
            values: dict = {}

            def lookup(parts):
                if len(parts) == 1:
                    return values.get(parts[0], ex.MISSING)
                record = named.get(parts[0])
                if record is None:
                    return ex.MISSING
                return record.fields.get(parts[1], ex.MISSING)

            for name, node in lets:
                values[name] = ex.evaluate(node, lookup, params)
            if derive_kind is not None:
                fields = {}
                for name, direct, node in derive_fields:
                    if direct is not None:
                        value = named[direct[0]].fields.get(direct[1])
                    else:
                        value = clean_number(ex.evaluate(node, lookup, params))
                    if value is not ex.MISSING and value is not None:
                        fields[name] = value
                record = Record(fact_id, derive_kind, key, fields, subjects, None, rule, bound)
                records[fact_id] = record
                outcome.derived.append(record)
                self._count(outcome)
                self._assert_derived(fact_id, derive_kind, fields)
                return
            finding_id = f"{rule.id}:{key}" if key else rule.id
            outcome.finding_ids.add(finding_id)

            def text(template: Template | None):
                if template is None:
                    return None
                return template.render(
                    lambda name: params.get(name[1:], ex.MISSING) if name.startswith("$")
                    else lookup(tuple(name.split("."))), outcome.ctx)
            outcome.findings.append(Emitted(finding_id, rule, subjects, text(rule.message),
                                            text(rule.remediation), bound))
            self._count(outcome)

        def run(matched):
            outcome = self._current
            if outcome is None:
                return
            outcome.activations += 1
            if outcome.overflow:
                return
            try:
                fire(matched, outcome)
            except Exception:  # recorded and raised after the run (never swallowed)
                outcome.errors.append(f"rule {rule.id}: {traceback.format_exc()}")
        return run

    @staticmethod
    def _count(outcome: Outcome):
        if len(outcome.derived) + len(outcome.findings) > MAX_RESULTS:
            outcome.overflow = True

    # running

    def _assert_derived(self, fact_id: str, kind: str, fields: dict) -> None:
        # inside an action: the fact is asserted with the others of its wave when the queue
        # of actions is empty (see _drain)
        text = self._active.fact_json(fact_id, kind, fields)
        self._asserted.append(text)
        self._pending.append(text)

    def _drain(self, shard: _Shard, result) -> None:
        """Run every action the engine has queued for the session.

        durable's own loop builds a closure, re-serialises the session state and reads the
        clock for each action; diplo's actions use none of that, so they are driven here
        through the same native calls, one action at a time, each completed before the next
        is started, as durable does."""
        runs = shard.runs
        pending = self._pending
        while True:
            code, state_handle = result[0], result[1]
            if code == 1:
                raise EngineFailure("the rule engine handled no rule for a fact")
            if code != 3 and state_handle is not None:
                started = _native.start_action_for_state(shard.handle, state_handle)
                message = started[1] if started else None
                while message:
                    for action, matched in _orjson.loads(message).items():
                        runs[action](matched)
                    message = _native.complete_and_start_action(shard.handle, state_handle)
            if not pending:
                return
            # the facts the actions derived, in one batch: every rule they can activate is
            # positive (a 'not' waits for the next stage fact), so asserting them together
            # reaches the same facts as one at a time, with one call into the engine
            batch = "[" + ",".join(pending) + "]"
            pending.clear()
            result = _native.assert_facts(shard.handle, batch)

    def _open_session(self, shard: _Shard) -> None:
        if shard.session.sid is None:
            if self._leaked >= MAX_LEAKED_SESSIONS:
                raise EngineFailure("the rule engine has too many unfinished sessions")
            shard.session.sid = str(next(self._sessions))
            shard.session.cases = 0

    def _close_session(self, shard: _Shard) -> None:
        """Give up a shard's open session (after a failure, or when it has served enough
        cases)."""
        sid, shard.session.sid = shard.session.sid, None
        if sid is None:
            return
        if shard.session.guarded:
            _native.delete_state(shard.handle, sid)
        else:
            self._leaked += 1  # deleting a session where nothing ran would crash

    def _clear(self, shard: _Shard, level: int) -> None:
        """Take the case's facts out of the session so that the next case starts from an
        empty one: the stage facts first (every rule with a 'not' waits for one, so no
        retraction can activate a rule), then derived facts, then the case's own."""
        gone = [shard.stage_json(n) for n in range(level, 0, -1)]
        # derived facts were asserted after the case's own: retracting in reverse takes
        # every derived fact out before anything it rests on
        gone += reversed(self._asserted)
        self._drain(shard, _native.retract_facts(shard.handle, "[" + ",".join(gone) + "]"))

    def run(self, facts: list[Fact], ctx: dict) -> Outcome:
        """Assess one case's facts; returns what the rules derived and reported."""
        outcome = Outcome(ctx=ctx)
        records = outcome.records
        for fact in facts:
            records[fact.id] = Record(fact.id, fact.kind, fact.key, fact.fields, fact.subjects,
                                      fact.sources)
        with self._lock:
            self._current = outcome
            try:
                for shard in self.shards:
                    self._run_shard(shard, facts, outcome)
            finally:
                self._current = self._active = None
                self._asserted = []
                self._pending.clear()
        if outcome.errors:
            raise EngineFailure(outcome.errors[0])
        if outcome.overflow:
            raise CaseError(f"the case yields more than {MAX_RESULTS:,} findings and derived "
                            "facts with these packs (many lines and commitments that every "
                            "rule joins); split it, or narrow the packs")
        return outcome

    def _run_shard(self, shard: _Shard, facts: list[Fact], outcome: Outcome) -> None:
        self._open_session(shard)
        self._active = shard
        shard.session.guarded = False
        kinds = shard.kinds
        self._asserted = [shard.fact_json(f.id, f.kind, f.fields) for f in facts
                          if f.kind in kinds]
        level = 0
        try:
            self._drain(shard, _native.assert_facts(shard.handle,
                                                    "[" + ",".join(self._asserted) + "]"))
            for level in range(1, self.packset.strata + 1):
                self._drain(shard, _native.assert_fact(shard.handle, shard.stage_json(level)))
            if not shard.session.guarded:
                raise EngineFailure("the rule engine ran no action for this case")
            current, self._current = self._current, None   # retracting runs no rule
            try:
                self._clear(shard, level)
            finally:
                self._current = current
            shard.session.cases += 1
            # a case that failed in an action may have left the session half-way through a
            # derivation: give it up rather than trust the retraction
            if outcome.errors or outcome.overflow or shard.session.cases >= SESSION_CASES:
                self._close_session(shard)
        except EngineFailure:
            self._close_session(shard)
            raise
        except Exception as exc:
            self._close_session(shard)
            raise EngineFailure(f"the rule engine failed: {exc!r}") from exc
