"""Checks over a pack the loader accepted: rules that need facts nothing produces, unused
derived facts, parameters and concerns, uncited sections, untested rules, invalid tests, and
the rule engine's caps approached or exceeded."""
from __future__ import annotations

from dataclasses import replace

from ...core.network import KIND_PREFIX
from ...errors import DiploError
from ...inputs.source import Document
from ...lang import expr as ex
from ...lang import spec as pack_spec
from ...lang.analyse import analyse
from ...lang.spec import (
    MAX_LIST_VALUES,
    MAX_PATTERNS,
)
from .conditions import _Conditions, _conflict_hint, _show_atoms, parameter_years
from .reading import _from_error
from .report import CODES, NEAR_LIMIT, Diagnostic


class _Checks:
    def __init__(self, packset, mine: list, params: dict):
        self.packset = packset
        self.mine = mine
        self.names = {p.name for p in mine}
        self.params = params
        self.rules = [r for r in packset.rules if r.pack in self.names]
        self.found: list[Diagnostic] = []

    def add(self, code: str, message: str, hint: str | None = None, *, at=None,
            file: str | None = None, line=None, column=None, rule=None, level=None):
        if at is not None:
            file, line, column = at.file, at.line, at.column
        spec = CODES[code]
        self.found.append(Diagnostic(level or spec.level, code, message, hint or spec.hint,
                                     file, line, column, rule))

    def run(self) -> list[Diagnostic]:
        self.never_firing()
        self.unused()
        self.tests()
        self.limits()
        return self.found

    # rules that can never fire

    def never_firing(self):
        dead: dict[str, str] = {}    # rule id -> why
        for rule in self.packset.rules:
            for pattern in rule.patterns:
                referenced = {ref.parts[1] for other in rule.patterns if other.where is not None
                              for ref in ex.walk(other.where)
                              if isinstance(ref, ex.Ref) and len(ref.parts) == 2
                              and ref.parts[0] == pattern.name and other is not pattern}
                # with dated parameters, a condition is dead only if it is in every period
                conflicts = [_Conditions(self.packset, rule, pattern,
                                         set() if pattern.negated else referenced,
                                         params).conflict()
                             for params in parameter_years(self.packset, rule)]
                conflict = None if any(c is None for c in conflicts) else conflicts[0]
                if conflict is None:
                    continue
                if not pattern.negated:
                    dead[rule.id] = "contradiction"
                if rule.pack not in self.names:
                    continue
                shown = _show_atoms(conflict)
                what = "leaves" if len(conflict) == 1 else "leave"
                if pattern.negated:
                    message = (f"rule {rule.id}: in its 'not' pattern on {pattern.kind}, {shown} "
                               f"{what} no value for {conflict[0].field}: the pattern never "
                               "matches, so the 'not' excludes nothing")
                else:
                    message = (f"rule {rule.id}: in its pattern on {pattern.kind}, {shown} "
                               f"{what} no value for {conflict[0].field}: the rule can never "
                               "fire")
                self.add("contradictory-condition", message, _conflict_hint(conflict),
                         at=pattern.at, rule=rule.id)
        producers: dict[str, list] = {}
        for rule in self.packset.rules:
            if rule.derive_kind:
                producers.setdefault(rule.derive_kind, []).append(rule)
        blocked: dict[str, str] = {}   # rule id -> the kind it waits for
        changed = True
        while changed:
            changed = False
            dead_kinds = {k for k, rs in producers.items() if all(r.id in dead for r in rs)}
            for rule in self.packset.rules:
                if rule.id in dead:
                    continue
                kind = next((p.kind for p in rule.positive if p.kind in dead_kinds), None)
                if kind is not None:
                    dead[rule.id] = "needs"
                    blocked[rule.id] = kind
                    changed = True
        for rule in self.rules:
            if rule.id not in blocked:
                continue
            kind = blocked[rule.id]
            ids = [r.id for r in producers[kind]]
            pattern = next(p for p in rule.positive if p.kind == kind)
            self.add("needs-unproduced-fact",
                     f"rule {rule.id} needs fact '{kind}', which no rule can produce: "
                     f"{'its only producer' if len(ids) == 1 else 'every rule that derives it'}"
                     f" ({', '.join(ids)}) can never fire; so this rule never fires either",
                     f"fix {', '.join(ids)} first (see the warnings about "
                     f"{'it' if len(ids) == 1 else 'them'}), or remove this rule",
                     at=pattern.at, rule=rule.id)

    # declared, derived or written, and never used

    def unused(self):
        read = {p.kind for r in self.packset.rules for p in r.patterns}
        reported: set[str] = set()
        for rule in self.rules:
            if rule.derive_kind and rule.derive_kind not in read \
                    and rule.derive_kind not in reported:
                reported.add(rule.derive_kind)
                ids = [r.id for r in self.packset.rules if r.derive_kind == rule.derive_kind]
                self.add("unused-derived-fact",
                         f"fact '{rule.derive_kind}', derived by {', '.join(ids)}, is read by no "
                         "loaded rule: it never leads to a finding",
                         f"read '{rule.derive_kind}' in a rule (`fact: {rule.derive_kind}`, or "
                         f"`not:` it), or remove {', '.join(ids)}",
                         at=rule.sites.get("derive", rule.at), rule=rule.id)
        params_read = {name for r in self.packset.rules for name in r.params}
        for pack in self.mine:
            doc = pack.manifest_doc
            users = [r for r in self.packset.rules if r.pack == pack.name
                     or pack.name in {a.name for a in _ancestors(self.packset, r.pack)}]
            for name in pack.manifest.parameters:
                if name not in params_read:
                    line, column = doc.position(("parameters", name), key=True)
                    self.add("unused-parameter", f"parameter '{name}' is read by no rule",
                             f"use ${name} in a condition, a let, a derive field or a "
                             "message, or remove it from pack.yaml",
                             file=doc.name, line=line, column=column)
            concerns = {r.report.concern for r in users if r.report is not None}
            for name, spec in pack.manifest.concerns.items():
                if name not in concerns:
                    line, column = doc.position(("concerns", name), key=True)
                    self.add("unused-concern", f"concern '{name}' ({spec.kind}) is reported by "
                             "no rule", f"report '{name}' from a {spec.kind} rule, or remove "
                             "it from pack.yaml", file=doc.name, line=line, column=column)
            if pack.manifest.guidance is not None:
                cited = {r.citation.section for r in users}
                for slug in pack.manifest.guidance.sections:
                    if slug not in cited:
                        line, column = doc.position(("guidance", "sections", slug), key=True)
                        self.add("uncited-section", f"guidance section '{slug}' is cited by no "
                                 "rule", None, file=doc.name, line=line, column=column)

    # rule tests

    def tests(self):
        from ...inputs.case import check_case
        from .. import packtest
        tests = []
        for pack in self.mine:
            try:
                files = packtest.find_test_files(pack.root)
            except DiploError as exc:
                self.found.append(_from_error(exc, str(pack.root), code="invalid-test"))
                continue
            for path in files:
                try:
                    tests += packtest.read_tests(path)
                except DiploError as exc:
                    self.found.append(_from_error(exc, str(path), code="invalid-test"))
        # a test's own params analyse the packs again (on copies of the rules already read:
        # reading the files again for each set of params would take most of the time)
        cache = packtest.PackCache(self.params, load_pack=self._reanalyse)
        valid = []
        for test in tests:
            try:
                pack = self.packset
                if test.spec.params:
                    pack = packtest._with_params(test, self.packset, cache)
                packtest.check_patterns(test, pack)
                try:
                    check_case(test.case, pack.categories,
                               Document(test.file, test.case_data))
                except DiploError as exc:
                    raise test.case_error(exc) from None
                valid.append(test)
            except DiploError as exc:
                self.found.append(_from_error(exc, test.file, code="invalid-test"))
        expected = {p.rule for t in valid for p in t.spec.expect}
        forbidden = {p.rule for t in valid for p in t.spec.absent}
        for rule in self.rules:
            if rule.report is None:
                continue
            if rule.id not in expected:
                self.add("untested-rule", f"rule {rule.id} has no test where it must fire "
                         "(`expect`)", f"add a test whose case makes {rule.id} fire, with "
                         f"`expect: [{{rule: {rule.id}}}]`", at=rule.at, rule=rule.id)
            if rule.id not in forbidden:
                self.add("untested-rule", f"rule {rule.id} has no test where it must stay "
                         "silent (`absent`)", f"add a test with a case just short of what "
                         f"{rule.id} looks for, and `absent: [{{rule: {rule.id}}}]`",
                         at=rule.at, rule=rule.id, level="info")

    def _reanalyse(self, *roots, params: dict):
        copies: dict[int, object] = {}
        for pack in self.packset.packs:   # bases come before the packs that extend them
            base = copies.get(id(pack.base)) if pack.base is not None else None
            rules = [replace(r, patterns=list(r.patterns), params={}, fields_read={})
                     for r in pack.rules]
            copies[id(pack)] = replace(pack, rules=rules, base=base)
        return analyse(list(copies.values()), params)

    # the rule engine's limits

    def limits(self):
        near = _near
        total = len(self.packset.rules)
        if near(total, pack_spec.MAX_RULES) and self.rules:
            doc = self.mine[0].manifest_doc
            line, column = doc.position(("rules",), key=True)
            self.add("near-engine-limit", f"{total} rules are loaded; the engine's limit is "
                     f"{pack_spec.MAX_RULES}", "split the pack in two before it reaches the limit",
                     file=doc.name, line=line, column=column)
        for rule in self.rules:
            written = [p for p in rule.patterns if not p.implicit]
            if near(len(written), MAX_PATTERNS):
                self.add("near-engine-limit", f"rule {rule.id} has {len(written)} patterns; "
                         f"a rule may have {MAX_PATTERNS}", "derive an intermediate fact "
                         "from some of the patterns and match that instead", at=rule.at,
                         rule=rule.id)
            nodes = [n for tree in self._trees(rule) for n in ex.walk(tree)]
            longest = max((len(n.items) for n in nodes if isinstance(n, ex.ListLit)), default=0)
            if near(longest, MAX_LIST_VALUES):
                self.add("near-engine-limit", f"rule {rule.id} has a list of {longest} values; "
                         f"a list may hold {MAX_LIST_VALUES}", "move the values to a "
                         "list parameter, or group them (a category group)", at=rule.at,
                         rule=rule.id)
        shards = getattr(self.packset.compiled, "shards", None)
        if not shards:
            return    # not compiled (the compiler refused it, and said why)
        # the caps hold per ruleset; the compiler splits rules that share no fact across
        # rulesets, so a cap is near only for the rules that must stay together
        for shard in shards:
            self._shard_limits(shard.definition)

    def _shard_limits(self, definition: dict):
        from ...core.network import MAX_STACK, Network
        from ...core.translate import MAX_JOIN_REFS, MAX_TESTS_PER_FIELD
        near = _near
        by_key = {f"r{i}": rule for i, rule in enumerate(self.packset.rules)}
        values: dict[tuple[str, str], set] = {}
        testers: dict[tuple[str, str], list] = {}
        for key, entry in definition.items():
            rule = by_key.get(key)
            if rule is None:
                continue    # the compiler's own guard and sink rules
            bindings = entry["all"]
            joins = 0
            for binding in bindings:
                (alias, cond), = binding.items()
                kind = _binding_kind(cond)
                for name, value in _tests(cond):
                    values.setdefault((kind, name), set()).add(repr(value))
                    testers.setdefault((kind, name), []).append(rule)
                joins += _join_refs(cond)
            if rule.pack in self.names and near(joins, MAX_JOIN_REFS):
                self.add("near-engine-limit", f"rule {rule.id} compares {joins} fields across "
                         f"facts; the engine allows {MAX_JOIN_REFS}", "derive a fact that "
                         "carries the compared values, and join on fewer fields", at=rule.at,
                         rule=rule.id)
        for (kind, name), seen in values.items():
            mine = [r for r in testers[(kind, name)] if r.pack in self.names]
            if near(len(seen), MAX_TESTS_PER_FIELD) and mine:
                shown = name[2:] if name.startswith("f_") else name
                self.add("near-engine-limit", f"the loaded rules test {kind}.{shown} against "
                         f"{len(seen)} different values; the engine allows "
                         f"{MAX_TESTS_PER_FIELD}", "use fewer distinct thresholds: share "
                         "parameters, or derive a fact that classifies the values first",
                         at=mine[0].at, rule=mine[0].id)
        # tests one fact can pass side by side: the engine follows MAX_STACK at a time
        network = Network()
        for key, entry in definition.items():
            for binding in entry["all"]:
                for cond in binding.values():
                    network.add(cond, key)
        if near(network.root.peak, MAX_STACK):
            widest = network._widest()
            rules = [by_key[c.rule] for c in widest.children + widest.absent
                     if c.rule in by_key]
            mine = [r for r in rules if r.pack in self.names]
            if mine:
                kind = widest.describe().split(" where ")[0]
                self.add("near-engine-limit", f"one {kind} fact could pass "
                         f"{network.root.peak} tests at once (rules {mine[0].id} and others "
                         f"test it side by side); the engine follows {MAX_STACK}",
                         "derive a value once (a band, a flag) and test that, or give the "
                         "rules a more specific first test", at=mine[0].at, rule=mine[0].id)

    @staticmethod
    def _trees(rule) -> list[ex.Node]:
        return ([p.where for p in rule.patterns if p.where is not None]
                + list(rule.lets.values()) + list(rule.derive_fields.values()))


