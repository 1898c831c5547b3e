"""The `diplo` command: stdout, stderr and exit status, each checked on its own."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import engine
import engine.core.compile
import engine.core.run
from engine.model import SEVERITIES

from conftest import run_cli

ROOT = Path(__file__).resolve().parent.parent
CASES = sorted(f"cases/{p.name}" for p in (ROOT / "cases").glob("*.yaml"))
ALLY = "cases/ally-trims-exercises.yaml"
BALANCED = "cases/balanced-partner.yaml"
OPAQUE_RISE = "cases/opaque-nominal-rise.yaml"


pytestmark = pytest.mark.usefixtures("in_repo")
run = run_cli


def report(*args) -> dict | list:
    result = run("assess", *args, "--format", "json", "--fail-on", "critical")
    assert result.exit_code in (0, 1), result.stderr
    return json.loads(result.stdout)


def fails(rep: dict, fail_on: str) -> bool:
    level = SEVERITIES.index(fail_on)
    return any(f["kind"] == "risk" and SEVERITIES.index(f["severity"]) >= level
               for f in rep["findings"])


def assert_usage_error(result, *words):
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


# --- assess ---------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("fmt", ["table", "json"])
def test_assess_each_example(case, fmt):
    result = run("assess", case, "--format", fmt)
    rep = report(case)
    assert result.stderr == ""
    assert result.exit_code == (1 if rep["verdict"] == "fail" else 0)
    if fmt == "json":
        assert json.loads(result.stdout) == rep
    else:
        assert result.stdout.startswith(f"{rep['case']['title']} ({rep['case']['id']})")
        assert f"Verdict: {rep['verdict'].upper()}" in result.stdout
        for finding in rep["findings"]:
            assert finding["title"] in result.stdout


def test_known_verdicts():
    assert run("assess", ALLY).exit_code == 1
    assert report(ALLY)["summary"]["risks"]["critical"] == 1
    assert run("assess", ALLY, "--fail-on", "critical").exit_code == 1
    assert run("assess", OPAQUE_RISE, "--fail-on", "critical").exit_code == 1
    result = run("assess", ALLY, "--exit-zero")
    assert (result.exit_code, result.stderr) == (0, "")
    assert "Verdict: FAIL" in result.stdout
    result = run("assess", BALANCED)
    assert (result.exit_code, result.stderr) == (0, "")
    assert report(BALANCED)["verdict"] == "pass"


@pytest.mark.parametrize("fail_on", SEVERITIES)
@pytest.mark.parametrize("case", CASES)
def test_fail_on(case, fail_on):
    result = run("assess", case, "--fail-on", fail_on)
    assert result.stderr == ""
    assert result.exit_code == (1 if fails(report(case), fail_on) else 0)


def test_fail_on_unknown_value():
    assert_usage_error(run("assess", ALLY, "--fail-on", "severe"), "--fail-on")


def test_json_is_byte_identical_across_runs():
    first = run("assess", *CASES, "--format", "json", "--explain")
    second = run("assess", *CASES, "--format", "json", "--explain")
    assert first.stdout == second.stdout
    assert first.stdout.encode() == second.stdout.encode()
    assert json.loads(first.stdout)


def test_json_report_shape():
    rep = report(ALLY)
    assert rep["schema_version"] == 2
    assert rep["case"]["source"] == ALLY
    assert [p["name"] for p in rep["packs"]] == ["defense-diplomacy"]
    assert "facts" not in rep
    counts = {s: 0 for s in SEVERITIES}
    for finding in rep["findings"]:
        assert finding["id"].split(":")[0] == finding["rule"]
        if finding["kind"] == "risk":
            counts[finding["severity"]] += 1
        else:
            assert finding["severity"] == "info"
    assert rep["summary"]["risks"] == counts


def test_several_cases_json_in_argument_order():
    order = list(reversed(CASES))
    reports = report(*order)
    assert isinstance(reports, list)
    assert [r["case"]["source"] for r in reports] == order
    assert reports == [report(case) for case in order]


def test_several_cases_table_one_block_each():
    result = run("assess", *CASES)
    assert result.stderr == ""
    assert result.exit_code == (1 if any(report(c)["verdict"] == "fail" for c in CASES) else 0)
    headers = [line for line in result.stdout.splitlines()
               if any(line.endswith(f"  {case}") for case in CASES)]
    assert [h.rsplit("  ", 1)[1] for h in headers] == CASES
    assert result.stdout.count("\nVerdict: ") == len(CASES)


def test_folder_argument_means_the_cases_in_it():
    assert report("cases") == report(*CASES)


def test_empty_folder_is_an_error(tmp_path):
    assert_usage_error(run("assess", str(tmp_path)), "diplo: error: ", str(tmp_path), "no .yaml")


def test_invalid_case_among_valid_ones_is_reported_and_fails_the_run(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / BALANCED).read_text().replace("amount: 150", "amount: -150"))
    result = run("assess", ALLY, str(bad), BALANCED, "--format", "json")
    assert result.exit_code == 2  # the valid ones are reported; the gate never passes over bad
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    for word in ("diplo: error: ", str(bad), "line_items[4].amount", ">= 0"):
        assert word in result.stderr
    assert json.loads(result.stdout) == report(ALLY, BALANCED)


# --- parameters ---------------------------------------------------------------------------

def test_param_override_changes_the_result():
    rules = {f["rule"] for f in report(ALLY)["findings"]}
    assert "DD-COM-014" in rules
    rules = {f["rule"] for f in report(ALLY, "--param", "cut_pct=60")["findings"]}
    assert "DD-COM-014" not in rules


def test_param_override_does_not_leak_into_the_next_run():
    report(ALLY, "--param", "cut_pct=60")
    assert "DD-COM-014" in {f["rule"] for f in report(ALLY)["findings"]}


def test_unknown_param():
    result = run("assess", ALLY, "--param", "deep_cutpct=60")
    assert_usage_error(result, "unknown parameter 'deep_cutpct'",
                       "did you mean 'deep_cut_pct'")


@pytest.mark.parametrize("bad", ["cut_pct", "=60", "cut_pct=ten"])
def test_malformed_param(bad):
    result = run("assess", ALLY, "--param", bad)
    assert_usage_error(result, "diplo: error: --param")
    assert result.stderr.count("\n") == 1


# --- explain ------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES)
def test_explain_traces_every_finding_to_facts(case):
    rep = report(case, "--explain")
    facts = {fact["id"]: fact for fact in rep["facts"]}
    assert len(facts) == len(rep["facts"])
    for finding in rep["findings"]:
        assert set(finding["because"]) <= set(facts), finding["id"]
    for fact in rep["facts"]:
        assert set(fact["because"]) <= set(facts), fact["id"]
    without = report(case)
    assert "facts" not in without
    assert without["findings"] == rep["findings"]


# --- rules --------------------------------------------------------------------------------

def test_rules_list_table():
    result = run("rules", "list")
    assert (result.exit_code, result.stderr) == (0, "")
    rules = json.loads(run("rules", "list", "--format", "json").stdout)
    for rule in rules:
        assert rule["id"] in result.stdout


def test_rules_list_json():
    result = run("rules", "list", "--format", "json")
    assert (result.exit_code, result.stderr) == (0, "")
    rules = json.loads(result.stdout)
    assert isinstance(rules, list) and rules
    for rule in rules:
        assert {"id", "kind", "severity", "concern", "citation"} <= set(rule)
        assert rule["kind"] in ("derive", "risk", "strength")
        if rule["kind"] == "derive":
            assert rule["severity"] is None and rule["derives"]
        else:
            assert rule["severity"] in SEVERITIES and rule["concern"]
    assert len({r["id"] for r in rules}) == len(rules)
    assert "DD-ENG-002" in {r["id"] for r in rules}


def test_rules_list_of_another_pack():
    result = run("rules", "list", "--format", "json", "--pack", "tests/bad_inputs/packs/_valid")
    assert (result.exit_code, result.stderr) == (0, "")
    assert [r["id"] for r in json.loads(result.stdout)] == ["T-001", "T-002", "T-003"]


def test_rules_categories():
    result = run("rules", "categories")
    assert (result.exit_code, result.stderr) == (0, "")
    for category in ("personnel", "joint_exercises", "presence_abroad", "audit_oversight"):
        assert category in result.stdout


# --- the command itself ---------------------------------------------------------------------

def test_version():
    result = run("--version")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == f"diplo, version {engine.__version__}\n"


def test_python_dash_m_engine():
    done = subprocess.run([sys.executable, "-m", "engine", "--version"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"diplo, version {engine.__version__}\n"


@pytest.mark.parametrize("command", [[], ["assess"], ["rules"], ["rules", "list"],
                                     ["rules", "categories"]])
def test_help(command):
    result = run(*command, "--help")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.startswith("Usage: ")


def test_unknown_format():
    assert_usage_error(run("assess", ALLY, "--format", "xml"), "--format")
    assert_usage_error(run("rules", "list", "--format", "xml"), "--format")


def test_no_case_given():
    assert_usage_error(run("assess"), "CASE")


def test_unknown_pack():
    assert_usage_error(run("assess", ALLY, "--pack", "defense-diplomcy"),
                       "diplo: error: defense-diplomcy", "did you mean 'defense-diplomacy'")


def _boom(*args, **kwargs):
    raise RuntimeError("boom")


@pytest.mark.parametrize("target", [(engine.core.run, "assess"),
                                    (engine.core.compile.CompiledPack, "run")])
def test_internal_error_is_reported_as_a_bug(target, monkeypatch):
    monkeypatch.setattr(*target, _boom)
    result = run("assess", ALLY)
    assert result.exit_code == 3
    assert result.stdout == ""
    assert "internal error" in result.stderr and "bug" in result.stderr
    assert "RuntimeError: boom" in result.stderr
    assert "Traceback" not in result.stderr
