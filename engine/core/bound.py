"""How much matching a case can cost, bounded from its facts before the engine gets them.

The engine stores every partial match of a rule's patterns (a frame) and queues every full
one as an activation; both cost time and memory whether or not an action then runs. A case
of a few thousand facts can ask for millions of them (each cut line paired with each
commitment that depends on its category), which fills gigabytes before any result could be
counted. So before a case runs, its frames are bounded, rule by rule, from its own facts:

* a pattern on a fact every case provides has as candidates the case's facts of that kind
  whose own fields can pass its condition (the parts of the condition that read other facts
  are taken as passed);
* a pattern joined to an earlier one by equality of a field (`category == cut.category`)
  pairs each earlier match with at most the candidates sharing one value of that field;
* a derived fact has as candidates at most the full matches of the rules deriving it, and
  never more than a case may derive (MAX_RESULTS + 1: assessment stops deriving past it).

A rule's frames are then at most the products of its patterns' candidates, prefix by prefix
(the engine joins patterns in order). A first pass counts facts by kind only, which costs
next to nothing and settles every ordinary case; the conditions are read only when that
pass exceeds the limit.
"""
from __future__ import annotations

from collections import Counter
from operator import attrgetter

from ..errors import CaseError
from ..lang import expr as ex
from ..lang.pack import PackSet, Pattern, Rule
from .translate import _natural

MAX_MATCHES = 100_000    # frames and activations of one case, over all rules
_kind_of = attrgetter("kind")


class MatchBound:
    """The rules of a pack set in the order derivations flow, ready to bound a case."""

    def __init__(self, packset: PackSet, max_results: int):
        self.cap = max_results + 1
        self.rules = _in_order(packset.rules)
        self.derived = {rule.derive_kind for rule in self.rules if rule.derive_kind}
        # the first pass, made cheap for every case: kinds by index; the rules that derive in
        # the order derivations flow, then those that only report, the same patterns once
        # with their number (they change no count)
        self.kinds = sorted({p.kind for rule in self.rules for p in rule.positive}
                            | self.derived)
        index = {kind: i for i, kind in enumerate(self.kinds)}
        self.deriving = [(tuple(index[p.kind] for p in rule.positive), index[rule.derive_kind])
                         for rule in self.rules if rule.derive_kind]
        reporting: dict[tuple, int] = {}
        for rule in self.rules:
            if not rule.derive_kind:
                key = tuple(index[p.kind] for p in rule.positive)
                reporting[key] = reporting.get(key, 0) + 1
        self.reporting = list(reporting.items())
        self.derived_at = [index[kind] for kind in self.derived]
        self.judges: dict | None = None

    def check(self, facts) -> None:
        """Raise CaseError when the case could make more than MAX_MATCHES frames."""
        found = Counter(map(_kind_of, facts))
        counts = [found.get(kind, 0) for kind in self.kinds]
        for i in self.derived_at:
            counts[i] = 0
        cap = self.cap
        total = 0
        for kinds, derives in self.deriving:
            frames = 1
            for i in kinds:
                frames *= counts[i]
                total += frames
            made = counts[derives] + frames
            counts[derives] = made if made < cap else cap
        for kinds, rules in self.reporting:
            frames, work = 1, 0
            for i in kinds:
                frames *= counts[i]
                work += frames
            total += rules * work
        if total > MAX_MATCHES:
            self._refine(facts)

    def _refine(self, facts) -> None:
        total, _ = self.frames(facts)
        if total > MAX_MATCHES:
            total, worst = self.frames(facts, explain=True)
            raise CaseError(_message(total, worst, facts))

    def frames(self, facts, explain: bool = False, index: bool = True) -> tuple[int, tuple]:
        """(the bound, the rule making the most frames) from the facts' own fields.
        `explain` also gathers, for the message, the subjects of the facts behind each
        pattern; `index` (on but in tests) judges only the facts whose field can pass a
        pattern's test against constants."""
        judges = self.judges
        if judges is None:   # made once, the first time a case needs them (judges last, so
            # that another thread seeing them sees the rest)
            patterns = [(rule, i, p) for rule in self.rules for i, p in enumerate(rule.positive)]
            self.keys = {id(p): _key(p, dict(rule.params)) for rule, _, p in patterns}
            self.joins = {id(p): _equal_join(rule, i) for rule, i, p in patterns}
            judges = self.judges = {id(p): _judge(p.where, p, dict(rule.params))
                                    for rule, _, p in patterns}
        by_kind: dict[str, list] = {}
        for fact in facts:
            by_kind.setdefault(fact.kind, []).append(fact)
        # the facts of a kind by the value of a field, for the patterns that test it against
        # constants: those judge only the facts that can pass that test
        buckets: dict[tuple[str, str], dict] = {}
        keys, joins = self.keys, self.joins
        made: dict[str, int] = {}
        about: dict[str, set] = {}      # derived kind -> subjects of the facts behind it
        total, worst = 0, None
        no_subjects: set = set()
        for rule in self.rules:
            frames = work = 0
            parts = []
            for i, pattern in enumerate(rule.positive):
                if pattern.kind in self.derived:
                    count = width = made.get(pattern.kind, 0)
                    subjects = about.get(pattern.kind, no_subjects)
                else:
                    key = keys[id(pattern)] if index else None
                    if key is None:
                        passing = by_kind.get(pattern.kind, [])
                    else:
                        field, values = key
                        bucket = buckets.get((pattern.kind, field))
                        if bucket is None:
                            bucket = buckets[(pattern.kind, field)] = _bucket(
                                by_kind.get(pattern.kind, []), field)
                        passing = [f for value in values for f in bucket.get(value, ())]
                    judge = judges[id(pattern)]
                    if judge is not None:
                        passing = [f for f in passing if judge(f.fields) is not False]
                    count = width = len(passing)
                    joined = joins[id(pattern)]
                    if joined is not None and passing:
                        width = max(Counter(f.fields.get(joined) for f in passing).values())
                    subjects = {s for f in passing for s in f.subjects} if explain \
                        else no_subjects
                frames = width if i == 0 else frames * width
                work += frames
                parts.append((pattern, count, subjects))
            total += work
            if worst is None or work > worst[0]:
                worst = (work, rule, parts)
            if rule.derive_kind is not None:
                kind = rule.derive_kind
                made[kind] = min(self.cap, made.get(kind, 0) + frames)
                if explain:
                    about.setdefault(kind, set()).update(
                        s for _, _, subj in parts for s in subj)
        return total, worst