def _near(used: int, cap: int) -> bool:
    return used > NEAR_LIMIT * cap


def _ancestors(packset, pack_name: str) -> list:
    pack = next((p for p in packset.packs if p.name == pack_name), None)
    return list(getattr(pack, "ancestors", []) or []) if pack is not None else []


_COMPARISONS = ("$eq", "$neq", "$lt", "$lte", "$gt", "$gte")


def _binding_kind(cond) -> str | None:
    """The fact kind a compiled condition matches: {"t_KIND": 1}, first in nested "$and"s."""
    if not isinstance(cond, dict):
        return None
    for key in cond:
        if key.startswith(KIND_PREFIX):
            return key[len(KIND_PREFIX):]
    items = cond.get("$and") or [None]
    return _binding_kind(items[0])


def _tests(cond):
    """(field, constant) for each comparison of a field with a constant in a compiled
    condition: what the compiler counts against its per-field limit."""
    if isinstance(cond, list):
        for item in cond:
            yield from _tests(item)
        return
    if not isinstance(cond, dict):
        return
    for key, value in cond.items():
        if key in ("$and", "$or"):
            yield from _tests(value)
        elif key in _COMPARISONS and isinstance(value, dict):
            for name, rhs in value.items():
                if not isinstance(rhs, (dict, bool)):
                    yield name, rhs


def _join_refs(cond) -> int:
    """References to another fact's field ({alias: field}) in a compiled condition."""
    if isinstance(cond, list):
        return sum(_join_refs(item) for item in cond)
    if not isinstance(cond, dict):
        return 0
    count = 0
    for key, value in cond.items():
        if key in ("$and", "$or"):
            count += _join_refs(value)
        elif key in _COMPARISONS and isinstance(value, dict):
            count += sum(_rhs_refs(rhs) for rhs in value.values())
    return count


def _rhs_refs(rhs) -> int:
    if not isinstance(rhs, dict):
        return 0
    if set(rhs) == {"$m"}:
        return 0
    if any(k in rhs for k in ("$add", "$sub", "$mul", "$div")):
        inner = next(iter(rhs.values()))
        return _rhs_refs(inner.get("$l")) + _rhs_refs(inner.get("$r"))
    return 1
