"""One finding per root cause: a rule's `report.cause` names what its finding is about at root;
findings of one case with the same cause are folded into the most severe, with the others as
its effects, and the verdict counts causes, not findings."""
from __future__ import annotations

import json

import pytest

from engine import PackError, assess, load_pack
from conftest import make_case, rule, run_cli, write_pack

CUT = {"fact": "line_item", "as": "item", "where": "real_change_pct <= -5"}


def pack_with(tmp_path, *, cause_a="{item.id}", cause_b="{item.id}", cause_c=None):
    rules = [
        rule("C-1", [CUT], report={"severity": "medium", "message": "{item.id} is cut",
                                   **({"cause": cause_a} if cause_a else {})}),
        rule("C-2", [CUT], report={"severity": "high", "concern": "commitments_undermined",
                                   "message": "a commitment rests on {item.id}",
                                   **({"cause": cause_b} if cause_b else {})}),
        rule("C-3", [{"fact": "line_item", "as": "item", "where": "real_change_pct > 0"}],
             report={"severity": "low", "message": "{item.id} grows",
                     **({"cause": cause_c} if cause_c else {})}),
    ]
    return load_pack(write_pack(tmp_path / "p", rules))


def test_findings_with_one_cause_are_one_finding_at_the_worst_severity(tmp_path):
    report = assess(make_case(), pack_with(tmp_path))
    risks = [f for f in report.findings if f.kind == "risk"]
    (cut, grows) = risks
    assert (cut.rule, cut.severity, cut.cause) == ("C-2", "high", "exercises")
    assert [(e.rule, e.severity, e.message) for e in cut.effects] == [
        ("C-1", "medium", "exercises is cut")]
    assert (grows.rule, grows.cause, grows.effects) == ("C-3", None, [])
    # the verdict counts root causes
    assert report.summary.risks.high == 1 and report.summary.risks.medium == 0
    assert report.summary.risks.low == 1


def test_different_causes_stay_apart(tmp_path):
    report = assess(make_case(), pack_with(tmp_path, cause_b="commitment {item.id}"))
    assert sorted(f.rule for f in report.findings) == ["C-1", "C-2", "C-3"]
    assert all(f.effects == [] for f in report.findings)


def test_without_cause_nothing_is_folded(tmp_path):
    report = assess(make_case(), pack_with(tmp_path, cause_a=None, cause_b=None))
    assert sorted(f.rule for f in report.findings) == ["C-1", "C-2", "C-3"]
    assert [f.cause for f in report.findings] == [None, None, None]


def test_a_folded_finding_lists_the_subjects_and_inputs_of_its_effects(tmp_path):
    rules = [
        rule("D-1", [CUT], report={"severity": "medium", "message": "{item.id} is cut",
                                   "cause": "budget"}),
        rule("D-2", [{"fact": "line_item", "as": "item", "where": "real_change_pct > 0"}],
             report={"severity": "medium", "message": "{item.id} grows", "cause": "budget"}),
    ]
    report = assess(make_case(), load_pack(write_pack(tmp_path / "p", rules)))
    (finding,) = report.findings
    assert finding.subjects == ["exercises", "people"]
    assert any(i.startswith("line_items[0]") for i in finding.inputs)
    assert any(i.startswith("line_items[1]") for i in finding.inputs)


def test_the_cause_template_is_checked_when_the_pack_loads(tmp_path):
    rules = [rule("E-1", [CUT], report={"cause": "{item.nope}"})]
    with pytest.raises(PackError, match="nope"):
        load_pack(write_pack(tmp_path / "p", rules))


def test_the_json_report_carries_cause_and_effects(tmp_path):
    folder = write_pack(tmp_path / "p", [
        rule("C-1", [CUT], report={"severity": "medium", "cause": "{item.id}"}),
        rule("C-2", [CUT], report={"severity": "high", "cause": "{item.id}"})])
    case = tmp_path / "case.json"
    case.write_text(json.dumps(make_case().model_dump(exclude_none=True)), encoding="utf-8")
    result = run_cli("assess", case, "--pack", folder, "--format", "json", "--exit-zero")
    assert result.exit_code == 0, result.stderr
    (finding,) = json.loads(result.stdout)["findings"]
    assert finding["cause"] == "exercises"
    assert [e["rule"] for e in finding["effects"]] == ["C-1"]
