"""Assessing cases: the library's main entry points."""
from __future__ import annotations

import threading
from collections import deque
from pathlib import Path
from typing import Callable

from ..errors import CaseError, DiploError, UsageError
from ..inputs.case import check_case, load_case_document
from ..lang import loader
from ..lang.pack import PackSet
from ..model import (
    SEVERITIES,
    Case,
    CaseRef,
    Citation,
    DerivedFact,
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
              severity: dict[str, str | tuple[str, str]] | None = None) -> PackSet:
    """Load and compile rule packs (folders or installed pack names; the default pack when
    none). A pack that extends another brings it along.

    `params` overrides parameter values by name (`name` or `pack.name`); `disable` leaves
    rules out by id; `severity` maps a reporting rule's id to the severity it should report.
    `disable` may map each id to who disables it, and a severity may be a (level, who) pair:
    reports name who changed a severity ("command line" when not told)."""
    if not specs and not params and not disable and not severity:
        return default_pack()
    packset = loader.load_pack(*specs, params=params, disable=disable, severity=severity)
    packset.compiled = CompiledPack(packset)
    # what a worker process needs to load the same packs (a compiled pack cannot be sent)
    packset.origin = {"specs": tuple(str(spec) for spec in specs),
                      "params": dict(params or {}),
                      "disable": dict(disable) if isinstance(disable, dict)
                      else list(disable or ()),
                      "severity": dict(severity or {})}
    return packset


def default_pack() -> PackSet:
    global _default
    with _default_lock:
        if _default is None:
            packset = loader.load_pack()
            packset.compiled = CompiledPack(packset)
            packset.origin = {"specs": (), "params": {}, "disable": [], "severity": {}}
            _default = packset
        return _default


def load_case(path: str | Path, pack: PackSet | None = None) -> Case:
    """Read and validate a case file (YAML or JSON) against the categories of `pack`."""
    pack = pack or default_pack()
    return load_case_document(path, pack.categories)


def assess(case: Case, pack: PackSet | None = None, *, explain: bool = False,
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
    facts = case_facts(case, pack.groups, compiled.kinds)
    try:
        outcome = compiled.run(facts, {"unit": case.unit, "currency": case.currency})
    except CaseError as exc:
        raise exc.located(file=case.source or f"case {case.id}") from None
    if near_miss is None:
        return build_report(case, pack, outcome, explain=explain)
    from ..analysis.explain import near_misses
    full = build_report(case, pack, outcome, explain=True)
    report = full if explain else full.model_copy(update={"facts": None})
    return report.model_copy(update={"near_misses": near_misses(case, pack, full,
                                                                margin=near_miss)})


def _finding_order(finding: Finding):
    return (finding.kind != "risk", -SEVERITIES.index(finding.severity), finding.rule,
            finding.id)


def build_report(case: Case, pack: PackSet, outcome: Outcome, *, explain: bool) -> Report:
    findings = []
    for emitted in outcome.findings:
        rule = emitted.rule
        report = rule.report
        citation, parameters, change = _rule_parts(pack, rule)
        # validating from a dict is pydantic's fastest way in (faster than keywords, and than
        # model_construct, which is pure Python)
        findings.append(Finding.model_validate({
            "id": emitted.id, "rule": rule.id, "pack": rule.pack, "kind": report.kind,
            "severity": report.severity, "concern": report.concern, "title": rule.title,
            "message": emitted.message, "subjects": list(emitted.subjects),
            "citation": citation, "because": list(emitted.because),
            "remediation": emitted.remediation, "inputs": list(emitted.inputs),
            "parameters": dict(parameters), "severity_override": change}))
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
            parameters=dict(_rule_parts(pack, r.rule)[1]),
            citation=_rule_parts(pack, r.rule)[0])
            for r in outcome.derived), key=lambda f: f.id)
    return Report.model_validate({
        "case": CaseRef(id=case.id, title=case.title, country=case.country,
                        fiscal_year=case.fiscal_year, source=case.source),
        "packs": pack_refs(pack), "verdict": verdict,
        "summary": Summary(risks=RiskCounts(**counts), strengths=strengths),
        "findings": findings, "facts": facts})


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
                     file=r.at.file, line=r.at.line) for r in pack.rules]


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


