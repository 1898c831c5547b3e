"""The match bound (engine/core/bound.py) judges only the facts whose field can pass a
pattern's test against constants: that index must never change the bound it computes, on the
default pack's cases, the peer workload's, and facts whose tested field holds values of mixed
types (numbers and flags that Python takes as equal, lists that no constant equals)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from engine import load_pack
from engine.core.bound import MatchBound
from engine.core.facts import Fact, case_facts
from engine import load_case

from conftest import rule, write_pack

ROOT = Path(__file__).resolve().parent.parent
CASES = sorted((ROOT / "cases").glob("*.yaml")) + sorted((ROOT / "cases" / "calibration").glob("*.yaml"))


def _facts(pack, case):
    compiled = pack.compiled
    return case_facts(case, pack.groups, compiled.kinds, compiled.history)


def _both(bound: MatchBound, facts) -> tuple[int, int]:
    return bound.frames(facts)[0], bound.frames(facts, index=False)[0]


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_the_index_gives_the_bound_of_a_full_scan_on_the_default_pack(path):
    pack = load_pack()
    case = load_case(str(path))
    indexed, scanned = _both(pack.compiled.bound, _facts(pack, case))
    assert indexed == scanned


def test_the_index_gives_the_bound_of_a_full_scan_on_the_peer_workload():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from peers import workload
    finally:
        sys.path.remove(str(ROOT / "bench"))
    from engine.model import Case
    pack = load_pack(str(ROOT / "bench" / "peers" / "pack"))
    bounds = []
    for data in workload.generate_cases(40, 5):
        indexed, scanned = _both(pack.compiled.bound, _facts(pack, Case.model_validate(data)))
        assert indexed == scanned
        bounds.append(indexed)
    assert max(bounds) > 0   # the bound counted something


def test_values_of_mixed_types_are_indexed_as_python_compares_them(tmp_path):
    folder = write_pack(tmp_path / "pack", [
        rule("T-EQ", [{"fact": "line_item", "as": "x", "where": "amount == 1"},
                      {"fact": "line_item", "as": "y", "where": "amount == 1"}],
             report={"severity": "low", "message": "m"}),
        rule("T-IN", [{"fact": "line_item", "as": "x", "where": "amount in [1, 2.5, 1.0]"},
                      {"fact": "line_item", "as": "y", "where": "category in ['personnel']"}],
             report={"severity": "low", "message": "m"}),
    ])
    pack = load_pack(str(folder))
    values = [1, 1.0, True, "1", "personnel", [1], None, 0, False, 2.5]
    facts = [Fact("line_item", f"l{i}", {"amount": v, "category": v})
             for i, v in enumerate(values)]
    facts.append(Fact("line_item", "absent", {}))
    indexed, scanned = _both(pack.compiled.bound, facts)
    assert indexed == scanned
    # amount == 1: 1, 1.0 and True pair with one another (3 x 3 frames after 3)
    assert indexed >= 3 + 9
