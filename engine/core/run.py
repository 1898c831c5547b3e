"""Assessing cases: the library's main entry points."""
from __future__ import annotations

import threading
from pathlib import Path

from ..errors import CaseError, UsageError
from ..inputs.case import check_case, load_case_document
from ..lang import loader
from ..lang.pack import PackSet
from ..model import (
    SEVERITIES,
    Case,
    CaseRef,
    Citation,
    DerivedFact,
    Effect,
    Finding,
    PackRef,
    Report,
    RiskCounts,
    RuleInfo,
    SeverityChange,
    Summary,
)
from .compile import CompiledPack, Outcome
from .facts import case_facts

_default_lock = threading.Lock()
_default: PackSet | None = None


def load_pack(*specs: str | Path, params: dict | None = None,
              disable: list[str] | tuple[str, ...] | dict[str, str] | None = None,
              severity: dict[str, str | tuple[str, str]] | None = None,
              select: list[str] | tuple[str, ...] | dict[str, str] | None = None,
              ignore: list[str] | tuple[str, ...] | dict[str, str] | None = None
              ) -> PackSet:
    """Load and compile rule packs (folders or installed pack names; the default pack when
    none). A pack that extends another brings it along.

    `params` overrides parameter values by name (`name` or `pack.name`); `disable` leaves
    rules out by id; `severity` maps a reporting rule's id to the severity it should report;
    `select` and `ignore` choose the rules that report by selector (`DD-TRA`, `concern:NAME`,
    `tag:NAME`: engine.lang.selection). `disable`, `select` and `ignore` may map each entry
    to who gives it, and a severity may be a (level, who) pair: reports name who changed a
    severity ("command line" when not told)."""
    if not specs and not params and not disable and not severity and not select \
            and not ignore:
        return default_pack()
    packset = _load_compiled(specs, {"params": params, "disable": disable,
                                     "severity": severity, "select": select, "ignore": ignore})
    # what a worker process needs to load the same packs (a compiled pack cannot be sent);
    # a selection travels as the rules it disabled
    packset.origin = {"specs": tuple(str(spec) for spec in specs),
                      "params": dict(params or {}),
                      "disable": dict(packset.disabled) if select or ignore
                      else dict(disable) if isinstance(disable, dict)
                      else list(disable or ()),
                      "severity": dict(severity or {})}
    return packset


def default_pack() -> PackSet:
    global _default
    with _default_lock:
        if _default is None:
            packset = _load_compiled((), {})
            packset.origin = {"specs": (), "params": {}, "disable": [], "severity": {}}
            _default = packset
        return _default


def _load_compiled(specs: tuple, options: dict) -> PackSet:
    """The packs loaded and compiled, or taken from the cache of compiled packs when it is
    on (engine.core.cache) and holds them."""
    import gc
    # loading makes many objects and no garbage worth a collection: a collection in the
    # middle walks every object the imports made, a third of the time of a load from cache
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _load_uncollected(specs, options)
    finally:
        if collecting:
            gc.enable()


def _load_uncollected(specs: tuple, options: dict) -> PackSet:
    from . import cache
    name = cache.key(specs, options) if cache.enabled else None
    if name is not None:
        found = cache.load(name)
        if found is not None:
            packset, prepared = found
            packset.compiled = CompiledPack(packset, prepared)
            return packset
    packset = loader.load_pack(*specs, **options)
    packset.compiled = CompiledPack(packset)
    if name is not None:
        cache.store(name, packset, packset.compiled.prepared)
    return packset


_variants_lock = threading.Lock()
_ITSELF = "itself"


def for_year(pack: PackSet, year: int | None) -> PackSet:
    """The packs with the values their dated parameters take in fiscal year `year`: `pack`
    itself when no parameter is dated or the year's values are those it was compiled with,
    else the same packs compiled once with the year's values and kept for later cases."""
    dated = pack.dated_parameters
    if not dated or year is None:
        return pack
    known = pack.year_variants.get(year)   # what the year gave before
    if known is not None:
        return pack if known is _ITSELF else known
    values = {name: spec.value_for(year) for name, spec in dated.items()}
    if all(values[name] == spec.value for name, spec in dated.items()):
        pack.year_variants[year] = _ITSELF   # not the pack: no cycle keeps it alive
        return pack
    key = tuple(sorted((name, repr(value)) for name, value in values.items()))
    with _variants_lock:
        variant = pack.year_variants.get(key)
        if variant is None:
            origin = pack.origin
            variant = load_pack(*origin["specs"], params={**origin["params"], **values},
                                disable=origin["disable"] or None,
                                severity=origin["severity"] or None)
            pack.year_variants[key] = variant
        pack.year_variants[year] = variant
    return variant


