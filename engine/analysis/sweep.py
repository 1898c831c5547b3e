"""Sweeps: a case assessed at evenly spaced values of one field, and where each finding switches
on or off or changes severity, found by bisection."""
from __future__ import annotations

import math
import types
import typing
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, Callable, Generator, Literal, NamedTuple

from pydantic import BaseModel

from ..core import run
from ..errors import DiploError, UsageError
from ..inputs.validation import did_you_mean
from ..lang.pack import PackSet
from ..model import (
    ESTIMATE_TYPES,
    SEVERITIES,
    Case,
    CaseRef,
    FrozenModel,
    PackRef,
    Severity,
)
from .edit import (
    case_data,
    changed_case,
    get_value,
    parse_path,
)
from .whatif import with_params

MAX_STEPS = 1000


class SweepFinding(FrozenModel):
    id: str
    rule: str
    kind: Literal["risk", "strength"]
    title: str


class SweepStep(FrozenModel):
    value: float | int
    verdict: Literal["pass", "warn", "fail"] | None
    findings: dict[str, Severity] | None   # finding id -> severity; None when invalid
    error: str | None = None


class Switch(FrozenModel):
    """Where a finding switches on or off, or changes severity, between two steps."""

    finding: str
    title: str
    before: Severity | None     # None: off
    after: Severity | None
    at: float | int             # the first value at which `after` holds, rounded
    last_before: float | int    # a value, next to `at`, at which `before` still holds
    exact: bool                 # False when a value in between makes the case invalid


class Sweep(FrozenModel):
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


class Point(NamedTuple):
    """What the case gives at one value of the swept field: its verdict and its findings, each
    as (id, rule, kind, title, severity) in the report's order; or, when the case is invalid
    there, the error, and no verdict."""

    verdict: str | None
    findings: tuple[tuple[str, str, str, str, str], ...] = ()
    error: str | None = None


Evaluate = Callable[[list], list[Point]]


def points_of(data: dict, source: str | None, pack: PackSet, path: str,
              values: list) -> list[Point]:
    """The point of each value: the case that `data` holds (as `case_data` gives it), with the
    field at `path` set to the value, assessed. What a cluster's worker runs (engine.cluster),
    from the data it was sent, as this process does."""
    points = []
    for value in values:
        try:
            report = run.assess(changed_case(data, {path: value}, source), pack)
        except DiploError as exc:
            where = f"{exc.path}: " if exc.path and exc.path != path else ""
            points.append(Point(verdict=None, error=where + exc.message))
        else:
            points.append(Point(verdict=report.verdict, findings=tuple(
                (f.id, f.rule, f.kind, f.title, f.severity) for f in report.findings)))
    return points


def here(case: Case, pack: PackSet, path: str) -> Evaluate:
    """The points of a sweep assessed in this process, one value after another."""
    data = case_data(case)
    return lambda values: points_of(data, case.source, pack, path, values)


def sweep(case: Case, pack: PackSet | None, path: str, start: float, stop: float,
          steps: int = 10, params: dict | None = None,
          evaluator: Callable[[Case, PackSet, str], Evaluate] = here) -> Sweep:
    """Assess `case` at `steps`+1 evenly spaced values of the field at `path`, from `start` to
    `stop`, and find by bisection where each finding switches between neighbouring steps.

    `evaluator(case, pack, path)` is called once the arguments are checked and gives the
    function that assesses many values of the field at once (`here`: in this process;
    engine.cluster: on a cluster's workers). It is given the steps in one call, then the
    bisections in rounds: every value that a bisection waits for, of every finding between
    every two steps, in one call. Any evaluator gives the same sweep."""
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

    evaluate = evaluator(case, pack, path)
    known: dict[str, SweepFinding] = {}
    states: dict[float, dict[str, str] | _Invalid] = {}
    verdicts: dict[float, str] = {}

    def assess(values: list) -> None:
        wanted = [value for value in dict.fromkeys(values) if value not in states]
        if not wanted:
            return
        points = evaluate(wanted)
        if len(points) != len(wanted):
            raise RuntimeError(f"asked for {len(wanted)} points, got {len(points)}")
        for value, point in zip(wanted, points):
            if point.error is not None:
                states[value] = _Invalid(point.error)
                continue
            for fid, rule, kind, title, _ in point.findings:
                known.setdefault(fid, SweepFinding(id=fid, rule=rule, kind=kind, title=title))
            states[value] = {fid: severity for fid, _, _, _, severity in point.findings}
            verdicts[value] = point.verdict

    values = [clean(start + (stop - start) * i / steps) for i in range(steps + 1)]
    values[0], values[-1] = clean(start), clean(stop)
    assess(values)
    worst: dict[str, str] = {}
    for value in values:
        if not isinstance(states[value], _Invalid):
            for fid, severity in states[value].items():
                if SEVERITIES.index(severity) >= SEVERITIES.index(worst.get(fid, "info")):
                    worst[fid] = severity
    columns = sorted(worst, key=lambda fid: _column_order(known[fid], worst[fid]))

    bisections: list[tuple[int, Generator]] = []
    for i, (a, b) in enumerate(zip(values, values[1:])):
        sa, sb = states[a], states[b]
        if isinstance(sa, _Invalid) or isinstance(sb, _Invalid) or sa == sb or a == b:
            continue
        for fid in sorted(set(sa) | set(sb)):
            if sa.get(fid) != sb.get(fid):
                bisections.append((i, _bisection(fid, a, b, tolerance, integer, known)))
    found = _in_rounds([bisection for _, bisection in bisections], states, assess)
    switches = [(i, switch) for (i, _), each in zip(bisections, found) for switch in each]

    direction = 1 if stop >= start else -1
    switches.sort(key=lambda item: (item[0], direction * item[1].at,
                                    columns.index(item[1].finding)
                                    if item[1].finding in columns else len(columns)))
    rows = []
    for value in values:
        found_at = states[value]
        if isinstance(found_at, _Invalid):
            rows.append(SweepStep(value=value, verdict=None, findings=None,
                                  error=str(found_at)))
        else:
            rows.append(SweepStep(value=value, verdict=verdicts[value], findings=dict(
                sorted(found_at.items(), key=lambda kv: columns.index(kv[0])))))
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


def _in_rounds(bisections: list[Generator], states: dict,
               assess: Callable[[list], None]) -> list[list[Switch]]:
    """The switches each bisection finds, the bisections run side by side: each asks for one
    value at a time; a value already assessed is answered at once, and the values they all
    wait for are assessed together (`assess` adds them to `states`), a round at a time. Each
    bisection asks for the values it would ask for alone, so it finds what it would alone."""
    found: list = [None] * len(bisections)
    waiting: dict[int, Any] = {}

    def advance(i: int, state) -> None:
        try:
            value = bisections[i].send(state)
            while value in states:
                value = bisections[i].send(states[value])
        except StopIteration as end:
            found[i] = end.value
        else:
            waiting[i] = value

    for i in range(len(bisections)):
        advance(i, None)
    while waiting:
        assess(list(dict.fromkeys(waiting.values())))
        asked = dict(waiting)
        waiting.clear()
        for i, value in asked.items():
            advance(i, states[value])
    return found


def _bisect(fid: str, a, b, state, tolerance: float, integer: bool, known) -> list[Switch]:
    """Every switch of one finding between two valid values a and b, `state(value)` giving
    the state at each value the bisection asks for, one after another (range analysis)."""
    bisection = _bisection(fid, a, b, tolerance, integer, known)
    try:
        value = next(bisection)
        while True:
            value = bisection.send(state(value))
    except StopIteration as end:
        return end.value


def _bisection(fid: str, a, b, tolerance: float, integer: bool, known) -> Generator:
    """Every switch of one finding between two valid steps a and b (in sweep order): yields
    each value whose state it needs, is sent that state, and returns the switches."""
    target = (yield b).get(fid)
    lo, before = a, (yield a).get(fid)
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
            found = yield mid
            if isinstance(found, _Invalid):
                exact = False
                break
            if found.get(fid) == before:
                lo = mid
            else:
                hi = mid
        after = (yield hi).get(fid)
        at, last = yield from _round_switch(fid, lo, hi, before, after, integer, tolerance)
        switches.append(Switch(finding=fid, title=known[fid].title if fid in known else fid,
                               before=before, after=after, at=at, last_before=last,
                               exact=exact))
        if after == target or not exact:
            break
        lo, before = hi, after
    return switches


def _round_switch(fid, lo, hi, before, after, integer, tolerance) -> Generator:
    """The switch point, rounded: the first value past `lo` with the fewest decimals, within
    the tolerance of `lo` (so of the exact point, which lies in (lo, hi]), at which `after`
    holds, checked by assessing there; with the round value before it, where `before` still
    holds. Falls back on the bisection's own values when the checks fail. Yields each value
    to assess, as `_bisection` does."""
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
            found = yield float(candidate)
            if _holds(found, fid, after):
                at = float(candidate)
                last = float(candidate - step * quantum)
                if last == lo or _holds((yield last), fid, before):
                    return at, last
                return at, lo
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
            # a number that may be written as an estimate ({value, range}) is a number
            members = [a for a in typing.get_args(annotation) if a is not type(None)
                       and not (isinstance(a, type) and issubclass(a, BaseModel)
                                and a.__name__ in ESTIMATE_TYPES)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation
