"""Review workflows: waivers, baselines, batches and --output, through `diplo assess` (stdout,
stderr and exit status checked on their own) and through the library."""
from __future__ import annotations

import datetime
import io
import json
import os
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import engine.cli.common
import engine.formats
import engine.review.waivers
from engine import load_pack
from engine.review.baseline import load_baseline
from engine.errors import BaselineError, CaseError, DiploError, WaiverError
from engine.cli import main
from engine.api import assess_files
from engine.review.waivers import apply_waivers, load_waivers

ROOT = Path(__file__).resolve().parent.parent
CASES = sorted(f"cases/{p.name}" for p in (ROOT / "cases").glob("*.yaml"))
ALLY = "cases/ally-trims-exercises.yaml"
# its risks, most severe first: CREDIBILITY (critical), DEEP_CUT (high), DD-TRA-005 (low) and
# DD-ALL-001 (info)
CREDIBILITY = ("DD-COM-022:northern-alliance/presence_abroad+forward-presence"
               "+northern-alliance/joint_exercises+multinational-exercises")
DEEP_CUT = "DD-COM-014:northern-alliance/joint_exercises+multinational-exercises"
BALANCED = "cases/balanced-partner.yaml"
ONE_HIGH = "cases/peacekeeping-drawdown.yaml"     # exactly one risk at or above high
ONE_HIGH_ID = "DD-COM-014:un-stabilisation-mission/peacekeeping+un-mission-contingent"
TODAY = datetime.date(2027, 3, 15)


@pytest.fixture(autouse=True)
def _in_repo_on_a_fixed_day(monkeypatch):
    # reports name cases by the path given; waivers expire against a day the test chooses
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(engine.review.waivers, "today", lambda: TODAY)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def as_json(*args):
    result = run("assess", *args, "--format", "json")
    assert result.exit_code in (0, 1), result.stderr
    return json.loads(result.stdout)


def one_error_line(result, *words):
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("diplo: error: ")
    for word in words:
        assert word in result.stderr, result.stderr


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def waiver(finding=ONE_HIGH_ID, expires="2027-06-30", **more) -> str:
    fields = ([("finding", finding)] if finding else []) + list(more.items()) + [
        ("reason", "Agreed with the alliance at the March summit"), ("owner", "j.smith"),
        ("expires", expires)]
    return "".join(f"{'  - ' if i == 0 else '    '}{key}: {value}\n"
                   for i, (key, value) in enumerate(fields))


def waivers_file(tmp_path, *entries: str, name="waivers.yaml") -> Path:
    path = tmp_path / name
    path.write_text("waivers:\n" + "".join(entries), encoding="utf-8")
    return path


# --- waivers ----------------------------------------------------------------------------------

def test_a_waived_risk_stays_in_the_report_marked_and_does_not_fail_the_gate(tmp_path):
    assert run("assess", ONE_HIGH).exit_code == 1
    file = waivers_file(tmp_path, waiver())
    result = run("assess", ONE_HIGH, "--waivers", file, "--format", "json")
    assert (result.exit_code, result.stderr) == (0, "")
    report = json.loads(result.stdout)
    waived = [f for f in report["findings"] if f["waived"] is not None]
    assert [f["id"] for f in waived] == [ONE_HIGH_ID]
    assert waived[0]["waived"] == {"reason": "Agreed with the alliance at the March summit",
                                   "owner": "j.smith", "expires": "2027-06-30"}
    assert all(f["waived"] is None for f in report["findings"] if f["id"] != ONE_HIGH_ID)
    # the verdict and counts describe the case; only the gate changes
    assert report["verdict"] == "fail" and report["summary"]["risks"]["high"] == 1
    info = report["waivers"]
    assert info["source"] == str(file)
    assert [(w["line"], w["findings"]) for w in info["applied"]] == [(2, [ONE_HIGH_ID])]
    assert info["expired"] == [] and info["stale"] == []


