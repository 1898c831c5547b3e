"""Analysing packs loaded together: effective parameters and their overrides, disabled rules
and severity changes, the schemas of derived facts and the order of derivation."""
from __future__ import annotations

import math

from ..errors import PackError
from ..inputs.validation import did_you_mean
from ..model import SEVERITIES
from .kinds import BASE_SCHEMAS, type_of
from .pack import Pack, PackSet, Rule, SeverityOverride, _visible, where_in
from .selection import select_rules
from .spec import MANIFEST, MAX_RULES, CategorySpec, ParameterSpec
from .typecheck import _Checker


def coerce_param(spec: ParameterSpec, raw, name: str):
    """A parameter override, converted to the declared parameter's type."""
    want = type_of(spec.value)
    if not isinstance(raw, str):
        if type_of(raw) != want:
            raise ValueError(f"expected a {want}, found {_show_value(raw)}")
        if want == "number" and not (math.isfinite(raw) and abs(raw) <= 1e15):
            raise ValueError(f"expected a finite number up to 1e15, found {raw!r}")
        if want == "list" and not all(isinstance(item, str) for item in raw):
            raise ValueError(f"expected a list of text, found {raw!r}")
        return raw
    text = raw.strip()
    if want == "number":
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"expected a number, found {raw!r}") from None
        if value != value or value in (float("inf"), float("-inf")) or abs(value) > 1e15:
            raise ValueError(f"expected a finite number up to 1e15, found {raw!r}")
        return int(value) if value.is_integer() and isinstance(spec.value, int) else value
    if want == "bool":
        if text.lower() in ("true", "yes", "1"):
            return True
        if text.lower() in ("false", "no", "0"):
            return False
        raise ValueError(f"expected true or false, found {raw!r}")
    if want == "list":
        return [piece.strip() for piece in text.split(",") if piece.strip()]
    return text


def analyse(packs: list[Pack], overrides: dict, *,
            disable: list[str] | tuple[str, ...] | dict[str, str] | None = None,
            severity: dict[str, str | tuple[str, str]] | None = None,
            select: list[str] | tuple[str, ...] | dict[str, str] | None = None,
            ignore: list[str] | tuple[str, ...] | dict[str, str] | None = None) -> PackSet:
    """Check packs loaded together and apply what changes them, in this order: each pack's
    `overrides` and `disable` (of the packs it extends), then `overrides` (parameter values),
    `disable` and `severity` given by the caller, then `select` and `ignore` (selectors:
    engine.lang.selection), which disable the rules they leave out. `disable`, `select` and
    `ignore` may map each entry to who gives it and a `severity` value may be (level, who);
    who is shown in reports and errors."""
    seen_packs: dict[str, Pack] = {}
    for pack in packs:
        if pack.name in seen_packs:
            raise PackError(f"pack '{pack.name}' is loaded twice (also from "
                            f"{seen_packs[pack.name].root})", file=str(pack.root / MANIFEST))
        seen_packs[pack.name] = pack

    categories: dict[str, CategorySpec] = {}
    for pack in packs:
        for name, spec in pack.manifest.categories.items():
            if name in categories and categories[name].group != spec.group:
                raise pack.manifest_doc.error(
                    PackError, f"category '{name}' is declared by another pack in group "
                    f"'{categories[name].group}'", ("categories", name, "group"))
            categories.setdefault(name, spec)

    _check_parameter_conflicts(packs)
    _check_dated_values(packs)
    parameters = _effective_parameters(packs, overrides)

    rule_sites: dict[str, Rule] = {}
    for pack in packs:
        for rule in pack.rules:
            if rule.id in rule_sites:
                other = rule_sites[rule.id].at
                raise rule.at.error(f"duplicate rule id '{rule.id}' (also at {other.file}:"
                                    f"{other.line})")
            rule_sites[rule.id] = rule
    disabled, severity_overrides = _apply_changes(packs, rule_sites, disable, severity,
                                                  select, ignore)
    rules = [rule for pack in packs for rule in pack.rules if rule.id not in disabled]
    if len(rules) > MAX_RULES:
        raise PackError(f"{len(rules)} rules are loaded; the limit is {MAX_RULES}",
                        file=str(packs[0].root / MANIFEST))
    _check_disabled_producers(packs, rules, rule_sites, disabled)

    derived_by: dict[str, list[Rule]] = {}
    for rule in rules:
        if rule.derive_kind:
            if rule.derive_kind in BASE_SCHEMAS:
                raise rule.at.error(f"'{rule.derive_kind}' is a fact every case provides; "
                                    "a rule cannot derive it")
            derived_by.setdefault(rule.derive_kind, []).append(rule)

    order = _derivation_order(rules, derived_by)
    schemas = {kind: dict(fields) for kind, fields in BASE_SCHEMAS.items()}
    checker = _Checker(schemas, categories, {pack.name: _visible(pack, parameters)
                                             for pack in packs})
    for rule in order:
        checker.check(rule, derived_by)
    for rule in rules:
        if not rule.derive_kind:
            checker.check(rule, derived_by)

    strata = 0
    kind_stratum: dict[str, int] = {}
    for rule in order + [r for r in rules if not r.derive_kind]:
        level = 0
        for pattern in rule.patterns:
            # the engine withdraws no activation when a blocking fact arrives later, so a
            # negation waits until every fact of the negated kind exists
            below = kind_stratum.get(pattern.kind, 0)
            level = max(level, below + 1 if pattern.negated else below)
        rule.stratum = level
        strata = max(strata, level)
        if rule.derive_kind:
            kind_stratum[rule.derive_kind] = max(kind_stratum.get(rule.derive_kind, 0), level)
    return PackSet(packs, rules, categories, schemas,
                   {k: [r.id for r in v] for k, v in derived_by.items()}, strata, parameters,
                   disabled=disabled, severity_overrides=severity_overrides)