def load_case(path: str | Path, pack: PackSet | None = None) -> Case:
    """Read and validate a case file (YAML or JSON) against the categories of `pack`."""
    pack = pack or default_pack()
    return load_case_document(path, pack.categories)


def assess(case: Case, pack: PackSet | None = None, *, explain: bool = False) -> Report:
    """Assess one case with a compiled pack set (the default pack when none is given).
    `explain` adds every derived fact with its provenance. (Near misses are added by
    engine.api.assess, which the package exports.)"""
    if not isinstance(case, Case):
        raise UsageError(f"assess() takes a Case (see load_case), not {type(case).__name__}")
    pack = pack or default_pack()
    if getattr(pack, "compiled", None) is None:
        raise UsageError("assess() takes a pack from engine.load_pack()")
    pack = for_year(pack, case.fiscal_year)
    compiled: CompiledPack = pack.compiled
    check_case(case, pack.categories)
    facts = case_facts(case, pack.groups, compiled.kinds, compiled.history, compiled.read)
    try:
        outcome = compiled.run(facts, {"unit": case.unit, "currency": case.currency})
    except CaseError as exc:
        raise exc.located(file=case.source or f"case {case.id}") from None
    del facts   # the outcome's records hold what the report needs of them
    return build_report(case, pack, outcome, explain=explain)


def _finding_order(finding: Finding):
    return (finding.kind != "risk", -SEVERITIES.index(finding.severity), finding.rule,
            finding.id)


def build_report(case: Case, pack: PackSet, outcome: Outcome, *, explain: bool) -> Report:
    findings = []
    given: dict[frozenset, set] = {}
    for emitted in outcome.findings:
        rule = emitted.rule
        report = rule.report
        citation, parameters, change = _rule_parts(pack, rule)
        # validating from a dict is pydantic's fastest way in (faster than keywords, and than
        # model_construct, which is pure Python)
        finding = Finding.model_validate({
            "id": emitted.id, "rule": rule.id, "pack": rule.pack, "kind": report.kind,
            "severity": report.severity, "concern": report.concern, "title": rule.title,
            "message": emitted.message, "subjects": list(emitted.subjects),
            "citation": citation, "because": list(emitted.because),
            "remediation": emitted.remediation, "inputs": list(emitted.inputs),
            "parameters": dict(parameters), "severity_override": change,
            "cause": emitted.cause or None})
        _share_fields_set(finding, given)
        findings.append(finding)
    findings.sort(key=_finding_order)
    findings = fold_by_cause(findings)
    counts = {s: 0 for s in SEVERITIES}
    strengths = 0
    for finding in findings:
        if finding.kind == "risk":
            counts[finding.severity] += 1
        else:
            strengths += 1
    if counts["high"] or counts["critical"]:
        verdict = "fail"
    elif counts["medium"]:
        verdict = "warn"
    else:
        verdict = "pass"
    facts = None
    if explain:
        facts = sorted((DerivedFact(
            id=r.id, kind=r.kind, rule=r.rule.id, pack=r.rule.pack, fields=r.fields,
            subjects=list(r.subjects), because=list(r.because), inputs=list(r.inputs),
            parameters=dict(_rule_parts(pack, r.rule)[1]),
            citation=_rule_parts(pack, r.rule)[0])
            for r in outcome.derived), key=lambda f: f.id)
    return Report.model_validate({
        "case": CaseRef(id=case.id, title=case.title, country=case.country,
                        fiscal_year=case.fiscal_year, source=case.source),
        "packs": pack_refs(pack), "verdict": verdict,
        "summary": Summary(risks=RiskCounts(**counts), strengths=strengths),
        "findings": findings, "facts": facts})