def test_the_table_says_what_is_waived_and_why_the_gate_passes(tmp_path):
    result = run("assess", ONE_HIGH, "--waivers", waivers_file(tmp_path, waiver()))
    assert (result.exit_code, result.stderr) == (0, "")
    assert "Verdict: FAIL" in result.stdout
    assert "1 applied, 0 expired, 0 stale" in result.stdout
    line = next(l for l in result.stdout.splitlines() if l.strip().startswith("waived"))
    assert ONE_HIGH_ID in line and "until 2027-06-30" in line and "j.smith" in line
    assert "Gate (--fail-on high): PASS" in result.stdout and "1 waived" in result.stdout


def test_a_waiver_by_rule_and_subjects(tmp_path):
    report = as_json(ONE_HIGH, "--waivers", waivers_file(
        tmp_path, waiver(None, rule="DD-COM-014",
                         subjects="[un-mission-contingent, un-stabilisation-mission]")))
    assert [f["id"] for f in report["findings"] if f["waived"]] == [ONE_HIGH_ID]
    wrong = as_json(ONE_HIGH, "--waivers", waivers_file(
        tmp_path, waiver(None, rule="DD-COM-014", subjects="[un-stabilisation-mission]")))
    assert not any(f["waived"] for f in wrong["findings"])
    assert [w["rule"] for w in wrong["waivers"]["stale"]] == ["DD-COM-014"]


def test_a_waiver_for_another_case_is_left_out(tmp_path):
    file = waivers_file(tmp_path, waiver(case="some-other-case"))
    result = run("assess", ONE_HIGH, "--waivers", file, "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["waivers"] == {"source": str(file), "applied": [], "expired": [],
                                 "stale": []}


def test_an_expired_waiver_stops_applying_and_the_report_says_so(tmp_path, monkeypatch):
    file = waivers_file(tmp_path, waiver(expires="2027-03-15"))
    # on its expiry date a waiver still applies ...
    assert run("assess", ONE_HIGH, "--waivers", file).exit_code == 0
    # ... and from the next day it does not
    monkeypatch.setattr(engine.review.waivers, "today", lambda: datetime.date(2027, 3, 16))
    result = run("assess", ONE_HIGH, "--waivers", file, "--format", "json")
    assert (result.exit_code, result.stderr) == (1, "")
    report = json.loads(result.stdout)
    assert not any(f["waived"] for f in report["findings"])
    assert [(w["expires"], w["findings"]) for w in report["waivers"]["expired"]] == [
        ("2027-03-15", [ONE_HIGH_ID])]
    assert report["waivers"]["applied"] == [] and report["waivers"]["stale"] == []
    table = run("assess", ONE_HIGH, "--waivers", file)
    assert table.exit_code == 1
    assert "EXPIRED" in table.stdout and "expired 2027-03-15" in table.stdout
    assert "no longer waived" in table.stdout


def test_a_waiver_that_matches_nothing_is_stale(tmp_path):
    file = waivers_file(tmp_path, waiver(), waiver("DD-GONE-001:old-line"))
    result = run("assess", ONE_HIGH, "--waivers", file, "--format", "json")
    assert result.exit_code == 0
    stale = json.loads(result.stdout)["waivers"]["stale"]
    assert [(w["finding"], w["line"], w["findings"]) for w in stale] == [
        ("DD-GONE-001:old-line", 6, [])]
    table = run("assess", ONE_HIGH, "--waivers", file)
    line = next(l for l in table.stdout.splitlines() if l.strip().startswith("stale"))
    assert "DD-GONE-001:old-line" in line and "line 6" in line


def test_reports_with_waivers_are_byte_identical_within_a_day(tmp_path):
    file = waivers_file(tmp_path, waiver(), waiver("DD-GONE-001:old-line", expires="2020-01-01"))
    first = run("assess", *CASES, "--waivers", file, "--format", "json")
    second = run("assess", *CASES, "--waivers", file, "--format", "json")
    assert first.stdout_bytes == second.stdout_bytes


@pytest.mark.parametrize("missing", ["reason", "owner", "expires"])
def test_a_waiver_without_reason_owner_or_expiry_is_refused(tmp_path, missing):
    entry = "".join(line + "\n" for line in waiver().splitlines()
                    if not line.strip().startswith(f"{missing}:"))
    file = waivers_file(tmp_path, waiver("DD-ALL-001"), entry)
    result = run("assess", ONE_HIGH, "--waivers", file)
    with pytest.raises(WaiverError):
        load_waivers(file)
    # the second waiver starts on line 6 of the file
    one_error_line(result, f"{file}:6:", f"waivers[1].{missing}",
                   f"required field '{missing}' is missing")