def assess_files(paths: list[str], pack: PackSet | None = None, *,
                 explain: bool = False, near_miss: float | None = None, jobs: int = 1,
                 on_error: Callable[[str, DiploError], None] | None = None,
                 progress: Callable[[int], None] | None = None) -> list[Report]:
    """Assess case files, each read, validated and assessed on its own, so that one invalid
    file does not stop the others; the reports come in the order of `paths`.

    An invalid file's error goes to `on_error(path, error)` (in the order of `paths`) and the
    file has no report. Without `on_error`, the first error is raised: a caller that does not
    ask about invalid files never gets a list that silently lacks one.

    `jobs` above 1 assesses in that many worker processes, each of which loads the packs once;
    the reports are the same as one at a time. The workers are spawned, so a script that calls
    this with `jobs` above 1 keeps its own work under `if __name__ == "__main__":`, as
    multiprocessing requires. `progress(done)` is called as files end.
    """
    reports = []
    outcomes = assess_each(paths, pack, explain=explain, near_miss=near_miss, jobs=jobs,
                           progress=progress, stop_at_error=on_error is None)
    for path, (report, error) in zip(paths, outcomes):
        if error is None:
            reports.append(report)
        elif on_error is None:
            raise error
        else:
            on_error(str(path), error)
    return reports


def assess_each(paths: list[str], pack: PackSet | None = None, *,
                explain: bool = False, near_miss: float | None = None, jobs: int = 1,
                progress: Callable[[int], None] | None = None, stop_at_error: bool = False
                ) -> list[tuple[Report | None, DiploError | None]]:
    """(report, None) or (None, error) for each path, in the order of `paths`; see
    assess_files. `stop_at_error` ends the run at the first invalid file, when nothing after
    it is wanted (one process only; workers finish the batch)."""
    pack = pack or default_pack()
    paths = [str(path) for path in paths]
    if jobs > 1 and len(paths) > 1:
        return _assess_in_workers(paths, pack, min(jobs, len(paths)), explain, near_miss,
                                  progress)
    outcomes = []
    for done, path in enumerate(paths, 1):
        outcomes.append(_assess_file(path, pack, explain, near_miss))
        if stop_at_error and outcomes[-1][1] is not None:
            break
        if progress is not None:
            progress(done)
    return outcomes


def _assess_file(path: str, pack: PackSet, explain: bool, near_miss: float | None
                 ) -> tuple[Report | None, DiploError | None]:
    try:
        return assess(load_case(path, pack), pack, explain=explain, near_miss=near_miss), None
    except DiploError as exc:
        return None, exc


def _assess_in_workers(paths, pack, jobs, explain, near_miss, progress):
    """`jobs` processes assess the files: this one and jobs - 1 workers. This process
    already has the packs loaded, so it works from the first moment (a worker first starts
    Python and loads them), and takes a chunk whenever no worker is free."""
    origin = getattr(pack, "origin", None)
    if origin is None:
        raise UsageError("assessing in several processes needs a pack from engine.load_pack()")
    # a case takes milliseconds: files go in chunks, so that sending work and results does not
    # cost more than the work; small enough chunks keep the workers even and progress moving
    size = max(1, min(16, len(paths) // (jobs * 4)))
    pending = deque(enumerate(paths[i:i + size] for i in range(0, len(paths), size)))
    results: dict[int, list] = {}
    # spawn, not fork: a forked child would inherit the locks of the caller's other threads
    # (assess_files may run in a threaded program) and the rule engine's native state
    import multiprocessing  # here, not at the top: only a batch in workers needs them
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    context = multiprocessing.get_context("spawn")
    done = 0

    def finished(index: int, outcomes: list) -> None:
        nonlocal done
        results[index] = outcomes
        done += len(outcomes)
        if progress is not None:
            progress(done)

    with ProcessPoolExecutor(jobs - 1, mp_context=context, initializer=_start_worker,
                             initargs=(origin,)) as pool:
        running: dict = {}
        try:
            while pending or running:
                # two chunks per worker, so that a worker never waits while this process works
                while pending and len(running) < 2 * (jobs - 1):
                    index, chunk = pending.popleft()
                    running[pool.submit(_assess_in_worker, chunk, explain, near_miss)] = index
                if pending:
                    index, chunk = pending.popleft()
                    finished(index, [_assess_file(path, pack, explain, near_miss)
                                     for path in chunk])
                    ready = [f for f in running if f.done()]
                else:
                    ready = wait(running, return_when=FIRST_COMPLETED).done
                for future in ready:
                    finished(running.pop(future), future.result())
        except BaseException:
            for future in running:
                future.cancel()
            raise
    return [outcome for index in sorted(results) for outcome in results[index]]


_worker_pack: PackSet | None = None


def _start_worker(origin: dict) -> None:
    global _worker_pack
    # Ctrl-C reaches the whole process group: the parent stops the batch and says so once,
    # instead of every worker printing a traceback
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_pack = load_pack(*origin["specs"], params=origin["params"] or None,
                             disable=origin["disable"] or None,
                             severity=origin["severity"] or None)


def _assess_in_worker(paths: list[str], explain: bool, near_miss: float | None):
    return [_assess_file(path, _worker_pack, explain, near_miss) for path in paths]
