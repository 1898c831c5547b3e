"""Explanations come from the compiled rules and the provenance they recorded: proof trees,
why-not, near misses, and remedies that really clear their flags."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from engine import assess, load_case, load_pack
from engine.cli import main
from engine.analysis.proof import proof
from engine.analysis.remedies import changed_case, remedies
from engine.analysis.whynot import near_misses, why_not

from conftest import ROOT, make_case, param, rule

ALLY = str(ROOT / "cases" / "ally-trims-exercises.yaml")
# the risk of the deep cut to multinational-exercises, which an active alliance relies on
DEEP_CUT = "DD-COM-014:northern-alliance/joint_exercises+multinational-exercises"


@pytest.fixture(scope="module")
def pack():
    return load_pack()


@pytest.fixture(scope="module")
def ally(pack):
    case = load_case(ALLY, pack)
    return case, assess(case, pack, explain=True)


def walk(node):
    yield node
    for child in node.because:
        yield from walk(child)


def test_proof_trees_reach_case_fields_through_every_level(pack, ally):
    case, report = ally
    trees = proof(report, case, pack)
    assert [t.id for t in trees] == [f.id for f in report.findings]
    deepest = max(trees, key=lambda t: max(len(list(walk(c))) for c in t.because)
                  if t.because else 0)
    kinds = [n.kind for n in walk(deepest)]
    assert kinds[:2] == ["finding", "credibility_at_risk"] and "commitment_at_risk" in kinds
    leaves = [n for n in walk(deepest) if not n.because]
    assert all(leaf.inputs for leaf in leaves)
    values = {i.path: i.value for leaf in leaves for i in leaf.inputs}
    assert values["line_items[3].amount"] == 95 and values["inflation_pct"] == 3
    assert all(n.citation.quote for n in walk(deepest))


def test_why_not_names_the_failing_condition_and_the_distance(pack, ally):
    case, report = ally
    result = why_not("DD-CRI-002", case, pack, report)
    assert not result.fired and "crisis_capacity_cut" in result.reason
    upstream = result.upstream[0]
    near = next(f for f in upstream.failures if f.fact == "programme:readiness-fund")
    assert near.field == "real_change_pct" and near.threshold == -10
    assert near.gap == pytest.approx(10 - 9.3851, abs=1e-3)
    # DD-ENG-003 fired, though its finding is folded into DD-COM-014's by their common cause
    fired = why_not("DD-ENG-003", case, pack, report)
    assert fired.fired and fired.results == ["DD-ENG-003:multinational-exercises"]


def test_near_misses_are_within_the_margin_and_only_then(pack, ally):
    case, report = ally
    close = near_misses(case, pack, report, margin=0.2)
    assert any(n.rule == "DD-CRI-001" and n.fact == "programme:readiness-fund" for n in close)
    assert all(n.gap <= 0.2 * abs(n.threshold) for n in close)
    assert not any(n.rule == "DD-CRI-001" for n in near_misses(case, pack, report, margin=0.05))
    # a count of 0 that must be above 0 is a whole unit away, never "0 away"
    assert not any((n.field or "").endswith("_count") for n in close)


@pytest.mark.parametrize("name", ["ally-trims-exercises", "volatile-funding", "donor-ends-aid"])
def test_every_remedy_really_clears_its_flag(pack, name):
    case = load_case(ROOT / "cases" / f"{name}.yaml", pack)
    report = assess(case, pack, explain=True)
    results = remedies(case, pack, report)
    assert [r.finding for r in results] == [f.id for f in report.findings if f.kind == "risk"]
    assert any(r.remedies for r in results)
    for item in results:
        assert item.remedies or item.note
        for remedy in item.remedies:
            changed = assess(changed_case(case, remedy.path, remedy.value), pack)
            assert item.finding not in {f.id for f in changed.findings}, remedy.message
            assert remedy.verified


def test_the_remedy_for_a_cut_matches_the_rules_own_arithmetic(pack, ally):
    case, report = ally
    [item] = remedies(case, pack, report, finding_id=DEEP_CUT)
    best = item.remedies[0]
    assert best.path == "line_items.multinational-exercises.amount"
    # a cut under 25% in real terms: 180 * 1.03 * 0.75 = 139.05
    assert 139.05 < best.value <= 139.06


def test_explanations_work_for_user_packs(tmp_pack):
    pack = tmp_pack([rule("T-CUT", [{"fact": "line_item", "as": "i",
                                     "where": "category == 'joint_exercises' and change_pct <= -$cut"}],
                          report={"message": "{i.id} cut"})],
                    parameters={"cut": param(15)})
    case = make_case()
    report = assess(case, pack, explain=True)
    [item] = remedies(case, pack, report)
    assert item.remedies[0].path == "line_items.exercises.amount"
    assert 85 <= item.remedies[0].value <= 85.01
    quiet = make_case(line_items=[{"id": "ex", "category": "joint_exercises", "amount": 90,
                                   "prior": 100}])
    result = why_not("T-CUT", quiet, pack, assess(quiet, pack, explain=True))
    assert result.failures[0].gap == pytest.approx(5)


def test_explain_command(pack):
    runner = CliRunner()
    result = runner.invoke(main, ["explain", ALLY, DEEP_CUT])
    assert (result.exit_code, result.stderr) == (0, "")
    assert "└─ engagement_limited:multinational-exercises" in result.stdout
    assert "line_items[3].amount = 95" in result.stdout
    data = json.loads(runner.invoke(main, ["explain", ALLY, "--format", "json",
                                           "--remedies"]).stdout)
    assert data["proofs"] and data["remedies"]
    bad = runner.invoke(main, ["explain", ALLY, DEEP_CUT[:-1]])
    assert bad.exit_code == 2 and bad.stdout == ""
    assert f"did you mean '{DEEP_CUT}'" in bad.stderr
    why = runner.invoke(main, ["explain", ALLY, "--rule", "DD-CRI-002"])
    assert "readiness-fund: real_change_pct is -9.385; it must be <= -10" in why.stdout


def test_assess_near_miss_in_table_and_json():
    runner = CliRunner()
    table = runner.invoke(main, ["assess", ALLY, "--near-miss", "--exit-zero"])
    assert "Near misses:" in table.stdout and "readiness-fund" in table.stdout
    data = json.loads(runner.invoke(main, ["assess", ALLY, "--near-miss", "--format",
                                           "json"]).stdout)
    assert any(n["rule"] == "DD-CRI-001" for n in data["near_misses"])
    plain = json.loads(runner.invoke(main, ["assess", ALLY, "--format", "json"]).stdout)
    assert "near_misses" not in plain and "facts" not in plain


def test_an_effect_folded_into_a_finding_is_explained_by_that_finding(pack, ally):
    case, report = ally
    folding = next(f for f in report.findings if f.effects)
    effect = folding.effects[0].id
    assert effect not in {f.id for f in report.findings}
    trees = proof(report, case, pack, effect)
    assert [t.id for t in trees] == [folding.id]
    assert trees[0].effects == [e.id for e in folding.effects]
    fixes = remedies(case, pack, report, finding_id=effect)
    assert [r.finding for r in fixes] == [folding.id]
    result = CliRunner().invoke(main, ["explain", ALLY, effect])
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.startswith(folding.id)
    assert f"folded into it (the same cause): {effect}" in result.stdout