@pytest.mark.parametrize("entry, words", [
    (waiver(expires="30/06/2027"), ["waivers[0].expires", "YYYY-MM-DD"]),
    (waiver(expires="2027-02-30"), ["waivers[0].expires", "2027-02-30"]),
    (waiver(reason_typo="x"), ["waivers[0]", "unknown key 'reason_typo'"]),
    (waiver(None), ["waivers[0]", "'finding'", "'rule' and 'subjects'"]),
    (waiver(rule="DD-BUR-002"), ["waivers[0].rule", "not both"]),
    (waiver(None, rule="DD-BUR-002"), ["waivers[0].rule", "'subjects' is required"]),
    (waiver() + waiver(), ["waivers[1]", "same finding as waivers[0]"]),
])
def test_invalid_waivers_are_refused_with_file_line_and_field(tmp_path, entry, words):
    file = waivers_file(tmp_path, entry)
    one_error_line(run("assess", ONE_HIGH, "--waivers", file), f"{file}:", *words)
    with pytest.raises(DiploError):  # an InputError when YAML itself refuses the value
        load_waivers(file)


def test_a_missing_waivers_file_is_an_error(tmp_path):
    one_error_line(run("assess", ONE_HIGH, "--waivers", tmp_path / "nope.yaml"),
                   "nope.yaml", "no such file")


def test_the_conventional_waivers_file_beside_the_cases_is_used(tmp_path):
    folder = tmp_path / "proposals"
    folder.mkdir()
    shutil.copy(ROOT / ONE_HIGH, folder)
    shutil.copy(ROOT / BALANCED, folder)
    waivers_file(folder, waiver(), name="diplo-waivers.yaml")
    case = folder / Path(ONE_HIGH).name
    result = run("assess", case, "--format", "json")
    assert (result.exit_code, result.stderr) == (0, "")
    assert json.loads(result.stdout)["waivers"]["source"] == str(folder / "diplo-waivers.yaml")
    # the folder's waivers file is not taken for a case
    result = run("assess", folder, "--format", "json")
    assert (result.exit_code, result.stderr) == (0, "")
    assert [r["case"]["source"] for r in json.loads(result.stdout)] == [
        str(folder / "balanced-partner.yaml"), str(case)]
    # --no-waivers turns the convention off; --waivers names another file instead
    off = run("assess", case, "--no-waivers", "--format", "json")
    assert off.exit_code == 1 and "waivers" not in json.loads(off.stdout)
    other = waivers_file(tmp_path, waiver("DD-GONE-001:x"))
    instead = run("assess", case, "--waivers", other, "--format", "json")
    assert instead.exit_code == 1
    assert json.loads(instead.stdout)["waivers"]["source"] == str(other)
    one_error_line(run("assess", case, "--waivers", other, "--no-waivers"), "--no-waivers")


def test_without_waivers_the_report_has_no_waivers_key():
    report = as_json(ONE_HIGH)
    assert "waivers" not in report and "baseline" not in report
    assert all(f["waived"] is None for f in report["findings"])


def test_report_fails_keeps_its_meaning_in_the_python_api(tmp_path):
    pack = load_pack()
    report = assess_files([ONE_HIGH], pack)[0]
    waived = apply_waivers(report, load_waivers(waivers_file(tmp_path, waiver())), TODAY)
    assert report.fails("high") and report.fails_gate("high")
    assert waived.fails("high")            # a high risk is there, waived or not
    assert not waived.fails_gate("high")   # but it does not fail the gate
    assert waived.gate_findings("low") == [f for f in waived.findings
                                           if f.kind == "risk" and f.waived is None]


# --- baselines --------------------------------------------------------------------------------

def edited_baseline(tmp_path, case=ALLY, name="baseline.json", edit=None) -> tuple[Path, dict]:
    report = as_json(case)
    if edit:
        edit(report)
    path = tmp_path / name
    path.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return path, report


