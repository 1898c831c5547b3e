"""Robustness: whether each finding holds across the ranges a case states for its figures
(`{value: 14.5, range: [13, 16]}`, `approximate: true`), or depends on where in them the truth
lies, and the value at which it switches.

Each figure with a range is varied alone, from its low end to its high end, the others at their
stated values; the case is assessed at evenly spaced points of the range and at its value, and
between two points that disagree the switch is found by the sweep's bisection
(`analysis.sweep`). Two figures moving together are not explored."""
from __future__ import annotations

from ..core import run
from ..errors import DiploError
from ..lang.pack import PackSet
from ..model import (
    Case,
    FindingRobustness,
    RangeSwitch,
    Report,
    Robustness,
    StatedRange,
)
from .edit import case_data, get_value, parse_path, with_values
from .sweep import SweepFinding, _bisect, _Invalid

# points assessed inside each range, beside its ends and the stated value: enough to see a
# finding that switches on and off again within a range, few enough for many ranges
POINTS = 4


def robustness(case: Case, pack: PackSet | None, report: Report) -> Robustness:
    """The findings of `report` (the assessment of `case` at its stated values), and those that
    appear only elsewhere in the ranges, each with where it switches."""
    pack = pack or run.default_pack()
    data = case_data(case)
    ranges: list[StatedRange] = []
    switches: dict[str, list[RangeSwitch]] = {}
    known: dict[str, SweepFinding] = {f.id: SweepFinding(id=f.id, rule=f.rule, kind=f.kind,
                                                         title=f.title)
                                      for f in report.findings}
    verdicts = {report.verdict}
    invalid: list[str] = []
    for path, (low, high) in case.ranges().items():
        value = get_value(data, parse_path(path, data))
        ranges.append(StatedRange(field=path, value=value, low=low, high=high))
        found, seen, problem = _explore(case, pack, path, low, high, value, report, known)
        verdicts |= seen
        if problem:
            invalid.append(f"{path}: {problem}")
        for switch in found:
            switches.setdefault(switch.finding, []).append(RangeSwitch(
                field=path, before=switch.before, after=switch.after, at=switch.at,
                last_before=switch.last_before, exact=switch.exact))
    reported = [f.id for f in report.findings]
    appearing = sorted(set(switches) - set(reported))
    findings = [FindingRobustness(finding=fid, title=known[fid].title, reported=fid in reported,
                                  holds=fid not in switches, switches=switches.get(fid, []))
                for fid in reported + appearing]
    return Robustness(ranges=ranges, verdicts=[v for v in ("pass", "warn", "fail")
                                                if v in verdicts],
                      findings=findings, invalid=invalid)


def _explore(case: Case, pack: PackSet, path: str, low: float, high: float, value: float,
             report: Report, known: dict) -> tuple[list, set[str], str | None]:
    """The switches of every finding as one figure moves across its range; the verdicts met;
    the first problem that makes the case invalid somewhere in the range, if any."""
    states: dict[float, dict[str, str] | _Invalid] = {
        value: {f.id: f.severity for f in report.findings}}
    verdicts: set[str] = set()

    def state(x: float):
        if x not in states:
            try:
                assessed = run.assess(with_values(case, {path: x}), pack)
            except DiploError as exc:
                states[x] = _Invalid(exc.message)
            else:
                for f in assessed.findings:
                    known.setdefault(f.id, SweepFinding(id=f.id, rule=f.rule, kind=f.kind,
                                                        title=f.title))
                states[x] = {f.id: f.severity for f in assessed.findings}
                verdicts.add(assessed.verdict)
        return states[x]

    points = sorted({float(f"{low + (high - low) * i / (POINTS + 1):.12g}")
                     for i in range(1, POINTS + 1)} | {low, high, value})
    tolerance = max(1e-6 * abs(high - low), 0.01)
    found = []
    for a, b in zip(points, points[1:]):
        sa, sb = state(a), state(b)
        if isinstance(sa, _Invalid) or isinstance(sb, _Invalid) or sa == sb:
            continue
        for fid in sorted(set(sa) | set(sb)):
            if sa.get(fid) != sb.get(fid):
                found += _bisect(fid, a, b, state, tolerance, False, known)
    found.sort(key=lambda s: (s.at, s.finding))
    problem = next((str(s) for s in states.values() if isinstance(s, _Invalid)), None)
    return found, verdicts, problem