def _bucket(facts, field: str) -> dict:
    """Facts by the value of one field; those whose value cannot be a key (a list) are
    left out, as no constant equals them."""
    bucket: dict = {}
    for fact in facts:
        value = fact.fields.get(field, _ABSENT)
        if value is _ABSENT:
            continue
        try:
            bucket.setdefault(value, []).append(fact)
        except TypeError:
            pass
    return bucket


_ABSENT = object()


def _key(pattern: Pattern, params: dict):
    """(field, values) when a pattern's condition requires a field of its own fact to equal
    one of some constants (at its top, or in a top-level 'and'), else None."""
    node = pattern.where
    if node is None:
        return None
    items = node.items if isinstance(node, ex.BoolOp) and node.op == "and" else (node,)
    for item in items:
        if not isinstance(item, ex.Compare) or item.op not in ("==", "in"):
            continue
        left, right = item.left, item.right
        if item.op == "==" and isinstance(right, ex.Ref) and _constant(left):
            left, right = right, left
        if not (isinstance(left, ex.Ref) and _own(left, pattern) and _constant(right)):
            continue
        try:
            value = ex.evaluate(right, lambda parts: ex.MISSING, params)
        except Exception:
            continue
        values = (value,) if item.op == "==" else value
        if value is ex.MISSING or not isinstance(values, (tuple, list)):
            continue
        try:
            # each value once: a fact in two of the buckets would be counted twice
            return left.parts[-1], tuple(dict.fromkeys(values))
        except TypeError:
            continue
    return None


def _in_order(rules: list[Rule]) -> list[Rule]:
    """The rules, each after every rule deriving a fact it matches (derivations have no
    cycles: the loader refuses them)."""
    producers: dict[str, list[Rule]] = {}
    for rule in rules:
        if rule.derive_kind:
            producers.setdefault(rule.derive_kind, []).append(rule)
    ordered: list[Rule] = []
    placed: set[int] = set()

    def place(rule: Rule, path: set[int]):
        if id(rule) in placed or id(rule) in path:
            return
        path.add(id(rule))
        for pattern in rule.positive:
            for producer in producers.get(pattern.kind, ()):
                place(producer, path)
        placed.add(id(rule))
        ordered.append(rule)

    for rule in rules:
        place(rule, set())
    return ordered


def _own(node: ex.Node, pattern: Pattern) -> bool:
    """Whether a condition reads only the matched fact's own fields (and parameters)."""
    return all(len(n.parts) == 1 or n.parts[0] == pattern.name
               for n in ex.walk(node) if isinstance(n, ex.Ref))


def _judge(node: ex.Node | None, pattern: Pattern, params: dict):
    """A function of a fact's fields: False only when its own fields fail the condition
    whatever the other facts hold, else True or None (depends on other facts); None instead
    of a function when nothing in the condition can be decided from the fact alone."""
    if node is None:
        return None
    if isinstance(node, ex.BoolOp):
        parts = [(_judge(item, pattern, params), item) for item in node.items]
        known = [j for j, _ in parts if j]
        if not known:
            return None
        if node.op == "and":
            # each test on its own, cheapest first: a test of a category or status fails
            # most facts, and is evaluated once per value (a loop: this runs for every fact
            # of the kind, and a generator costs more than the tests)
            complete = True if len(known) == len(parts) else None

            def conjunction(fields):
                for judge in known:
                    if judge(fields) is False:
                        return False
                return complete
            return conjunction
        if len(known) < len(parts):
            return lambda fields: True if any(j(fields) is True for j in known) else None
        return lambda fields: any(j(fields) is True for j in known) if all(
            j(fields) is not None for j in known) else None
    if isinstance(node, ex.Unary) and node.op == "not":
        inner = _judge(node.operand, pattern, params)
        if inner is None:
            return None

        def negated(fields):
            verdict = inner(fields)
            return None if verdict is None else not verdict
        return negated
    if _own(node, pattern):
        return _fast(node, params) or _evaluated(node, params)
    return None