def test_an_unchanged_case_against_its_own_report_passes_the_gate(tmp_path):
    path, before = edited_baseline(tmp_path)
    assert run("assess", ALLY).exit_code == 1
    result = run("assess", ALLY, "--baseline", path, "--format", "json")
    assert (result.exit_code, result.stderr) == (0, "")
    info = json.loads(result.stdout)["baseline"]
    risks = [f["id"] for f in before["findings"] if f["kind"] == "risk"]
    assert info == {"source": str(path), "case_found": True, "known": risks, "new": [],
                    "worse": [], "resolved": []}


def test_known_new_worse_and_resolved(tmp_path):
    def edit(report):
        findings = report["findings"]
        findings[:] = [f for f in findings if f["id"] != DEEP_CUT]
        for f in findings:
            if f["id"] == CREDIBILITY:
                f["severity"] = "high"       # now critical: worse
            if f["id"] == "DD-TRA-005":
                f["severity"] = "medium"     # now low: better, so known
        findings.append({**findings[0], "id": "DD-GONE-001:old-line", "rule": "DD-GONE-001"})

    path, _ = edited_baseline(tmp_path, edit=edit)
    result = run("assess", ALLY, "--baseline", path, "--format", "json")
    assert (result.exit_code, result.stderr) == (1, "")
    info = json.loads(result.stdout)["baseline"]
    assert info["new"] == [DEEP_CUT]
    assert info["worse"] == [CREDIBILITY]
    assert info["resolved"] == ["DD-GONE-001:old-line"]
    assert "DD-TRA-005" in info["known"]
    assert len(info["known"]) == 2
    table = run("assess", ALLY, "--baseline", path)
    assert "2 known, 1 new, 1 worse, 1 resolved" in table.stdout
    rows = {line.split()[0]: line for line in table.stdout.splitlines()
            if line.startswith("  ") and line.split()[0] in ("new", "worse", "resolved")}
    assert f"{DEEP_CUT} (high)" in rows["new"]
    assert "DD-GONE-001:old-line" in rows["resolved"]
    assert "Gate (--fail-on high): FAIL (2 of 2" in table.stdout


@pytest.mark.parametrize("edit, fail_on, status", [
    (None, "high", 0),
    (lambda f: f.pop(2), "high", 0),                     # a low risk is new: below high
    (lambda f: f.pop(2), "low", 1),
    (lambda f: f.pop(1), "high", 1),                     # a high risk is new
    (lambda f: f[0].update(severity="high"), "high", 1),  # critical was high: worse
    (lambda f: f[0].update(severity="high"), "critical", 1),
    (lambda f: f[1].update(severity="critical"), "high", 0),  # better than before: known
])
def test_the_gate_with_a_baseline_counts_only_new_or_worse_risks(tmp_path, edit, fail_on,
                                                                  status):
    def risks_only(report):
        report["findings"] = [f for f in report["findings"] if f["kind"] == "risk"]
        if edit:
            edit(report["findings"])

    path, _ = edited_baseline(tmp_path, edit=risks_only)
    result = run("assess", ALLY, "--baseline", path, "--fail-on", fail_on)
    assert (result.exit_code, result.stderr) == (status, "")
    assert run("assess", ALLY, "--baseline", path, "--fail-on", fail_on,
               "--exit-zero").exit_code == 0


def test_a_baseline_array_is_matched_by_case_id(tmp_path):
    reports = as_json(BALANCED, ALLY)
    path = tmp_path / "batch.json"
    path.write_text(json.dumps(reports), encoding="utf-8")
    result = run("assess", ALLY, ONE_HIGH, "--baseline", path, "--format", "json")
    assert (result.exit_code, result.stderr) == (1, "")
    ally, one_high = json.loads(result.stdout)
    assert ally["baseline"]["case_found"] and not ally["baseline"]["new"]
    # a case the baseline does not have: every risk is new
    assert one_high["baseline"]["case_found"] is False
    assert one_high["baseline"]["new"] == [f["id"] for f in one_high["findings"]
                                           if f["kind"] == "risk"]
    table = run("assess", ONE_HIGH, "--baseline", path)
    assert "has no report of case country-m-fy2026, so every risk is new" in table.stdout


def test_waivers_and_a_baseline_together(tmp_path):
    path, _ = edited_baseline(tmp_path, case=ONE_HIGH, edit=lambda r: r.update(findings=[]))
    assert run("assess", ONE_HIGH, "--baseline", path).exit_code == 1
    file = waivers_file(tmp_path, waiver())
    result = run("assess", ONE_HIGH, "--baseline", path, "--waivers", file, "--format", "json")
    assert (result.exit_code, result.stderr) == (0, "")
    report = json.loads(result.stdout)
    assert ONE_HIGH_ID in report["baseline"]["new"]
    assert report["waivers"]["applied"][0]["findings"] == [ONE_HIGH_ID]


@pytest.mark.parametrize("content, words", [
    ("country: A\n", ["invalid JSON", "diplo assess --format json"]),
    ('{"version": "2.1.0", "runs": []}', ["1:1", "is not a report of diplo",
                                          "no 'schema_version'"]),
    ("[]", ["holds no report"]),
    ("42", ["expected a report or an array of reports, found the number 42"]),
    ('{"schema_version": 3, "case": {"id": "x"}, "findings": []}', ["schema_version",
                                                                   "expected one of 1, 2"]),
])
def test_a_baseline_that_is_not_a_report_is_refused(tmp_path, content, words):
    path = tmp_path / "baseline.json"
    path.write_text(content, encoding="utf-8")
    one_error_line(run("assess", ALLY, "--baseline", path), str(path), *words)
    with pytest.raises(BaselineError):
        load_baseline(path)


def test_an_invalid_report_in_a_baseline_array_is_named_by_its_place(tmp_path):
    reports = as_json(BALANCED, ALLY)
    reports[1]["findings"][2]["severity"] = "severe"
    path = tmp_path / "batch.json"
    path.write_text(json.dumps(reports, indent=2), encoding="utf-8")
    one_error_line(run("assess", ALLY, "--baseline", path), f"{path}:",
                   "[1].findings[2].severity", "'severe'")
    reports[1]["findings"][2]["severity"] = "high"
    reports[1]["case"]["id"] = reports[0]["case"]["id"]
    path.write_text(json.dumps(reports, indent=2), encoding="utf-8")
    one_error_line(run("assess", ALLY, "--baseline", path), "[1].case.id",
                   "a second report of case 'country-e-fy2027'")


# --- batches ----------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["json", "table"])
def test_jobs_give_the_same_output_as_one_at_a_time(fmt):
    one = run("assess", *reversed(CASES), "--format", fmt, "--jobs", "1")
    two = run("assess", *reversed(CASES), "--format", fmt, "--jobs", "2")
    assert one.exit_code == two.exit_code == 1
    assert one.stderr == two.stderr == ""   # no progress bar: stderr is not a terminal
    assert one.stdout_bytes == two.stdout_bytes


def test_jobs_in_the_library_keep_the_order_and_the_reports():
    pack = load_pack()
    order = list(reversed(CASES))
    done = []
    serial = assess_files(order, pack)
    parallel = assess_files(order, pack, jobs=2, progress=done.append)
    assert [r.to_json() for r in parallel] == [r.to_json() for r in serial]
    assert done == sorted(done) and done[-1] == len(order)   # files done so far


def test_quoted_globs_are_expanded():
    pattern = run("assess", "cases/*.yaml", "--format", "json", "--fail-on", "critical")
    listed = run("assess", *CASES, "--format", "json", "--fail-on", "critical")
    assert pattern.stdout == listed.stdout and pattern.exit_code == listed.exit_code
    some = run("assess", "cases/[bn]*.yaml", "--format", "json")
    assert [r["case"]["source"] for r in json.loads(some.stdout)] == [
        c for c in CASES if Path(c).name[0] in "bn"]
    deep = run("assess", "c*/**/*.y*ml", "--format", "json", "--fail-on", "critical")
    import glob
    assert [r["case"]["source"] for r in json.loads(deep.stdout)] == sorted(
        glob.glob("c*/**/*.y*ml", recursive=True))
    assert len(json.loads(deep.stdout)) > len(CASES)   # the calibration cases, a level down


