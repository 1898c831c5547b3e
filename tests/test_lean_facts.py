"""What a case's facts hold and how they reach the engine: each kind keeps what its rules read
(a negated pattern's condition included), the engine finds a fact's kind by a field's name,
the case's facts go in batches, packs from the cache reach the engine when a case needs them,
and findings share pydantic's set of given fields. Each must leave the reports as they were."""
from __future__ import annotations

from engine import assess, load_case, load_pack
from engine.core import compile as compiled_module
from engine.core.facts import case_facts
from engine.core.run import for_year
from engine.core.translate import kind_field

from conftest import ROOT, make_case, rule

CASES = sorted((ROOT / "cases").glob("*.yaml"))


def test_a_field_read_only_by_a_negated_pattern_is_kept(tmp_pack):
    # no positive pattern reads line_item.partner_count, only the negation: without the field
    # on the facts, the negation would hold whatever the partners
    pack = tmp_pack([rule("T-NOPARTNER", [
        {"fact": "line_item", "as": "line", "where": "category == 'joint_exercises'"},
        {"not": {"fact": "line_item", "where": "partner_count > 0"}}], report={})])
    assert "partner_count" in pack.compiled.read["line_item"]
    exercises = {"id": "exercises", "category": "joint_exercises", "amount": 80, "prior": 100}
    people = {"id": "people", "category": "personnel", "amount": 500, "prior": 480}
    alone = make_case(line_items=[exercises, people])
    partnered = make_case(line_items=[exercises, {**people, "partners": ["Country B"]}])
    assert [f.rule for f in assess(alone, pack).findings] == ["T-NOPARTNER"]
    assert assess(partnered, pack).findings == []


def test_each_kind_keeps_only_what_its_rules_read():
    pack = load_pack()
    read = pack.compiled.read
    case = load_case(ROOT / "cases" / "ally-trims-exercises.yaml", pack)
    facts = case_facts(case, pack.groups, pack.compiled.kinds, pack.compiled.history, read)
    for fact in facts:
        assert set(fact.fields) <= read[fact.kind], fact.id
        assert set(fact.sources) == set(fact.fields), fact.id
    # a line item of the default pack is judged through its programme: it keeps few fields
    assert len(read["line_item"]) < len(read["programme"])


def test_the_engine_gets_the_kind_as_a_field_name():
    pack = load_pack()
    shard = pack.compiled.shards[0]
    sent = shard.fact_json("line_item:x", "line_item", {"amount": 1.0})
    assert f'"{kind_field("line_item")}":1' in sent
    conditions = str(pack.compiled.definition)
    assert f"'{kind_field('programme')}': 1" in conditions


def test_facts_in_batches_give_the_reports_of_one_batch(monkeypatch):
    pack = load_pack()
    cases = [load_case(path, pack) for path in CASES]
    whole = [assess(case, pack, explain=True).to_json() for case in cases]
    monkeypatch.setattr(compiled_module, "ASSERT_BATCH", 3)
    assert max(len(case.line_items) for case in cases) > 3
    assert [assess(case, pack, explain=True).to_json() for case in cases] == whole


def test_a_pack_from_the_cache_reaches_the_engine_when_a_case_needs_it(tmp_path, monkeypatch):
    from engine.core import cache
    monkeypatch.setenv("DIPLO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "enabled", True)
    first = load_pack(params={"cut_pct": 11})          # read from its files: registered now
    assert all(shard.handle is not None for shard in first.compiled.shards)
    again = load_pack(params={"cut_pct": 11})          # from the cache: not yet
    assert again is not first
    assert all(shard.handle is None for shard in again.compiled.shards)
    case = load_case(CASES[0], again)
    assert assess(case, again).to_json() == assess(case, first).to_json()
    # the pack the case ran with (its fiscal year's variant, or the pack itself) is in now
    used = for_year(again, case.fiscal_year)
    assert all(shard.handle is not None for shard in used.compiled.shards)


def test_findings_share_the_set_of_given_fields_without_sharing_changes():
    pack = load_pack()
    report = assess(load_case(ROOT / "cases" / "ally-trims-exercises.yaml", pack), pack)
    # (a finding with others folded into it is a copy, with a set of its own)
    first, second = [f for f in report.findings if not f.effects][:2]
    assert first.model_fields_set is second.model_fields_set
    before = set(first.model_fields_set)
    changed = first.model_copy(update={"effects": []})
    assert "effects" in changed.model_fields_set
    assert first.model_fields_set == before and second.model_fields_set == before
