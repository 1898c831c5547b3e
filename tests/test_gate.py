"""The gate never passes over a case file it could not read: `diplo assess` reports the cases it
could read in full and exits 2, in every format; SARIF and JUnit show the unreadable files
themselves, so that a CI report is never green over them; the pre-commit hook fails."""
from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from junitparser import Error, JUnitXml

from conftest import ROOT, run_cli

GOOD = "cases/control-steady.yaml"          # passes the gate on its own
HIGH = "cases/ally-trims-exercises.yaml"    # fails the gate on its own
SARIF_SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json")
                          .read_text(encoding="utf-8"))
FORMATS = ["table", "json", "markdown", "sarif", "junit"]


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch):
    monkeypatch.chdir(ROOT)


@pytest.fixture
def broken(tmp_path) -> Path:
    path = tmp_path / "broken.yaml"
    path.write_text((ROOT / GOOD).read_text(encoding="utf-8").replace(
        "fiscal_year: 2027", "fiscal_year: next"), encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("exit_zero", [False, True])
def test_a_good_case_beside_a_broken_one_is_reported_and_the_run_fails(fmt, exit_zero, broken):
    extra = ["--exit-zero"] if exit_zero else []
    result = run_cli("assess", GOOD, broken, "--format", fmt, *extra)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"diplo: error: {broken}:") and "fiscal_year" in result.stderr
    assert result.stderr.count("\n") == 1
    alone = run_cli("assess", GOOD, "--format", fmt)
    assert alone.exit_code == 0
    if fmt == "json":   # the report of the good case, exactly as on its own
        assert json.loads(result.stdout) == json.loads(alone.stdout)
    else:
        assert "country-u-fy2027" in result.stdout


def test_a_risky_case_beside_a_broken_one_exits_2_not_1(broken):
    assert run_cli("assess", HIGH, "--exit-zero").exit_code == 0
    assert run_cli("assess", HIGH).exit_code == 1
    assert run_cli("assess", HIGH, broken).exit_code == 2


def test_sarif_names_each_unreadable_file_in_a_notification(broken, tmp_path):
    missing = tmp_path / "missing.yaml"
    result = run_cli("assess", GOOD, broken, missing, "--format", "sarif")
    log = json.loads(result.stdout)
    errors = [f"{list(e.absolute_path)}: {e.message}"
              for e in jsonschema.Draft4Validator(SARIF_SCHEMA).iter_errors(log)]
    assert errors == []
    run = log["runs"][0]
    assert [c["id"] for c in run["properties"]["cases"]] == ["country-u-fy2027"]
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False
    first, second = invocation["toolExecutionNotifications"]
    assert first["level"] == "error" and "fiscal_year" in first["message"]["text"]
    location = first["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == broken.as_uri()
    assert location["region"]["startLine"] == next(
        n for n, line in enumerate(broken.read_text().splitlines(), 1) if "fiscal_year" in line)
    assert "no such file" in second["message"]["text"]
    assert "region" not in second["locations"][0]["physicalLocation"]


def test_sarif_without_unreadable_files_has_no_invocations():
    log = json.loads(run_cli("assess", GOOD, "--format", "sarif").stdout)
    assert "invocations" not in log["runs"][0]


def test_junit_shows_an_errored_test_per_unreadable_file(broken):
    result = run_cli("assess", HIGH, broken, "--format", "junit")
    assert result.exit_code == 2
    xml = JUnitXml.fromstring(result.stdout)
    assert xml.errors == 1
    suites = {suite.name: suite for suite in xml}
    assert set(suites) == {"country-a-fy2027", str(broken)}
    (case,) = list(suites[str(broken)])
    assert [type(r) for r in case.result] == [Error]
    assert case.result[0].type == "invalid-case" and "fiscal_year" in case.result[0].message
    assert suites["country-a-fy2027"].failures > 0   # the readable case is still judged


@pytest.mark.parametrize("fmt", ["sarif", "junit"])
def test_ci_formats_are_written_even_when_no_case_could_be_read(fmt, broken, tmp_path):
    target = tmp_path / f"report.{fmt}"
    result = run_cli("assess", broken, "--format", fmt, "-o", target)
    assert (result.exit_code, result.stdout) == (2, "")
    text = target.read_text(encoding="utf-8")
    assert str(broken) in text or broken.as_uri() in text


@pytest.mark.parametrize("fmt", ["table", "json", "markdown"])
def test_other_formats_print_nothing_when_no_case_could_be_read(fmt, broken):
    result = run_cli("assess", broken, "--format", fmt)
    assert (result.exit_code, result.stdout) == (2, "")


def test_the_memo_says_which_cases_could_not_be_assessed(broken):
    result = run_cli("assess", GOOD, broken, "--format", "markdown")
    assert result.exit_code == 2
    section = result.stdout.split("\n## Cases that could not be assessed\n", 1)[1]
    assert "The gate fails: 1 case file could not be read" in section
    assert str(broken) in section and "fiscal_year" in section


def test_the_table_batch_summary_marks_the_batch_invalid(broken):
    result = run_cli("assess", GOOD, broken)
    assert result.exit_code == 2
    assert "Batch: INVALID (2 cases: 0 of 1 assessed fail at --fail-on high; 1 invalid" \
        in result.stdout


def _hook():
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    return hook


def test_the_pre_commit_hook_fails_on_a_commit_that_adds_an_invalid_proposal(tmp_path):
    hook = _hook()
    proposals = tmp_path / "proposals"
    proposals.mkdir()
    good = proposals / "good.yaml"
    good.write_text((ROOT / GOOD).read_text(encoding="utf-8"), encoding="utf-8")
    bad = proposals / "bad.yaml"
    bad.write_text("id: x\n", encoding="utf-8")
    command = shlex.split(hook["entry"]) + list(hook.get("args", []))
    assert command[:2] == ["diplo", "assess"]
    # the hook runs the installed command; this test runs the same command in this Python
    entry = [sys.executable, "-m", "engine", *command[1:]]
    files = ["proposals/good.yaml", "proposals/bad.yaml"]
    done = subprocess.run(entry + files, cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stderr
    assert "proposals/bad.yaml" in done.stderr
    passing = subprocess.run(entry + files[:1], cwd=tmp_path, capture_output=True, text=True,
                             timeout=120)
    assert passing.returncode == 0, passing.stderr
