"""The engine end to end through the Python API: chaining, provenance, derived values,
negation, isolation and determinism."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import jsonschema
import pytest

from engine import Report, assess, load_case, load_pack
from engine.core.facts import case_facts

from conftest import ROOT, make_case, param, rule

CASES = sorted((ROOT / "cases").glob("*.yaml"))


@pytest.fixture(scope="module")
def pack():
    return load_pack()


def test_three_level_chain_is_traced_to_case_fields(pack):
    report = assess(load_case(ROOT / "cases" / "ally-trims-exercises.yaml", pack), pack,
                    explain=True)
    facts = {f.id: f for f in report.facts}
    finding = next(f for f in report.findings if f.rule == "DD-COM-022")
    # finding <- credibility_at_risk <- commitment_at_risk <- case fields
    level2 = facts[finding.because[0]]
    assert level2.kind == "credibility_at_risk"
    level1 = facts[next(b for b in level2.because
                        if b.startswith("commitment_at_risk") and b.endswith("exercises"))]
    assert level1.kind == "commitment_at_risk" and level1.rule == "DD-COM-006"
    assert "line_items[3].amount" in level1.inputs and "inflation_pct" in level1.inputs
    assert level1.parameters["cut_pct"] == 10
    assert finding.severity == "critical"


def test_every_because_resolves(pack):
    for path in CASES:
        report = assess(load_case(path, pack), pack, explain=True)
        ids = {f.id for f in report.facts}
        for item in list(report.findings) + list(report.facts):
            assert set(item.because) <= ids, (path.name, item.id)


def test_derived_values_are_computed_once_and_visible(pack):
    case = make_case(gdp=10000, total={"amount": 1000, "prior": 950},
                     history=[{"fiscal_year": 2025, "total": 800},
                              {"fiscal_year": 2026, "total": 950}])
    facts = {f.id: f.fields for f in case_facts(case, pack.groups)}
    item = facts["line_item:exercises"]
    assert item["change_pct"] == -20.0
    assert item["real_change_pct"] == pytest.approx((80 / 102 - 1) * 100, abs=1e-6)
    assert item["share_of_total_pct"] == 8.0
    assert item["share_of_gdp_pct"] == 0.8
    assert item["group"] == "engagement"
    head = facts["case"]
    assert head["total"] == 1000 and head["total_stated"] is True
    assert head["share_of_gdp_pct"] == 10.0
    assert head["volatility_pct"] == pytest.approx(18.75)
    assert facts["category:joint_exercises"]["amount"] == 80


def test_total_is_the_sum_of_line_items_when_absent(pack):
    facts = {f.id: f.fields for f in case_facts(make_case(), pack.groups)}
    assert facts["case"]["total"] == 580 and facts["case"]["total_stated"] is False
    assert facts["case"]["total_prior"] == 580


def test_missing_prior_leaves_change_fields_absent(pack):
    case = make_case(line_items=[{"id": "x", "category": "joint_exercises", "amount": 5}])
    fields = {f.id: f.fields for f in case_facts(case, pack.groups)}["line_item:x"]
    assert "prior" not in fields and "real_change_pct" not in fields


def test_negation_sees_facts_asserted_after_the_anchor(tmp_pack):
    # The engine never withdraws an activation; a 'not' must wait for all facts of its kind.
    pack = tmp_pack([rule("T-NOT", [{"not": {"fact": "line_item",
                                              "where": "category == 'contingency_reserve'"}}],
                          report={})])
    reserve = {"id": "reserve", "category": "contingency_reserve", "amount": 10}
    for items in ([reserve] + make_case().model_dump()["line_items"],
                  make_case().model_dump()["line_items"] + [reserve]):
        assert assess(make_case(line_items=items), pack).findings == []
    assert [f.rule for f in assess(make_case(), pack).findings] == ["T-NOT"]


def test_negation_of_a_derived_fact_waits_for_its_derivation(tmp_pack):
    pack = tmp_pack([
        rule("T-B", [{"fact": "cut", "as": "c"}], report={}),
        rule("T-A", [{"fact": "line_item", "as": "i", "where": "change_pct < 0"}],
             derive={"fact": "cut", "fields": {"line": "i.id"}}),
        rule("T-N", [{"fact": "line_item", "as": "i", "where": "category == 'personnel'"},
                     {"not": {"fact": "cut"}}], report={}),
    ])
    assert pack.strata == 1
    rules = [f.rule for f in assess(make_case(), pack).findings]
    assert rules == ["T-B"]  # T-N must not fire: a cut exists


def test_same_fact_derived_twice_is_one_fact(tmp_pack):
    derive = {"fact": "flagged", "fields": {"line": "i.id"}}
    pack = tmp_pack([
        rule("T-1", [{"fact": "line_item", "as": "i", "where": "amount > 0"}], derive=derive),
        rule("T-2", [{"fact": "line_item", "as": "i", "where": "amount > 1"}], derive=derive),
        rule("T-R", [{"fact": "flagged", "as": "f"}], report={"message": "{f.line}"}),
    ])
    report = assess(make_case(), pack, explain=True)
    assert sorted(f.id for f in report.facts) == ["flagged:exercises", "flagged:people"]
    assert len(report.findings) == 2


def test_unused_derived_fact_is_harmless(tmp_pack):
    pack = tmp_pack([rule("T-1", [{"fact": "line_item", "as": "i"}],
                          derive={"fact": "orphan", "fields": {"n": "i.amount"}})])
    report = assess(make_case(), pack, explain=True)
    assert [f.kind for f in report.facts] == ["orphan", "orphan"]


def test_binding_names_that_the_engine_reserves_are_safe(tmp_pack):
    pack = tmp_pack([rule("T-S", [{"fact": "line_item", "as": "s", "where": "amount > 100"},
                                  {"fact": "line_item", "as": "m",
                                   "where": "amount < s.amount"}],
                          report={"message": "{s.id} {m.id}"})])
    messages = [f.message for f in assess(make_case(), pack).findings]
    assert messages == ["people exercises"]


def test_arithmetic_joins_and_parameters(tmp_pack):
    pack = tmp_pack([rule("T-J", [{"fact": "line_item", "as": "big",
                                   "where": "category == 'personnel'"},
                                  {"fact": "line_item", "as": "small",
                                   "where": "amount * $factor < big.amount - 0.5 and id != big.id"}],
                          let={"gap": "big.amount - small.amount * $factor"},
                          report={"message": "gap {gap}"})],
                    parameters={"factor": param(6, "ratio")})
    assert [f.message for f in assess(make_case(), pack).findings] == ["gap 20"]
    pack7 = load_pack(pack.packs[0].root, params={"factor": "7"})
    assert assess(make_case(), pack7).findings == []


def test_tiny_and_huge_numbers_reach_the_engine_intact(pack):
    # Bare exponent floats (1e-05) are rejected by the engine's parser; ints saturate at int64.
    case = make_case(inflation_pct=0.00001, gdp=1e15, line_items=[
        {"id": "a", "category": "joint_exercises", "amount": 1e15, "prior": 0.00002},
        {"id": "b", "category": "personnel", "amount": 0.00001, "prior": 1e15}])
    report = assess(case, pack)
    assert report.verdict in ("pass", "warn", "fail")


def test_report_validates_against_its_json_schema(pack):
    schema = Report.model_json_schema()
    for path in CASES:
        report = assess(load_case(path, pack), pack, explain=True)
        jsonschema.validate(json.loads(report.to_json()), schema)


def test_threads_give_the_same_reports_as_one_at_a_time(pack):
    cases = [make_case(id=f"case-{i}", line_items=[
        {"id": f"ex-{i}", "category": "joint_exercises", "amount": 80 - i, "prior": 100},
        {"id": "reserve", "category": "contingency_reserve", "amount": i % 3, "prior": 1}])
        for i in range(60)]
    alone = [assess(case, pack).to_json() for case in cases]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda c: assess(c, pack).to_json(), cases))
    assert together == alone
    for i, text in enumerate(together):
        assert f"ex-{i}" in text and all(f'"ex-{j}"' not in text for j in (i - 1, i + 1))


def test_no_engine_threads_are_left_running(pack):
    before = {t.name for t in threading.enumerate()}
    for path in CASES:
        assess(load_case(path, pack), pack)
    assert {t.name for t in threading.enumerate()} == before


def test_json_is_identical_across_processes_and_hash_seeds():
    script = ("import engine,sys; p=engine.load_pack(); "
              "sys.stdout.write(engine.assess(engine.load_case(sys.argv[1], p), p, "
              "explain=True).to_json())")
    outputs = {subprocess.run([sys.executable, "-c", script, str(CASES[0])], cwd=ROOT,
                              capture_output=True, text=True, check=True,
                              env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"}).stdout
               for seed in ("1", "2", "77")}
    assert len(outputs) == 1 and '"findings"' in outputs.pop()


def test_assess_rejects_a_case_with_categories_the_pack_does_not_declare(pack):
    from engine import CaseError
    case = make_case(line_items=[{"id": "x", "category": "joint_exercise", "amount": 1}])
    with pytest.raises(CaseError, match="did you mean 'joint_exercises'"):
        assess(case, pack)


def test_firings_on_different_facts_about_one_subject_are_all_reported(pack):
    case = make_case(commitments=[{"id": "c", "kind": "alliance",
                                   "depends_on": ["peacekeeping", "military_aid"]}])
    found = sorted(f.id for f in assess(case, pack).findings if f.rule == "DD-COM-030")
    assert found == ["DD-COM-030:c/military_aid", "DD-COM-030:c/peacekeeping"]
