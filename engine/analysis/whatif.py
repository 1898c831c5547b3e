"""What-if analyses: compare two assessments, assess a changed case, sweep one input.

Every answer here comes from assessing again with the same compiled rules (`run.assess`); nothing
predicts what a rule would say. A finding's causes are found by provenance: its `inputs`, and
through `because` the inputs of the derived facts it rests on, are the case fields its rules
read; those whose values differ between the two cases are its causes.
"""
from __future__ import annotations

import math
import types
import typing
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, Literal

from pydantic import BaseModel

from ..core import run
from ..errors import DiploError, UsageError
from ..inputs.validation import did_you_mean
from ..lang.pack import PackSet
from ..model import (
    SEVERITIES,
    Case,
    CaseRef,
    Finding,
    PackRef,
    Report,
    Severity,
    Summary,
    _Out,
)
from .edit import (
    case_data,
    entry_key,
    get_value,
    id_path,
    parse_path,
    parse_value,
    show_path,
    with_values,
)

MAX_STEPS = 1000
_CASE_FIELDS = tuple(Case.model_fields)

# In every model below a value of None means "absent": case data never holds null, because
# absent optional fields are left out of it rather than written as null.


class FieldChange(_Out):
    """One case field whose value differs between the base and the proposal."""

    path: str
    base: Any = None
    proposal: Any = None


class ParameterChange(_Out):
    """One pack parameter whose value differs (`PACK.NAME`)."""

    name: str
    base: Any = None
    proposal: Any = None


class FindingChange(_Out):
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


class Comparison(_Out):
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

def with_params(pack: PackSet | None, params: dict | None) -> PackSet:
    """`pack` loaded again with parameters changed; overrides it was loaded with are kept."""
    pack = pack or run.default_pack()
    if not params:
        return pack
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


# --- sweep ------------------------------------------------------------------------------------

class SweepFinding(_Out):
    id: str
    rule: str
    kind: Literal["risk", "strength"]
    title: str


class SweepStep(_Out):
    value: float | int
    verdict: Literal["pass", "warn", "fail"] | None
    findings: dict[str, Severity] | None   # finding id -> severity; None when invalid
    error: str | None = None


class Switch(_Out):
    """Where a finding switches on or off, or changes severity, between two steps."""

    finding: str
    title: str
    before: Severity | None     # None: off
    after: Severity | None
    at: float | int             # the first value at which `after` holds, rounded
    last_before: float | int    # a value, next to `at`, at which `before` still holds
    exact: bool                 # False when a value in between makes the case invalid


class Sweep(_Out):
    case: CaseRef
    packs: list[PackRef]
    path: str
    original: Any = None
    start: float | int
    stop: float | int
    steps: int
    tolerance: float
    findings: list[SweepFinding]
    rows: list[SweepStep]
    switches: list[Switch]

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"


class _Invalid(str):
    """The error that makes the case invalid at a value (a state of its own)."""


def sweep(case: Case, pack: PackSet | None, path: str, start: float, stop: float,
          steps: int = 10, params: dict | None = None) -> Sweep:
    """Assess `case` at `steps`+1 evenly spaced values of the field at `path`, from `start` to
    `stop`, and find by bisection where each finding switches between neighbouring steps."""
    if not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise UsageError(f"the number of steps must be 1 to {MAX_STEPS}", path="--steps")
    for name, value in (("--from", start), ("--to", stop)):
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise UsageError(f"{value!r} is not a finite number", path=name)
    pack = with_params(pack, params)
    data = case_data(case)
    integer = _numeric_field(parse_path(path, data), path)
    tolerance = max(1e-6 * abs(stop - start), 0.01)
    if integer:
        tolerance = max(tolerance, 1.0)

    def clean(value: float):
        return int(round(value)) if integer else float(f"{value:.12g}")

    known: dict[str, SweepFinding] = {}
    states: dict[float, dict[str, str] | _Invalid] = {}
    verdicts: dict[float, str] = {}

    def state(value):
        if value not in states:
            try:
                report = run.assess(with_values(case, {path: value}), pack)
            except DiploError as exc:
                where = f"{exc.path}: " if exc.path and exc.path != path else ""
                states[value] = _Invalid(where + exc.message)
            else:
                for f in report.findings:
                    known.setdefault(f.id, SweepFinding(id=f.id, rule=f.rule, kind=f.kind,
                                                        title=f.title))
                states[value] = {f.id: f.severity for f in report.findings}
                verdicts[value] = report.verdict
        return states[value]

    values = [clean(start + (stop - start) * i / steps) for i in range(steps + 1)]
    values[0], values[-1] = clean(start), clean(stop)
    for value in values:
        state(value)
    worst: dict[str, str] = {}
    for value in values:
        if not isinstance(states[value], _Invalid):
            for fid, severity in states[value].items():
                if SEVERITIES.index(severity) >= SEVERITIES.index(worst.get(fid, "info")):
                    worst[fid] = severity
    columns = sorted(worst, key=lambda fid: _column_order(known[fid], worst[fid]))

    switches: list[tuple[int, Switch]] = []
    for i, (a, b) in enumerate(zip(values, values[1:])):
        sa, sb = state(a), state(b)
        if isinstance(sa, _Invalid) or isinstance(sb, _Invalid) or sa == sb or a == b:
            continue
        for fid in sorted(set(sa) | set(sb)):
            if sa.get(fid) != sb.get(fid):
                for switch in _bisect(fid, a, b, state, tolerance, integer, known):
                    switches.append((i, switch))

    direction = 1 if stop >= start else -1
    switches.sort(key=lambda item: (item[0], direction * item[1].at,
                                    columns.index(item[1].finding)
                                    if item[1].finding in columns else len(columns)))
    rows = []
    for value in values:
        found = states[value]
        if isinstance(found, _Invalid):
            rows.append(SweepStep(value=value, verdict=None, findings=None, error=str(found)))
        else:
            rows.append(SweepStep(value=value, verdict=verdicts[value], findings=dict(
                sorted(found.items(), key=lambda kv: columns.index(kv[0])))))
    original = get_value(data, parse_path(path, data))
    return Sweep(case=CaseRef(id=case.id, title=case.title, country=case.country,
                              fiscal_year=case.fiscal_year, source=case.source),
                 packs=run.pack_refs(pack),
                 path=path, original=original, start=clean(start), stop=clean(stop),
                 steps=steps, tolerance=tolerance, findings=[known[c] for c in columns],
                 rows=rows, switches=[s for _, s in switches])


