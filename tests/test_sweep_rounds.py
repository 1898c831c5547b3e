"""A sweep assesses its steps in one batch and its bisections in rounds (every value that some
bisection waits for, in one batch), so that a cluster can take each batch at once. The sweep
it gives must be the one the sweep gave when it assessed one value at a time: the code of that
sweep is kept below, unchanged, as the oracle."""
from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import pytest

from engine import load_case, load_pack
from engine.analysis import sweep as module
from engine.analysis.edit import case_data, get_value, parse_path, with_values
from engine.analysis.sweep import (
    MAX_STEPS,
    Sweep,
    SweepFinding,
    SweepStep,
    Switch,
    _bisect,
    _bisection,
    _column_order,
    _in_rounds,
    _Invalid,
    _numeric_field,
    here,
    sweep,
)
from engine.analysis.whatif import with_params
from engine.core import run
from engine.errors import DiploError, UsageError
from engine.model import SEVERITIES, CaseRef

from conftest import ROOT, make_case, rule, write_pack


# --- the sweep of one value at a time, as it was (the oracle) ---------------------------------

def one_at_a_time(case, pack, path, start, stop, steps=10, params=None) -> Sweep:
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
    states: dict = {}
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

    switches: list = []
    for i, (a, b) in enumerate(zip(values, values[1:])):
        sa, sb = state(a), state(b)
        if isinstance(sa, _Invalid) or isinstance(sb, _Invalid) or sa == sb or a == b:
            continue
        for fid in sorted(set(sa) | set(sb)):
            if sa.get(fid) != sb.get(fid):
                for switch in old_bisect(fid, a, b, state, tolerance, integer, known):
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


def old_bisect(fid, a, b, state, tolerance, integer, known):
    target = state(b).get(fid)
    lo, before = a, state(a).get(fid)
    switches = []
    for _ in range(len(SEVERITIES) + 2):
        hi, exact = b, True
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
        at, last = old_round_switch(fid, lo, hi, before, after, state, integer, tolerance)
        switches.append(Switch(finding=fid, title=known[fid].title if fid in known else fid,
                               before=before, after=after, at=at, last_before=last,
                               exact=exact))
        if after == target or not exact:
            break
        lo, before = hi, after
    return switches


def old_round_switch(fid, lo, hi, before, after, state, integer, tolerance):
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
            if old_holds(found, fid, after):
                at = float(candidate)
                last = float(candidate - step * quantum)
                return at, last if last == lo or old_holds(state(last), fid, before) else lo
            if not old_holds(found, fid, before):
                return hi, lo
            lo = float(candidate)
            candidate += step * quantum
    return hi, lo


def old_holds(found, fid, severity):
    return not isinstance(found, _Invalid) and found.get(fid) == severity


# --- the same sweeps ---------------------------------------------------------------------------

SWEEPS = [
    # many findings switching, several of them more than once between two steps
    ("control-steady", "inflation_pct", 25, -2, 9),
    ("collaborative-investor", "inflation_pct", 0, 30, 10),
    # invalid steps beside switching ones
    ("burden-laggard", "line_items.alliance-common-budget.amount", 0, 110, 10),
    ("ally-trims-exercises", "line_items.multinational-exercises.amount", -20, 150, 5),
    ("peacekeeping-drawdown", "line_items.un-mission-contingent.amount", -70, 380, 3),
    # downwards through bands, and a switch at a round value
    ("ally-trims-exercises", "transparency.secret_share_pct", 12, 0, 6),
    ("volatile-funding", "line_items.regional-exercises.amount", 0, 4810, 10),
    ("donor-ends-aid", "line_items.alliance-exercises.amount", 0, 150, 10),
]


class Counting:
    """The evaluator of this process, counting its calls and the values it is given."""

    def __init__(self):
        self.calls: list[list] = []

    def __call__(self, case, pack, path):
        evaluate = here(case, pack, path)

        def counted(values):
            self.calls.append(list(values))
            return evaluate(values)
        return counted


@pytest.fixture(scope="module")
def pack():
    return load_pack()


@pytest.mark.parametrize("name, path, start, stop, steps", SWEEPS)
def test_in_rounds_the_sweep_is_the_one_of_one_value_at_a_time(pack, name, path, start, stop,
                                                               steps):
    case = load_case(ROOT / "cases" / f"{name}.yaml", pack)
    counting = Counting()
    swept = sweep(case, pack, path, start, stop, steps, evaluator=counting)
    assert swept.to_json() == one_at_a_time(case, pack, path, start, stop, steps).to_json()
    assert swept.switches
    # the steps go as one batch, then each round's values as one; no value twice
    assert counting.calls[0] == [row.value for row in swept.rows]
    assessed = [value for call in counting.calls for value in call]
    assert len(assessed) == len(set(assessed))


def test_a_sweep_of_whole_numbers_in_rounds(tmp_path):
    # a pack whose findings depend on a whole-number field: a commitment's end year
    folder = write_pack(tmp_path / "years", [
        rule("Y-001", [{"fact": "commitment", "as": "c", "where": "years_left <= 3"}],
             report={"severity": "high", "message": "{c.id} ends soon"}),
        rule("Y-002", [{"fact": "commitment", "as": "c", "where": "years_left <= 11"}],
             report={"severity": "low", "message": "{c.id} ends"}),
    ], name="years")
    years = load_pack(folder)
    case = make_case(commitments=[{"id": "accord", "kind": "security_agreement",
                                   "partners": ["Country D"], "ends_year": 2040}])
    path = "commitments.accord.ends_year"
    for start, stop, steps in ((2020, 2060, 4), (2061, 2019, 3), (2027, 2045, 18)):
        swept = sweep(case, years, path, start, stop, steps)
        assert swept.to_json() == one_at_a_time(case, years, path, start, stop,
                                                steps).to_json()
        assert {s.finding for s in swept.switches} == {"Y-001:accord", "Y-002:accord"}


# --- bisections alone and side by side, on states made up to reach every branch ---------------

def made_up(x):
    """States along a made-up field: F-1 medium, high then critical; F-2 on from a value with
    many decimals; F-3 and F-4 switch inside bands where the case is invalid."""
    if 40 < x < 41 or 55 <= x < 60:
        return _Invalid("made-up band")
    state = {}
    if 10 <= x < 70:
        state["F-1"] = "medium" if x < 20 else "high" if x < 30 else "critical"
    if 12.34567 <= x < 33.3:
        state["F-2"] = "low"
    if x >= 40.7:
        state["F-3"] = "info"
    if x >= 57:
        state["F-4"] = "high"
    return state


def test_bisections_side_by_side_find_what_each_finds_alone():
    seen = []
    for a, b, integer in [(0, 25, False), (25, 0, False), (0, 35, False), (30, 50, False),
                          (50, 30, False), (0, 80, False), (38.0, 42.5, False),
                          (5, 45, True), (45, 5, True), (50, 65, True), (65, 50, True),
                          (0, 80, True)]:
        tolerance = 1.0 if integer else 0.01
        sa, sb = made_up(a), made_up(b)
        fids = [fid for fid in sorted(set(sa) | set(sb)) if sa.get(fid) != sb.get(fid)]
        alone, longest = [], 0
        for fid in fids:
            asked: dict = {}

            def state(x):
                asked.setdefault(x, made_up(x))
                return asked[x]
            alone.append(old_bisect(fid, a, b, state, tolerance, integer, {}))
            longest = max(longest, len(set(asked) - {a, b}))
            # range analysis runs a bisection alone through `_bisect`: the same switches
            assert _bisect(fid, a, b, made_up, tolerance, integer, {}) == alone[-1]
        states: dict = {a: sa, b: sb}
        rounds = []

        def assess(values):
            rounds.append(values)
            for value in values:
                assert value not in states
                states[value] = made_up(value)
        found = _in_rounds([_bisection(fid, a, b, tolerance, integer, {}) for fid in fids],
                           states, assess)
        assert found == alone, (a, b, integer)
        # side by side, no more rounds than the longest bisection alone takes values
        assert 0 < len(rounds) <= longest
        seen += [switch for switches in found for switch in switches]
    # the made-up states reach every kind of switch
    assert any(not s.exact for s in seen) and any(isinstance(s.at, int) for s in seen)
    assert any(s.before is not None and s.after is not None for s in seen)
    assert any((s.at, s.last_before) == (12.35, 12.34) for s in seen)   # rounded, checked


def test_a_wrong_evaluator_is_not_taken_for_a_sweep(pack):
    case = load_case(ROOT / "cases" / "ally-trims-exercises.yaml", pack)
    with pytest.raises(RuntimeError, match="asked for 6 points, got 5"):
        sweep(case, pack, "inflation_pct", 0, 10, 5,
              evaluator=lambda *args: lambda values: module.points_of(
                  case_data(case), case.source, pack, "inflation_pct", values[1:]))
