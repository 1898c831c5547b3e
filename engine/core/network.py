"""A model of the rule engine's alpha network, built from the translated rules the way the
engine builds it, so that every per-node limit of the engine is checked when a pack loads.

durable-rules keeps fixed-size arrays in each node of its network and reports overflowing
one with a bare error code, or finds out only when a case arrives (docs/limits.md):

* a node hands a fact on to at most 256 patterns that end on it (error 108 at creation);
* it has at most 128 children that test a field's absence or join alternatives of an 'or'
  (error 107 at creation);
* it has 512 slots for its other children, and creating the 513th never returns;
* a pattern's tests that refer to other facts, and its 'and'/'or' groups, fill a sequence of
  32 entries (error 113 at creation);
* matching a fact walks the network depth first with a stack of 64 nodes; a fact that passes
  more tests at once than that fails the whole case (error 303, while assessing).

(In durable-rules 2.0.28's C source: BETA_LIST_LENGTH, NEXT_LIST_LENGTH and
NEXT_BUCKET_LENGTH in rules.h, checked in rete.c's linkAlpha and findAlpha;
MAX_SEQUENCE_EXPRESSIONS in rete.h; MAX_STACK_SIZE in events.c's handleAlpha.)

Nodes are shared exactly as the engine shares them: a test on the same field, with the same
operator and the same constant, under the same parent. The model records every change in a
journal, so that rules tried in a ruleset where they do not fit can be taken out again.

The first limit is lifted rather than checked: once LANE_PATTERNS patterns end on one node,
further patterns with the same condition get a test that every fact passes (its kind is not
`__lane1`, `__lane2`, ...), a node of their own for each LANE_PATTERNS of them.
"""
from __future__ import annotations

import json

KIND_PREFIX = "t_"   # a fact of kind x has the field t_x (engine.core.translate.kind_field)

MAX_PATTERNS_PER_NODE = 250   # the engine: 256 patterns ending on one node (error 108)
LANE_PATTERNS = 200           # patterns on one node before the next go to a lane
MAX_ABSENCE_CHILDREN = 120    # the engine: 128 absence tests and 'or' joins per node (107)
MAX_CHILDREN = 500            # the engine: 512 children per node; the 513th hangs creation
MAX_SEQUENCE = 31             # the engine: a sequence of 32 fills on the 32nd entry (113)
MAX_STACK = 64                # the engine: 64 nodes pending while a fact is matched (303)

_COMPARISONS = {"$eq", "$neq", "$lt", "$lte", "$gt", "$gte", "$ex", "$nex"}
_SHOWN_OPS = {"$eq": "==", "$neq": "!=", "$lt": "<", "$lte": "<=", "$gt": ">", "$gte": ">="}


class NetworkLimit(Exception):
    """Rules that would overflow one of the engine's per-node arrays."""

    def __init__(self, what: str, limit: int, node: "_Node", rules: list[str]):
        super().__init__(what)
        self.what = what
        self.limit = limit
        self.node = node
        self.rules = rules


class _Node:
    __slots__ = ("test", "rule", "children", "shared", "absent", "patterns", "equal",
                 "pushes", "deepest", "peak", "parents", "spilled")

    def __init__(self, test: tuple | None, rule: str):
        self.test = test              # (field, operator, value) as the engine gets it
        self.rule = rule              # the rule that created it, for messages
        self.children: list[_Node] = []
        self.shared: dict = {}        # (field, operator, value) -> child, as the engine shares
        self.absent: list[_Node] = []  # children tested for absence, and 'or' joins
        self.patterns: list[str] = []  # the rules whose patterns end here
        self.equal: dict = {}         # field -> value -> children testing equality with it
        self.pushes = 0               # children one fact can pass at once, at most
        self.deepest = 0              # the largest peak among the children
        self.peak = 0                 # stack entries this node can occupy, its subtree's
        self.parents: list[_Node] = []
        self.spilled = 0              # patterns with this condition placed in lanes

    def describe(self) -> str:
        """The tests on the way to this node, as a pack writes them: `line_item where
        amount > 10 and category == 'x'`."""
        tests, node = [], self
        while node.parents or node.test is not None:
            if node.test is not None:
                tests.append(node.test)
            if not node.parents:
                break
            node = node.parents[0]
        kind, shown = "a fact", []
        for field, op, value in reversed(tests):
            if field.startswith(KIND_PREFIX) and op == "$eq":
                kind = field[len(KIND_PREFIX):]
            elif field.startswith("f_"):
                shown.append(_show_test(field[2:], op, value))
            # tests on anything else are diplo's own (stage, lanes), not the pack's
        return kind + (" where " + " and ".join(shown) if shown else "")


def _show_test(name: str, op: str, value) -> str:
    if op in ("$ex", "$nex"):
        return f"{'' if op == '$ex' else 'not '}exists({name})"
    if isinstance(value, dict):
        text = "another fact's field"
    elif isinstance(value, str):
        text = repr(value)
    else:
        text = json.dumps(value)
    return f"{name} {_SHOWN_OPS.get(op, op)} {text}"


def _equal_key(value):
    # the engine compares numbers loosely (true == 1, 1 == 1.0): such constants can both
    # match one fact, so they count as one value
    if isinstance(value, bool):
        return ("n", float(value))
    if isinstance(value, (int, float)):
        return ("n", float(value))
    return ("s", value)


def _is_reference(value) -> bool:
    """A value the engine computes from another fact (an identifier or an expression over
    one), as opposed to a constant or the matched fact's own field."""
    if not isinstance(value, dict):
        return False
    (key, inner), = value.items()
    if key == "$m":
        return False
    if key in ("$add", "$sub", "$mul", "$div"):
        return _is_reference(inner["$l"]) or _is_reference(inner["$r"])
    return True


class Network:
    """The alpha network of one ruleset, as its rules are added."""

    def __init__(self):
        self.root = _Node(None, "")
        self.journal: list = []

    # the journal

    def mark(self) -> int:
        return len(self.journal)

    def rollback(self, mark: int) -> None:
        journal = self.journal
        while len(journal) > mark:
            undo = journal.pop()
            undo()

    def _set(self, node: _Node, attr: str, value) -> None:
        old = getattr(node, attr)
        if old != value:
            setattr(node, attr, value)
            self.journal.append(lambda: setattr(node, attr, old))

    def _append(self, items: list, item) -> None:
        items.append(item)
        self.journal.append(items.pop)

    def _put(self, mapping: dict, key, value) -> None:
        mapping[key] = value
        self.journal.append(lambda: mapping.pop(key))

    # building

    def add(self, condition: dict, rule: str) -> dict:
        """One pattern (binding) of a rule, in the engine's condition language; returns the
        condition to give the engine (with a lane when needed), or raises NetworkLimit when
        the engine could not hold it."""
        end = self._create(condition, self.root, rule)
        if len(end.patterns) >= LANE_PATTERNS:
            # the whole path existed already (an 'or' always ends on a new node): nothing to
            # undo before the pattern goes to a lane instead
            lane = 1 + end.spilled // LANE_PATTERNS
            self._set(end, "spilled", end.spilled + 1)
            condition = {"$and": [condition, {"$neq": {"k": f"__lane{lane}"}}]}
            end = self._find(end, "k", "$neq", f"__lane{lane}", rule)
        if self._sequence(condition) > MAX_SEQUENCE:
            raise NetworkLimit("sequence", MAX_SEQUENCE, self.root, [rule])
        self._append(end.patterns, rule)
        if len(end.patterns) > MAX_PATTERNS_PER_NODE:
            raise NetworkLimit("patterns", MAX_PATTERNS_PER_NODE, end, end.patterns)
        if self.root.peak > MAX_STACK:
            node = self._widest()
            raise NetworkLimit("stack", MAX_STACK, node, [c.rule for c in node.children
                                                         + node.absent])
        return condition

    def _sequence(self, condition: dict) -> int:
        (key, inner), = condition.items()
        if key in ("$and", "$or"):
            return 2 + sum(self._sequence(item) for item in inner)
        if key in _COMPARISONS:
            (_, value), = inner.items()
            return 1 if _is_reference(value) else 0
        return 0

    def _create(self, condition: dict, parent: _Node, rule: str) -> _Node:
        (key, inner), = condition.items()
        if key == "$and":
            node = parent
            for item in inner:
                node = self._create(item, node, rule)
            return node
        if key == "$or":
            join = _Node(None, rule)
            for item in inner:
                end = self._create(item, parent, rule)
                self._link_absent(end, join)
            return join
        if key in _COMPARISONS:
            (field, value), = inner.items()
            return self._find(parent, field, key, value, rule)
        return self._find(parent, key, "$eq", inner, rule)

    def _find(self, parent: _Node, field: str, op: str, value, rule: str) -> _Node:
        # the engine never shares a node whose value refers to another fact or computes one
        shareable = not isinstance(value, dict)
        test = (field, op, json.dumps(value, sort_keys=True) if shareable else None)
        if shareable and test in parent.shared:
            return parent.shared[test]
        node = _Node((field, op, value), rule)
        if shareable:
            self._put(parent.shared, test, node)
        if op == "$nex":
            self._link_absent(parent, node)
            return node
        self._append(parent.children, node)
        self._append(node.parents, parent)
        if len(parent.children) > MAX_CHILDREN:
            raise NetworkLimit("children", MAX_CHILDREN, parent,
                               [c.rule for c in parent.children])
        if op == "$eq" and shareable:
            # a fact has one kind, so one field named after a kind (kind_field): tests of
            # those fields are the equality tests of one field whose value is the kind
            group, key = ((KIND_PREFIX, field) if field.startswith(KIND_PREFIX)
                          else (field, _equal_key(value)))
            values = parent.equal.get(group)
            if values is None:
                values = {}
                self._put(parent.equal, group, values)
            widest = max(values.values(), default=0)
            if key in values:
                self._bump(values, key)
            else:
                self._put(values, key, 1)
            # equality tests of one field: a fact passes those of its one value only
            if values[key] > widest:
                self._grow(parent, 1)
        else:
            self._grow(parent, 1)
        self._raise(parent, node.peak)
        return node

    def _bump(self, values: dict, key) -> None:
        old = values[key]
        values[key] = old + 1
        self.journal.append(lambda: values.__setitem__(key, old))

    def _link_absent(self, parent: _Node, node: _Node) -> None:
        self._append(parent.absent, node)
        self._append(node.parents, parent)
        if len(parent.absent) > MAX_ABSENCE_CHILDREN:
            raise NetworkLimit("absent", MAX_ABSENCE_CHILDREN, parent,
                               [c.rule for c in parent.absent])
        self._grow(parent, 1)
        self._raise(parent, node.peak)

    # the matching stack: popping a node pushes every child a fact passes; the children are
    # then matched last pushed first, so a node's peak is its pushes plus, at worst, the
    # deepest child's peak on top of the others

    def _grow(self, node: _Node, more: int) -> None:
        self._set(node, "pushes", node.pushes + more)
        self._update(node)

    def _raise(self, node: _Node, peak: int) -> None:
        if peak > node.deepest:
            self._set(node, "deepest", peak)
            self._update(node)

    def _update(self, node: _Node) -> None:
        peak = 0 if not node.pushes else node.pushes - 1 + max(1, node.deepest)
        if peak != node.peak:
            self._set(node, "peak", peak)
            for parent in node.parents:
                self._raise(parent, peak)

    def _widest(self) -> _Node:
        """The node on the deepest path that pushes the most children at once."""
        node, best = self.root, self.root
        while node.children or node.absent:
            if node.pushes > best.pushes:
                best = node
            node = max(node.children + node.absent, key=lambda c: c.peak)
            if not node.peak:
                break
        return best
