"""Assessing cases: the library's main entry points."""
from __future__ import annotations

import threading
from pathlib import Path

from . import pack as packs
from .case import check_case, load_case_document
from .compile import CompiledPack, Outcome
from .errors import UsageError
from .facts import case_facts
from .model import (SEVERITIES, Case, CaseRef, Citation, DerivedFact, Finding, PackRef, Report,
                    RiskCounts, RuleInfo, Summary)

_default_lock = threading.Lock()
_default: packs.PackSet | None = None


def load_pack(*specs: str | Path, params: dict | None = None) -> packs.PackSet:
    """Load and compile rule packs (folders or built-in names; the default pack when none).

    `params` overrides parameter values by name (`name` or `pack.name`)."""
    if not specs and not params:
        return default_pack()
    packset = packs.load_pack(*specs, params=params)
    packset.compiled = CompiledPack(packset)
    return packset


def default_pack() -> packs.PackSet:
    global _default
    with _default_lock:
        if _default is None:
            packset = packs.load_pack()
            packset.compiled = CompiledPack(packset)
            _default = packset
        return _default


def load_case(path: str | Path, pack: packs.PackSet | None = None) -> Case:
    """Read and validate a case file (YAML or JSON) against the categories of `pack`."""
    pack = pack or default_pack()
    return load_case_document(path, pack.categories)


def assess(case: Case, pack: packs.PackSet | None = None, *, explain: bool = False,
           near_miss: float | None = None) -> Report:
    """Assess one case with a compiled pack set (the default pack when none is given).

    `explain` adds every derived fact with its provenance; `near_miss` (a margin such as 0.2)
    adds the rules that did not fire because one numeric condition fell short by at most that
    share of its threshold."""
    if not isinstance(case, Case):
        raise UsageError(f"assess() takes a Case (see load_case), not {type(case).__name__}")
    pack = pack or default_pack()
    compiled: CompiledPack | None = getattr(pack, "compiled", None)
    if compiled is None:
        raise UsageError("assess() takes a pack from engine.load_pack()")
    check_case(case, pack.categories)
    facts = case_facts(case, pack.groups)
    outcome = compiled.run(facts, {"unit": case.unit, "currency": case.currency})
    if near_miss is None:
        return build_report(case, pack, outcome, explain=explain)
    from .explain import near_misses
    full = build_report(case, pack, outcome, explain=True)
    report = full if explain else full.model_copy(update={"facts": None})
    return report.model_copy(update={"near_misses": near_misses(case, pack, full,
                                                                margin=near_miss)})


def _finding_order(finding: Finding):
    return (finding.kind != "risk", -SEVERITIES.index(finding.severity), finding.rule,
            finding.id)


def build_report(case: Case, pack: packs.PackSet, outcome: Outcome, *, explain: bool) -> Report:
    findings = []
    for emitted in outcome.findings:
        rule = emitted.rule
        report = rule.report
        findings.append(Finding(
            id=emitted.id, rule=rule.id, pack=rule.pack, kind=report.kind,
            severity=report.severity, concern=report.concern, title=rule.title,
            message=emitted.message, subjects=list(emitted.subjects),
            citation=Citation(section=rule.citation.section, quote=rule.citation.quote),
            because=list(emitted.because), remediation=emitted.remediation,
            inputs=list(emitted.inputs), parameters=dict(sorted(rule.params.items()))))
    findings.sort(key=_finding_order)
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
            parameters=dict(sorted(r.rule.params.items())),
            citation=Citation(section=r.rule.citation.section, quote=r.rule.citation.quote))
            for r in outcome.derived), key=lambda f: f.id)
    return Report(
        case=CaseRef(id=case.id, title=case.title, country=case.country,
                     fiscal_year=case.fiscal_year, source=case.source),
        packs=[PackRef(name=p.name, version=p.version) for p in pack.packs],
        verdict=verdict, summary=Summary(risks=RiskCounts(**counts), strengths=strengths),
        findings=findings, facts=facts)


def list_rules(pack: packs.PackSet | None = None) -> list[RuleInfo]:
    """The loaded rules, in the packs' order."""
    pack = pack or default_pack()
    return [RuleInfo(id=r.id, pack=r.pack, kind=r.kind,
                     severity=r.report.severity if r.report else None,
                     concern=r.report.concern if r.report else None,
                     derives=r.derive_kind, citation=r.citation.section, title=r.title,
                     file=r.at.file, line=r.at.line) for r in pack.rules]


def parse_params(assignments: list[str] | tuple[str, ...]) -> dict[str, str]:
    """`NAME=VALUE` strings from the command line into a dict (values converted on load)."""
    params: dict[str, str] = {}
    for text in assignments:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"expected NAME=VALUE, found {text!r}", path="--param")
        params[name.strip()] = value
    return params


def assess_files(paths: list[str], pack: packs.PackSet | None = None, *,
                 explain: bool = False, near_miss: float | None = None) -> list[Report]:
    """Assess case files; every file is read and validated before any is assessed, so one
    invalid file stops the run with nothing half-reported."""
    pack = pack or default_pack()
    cases = [load_case(path, pack) for path in paths]
    return [assess(case, pack, explain=explain, near_miss=near_miss) for case in cases]