def _check_parameter_conflicts(packs: list[Pack]) -> None:
    owners: dict[str, Pack] = {}
    for pack in packs:
        for name in pack.manifest.parameters:
            other = owners.get(name)
            if other is not None:
                line, _ = other.manifest_doc.position(("parameters", name), key=True)
                raise pack.manifest_doc.error(
                    PackError, f"parameter '{name}' is also declared by pack '{other.name}' "
                    f"({other.manifest_doc.name}:{line}); a name means one parameter: rename "
                    "one, or set the other pack's value under 'overrides: parameters:' when "
                    "this pack extends it", ("parameters", name), key=True)
            owners[name] = pack


def _apply_changes(packs, rule_sites, disable, severity, select=None, ignore=None):
    """Rules left out and severities changed, by the packs that extend others and then by
    the caller (selection last: it chooses among the rules still in): rule id -> who
    disabled it, and rule id -> SeverityOverride."""
    disabled: dict[str, str] = {}
    changed: dict[str, SeverityOverride] = {}

    def ancestor_rule(pack: Pack, rule_id: str, path: tuple) -> Rule:
        inherited = {r.id: r for a in pack.ancestors for r in a.rules}
        if rule_id not in inherited:
            own = " (it is this pack's own rule: change or remove it instead)" \
                if any(r.id == rule_id for r in pack.rules) else did_you_mean(rule_id, inherited)
            raise pack.manifest_doc.error(PackError, f"no rule '{rule_id}' in the packs this "
                                          f"one extends{own}", path)
        return inherited[rule_id]

    def set_severity(rule: Rule, level: str, by: str, error) -> None:
        if rule.report is None:
            raise error(f"rule '{rule.id}' derives a fact; only reporting rules have a "
                        "severity")
        if rule.report.kind == "strength" and level != "info":
            raise error(f"rule '{rule.id}' reports a strength; strengths have severity info")
        default = changed[rule.id].default if rule.id in changed else rule.report.severity
        rule.report = rule.report.model_copy(update={"severity": level})
        if level == default:
            changed.pop(rule.id, None)
        else:
            changed[rule.id] = SeverityOverride(default, by)

    for pack in packs:
        by = f"pack {pack.name}"
        for i, rule_id in enumerate(pack.manifest.disable):
            ancestor_rule(pack, rule_id, ("disable", i))
            disabled[rule_id] = by
        for rule_id, level in pack.manifest.overrides.severity.items():
            path = ("overrides", "severity", rule_id)
            rule = ancestor_rule(pack, rule_id, path)
            set_severity(rule, level, by, lambda message, path=path, pack=pack:
                         pack.manifest_doc.error(PackError, message, path))

    items = disable.items() if isinstance(disable, dict) else ((r, "command line")
                                                              for r in disable or ())
    for rule_id, by in items:
        if rule_id not in rule_sites:
            raise PackError(f"no rule '{rule_id}' is loaded{did_you_mean(rule_id, rule_sites)}",
                            path=f"--disable {rule_id}")
        disabled[rule_id] = by
    for rule_id, wanted in (severity or {}).items():
        level, by = wanted if isinstance(wanted, tuple) else (wanted, "command line")
        if rule_id not in rule_sites:
            raise PackError(f"no rule '{rule_id}' is loaded{did_you_mean(rule_id, rule_sites)}",
                            path=f"--severity {rule_id}")
        if level not in SEVERITIES:
            raise PackError(f"expected one of {', '.join(SEVERITIES)}, found {level!r}",
                            path=f"--severity {rule_id}")
        set_severity(rule_sites[rule_id], level, by,
                     lambda message, rule_id=rule_id: PackError(
                         message, path=f"--severity {rule_id}"))
    disabled.update(select_rules(list(rule_sites.values()), disabled, select, ignore))
    for rule_id in disabled:
        changed.pop(rule_id, None)
    return disabled, changed