_COMPARE = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
            "in": lambda a, b: a in b, "not in": lambda a, b: a not in b}
_SWAPPED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _constant(node: ex.Node) -> bool:
    return not any(isinstance(n, ex.Ref) for n in ex.walk(node))


def _fast(node: ex.Node, params: dict):
    """The common tests (a field against a constant, a flag, exists()) as a plain function,
    with the semantics of ex.evaluate (an absent field fails every comparison); None for
    anything else."""
    missing = ex.MISSING
    if isinstance(node, ex.Ref):
        name = node.parts[-1]
        return lambda fields: fields.get(name) is True
    if isinstance(node, ex.Call) and node.name == "exists" and isinstance(node.args[0], ex.Ref):
        name = node.args[0].parts[-1]
        return lambda fields: name in fields
    if not isinstance(node, ex.Compare) or node.op not in _COMPARE:
        return None
    left, right, op = node.left, node.right, node.op
    if isinstance(right, ex.Ref) and _constant(left) and op in _SWAPPED:
        left, right, op = right, left, _SWAPPED[op]
    if not isinstance(left, ex.Ref) or not _constant(right):
        return None
    try:
        value = ex.evaluate(right, lambda parts: missing, params)
    except Exception:
        return None
    name, test = left.parts[-1], _COMPARE[op]
    if value is missing:
        return lambda fields: False

    def decide(fields):
        found = fields.get(name, missing)
        if found is missing:
            return False
        try:
            return test(found, value) is True
        except TypeError:
            return None
    return decide


def _evaluated(node: ex.Node, params: dict):
    """Any other test of the fact's own fields, evaluated once per combination of the values
    it reads (many facts share them: a commitment's dependencies all have its status)."""
    read = sorted({n.parts[-1] for n in ex.walk(node) if isinstance(n, ex.Ref)})
    # a verdict depends on the values alone, so it holds for every case; the memory is
    # bounded, and threads share it safely (a verdict lost to a clearing is evaluated again)
    seen: dict = {}

    def decide(fields):
        key = tuple(fields.get(name, ex.MISSING) for name in read)
        try:
            return seen[key]
        except KeyError:
            pass
        except TypeError:   # an unhashable value (a list): evaluated every time
            key = None
        try:
            verdict = ex.evaluate(node, lambda parts: fields.get(parts[-1], ex.MISSING),
                                  params) is True
        except Exception:   # an upper bound: what cannot be decided may pass
            verdict = None
        if key is not None:
            if len(seen) >= _MEMO:
                seen.clear()
            seen[key] = verdict
        return verdict
    return decide


_MEMO = 4096   # verdicts kept per condition


def _equal_join(rule: Rule, index: int) -> str | None:
    """The field by which a pattern is joined to an earlier one with `==`, if any."""
    pattern = rule.positive[index]
    if index == 0 or pattern.where is None:
        return None
    earlier = {p.name for p in rule.positive[:index]}
    node = pattern.where
    items = node.items if isinstance(node, ex.BoolOp) and node.op == "and" else (node,)
    for item in items:
        if not (isinstance(item, ex.Compare) and item.op == "=="):
            continue
        for own, other in ((item.left, item.right), (item.right, item.left)):
            if isinstance(own, ex.Ref) and isinstance(other, ex.Ref) \
                    and (len(own.parts) == 1 or own.parts[0] == pattern.name) \
                    and len(other.parts) == 2 and other.parts[0] in earlier:
                return own.parts[-1]
    return None


def _listed(names: list[str], shown: int = 3) -> str:
    text = ", ".join(names[:shown])
    return text + (f" and {len(names) - shown:,} more" if len(names) > shown else "")


def _message(total: int, worst, facts) -> str:
    work, rule, parts = worst
    nouns = (("line items", {f.key for f in facts if f.kind == "line_item"}),
             ("commitments", {f.key for f in facts if f.kind == "commitment"}))
    described = []
    for pattern, count, subjects in parts:
        if count <= 1:
            continue
        origins = []
        for noun, ids in nouns:
            mine = sorted((s for s in subjects if s in ids), key=_natural)
            if mine:
                origins.append(f"{len(mine):,} {noun} ({_listed(mine)})")
        text = f"up to {count:,} {pattern.kind} facts"
        described.append(text + (f" from {' and '.join(origins)}" if origins else ""))
    if len(described) == 2 and described[0] == described[1]:
        joined = f"{described[0]} with one another"
    elif len(described) <= 2:
        joined = " with ".join(described)
    else:
        joined = ", ".join(described[:-1]) + " and " + described[-1]
    return (f"the case could make the rules try up to {total:,} combinations of facts, more "
            f"than the limit of {MAX_MATCHES:,} (counted before assessing); the most come "
            f"from rule {rule.id}, which could pair {joined}. Split the case into smaller "
            "ones, or leave that rule out")