def _share_fields_set(model, shared: dict[frozenset, set]) -> None:
    """One set of the fields given, for every model that was given the same ones: pydantic
    makes a set per model (728 bytes for a finding's 16 fields), which was a third of a
    large report's memory. The models are frozen, and model_copy copies the set before
    changing it."""
    given = model.__pydantic_fields_set__
    first = shared.setdefault(frozenset(given), given)
    if first is not given:
        object.__setattr__(model, "__pydantic_fields_set__", first)


def fold_by_cause(findings: list[Finding]) -> list[Finding]:
    """One finding per root cause: findings of the same kind with the same cause become the
    most severe of them (the first in report order), with the others as its effects and its
    subjects, derived facts and inputs the union of theirs. Findings without a cause stand
    alone. `findings` is in report order, and so is the result."""
    groups: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        if finding.cause:
            groups.setdefault((finding.kind, finding.cause), []).append(finding)
    if all(len(group) == 1 for group in groups.values()):
        return findings
    folded: dict[str, Finding] = {}
    dropped: set[str] = set()
    for group in groups.values():
        if len(group) == 1:
            continue
        first, rest = group[0], group[1:]
        effects, seen = [], set()
        for other in rest:
            dropped.add(other.id)
            key = (other.rule, tuple(other.subjects), other.message)
            if key in seen:   # the same effect reached through another combination of facts
                continue
            seen.add(key)
            effects.append(Effect(id=other.id, rule=other.rule, severity=other.severity,
                                  concern=other.concern, title=other.title,
                                  message=other.message, subjects=other.subjects))
        union = lambda name: list(dict.fromkeys(  # noqa: E731
            item for f in group for item in getattr(f, name)))
        folded[first.id] = first.model_copy(update={
            "effects": effects, "subjects": union("subjects"), "because": union("because"),
            "inputs": union("inputs")})
    return [folded.get(f.id, f) for f in findings if f.id not in dropped]


def _rule_parts(pack: PackSet, rule) -> tuple:
    """What every finding of a rule shares: its citation, its parameter values and any
    change to its severity, made once per pack set (the models are immutable)."""
    cache = pack.report_parts
    parts = cache.get(id(rule))
    if parts is None:
        parts = (Citation(section=rule.citation.section, quote=rule.citation.quote),
                 dict(sorted(rule.params.items())), _severity_change(pack, rule.id))
        cache[id(rule)] = parts
    return parts


def pack_refs(pack: PackSet) -> list[PackRef]:
    """The packs of a set as reports name them, bases before the packs that extend them."""
    refs = pack.report_parts.get("packs")
    if refs is None:
        refs = [PackRef(name=p.name, version=p.version, extends=p.extends,
                        disabled=sorted(r.id for r in p.rules if r.id in pack.disabled))
                for p in pack.packs]
        pack.report_parts["packs"] = refs
    return list(refs)


def _severity_change(pack: PackSet, rule_id: str) -> SeverityChange | None:
    change = pack.severity_overrides.get(rule_id)
    return None if change is None else SeverityChange(default=change.default, by=change.by)


def list_rules(pack: PackSet | None = None) -> list[RuleInfo]:
    """The loaded rules, in the packs' order."""
    pack = pack or default_pack()
    return [RuleInfo(id=r.id, pack=r.pack, kind=r.kind,
                     severity=r.report.severity if r.report else None,
                     concern=r.report.concern if r.report else None,
                     derives=r.derive_kind, citation=r.citation.section, title=r.title,
                     file=r.at.file, line=r.at.line, tags=list(r.tags)) for r in pack.rules]


def parse_assignments(assignments, option: str, what: str = "NAME", convert=str) -> dict:
    """`KEY=VALUE` strings given to a command-line option, as a dict of converted values."""
    result: dict = {}
    for text in assignments:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"expected {what}=VALUE, found {text!r}", path=option)
        result[key.strip()] = convert(value)
    return result


def parse_params(assignments: list[str] | tuple[str, ...]) -> dict[str, str]:
    """`--param NAME=VALUE` options (values are converted to each parameter's type on load)."""
    return parse_assignments(assignments, "--param")
