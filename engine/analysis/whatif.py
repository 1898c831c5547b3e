"""What-if analyses: compare two assessments, and assess a changed case (sweeps: sweep.py).

Every answer here comes from assessing again with the same compiled rules (`run.assess`); nothing
predicts what a rule would say. A finding's causes are found by provenance: its `inputs`, and
through `because` the inputs of the derived facts it rests on, are the case fields its rules
read; those whose values differ between the two cases are its causes.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any, Literal

from ..core import run
from ..errors import UsageError
from ..lang.pack import PackSet
from ..model import (
    SEVERITIES,
    Case,
    CaseRef,
    Finding,
    FrozenModel,
    PackRef,
    Report,
    Severity,
    Summary,
)
from .edit import (
    case_data,
    entry_key,
    id_path,
    parse_path,
    parse_value,
    show_path,
    with_values,
)

_CASE_FIELDS = tuple(Case.model_fields)

# In every model below a value of None means "absent": case data never holds null, because
# absent optional fields are left out of it rather than written as null.


class FieldChange(FrozenModel):
    """One case field whose value differs between the base and the proposal."""

    path: str
    base: Any = None
    proposal: Any = None


class ParameterChange(FrozenModel):
    """One pack parameter whose value differs (`PACK.NAME`)."""

    name: str
    base: Any = None
    proposal: Any = None


class FindingChange(FrozenModel):
    id: str
    rule: str
    pack: str
    kind: Literal["risk", "strength"]
    title: str
    concern: str
    subjects: list[str]
    change: Literal["new", "resolved", "more_severe", "less_severe"]
    base_severity: Severity | None
    proposal_severity: Severity | None
    message: str
    inputs: list[str]
    causes: list[FieldChange]
    parameter_causes: list[ParameterChange]


class Comparison(FrozenModel):
    """What changes between two assessments, and which differing inputs each change rests on."""

    base: CaseRef
    proposal: CaseRef
    packs: list[PackRef]
    base_verdict: Literal["pass", "warn", "fail"]
    proposal_verdict: Literal["pass", "warn", "fail"]
    base_summary: Summary
    proposal_summary: Summary
    edits: list[FieldChange]
    parameters: list[ParameterChange]
    new: list[FindingChange]
    resolved: list[FindingChange]
    changed: list[FindingChange]
    unchanged: int

    def fails(self, fail_on: str) -> bool:
        """True when the proposal adds a risk at or above `fail_on`, or raises one to it."""
        threshold = SEVERITIES.index(fail_on)
        return any(c.kind == "risk" and SEVERITIES.index(c.proposal_severity) >= threshold
                   for c in self.new + [c for c in self.changed if c.change == "more_severe"])

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"


@dataclass(frozen=True)
class Assessment:
    """A case, the pack set it was assessed with, and the report (made with explain=True)."""

    case: Case
    pack: PackSet
    report: Report


def assessed(case: Case, pack: PackSet | None = None) -> Assessment:
    pack = pack or run.default_pack()
    return Assessment(case, pack, run.assess(case, pack, explain=True))


# --- compare ----------------------------------------------------------------------------------

def compare(base: Case, proposal: Case, pack: PackSet | None = None, *,
            proposal_pack: PackSet | None = None) -> Comparison:
    """Assess both cases (the proposal with `proposal_pack` when given) and compare them."""
    pack = pack or run.default_pack()
    return compare_assessments(assessed(base, pack), assessed(proposal, proposal_pack or pack))


def compare_assessments(base: Assessment, proposal: Assessment, *,
                        edits: list[FieldChange] | None = None) -> Comparison:
    for side in (base, proposal):
        if side.report.facts is None:
            raise UsageError("a comparison needs reports made with explain=True (the derived "
                             "facts are how findings are traced to inputs)")
    base_data, proposal_data = _value_data(base.case), _value_data(proposal.case)
    base_params, proposal_params = _parameter_values(base.pack), _parameter_values(
        proposal.pack)
    base_found = {f.id: f for f in base.report.findings}
    proposal_found = {f.id: f for f in proposal.report.findings}

    def explain(finding: Finding, change: str, sides: list[Assessment]) -> FindingChange:
        paths: dict[tuple, None] = {}
        used: dict[tuple[str, str], None] = {}
        owner = {name: pack for pack, name in (*base_params, *proposal_params)}
        for side in sides:
            own = next(f for f in side.report.findings if f.id == finding.id)
            positions, params = _trace(side.report, own)
            data = case_data(side.case)
            for position in positions:
                paths.setdefault(id_path(position, data))
            used.update(dict.fromkeys((owner[name], name) for name in params))
        ordered = sorted(paths, key=_path_order)
        causes = _differences(ordered, base_data, proposal_data)
        parameter_causes = [
            ParameterChange(name=f"{pack}.{name}", base=base_params.get((pack, name)),
                            proposal=proposal_params.get((pack, name)))
            for pack, name in sorted(used)
            if base_params.get((pack, name)) != proposal_params.get((pack, name))]
        was, now = base_found.get(finding.id), proposal_found.get(finding.id)
        return FindingChange(
            id=finding.id, rule=finding.rule, pack=finding.pack, kind=finding.kind,
            title=finding.title, concern=finding.concern, subjects=list(finding.subjects),
            change=change, base_severity=was.severity if was else None,
            proposal_severity=now.severity if now else None, message=finding.message,
            inputs=[show_path(p) for p in ordered], causes=causes,
            parameter_causes=parameter_causes)

    new, resolved, changed, unchanged = [], [], [], 0
    for finding in proposal.report.findings:
        was = base_found.get(finding.id)
        if was is None:
            new.append(explain(finding, "new", [proposal]))
        elif was.severity != finding.severity:
            worse = SEVERITIES.index(finding.severity) > SEVERITIES.index(was.severity)
            changed.append(explain(finding, "more_severe" if worse else "less_severe",
                                   [base, proposal]))
        else:
            unchanged += 1
    for finding in base.report.findings:
        if finding.id not in proposal_found:
            resolved.append(explain(finding, "resolved", [base]))

    parameters = [ParameterChange(name=f"{pack}.{name}", base=base_params.get((pack, name)),
                                  proposal=proposal_params.get((pack, name)))
                  for pack, name in sorted(set(base_params) | set(proposal_params))
                  if base_params.get((pack, name)) != proposal_params.get((pack, name))]
    return Comparison(
        base=base.report.case, proposal=proposal.report.case, packs=proposal.report.packs,
        base_verdict=base.report.verdict, proposal_verdict=proposal.report.verdict,
        base_summary=base.report.summary, proposal_summary=proposal.report.summary,
        edits=list(edits or []), parameters=parameters, new=_ordered(new),
        resolved=_ordered(resolved), changed=_ordered(changed), unchanged=unchanged)


def _ordered(changes: list[FindingChange]) -> list[FindingChange]:
    def severity(c: FindingChange) -> str:
        return c.proposal_severity or c.base_severity or "info"
    return sorted(changes, key=lambda c: (c.kind != "risk", -SEVERITIES.index(severity(c)),
                                          c.rule, c.id))


def _trace(report: Report, finding: Finding) -> tuple[set[str], set[str]]:
    """The case fields (as positions) and parameter names a finding rests on, through
    `because` (a parameter name is unique among the packs loaded together)."""
    facts = {f.id: f for f in report.facts or []}
    findings = {f.id: f for f in report.findings}
    positions = set(finding.inputs)
    params = set(finding.parameters)
    pending, seen = list(finding.because), set()
    while pending:
        fact_id = pending.pop()
        if fact_id in seen:
            continue
        seen.add(fact_id)
        node = facts.get(fact_id) or findings.get(fact_id)
        if node is None:  # the report contract says this cannot happen; nothing to trace
            continue
        positions.update(node.inputs)
        params.update(node.parameters)
        pending.extend(node.because)
    return positions, params


def _path_order(parts: tuple):
    top = _CASE_FIELDS.index(parts[0]) if parts and parts[0] in _CASE_FIELDS else len(
        _CASE_FIELDS)
    return (top, tuple(str(p) for p in parts))


_ABSENT = object()


def _lookup(data: dict, parts: tuple):
    node: Any = data
    for part in parts:
        if isinstance(node, dict):
            if part not in node:
                return _ABSENT
            node = node[part]
        elif isinstance(node, list):
            node = next((e for e in node if str(entry_key(e)) == part), _ABSENT)
            if node is _ABSENT:
                return _ABSENT
        else:
            return _ABSENT
    return node


def _value_data(case: Case) -> dict:
    # unlike case_data, defaults stay in: a commitment without a status is active, and
    # comparing it with one marked `ending` must say active -> ending, not absent -> ending
    return case.model_dump(mode="json", exclude_none=True)


def _differences(paths: list[tuple], base: dict, proposal: dict) -> list[FieldChange]:
    changes: list[FieldChange] = []
    missing: set[tuple] = set()
    for parts in paths:
        # a line (or commitment, or history year) in one case only is one difference, said
        # once, rather than once for each of its fields
        entry = next((parts[:i] for i in range(1, len(parts))
                      if (_lookup(base, parts[:i]) is _ABSENT)
                      != (_lookup(proposal, parts[:i]) is _ABSENT)), None)
        if entry is not None:
            if entry not in missing:
                missing.add(entry)
                changes.append(_change(entry, _lookup(base, entry), _lookup(proposal, entry)))
            continue
        was, now = _lookup(base, parts), _lookup(proposal, parts)
        if was == now:
            continue
        if isinstance(was, list) and isinstance(now, list):
            # a whole list (what an absence rests on): the entries that came or went
            before = {str(entry_key(e)) for e in was}
            after = {str(entry_key(e)) for e in now}
            for key in sorted(after - before):
                changes.append(_change(parts + (key,), _ABSENT, _entry(now, key)))
            for key in sorted(before - after):
                changes.append(_change(parts + (key,), _entry(was, key), _ABSENT))
            continue
        changes.append(_change(parts, was, now))
    return changes


def _entry(entries: list, key: str):
    return next(e for e in entries if str(entry_key(e)) == key)


def _change(parts: tuple, was, now) -> FieldChange:
    return FieldChange(path=show_path(parts), base=None if was is _ABSENT else was,
                       proposal=None if now is _ABSENT else now)


def _parameter_values(pack: PackSet) -> dict[tuple[str, str], Any]:
    return {(name, param): spec.value for name, specs in pack.parameters.items()
            for param, spec in specs.items()}


# --- what if ----------------------------------------------------------------------------------

MAX_VARIANTS = 4   # packs kept per pack set with other parameter values
_variants_lock = threading.Lock()


def with_params(pack: PackSet | None, params: dict | None) -> PackSet:
    """`pack` loaded again with parameters changed; overrides it was loaded with are kept.

    The last few variants of a pack set are kept with it and reused: a program that asks
    the same what-if again, or sweeps with the same parameters, compiles them once; one
    that tries ever new values keeps at most MAX_VARIANTS compiled packs alive (the others
    release their engine memory when they go)."""
    pack = pack or run.default_pack()
    if not params:
        return pack
    key = json.dumps(params, sort_keys=True, default=repr)
    with _variants_lock:
        variants = pack.report_parts.setdefault("variants", {})
        found = variants.pop(key, None)
    if found is None:
        found = _load_with_params(pack, params)
    with _variants_lock:
        variants[key] = found   # the most recently used last
        while len(variants) > MAX_VARIANTS:
            variants.pop(next(iter(variants)))
    return found


def _load_with_params(pack: PackSet, params: dict) -> PackSet:
    origin = getattr(pack, "origin", None)
    if origin is not None:
        return run.load_pack(*origin["specs"], params={**origin["params"], **params},
                             disable=origin["disable"] or None,
                             severity=origin["severity"] or None)
    kept = {}
    for loaded in pack.packs:
        for name, spec in pack.parameters.get(loaded.name, {}).items():
            declared = loaded.manifest.parameters.get(name)
            if declared is not None and declared.value != spec.value:
                kept[f"{loaded.name}.{name}"] = spec.value
    return run.load_pack(*[p.root for p in pack.packs], params={**kept, **params})


def parse_sets(assignments: list[str] | tuple[str, ...]) -> dict[str, object]:
    """`--set PATH=VALUE` options; values are numbers, true/false or text."""
    return run.parse_assignments(assignments, "--set", "PATH", parse_value)


def whatif(case: Case, pack: PackSet | None = None, sets: dict[str, object] | None = None,
           params: dict | None = None) -> Comparison:
    """Assess `case` with its fields changed by `sets` (path -> value) and/or the pack's
    parameters changed by `params`, and compare that with the case as it is."""
    if not sets and not params:
        raise UsageError("nothing to change: give at least one --set PATH=VALUE or "
                         "--param NAME=VALUE")
    pack = pack or run.default_pack()
    changed = with_values(case, dict(sets)) if sets else case
    changed_pack = with_params(pack, params)
    before = case_data(case)
    edits: dict[tuple, None] = {}
    for path in sets or {}:
        edits.setdefault(id_path(_position(path, before), before))
    return compare_assessments(
        assessed(case, pack), assessed(changed, changed_pack),
        edits=[_change(parts, _lookup(_value_data(case), parts),
                       _lookup(_value_data(changed), parts)) for parts in edits])


def _position(path: str, data: dict) -> str:
    from ..inputs.source import format_path
    return format_path(parse_path(path, data))