def _column_order(finding: SweepFinding, severity: str):
    # as reports order findings: risks first, the most severe first
    return (finding.kind != "risk", -SEVERITIES.index(severity), finding.rule, finding.id)


def _bisect(fid: str, a, b, state, tolerance: float, integer: bool, known) -> list[Switch]:
    """Every switch of one finding between two valid steps a and b (in sweep order)."""
    target = state(b).get(fid)
    lo, before = a, state(a).get(fid)
    switches: list[Switch] = []
    # a finding can pass through several states between two steps (off -> medium -> high);
    # each is found in turn, from the previous switch onwards
    for _ in range(len(SEVERITIES) + 2):
        hi, exact = b, True
        # ten times finer than promised, so that a round value within the tolerance of the
        # exact point can be chosen on either side of the bisection's last interval
        while abs(hi - lo) > (tolerance if integer else tolerance / 10):
            mid = (lo + hi) / 2
            if integer:
                mid = int(math.floor(mid) if hi > lo else math.ceil(mid))
                if mid in (lo, hi):
                    break
            found = state(mid)
            if isinstance(found, _Invalid):
                exact = False
                break
            if found.get(fid) == before:
                lo = mid
            else:
                hi = mid
        after = state(hi).get(fid)
        at, last = _round_switch(fid, lo, hi, before, after, state, integer, tolerance)
        switches.append(Switch(finding=fid, title=known[fid].title if fid in known else fid,
                               before=before, after=after, at=at, last_before=last,
                               exact=exact))
        if after == target or not exact:
            break
        lo, before = hi, after
    return switches


def _round_switch(fid, lo, hi, before, after, state, integer, tolerance):
    """The switch point, rounded: the first value past `lo` with the fewest decimals, within
    the tolerance of `lo` (so of the exact point, which lies in (lo, hi]), at which `after`
    holds, checked by assessing there; with the round value before it, where `before` still
    holds. Falls back on the bisection's own values when the checks fail."""
    if integer or lo == hi:
        return hi, lo
    up = hi > lo
    step = Decimal(1) if up else Decimal(-1)
    reach = lo + tolerance if up else lo - tolerance
    first = math.floor(-math.log10(tolerance)) - 1
    for decimals in range(first, first + 16):
        quantum = Decimal(1).scaleb(-decimals)
        candidate = Decimal(repr(float(lo))).quantize(
            quantum, rounding=ROUND_FLOOR if up else ROUND_CEILING) + step * quantum
        while (float(candidate) <= reach) if up else (float(candidate) >= reach):
            found = state(float(candidate))
            if _holds(found, fid, after):
                at = float(candidate)
                last = float(candidate - step * quantum)
                return at, last if last == lo or _holds(state(last), fid, before) else lo
            if not _holds(found, fid, before):
                return hi, lo   # a third state: no round value to trust
            lo = float(candidate)
            candidate += step * quantum
    return hi, lo


def _holds(found, fid: str, severity) -> bool:
    return not isinstance(found, _Invalid) and found.get(fid) == severity


def _numeric_field(parts: tuple, path: str) -> bool:
    """Checks that `parts` names a number field of the case format; True for whole numbers."""
    model: Any = Case
    annotation: Any = None
    for part in parts:
        if isinstance(part, int):
            if typing.get_origin(annotation) is not list:
                raise UsageError("is not a list", path=path)
            annotation = typing.get_args(annotation)[0]
            model = annotation
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise UsageError(f"'{part}' is inside a value, not a field", path=path)
        info = model.model_fields.get(part)
        if info is None:
            raise UsageError(f"unknown field '{part}'{did_you_mean(part, model.model_fields)}",
                             path=path)
        annotation = _unwrap(info.annotation)
        model = annotation
    if annotation in (int, float):
        return annotation is int
    raise UsageError("is not a number field; only numbers can be swept", path=path)


def _unwrap(annotation):
    """`Amount | None` -> float; `list[LineItem]` stays a list."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation
