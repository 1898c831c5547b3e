"""The engine tests a pattern's joins (comparisons with another pattern's fields) correctly
whatever the shape of the condition around them.

The rule engine walks a pattern's joins and its 'and'/'or' groups as one sequence, with two
flaws (engine.core.translate, _engine_order): it never tested a join written after an 'or'
group, so such a rule fired where the join failed; and a failing join written last read past
the end of the sequence, which crashed the process now and then, depending on the heap. The
translation puts every 'or' group after the joins and closes the pattern on a group (its last
test that is not a join, in a group of its own, when it has no 'or')."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine import assess, load_pack
from engine.core.translate import _is_join
from engine.model import Case

from conftest import BASE_CASE, ROOT, rule, write_pack

OR_GROUP = "(category == 'procurement' or category == 'personnel')"
SHAPES = [
    "{join}",
    f"{OR_GROUP} and {{join}}",
    f"{{join}} and {OR_GROUP}",
    f"id != a.id and {OR_GROUP} and {{join}}",
    f"{OR_GROUP} and {{join}} and id != a.id",
    f"(amount > 0 and {{join}}) and {OR_GROUP}",
    f"not (category == 'research_development') and {{join}}",
]
JOINS = {"amount < a.amount": False, "amount > a.amount": True}


@pytest.mark.parametrize("join, holds", JOINS.items(), ids=["fails", "holds"])
@pytest.mark.parametrize("shape", SHAPES)
def test_a_join_is_tested_wherever_it_stands_in_the_condition(tmp_path, shape, join, holds):
    folder = write_pack(tmp_path / "pack", [rule("J-001", [
        {"fact": "line_item", "as": "a", "where": "category == 'personnel'"},
        {"fact": "line_item", "as": "b", "where": shape.format(join=join)}], report={})])
    case = Case.model_validate({**BASE_CASE, "line_items": [
        {"id": "a1", "category": "personnel", "amount": 5},
        {"id": "b1", "category": "procurement", "amount": 9}]})
    found = [f.id for f in assess(case, load_pack(str(folder))).findings]
    assert found == (["J-001:a1+b1"] if holds else [])


def _conditions(definition: dict):
    for entry in definition.values():
        for binding in entry["all"]:
            (_, condition), = binding.items()
            yield condition


@pytest.mark.parametrize("pack", [None, ROOT / "rules" / "transparency-plus",
                                  ROOT / "bench" / "peers" / "pack"],
                         ids=["default", "transparency-plus", "peers"])
def test_every_pattern_with_joins_has_its_groups_after_them_and_ends_on_a_group(pack):
    loaded = load_pack() if pack is None else load_pack(str(pack))
    with_joins = 0
    for condition in _conditions(loaded.compiled.definition):
        (key, items), = condition.items()
        if key != "$and":
            continue
        joins = [_is_join(item) for item in items]
        if not any(joins):
            continue
        with_joins += 1
        last_join = max(i for i, join in enumerate(joins) if join)
        groups = [i for i, item in enumerate(items) if next(iter(item)) in ("$and", "$or")]
        assert groups and groups[0] > last_join, condition
        assert groups[-1] == len(items) - 1, condition     # closes on a group
    assert with_joins > 0 or pack is not None
