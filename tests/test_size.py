"""A case's facts grow with its size, not with its square: provenance shared by reference
(engine.core.facts.Paths). Memory is measured by tracemalloc (not a timing); speed per line is
bench/size.py's."""
from __future__ import annotations

import sys

from engine import load_pack
from engine.core.facts import Paths, case_facts

from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from size import peak_bytes as _peak, sized_case  # noqa: E402


def test_paths_behave_as_the_tuple_they_stand_for():
    shared = ("line_items[0].amount", "line_items[1].amount")
    paths = ("a",) + Paths(shared) + ("b",)
    assert isinstance(paths, Paths)
    assert list(paths) == ["a", *shared, "b"] and len(paths) == 4
    assert paths == ("a", *shared, "b") and hash(paths) == hash(("a", *shared, "b"))
    assert paths[1] == shared[0] and paths + () is paths and () + paths is paths
    assert sorted(set(paths)) == sorted({"a", "b", *shared})


def test_every_line_refers_to_one_tuple_of_the_lines_amounts():
    pack = load_pack()
    facts = case_facts(sized_case(50, 1, pack), pack.groups)
    lines = [f for f in facts if f.kind == "line_item"]
    shares = [f.sources["share_of_total_pct"] for f in lines]
    assert all(isinstance(s, Paths) for s in shares)
    everything = {id(part) for s in shares for part in s._parts if isinstance(part, Paths)}
    assert len(everything) == 1    # the same Paths of all 50 amounts, never a copy
    for fact, share in zip(lines, shares):
        assert list(share) == [f"{fact.sources['amount'][0]}",
                               *(f"line_items[{i}].amount" for i in range(50))]


def test_memory_per_line_does_not_grow_with_the_case():
    pack = load_pack()
    small, large = sized_case(200, 1, pack), sized_case(2000, 1, pack)
    per_line_small = _peak(lambda: case_facts(small, pack.groups)) / 200
    per_line_large = _peak(lambda: case_facts(large, pack.groups)) / 2000
    # quadratic provenance made it 6x at these sizes
    assert per_line_large < 1.5 * per_line_small


def test_facts_keep_only_what_rules_read_and_the_reports_are_those_of_every_field():
    from engine import assess, load_case
    pack = load_pack()
    compiled = pack.compiled
    case = sized_case(60, 3, pack)
    facts = case_facts(case, pack.groups, compiled.kinds, compiled.history, compiled.read)
    full = case_facts(case, pack.groups, compiled.kinds, compiled.history)
    assert [f.id for f in facts] == [f.id for f in full]
    dropped = 0
    for kept, whole in zip(facts, full):
        assert set(kept.fields) <= compiled.read[kept.kind]
        assert {k: whole.fields[k] for k in kept.fields} == kept.fields
        assert set(kept.sources) == set(kept.fields)
        dropped += len(whole.fields) - len(kept.fields)
    assert dropped > 0   # the default pack reads fewer fields than a case's facts have
    read = compiled.read
    for path in sorted((ROOT / "cases").glob("*.yaml")) + [None]:
        one = load_case(str(path)) if path else case
        try:
            compiled.read = None
            every = assess(one, pack, explain=True).model_dump_json()
        finally:
            compiled.read = read
        assert assess(one, pack, explain=True).model_dump_json() == every