def test_a_pattern_that_matches_nothing_is_an_error_but_not_the_end():
    result = run("assess", "nowhere/*.yaml", BALANCED, "--format", "json")
    assert result.exit_code == 2  # the other case is reported, but the batch is not whole
    assert result.stderr == ("diplo: error: nowhere/*.yaml: the pattern matches no .yaml, "
                             ".yml or .json case files\n")
    assert json.loads(result.stdout)["case"]["source"] == BALANCED


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_invalid_files_in_a_batch(tmp_path, jobs):
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / BALANCED).read_text().replace("amount: 150", "amount: -150"))
    missing = tmp_path / "missing.yaml"
    args = [ALLY, bad, BALANCED, missing, ONE_HIGH]
    result = run("assess", *args, "--jobs", jobs, "--format", "json")
    assert result.exit_code == 2  # reported in full, but a gate never passes over bad files
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and all(l.startswith("diplo: error: ") for l in lines)
    assert f"{bad}:19:" in lines[0] and "line_items[4].amount" in lines[0]
    assert f"{missing}: no such file" in lines[1]
    assert [r["case"]["source"] for r in json.loads(result.stdout)] == [
        ALLY, BALANCED, ONE_HIGH]
    assert run("assess", *args, "--jobs", jobs, "--exit-zero").exit_code == 2
    assert run("assess", bad, missing, "--jobs", jobs).exit_code == 2
    assert run("assess", ALLY, BALANCED, ONE_HIGH, "--jobs", jobs).exit_code == 1