def _check_disabled_producers(packs: list[Pack], rules: list[Rule],
                              rule_sites: dict[str, Rule], disabled: dict[str, str]) -> None:
    """A rule that needs a fact only disabled rules derive could never fire: say so rather
    than let it fall silent."""
    live = {r.derive_kind for r in rules if r.derive_kind}
    gone: dict[str, list[str]] = {}
    for rule_id in disabled:
        kind = rule_sites[rule_id].derive_kind
        if kind and kind not in live:
            gone.setdefault(kind, []).append(rule_id)
    if not gone:
        return
    for rule in rules:
        for pattern in rule.patterns:
            if pattern.kind in gone:
                ids = gone[pattern.kind]
                error = PackError(
                    f"rule '{rule.id}' ({rule.at.file}:{rule.at.line}) uses fact "
                    f"'{pattern.kind}', which only disabled rules derive "
                    f"({', '.join(f'{i}, disabled by {disabled[i]}' for i in ids)}); disable "
                    f"'{rule.id}' too, or keep one of them")
                for pack in packs:   # point at the entry that disabled it, when a pack did
                    if ids[0] in pack.manifest.disable:
                        at = where_in(pack.manifest_doc,
                                    ("disable", pack.manifest.disable.index(ids[0])))
                        raise error.located(file=at.file, line=at.line, column=at.column,
                                            path=at.path)
                raise error.located(path=f"--disable {ids[0]}")


def _effective_parameters(packs: list[Pack], overrides: dict) -> dict[str, dict]:
    result = {pack.name: dict(pack.manifest.parameters) for pack in packs}
    for pack in packs:
        for name, change in pack.manifest.overrides.parameters.items():
            path = ("overrides", "parameters", name)
            owner = next((a for a in pack.ancestors if name in a.manifest.parameters), None)
            if owner is None:
                inherited = [n for a in pack.ancestors for n in a.manifest.parameters]
                own = (" (it is this pack's own parameter: set its value under 'parameters')"
                       if name in pack.manifest.parameters else did_you_mean(name, inherited))
                raise pack.manifest_doc.error(PackError, f"no parameter '{name}' in the packs "
                                              f"this one extends{own}", path)
            spec = result[owner.name][name]
            try:
                value = coerce_param(spec, change.value, name)
            except ValueError as exc:
                raise pack.manifest_doc.error(PackError, str(exc), path + ("value",)) from None
            result[owner.name][name] = spec.model_copy(update={
                "value": value, "by_year": None,
                "source": f"{change.source} (set by pack {pack.name}; "
                          f"{owner.name} gives {_show_value(spec.value)})"})
    for raw_name, raw_value in overrides.items():
        if "." in raw_name:
            pack_name, name = raw_name.split(".", 1)
            owners = [pack_name] if name in result.get(pack_name, {}) else []
        else:
            name = raw_name
            owners = [p for p, specs in result.items() if name in specs]
        if not owners:
            known = sorted({f"{p}.{n}" if "." in raw_name else n
                            for p, specs in result.items() for n in specs})
            raise PackError(f"unknown parameter '{raw_name}'{did_you_mean(raw_name, known)}",
                            path=f"--param {raw_name}")
        if len(owners) > 1:
            raise PackError(f"parameter '{raw_name}' is declared by several packs "
                            f"({', '.join(owners)}); write PACK.{name}",
                            path=f"--param {raw_name}")
        spec = result[owners[0]][name]
        try:
            value = coerce_param(spec, raw_value, name)
        except ValueError as exc:
            raise PackError(str(exc), path=f"--param {raw_name}") from None
        # a value given for the run applies to every year: it replaces a dated schedule
        result[owners[0]][name] = spec.model_copy(update={"value": value, "by_year": None})
    return result


def _check_dated_values(packs: list[Pack]) -> None:
    """Dated values come in increasing years, each of the parameter's own type."""
    for pack in packs:
        for name, spec in pack.manifest.parameters.items():
            previous = None
            for index, dated in enumerate(spec.by_year or ()):
                path = ("parameters", name, "by_year", index)
                if previous is not None and dated.since <= previous:
                    raise pack.manifest_doc.error(
                        PackError, f"dated values must come in increasing years: {dated.since} "
                        f"follows {previous}", path + ("from",))
                previous = dated.since
                try:
                    coerce_param(spec, dated.value, name)
                except ValueError as exc:
                    raise pack.manifest_doc.error(PackError, str(exc),
                                                  path + ("value",)) from None


def _show_value(value) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value).lower() \
        if isinstance(value, bool) else str(value)


def _derivation_order(rules: list[Rule], derived_by: dict[str, list[Rule]]) -> list[Rule]:
    """Derive rules in an order where every fact kind's producers come before its users;
    a cycle is an error that names the rules in it."""
    state: dict[str, int] = {}
    order: list[Rule] = []
    placed: set[int] = set()   # by identity: comparing rules field by field is quadratic work
    stack: list[Rule] = []

    def visit(kind: str):
        if state.get(kind) == 2:
            return
        if state.get(kind) == 1:
            start = next(i for i, r in enumerate(stack) if r.derive_kind == kind)
            cycle = stack[start:]
            names = " -> ".join(f"{r.id} (derives {r.derive_kind})" for r in cycle)
            raise cycle[-1].at.error(f"derivation cycle: {names}, which uses {kind}; a fact "
                                     "may not depend on itself")
        state[kind] = 1
        for rule in derived_by.get(kind, []):
            stack.append(rule)
            for pattern in rule.patterns:
                if pattern.kind in derived_by:
                    visit(pattern.kind)
            stack.pop()
            if id(rule) not in placed:
                placed.add(id(rule))
                order.append(rule)
        state[kind] = 2

    for kind in derived_by:
        visit(kind)
    return order