def test_the_library_reports_invalid_files_in_order_or_raises_the_first(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\n", encoding="utf-8")
    pack = load_pack()
    errors = []
    reports = assess_files([ALLY, str(bad), BALANCED], pack,
                           on_error=lambda path, error: errors.append((path, error)))
    assert [r.case.source for r in reports] == [ALLY, BALANCED]
    assert [(path, type(error)) for path, error in errors] == [(str(bad), CaseError)]
    assert errors[0][1].file == str(bad) and errors[0][1].line == 1
    for jobs in (1, 2):
        with pytest.raises(CaseError) as caught:
            assess_files([ALLY, str(bad), BALANCED], pack, jobs=jobs)
        assert caught.value.file == str(bad)


def test_a_batch_ends_with_a_summary_table(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\n", encoding="utf-8")
    result = run("assess", ALLY, bad, BALANCED)
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    head = next(i for i, l in enumerate(lines) if l.startswith("case "))
    assert lines[head].split() == ["case", "verdict", "gate", "critical", "high", "medium",
                                   "low", "info", "strengths"]
    rows = [l.split() for l in lines[head + 2:head + 5]]
    assert rows[0] == [ALLY, "fail", "fail", "1", "1", "0", "1", "1", "3"]
    assert rows[1][:3] == [str(bad), "invalid", "-"]
    assert rows[2] == [BALANCED, "pass", "pass", "0", "0", "0", "0", "0", "8"]
    assert lines[head + 5].startswith("Batch: INVALID (3 cases: 1 of 2 assessed fail")
    # one case: no summary; JSON: never
    assert "Batch:" not in run("assess", ALLY).stdout
    assert "Batch:" not in run("assess", ALLY, BALANCED, "--format", "json").stdout


def test_the_progress_bar_is_only_for_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with engine.cli.common.progress_bar(10) as bar:
        assert bar is None
    monkeypatch.setattr(sys, "stderr", Terminal())
    with engine.cli.common.progress_bar(1) as bar:
        assert bar is None
    with engine.cli.common.progress_bar(10) as bar:
        assert bar is not None
        bar.update(10)
    assert "Assessing" in sys.stderr.getvalue()


# --- --output ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["json", "table"])
def test_output_writes_the_file_and_nothing_to_stdout(tmp_path, fmt):
    target = tmp_path / "report.out"
    expected = run("assess", ALLY, BALANCED, "--format", fmt)
    result = run("assess", ALLY, BALANCED, "--format", fmt, "--output", target)
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", "")
    assert target.read_bytes() == expected.stdout_bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.out"]


def test_output_replaces_a_file_and_keeps_its_permissions(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o640)
    assert run("assess", BALANCED, "--format", "json", "-o", target).exit_code == 0
    assert json.loads(target.read_text())["case"]["source"] == BALANCED
    assert target.stat().st_mode & 0o777 == 0o640


def test_a_failing_render_leaves_no_file(tmp_path, monkeypatch):
    def broken(reports, **options):
        raise RuntimeError("renderer broke")

    monkeypatch.setattr(engine.formats.get("json"), "reports", broken)
    target = tmp_path / "report.json"
    result = run("assess", ALLY, "--format", "json", "--output", target)
    assert result.exit_code == 3 and result.stdout == ""
    assert "RuntimeError: renderer broke" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "report.json"
    target.write_text("the previous report\n", encoding="utf-8")

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    result = run("assess", ALLY, "--format", "json", "--output", target)
    assert result.exit_code == 130 and result.stdout == ""
    assert target.read_text() == "the previous report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_output_into_a_missing_folder_is_an_error(tmp_path):
    one_error_line(run("assess", ALLY, "--output", tmp_path / "no" / "report.txt"),
                   "report.txt", "folder does not exist")


def test_output_with_an_invalid_case_writes_the_valid_reports(tmp_path):
    target = tmp_path / "report.json"
    result = run("assess", ALLY, tmp_path / "missing.yaml", "--format", "json", "-o", target)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "no such file" in result.stderr
    assert json.loads(target.read_text())["case"]["source"] == ALLY


def test_the_output_and_baseline_files_in_the_cases_folder_are_not_cases(tmp_path):
    folder = tmp_path / "cases"
    folder.mkdir()
    shutil.copy(ROOT / ALLY, folder)
    report = folder / "report.json"
    assert run("assess", folder, "--format", "json", "-o", report).exit_code == 1
    # the output never replaces the baseline it is compared with (tests/test_hostile_files.py)
    again = folder / "again.json"
    result = run("assess", folder, "--baseline", report, "--format", "json", "-o", again)
    assert (result.exit_code, result.stderr) == (0, "")
    assert json.loads(again.read_text())["baseline"]["new"] == []


def test_the_waivers_example_in_the_docs_is_a_valid_waivers_file(tmp_path):
    text = (ROOT / "docs" / "review-workflows.md").read_text(encoding="utf-8")
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    loaded = load_waivers(write(tmp_path / "diplo-waivers.yaml", example))
    assert [w.spec.finding or w.spec.rule for w in loaded.items] == [
        "DD-COM-014:un-stabilisation-mission/peacekeeping+un-mission-contingent", "DD-COM-014"]


def test_the_table_format_renders_each_report_as_a_block_of_its_own():
    # the notes on waivers and baselines go between the table format's blocks; this is what
    # lets them do so without changing the format
    pack = load_pack()
    reports = assess_files(CASES[:3], pack)
    table = engine.formats.get("table")
    assert table.reports(reports) == "\n".join(table.reports([r]) for r in reports)


def test_the_markdown_memo_ends_with_the_waivers_and_the_baseline(tmp_path):
    path, _ = edited_baseline(tmp_path, case=ONE_HIGH, edit=lambda r: r["findings"].pop(1))
    file = waivers_file(tmp_path, waiver(), waiver("DD-GONE-001:x"))
    result = run("assess", ONE_HIGH, BALANCED, "--format", "markdown", "--waivers", file,
                 "--baseline", path)
    assert (result.exit_code, result.stderr) == (0, "")
    plain = run("assess", ONE_HIGH, BALANCED, "--format", "markdown")
    memo, notes = result.stdout.split("\n## Waivers and baseline\n")
    assert memo.count("\n## ") == plain.stdout.count("\n## ")   # the memo's outline is the same
    assert "- stale: `DD-GONE-001:x`" in notes
    assert "1 new, 0 worse, 0 resolved" in notes
    assert "has no report of case country-e-fy2027" in notes
