"""diplo in CI: `--format github` (annotations and the job summary), the GitHub Action's shell
steps run here as a runner would run them, the container image (built where a docker daemon
answers, its Dockerfile and build context checked everywhere), the pre-commit hook's file
selection and entry (and pre-commit itself where it is installed), and every snippet of
docs/ci.md."""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from engine import __version__, assess, formats, load_case, load_pack
from engine.cli import main
from engine.formats.sarif import CaseLocator
from engine.model import SeverityChange

from conftest import ROOT

ALLY = "cases/ally-trims-exercises.yaml"
BALANCED = "cases/balanced-partner.yaml"
GITHUB_LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "notice",
                 "info": "notice"}
# a command as GitHub's runner reads it: properties hold no `:` once escaped, so the first `::`
# after them starts the message
COMMAND = re.compile(r"^::(?P<level>[a-z-]+)(?: (?P<props>[^:]*))?::(?P<message>.*)$")
BROKEN = "id: broken\ntitle: A broken case\n  line_items: x\n"   # bad YAML at line 3


@pytest.fixture(autouse=True)
def _outside_github(monkeypatch):
    # the tests may themselves run in a GitHub job: its variables must not leak into them
    for name in ("GITHUB_STEP_SUMMARY", "GITHUB_WORKSPACE", "GITHUB_OUTPUT"):
        monkeypatch.delenv(name, raising=False)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def unescape(text: str, *, prop: bool) -> str:
    """What GitHub's runner decodes (in this order, `%25` last)."""
    pairs = [("%0D", "\r"), ("%0A", "\n")] + ([("%3A", ":"), ("%2C", ",")] if prop else [])
    for escaped, plain in pairs + [("%25", "%")]:
        text = text.replace(escaped, plain)
    return text


def commands(stdout: str) -> list[dict]:
    """The workflow commands of an output, decoded; every other line must be a verdict line."""
    found = []
    for line in stdout.splitlines():
        match = COMMAND.match(line)
        if match is None:
            assert line.startswith("diplo: "), line
            continue
        props = {}
        for part in (match["props"] or "").split(","):
            if part:
                key, _, value = part.partition("=")
                props[key] = unescape(value, prop=True)
        found.append({"level": match["level"], **props,
                      "message": unescape(match["message"], prop=False)})
    return found


def finding_commands(stdout: str) -> list[dict]:
    """The commands of the findings (their message ends with the finding id), without those
    of the other things a report may say."""
    return [c for c in commands(stdout) if c["message"].rsplit("\n", 1)[-1].startswith("Finding ")]


def json_reports(*cases) -> list[dict]:
    result = run("assess", *cases, "--format", "json", "--exit-zero")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    return data if isinstance(data, list) else [data]


# --- --format github ---------------------------------------------------------------------------

def test_each_finding_is_an_annotation_where_sarif_puts_it(in_repo):
    result = run("assess", ALLY, BALANCED, "--format", "github")
    assert (result.exit_code, result.stderr) == (1, "")
    found = finding_commands(result.stdout)
    reports = json_reports(ALLY, BALANCED)
    findings = [(r["case"]["source"], f) for r in reports for f in r["findings"]]
    assert len(found) == len(findings) > 0
    sarif = json.loads(run("assess", ALLY, BALANCED, "--format", "sarif").stdout)
    places = {r["partialFingerprints"]["diploFindingId/v1"]:
              r["locations"][0]["physicalLocation"]["region"] for r in sarif["runs"][0]["results"]}
    for command, (source, finding) in zip(found, findings):
        risk = finding["kind"] == "risk"
        assert command["level"] == (GITHUB_LEVELS[finding["severity"]] if risk else "notice")
        assert command["title"] == (f"{finding['severity']} risk: {finding['title']}" if risk
                                    else f"strength: {finding['title']}")
        assert command["file"] == source
        lines = command["message"].split("\n")
        assert lines[0] == finding["message"]
        assert lines[-1] == f"Finding {finding['id']} (rule {finding['pack']}/{finding['rule']})"
        assert f"Guidance ({finding['citation']['section']}): \"{finding['citation']['quote']}\"" \
            in lines
        if risk:   # the same line and column as the SARIF result
            region = places[finding["id"]]
            assert (command["line"], command["col"]) == (str(region["startLine"]),
                                                          str(region["startColumn"]))
        assert int(command["line"]) > 1   # every finding of these cases has a place of its own
    verdicts = [line for line in result.stdout.splitlines() if line.startswith("diplo: ")]
    assert [line.split(" (")[0] for line in verdicts] == [f"diplo: {ALLY}: FAIL",
                                                         f"diplo: {BALANCED}: PASS"]
    assert run("assess", ALLY, BALANCED, "--format", "github").stdout == result.stdout


def test_strengths_are_placed_as_the_locator_places_them(in_repo):
    pack = load_pack()
    report = assess(load_case(BALANCED, pack), pack)
    text = formats.get("github").reports([report])
    locator = CaseLocator()
    for command, finding in zip(finding_commands(text), report.findings, strict=True):
        line, column = locator.position(BALANCED, finding)
        assert (command["line"], command.get("col")) == (str(line), str(column))


def test_the_level_follows_the_severity_also_when_it_was_changed(in_repo):
    pack = load_pack()
    report = assess(load_case(ALLY, pack), pack)
    risk = next(f for f in report.findings if f.kind == "risk")
    findings = [risk.model_copy(update={"severity": severity}) for severity in GITHUB_LEVELS]
    changed = SeverityChange(default="low", by="--severity")
    findings.append(risk.model_copy(update={"severity": "high", "severity_override": changed}))
    text = formats.get("github").reports([report.model_copy(update={"findings": findings})])
    found = finding_commands(text)
    assert [c["level"] for c in found] == [*GITHUB_LEVELS.values(), "error"]
    assert [c["title"] for c in found] == [
        *(f"{severity} risk: {risk.title}" for severity in GITHUB_LEVELS),
        f"high (was low) risk: {risk.title}"]


def test_case_text_cannot_forge_a_command(in_repo):
    pack = load_pack()
    report = assess(load_case(ALLY, pack), pack)
    evil = "ok\n::error file=evil.yaml,line=1::forged\r\n::warning::100% sure, 50%0A"
    first = report.findings[0].model_copy(update={
        "message": evil, "title": "a, line=9::b: c %3A", "remediation": "r\r::notice::x",
        "citation": report.findings[0].citation.model_copy(update={"quote": "q\n::x::"})})
    odd_source = "odd, name: x\n::error::y.yaml"
    report = report.model_copy(update={
        "findings": [first] + report.findings[1:],
        "case": report.case.model_copy(update={"source": odd_source})})
    text = formats.get("github").reports([report])
    lines = text.splitlines()
    # commands and the verdict line: nothing a case says starts a line of its own
    assert all(COMMAND.match(line) for line in lines[:-1])
    # each value is one line (engine/formats/escape.py): its line breaks are spaces
    assert lines[-1].startswith("diplo: odd, name: x ::error::y.yaml: FAIL")
    assert len(finding_commands(text)) == len(report.findings)
    assert not [line for line in lines if "forged" in line and not line.startswith("::error ")]
    command = finding_commands(text)[0]
    assert command["level"] == "error"
    assert command["title"] == "critical risk: a, line=9::b: c %3A"
    assert command["file"] == odd_source.replace("\n", " ") and command["line"] == "1"
    assert command["message"].split("\n")[:3] == [
        "ok ::error file=evil.yaml,line=1::forged ::warning::100% sure, 50%0A",
        "Remedy: r ::notice::x", 'Guidance (budget-cuts): "q ::x::"']


def test_a_case_file_named_with_commas_and_colons(in_repo, tmp_path):
    odd = tmp_path / "a, b: c.yaml"
    shutil.copy(ROOT / ALLY, odd)
    plain = finding_commands(run("assess", ALLY, "--format", "github").stdout)
    result = run("assess", odd, "--format", "github")
    assert result.exit_code == 1, result.stderr
    assert "file=" + str(odd).replace(",", "%2C").replace(":", "%3A") + ",line=" in result.stdout
    renamed = finding_commands(result.stdout)
    assert [c["file"] for c in renamed] == [str(odd)] * len(plain)
    assert [(c["line"], c.get("col")) for c in renamed] == [(c["line"], c.get("col"))
                                                             for c in plain]


def _waivers(path: Path, finding_id: str) -> Path:
    path.write_text(f"waivers:\n  - finding: {finding_id}\n    reason: Agreed at the summit\n"
                    f"    owner: j.smith\n    expires: 2099-12-31\n", encoding="utf-8")
    return path


def test_waived_and_known_risks_are_notices_that_say_why(in_repo, tmp_path):
    (report,) = json_reports(ALLY)
    risks = [f for f in report["findings"] if f["kind"] == "risk"]
    worst = risks[0]   # the report's order: most severe first
    assert GITHUB_LEVELS[worst["severity"]] == "error"
    waivers = _waivers(tmp_path / "w.yaml", worst["id"])
    result = run("assess", ALLY, "--format", "github", "--waivers", waivers)
    found = {c["message"].rsplit("\n", 1)[-1]: c for c in finding_commands(result.stdout)}
    waived = found[f"Finding {worst['id']} (rule {worst['pack']}/{worst['rule']})"]
    assert waived["level"] == "notice"
    assert waived["title"].endswith(" (waived)")
    assert ("Not counted by the gate: waived until 2099-12-31 by j.smith: Agreed at the summit."
            in waived["message"])
    errors = [f for f in risks[1:] if GITHUB_LEVELS[f["severity"]] == "error"]
    assert sum(c["level"] == "error" for c in found.values()) == len(errors)

    baseline = tmp_path / "baseline.json"
    baseline.write_text(run("assess", ALLY, "--format", "json", "--exit-zero").stdout,
                        encoding="utf-8")
    result = run("assess", ALLY, "--format", "github", "--baseline", baseline)
    assert (result.exit_code, result.stderr) == (0, "")
    risks = [c for c in finding_commands(result.stdout) if "risk: " in c["title"]]
    assert len(risks) == sum(report["summary"]["risks"].values())
    assert all(c["level"] == "notice" and c["title"].endswith(" (known from the baseline)")
               for c in risks)


def test_the_job_summary_is_appended_to_the_file_github_names(in_repo, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("an earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN, encoding="utf-8")
    result = run("assess", ALLY, BALANCED, broken, "--format", "github")
    assert result.exit_code == 2
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("an earlier step\n### diplo: FAIL\n\n3 cases: 1 of 2 assessed fail "
                           "at `--fail-on high`; 1 could not be read or validated.\n")
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows[0] == ("| case | verdict | gate | critical | high | medium | low | info | "
                       "strengths |")
    for row, report in zip(rows[1:3], json_reports(ALLY, BALANCED)):
        counts = report["summary"]["risks"]
        assert row == (f"| {report['case']['title']} ({report['case']['source']}) | "
                       f"{report['verdict'].upper()} | "
                       f"{'fail' if report['verdict'] == 'fail' else 'pass'} | "
                       + " | ".join(str(counts[s]) for s in ("critical", "high", "medium", "low",
                                                              "info"))
                       + f" | {report['summary']['strengths']} |")
    shown = re.sub(r"([_:])", r"\\\1", str(broken))   # as Markdown text
    assert rows[3].startswith(f"| {shown} | not assessed: {shown}\\:3\\:13\\: invalid YAML")
    assert rows[3].endswith(" | fail | - | - | - | - | - | - |")
    # the annotations are the same with or without a summary
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    assert run("assess", ALLY, BALANCED, broken, "--format", "github").stdout == result.stdout
    assert summary.read_text(encoding="utf-8") == text


def test_no_summary_outside_github(in_repo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", "")
    assert run("assess", ROOT / BALANCED, "--format", "github").exit_code == 0
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    assert run("assess", ROOT / BALANCED, "--format", "github").exit_code == 0
    assert list(tmp_path.iterdir()) == []


def test_case_text_in_the_summary_is_not_markup(in_repo, tmp_path, monkeypatch):
    case = yaml.safe_load((ROOT / BALANCED).read_text(encoding="utf-8"))
    case["title"] = "A | B <img src=x> [link](http://e.org) `c` *d* _e_ &amp;"
    path = tmp_path / "odd.yaml"
    path.write_text(yaml.safe_dump(case, sort_keys=False), encoding="utf-8")
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert run("assess", path, "--format", "github").exit_code == 0
    row = summary.read_text(encoding="utf-8").splitlines()[-2]
    cells = re.split(r"(?<!\\)\|", row)[1:-1]
    assert len(cells) == 9
    assert cells[0].strip() == (r"A \| B \<img src=x\> \[link\](http\://e.org) \`c\` \*d\* \_e\_ "
                                r"\&amp; (" + re.sub(r"([_:])", r"\\\1", str(path)) + ")")


def test_a_summary_file_that_cannot_be_written_is_an_error(in_repo, tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path))   # a folder
    result = run("assess", BALANCED, "--format", "github")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"diplo: error: {tmp_path}: GITHUB_STEP_SUMMARY: cannot "
                                    "append the job summary")


def test_a_case_that_cannot_be_read_is_an_error_annotation(in_repo, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN, encoding="utf-8")
    for args in ([BALANCED, broken], [broken]):
        result = run("assess", *args, "--format", "github")
        assert result.exit_code == 2
        error = commands(result.stdout)[-1]
        assert (error["level"], error["file"], error["line"], error["title"]) == (
            "error", str(broken), "3", "case not assessed")
        assert error["message"] == result.stderr.strip().removeprefix("diplo: error: ")


def test_paths_are_relative_to_the_workspace(in_repo, monkeypatch, tmp_path):
    monkeypatch.setenv("GITHUB_WORKSPACE", str(ROOT))
    found = commands(run("assess", ROOT / BALANCED, "--format", "github").stdout)
    assert {c["file"] for c in found} == {BALANCED}
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))   # the case lies outside it
    found = commands(run("assess", ROOT / BALANCED, "--format", "github").stdout)
    assert {c["file"] for c in found} == {str(ROOT / BALANCED)}


def test_rule_lists_and_sweeps_are_refused(in_repo):
    result = run("rules", "list", "--format", "github")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == ("diplo: error: --format: format github shows assessments only (as "
                             "annotations); list rules with --format table, json, markdown or "
                             "sarif\n")
    result = run("sweep", ALLY, "--vary", "inflation_pct", "--from", "0", "--to", "5",
                 "--steps", "2", "--format", "github")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == "diplo: error: --format: format github cannot show a sweep\n"


def test_a_comparison_annotates_the_proposal(in_repo):
    result = run("compare", BALANCED, ALLY, "--format", "github")
    assert result.exit_code == 1, result.stderr
    comparison = json.loads(run("compare", BALANCED, ALLY, "--format", "json").stdout)
    found = finding_commands(result.stdout)
    changes = comparison["new"] + comparison["changed"] + comparison["resolved"]
    assert len(found) == len(changes) > 0
    for command, change in zip(found, changes):
        assert command["file"] == ALLY
        worse = change["change"] in ("new", "more_severe") and change["kind"] == "risk"
        severity = change["proposal_severity"] or change["base_severity"]
        assert command["level"] == (GITHUB_LEVELS[severity] if worse else "notice")
        assert command["title"].startswith(change["change"].replace("_", " ") + " ")
    assert result.stdout.splitlines()[-1] == (
        f"diplo: {ALLY} against {BALANCED}: {len(comparison['new'])} new, "
        f"{len(comparison['resolved'])} resolved, {len(comparison['changed'])} changed in "
        f"severity, {comparison['unchanged']} unchanged")


# --- the GitHub Action, run here ---------------------------------------------------------------

ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
INSTALL = "Install diplo"


def test_the_action_is_composite_and_installs_diplo_from_its_checkout():
    assert ACTION["runs"]["using"] == "composite"
    assert set(ACTION["inputs"]) == {"paths", "pack", "fail-on", "format", "sarif-file", "args",
                                     "python-version", "diplo-version"}
    assert ACTION["inputs"]["python-version"]["default"] == "3.12"
    assert ACTION["inputs"]["paths"]["required"] is True
    steps = ACTION["runs"]["steps"]
    assert [s["uses"] for s in steps if "uses" in s] == [
        "actions/setup-python@v5", "github/codeql-action/upload-sarif@v3"]
    install = next(s for s in steps if s.get("name") == INSTALL)
    assert '"${DIPLO_VERSION:-$GITHUB_ACTION_PATH}"' in install["run"]
    for step in steps:   # diplo is not on the package index
        assert not re.search(r"pip install[^\n]*\bdiplo\b(?![-/@])", step.get("run", ""))
        # inputs reach scripts through the environment, never pasted into them
        assert "inputs." not in step.get("run", "")


def _condition(text: str, evaluate) -> bool:
    """The two forms of `if:` the action uses: `EXPR != ''` and `EXPR == ''`."""
    match = re.fullmatch(r"(.+?)\s*(==|!=)\s*''", text.strip())
    assert match, f"the test knows no such condition: {text}"
    empty = evaluate(match[1]) == ""
    return empty if match[2] == "==" else not empty


def run_action(workspace: Path, inputs: dict, env: dict, *, skip=(INSTALL,)) -> dict:
    """The action's steps in order, as a runner runs them: expressions substituted, each shell
    step run by `bash --noprofile --norc -eo pipefail` in the workspace with its own
    GITHUB_OUTPUT and GITHUB_STEP_SUMMARY, the job stopping at the first step that fails.
    `uses` steps need GitHub: their condition and inputs are evaluated, not run."""
    values = {}
    for name, spec in ACTION["inputs"].items():
        if spec.get("required") and name not in inputs:
            raise AssertionError(f"input {name} is required")
        values[name] = str(inputs.get(name, spec.get("default", "")))
    outputs: dict[str, dict[str, str]] = {}

    def evaluate(expression: str) -> str:
        parts = expression.split(".")
        if parts[0] == "inputs" and len(parts) == 2:
            return values[parts[1]]
        if parts[0] == "steps" and len(parts) == 4 and parts[2] == "outputs":
            return outputs.get(parts[1], {}).get(parts[3], "")
        raise AssertionError(f"the test knows no such expression: {expression}")

    def substitute(text) -> str:
        return EXPRESSION.sub(lambda m: evaluate(m[1]), str(text))

    record: dict = {"steps": {}, "uses": {}, "failed": None}
    for index, step in enumerate(ACTION["runs"]["steps"]):
        name = step["name"]
        if "uses" in step:
            condition = step.get("if")
            record["uses"][step["uses"]] = {
                "runs": True if condition is None else _condition(condition, evaluate),
                "with": {k: substitute(v) for k, v in step.get("with", {}).items()}}
            continue
        if name in skip:
            continue
        assert step["shell"] == "bash" and "if" not in step
        folder = workspace.parent / f"step-{index}"
        folder.mkdir(exist_ok=True)
        script = folder / "script.sh"
        script.write_text(substitute(step["run"]), encoding="utf-8")
        files = {"GITHUB_OUTPUT": folder / "output", "GITHUB_STEP_SUMMARY": folder / "summary"}
        for file in files.values():
            file.write_text("", encoding="utf-8")
        step_env = {**env, **{k: str(v) for k, v in files.items()},
                    **{k: substitute(v) for k, v in step.get("env", {}).items()}}
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                              cwd=workspace, env=step_env, capture_output=True, text=True,
                              timeout=300)
        produced = {}
        for line in files["GITHUB_OUTPUT"].read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            assert sep and "<<" not in key, line
            produced[key] = value
        if "id" in step:
            outputs[step["id"]] = produced
        record["steps"][name] = {"status": done.returncode, "stdout": done.stdout,
                                 "stderr": done.stderr, "outputs": produced,
                                 "summary": files["GITHUB_STEP_SUMMARY"].read_text("utf-8")}
        if done.returncode != 0:
            record["failed"] = name
            break
    record["outputs"] = {k: substitute(v["value"]) for k, v in ACTION["outputs"].items()}
    return record


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The environment of a job after the action's install step, run for real: pip installs
    the action's checkout (this repository) into a folder of its own, without the network
    (no build isolation, the dependencies being those of this environment)."""
    home = tmp_path_factory.mktemp("runner")
    target = home / "site"
    bin_dir = str(Path(sys.executable).parent)
    env = {key: value for key, value in os.environ.items() if not key.startswith("GITHUB_")}
    env.update({
        "PATH": os.pathsep.join([str(target / "bin"), bin_dir, env.get("PATH", "")]),
        "PYTHONPATH": str(target), "GITHUB_ACTION_PATH": str(ROOT),
        "PIP_TARGET": str(target), "PIP_NO_DEPS": "1", "PIP_NO_INDEX": "1",
        "PIP_NO_BUILD_ISOLATION": "0",   # pip's spelling of --no-build-isolation
    })
    workspace = home / "workspace"
    workspace.mkdir()
    record = run_action(workspace, {"paths": BALANCED}, env, skip=("Assess", "Gate"))
    step = record["steps"][INSTALL]
    assert step["status"] == 0, step["stderr"]
    assert step["stdout"] == f"diplo, version {__version__}\n"
    probe = "command -v diplo; python -c 'import engine; print(engine.__file__)'"
    where = subprocess.run(["bash", "-c", probe], env=env, cwd=workspace, capture_output=True,
                           text=True, check=True).stdout.split()
    # the steps after it run the diplo that the step installed, not this checkout's
    assert where == [str(target / "bin" / "diplo"), str(target / "engine" / "__init__.py")]
    for key in ("PIP_TARGET", "PIP_NO_DEPS", "PIP_NO_INDEX", "PIP_NO_BUILD_ISOLATION"):
        del env[key]
    return env


@pytest.fixture
def workspace(tmp_path):
    folder = tmp_path / "workspace"
    shutil.copytree(ROOT / "cases", folder / "cases")
    return folder


def test_the_action_annotates_and_fails_the_job_on_a_high_risk(installed, workspace):
    record = run_action(workspace, {"paths": f"{ALLY}\n{BALANCED}\n"}, installed)
    assess_step = record["steps"]["Assess"]
    assert assess_step["status"] == 0, assess_step["stderr"]
    assert assess_step["outputs"] == {"exit-code": "1"}
    assert record["outputs"] == {"exit-code": "1", "sarif-file": ""}
    found = finding_commands(assess_step["stdout"])
    assert len(found) == sum(len(r["findings"]) for r in json_reports(ALLY, BALANCED))
    assert found[0]["file"] == ALLY and int(found[0]["line"]) > 1
    assert assess_step["summary"].startswith("### diplo: FAIL\n")
    assert record["uses"]["github/codeql-action/upload-sarif@v3"]["runs"] is False
    assert record["uses"]["actions/setup-python@v5"]["with"] == {"python-version": "3.12"}
    gate = record["steps"]["Gate"]
    assert (record["failed"], gate["status"]) == ("Gate", 1)
    assert "the gate fails: a risk at or above fail-on" in gate["stderr"]


def test_the_action_writes_sarif_for_the_upload_and_passes(installed, workspace):
    record = run_action(workspace, {"paths": BALANCED, "sarif-file": "diplo.sarif",
                                    "fail-on": "high"}, installed)
    assert record["failed"] is None, record
    assert record["outputs"] == {"exit-code": "0", "sarif-file": "diplo.sarif"}
    upload = record["uses"]["github/codeql-action/upload-sarif@v3"]
    assert upload == {"runs": True, "with": {"sarif_file": "diplo.sarif", "category": "diplo"}}
    log = json.loads((workspace / "diplo.sarif").read_text(encoding="utf-8"))
    assert log["version"] == "2.1.0"
    assert log["runs"][0]["properties"]["cases"][0]["source"] == BALANCED
    assert record["steps"]["Gate"]["stdout"] == "diplo: the gate passes\n"


def test_the_inputs_reach_diplo(installed, workspace):
    # a pattern for diplo to expand, a pack by name, a threshold, another format, more args
    record = run_action(workspace, {"paths": "cases/**/ally-*.yaml", "pack": "transparency-plus",
                                    "fail-on": "critical", "format": "table",
                                    "args": "--details --near-miss"}, installed)
    out = record["steps"]["Assess"]["stdout"]
    assert record["outputs"]["exit-code"] == "1", record["steps"]["Assess"]["stderr"]
    verdict = next(line for line in out.splitlines() if line.startswith("Verdict: "))
    assert verdict.endswith(", transparency-plus 2.0.0]")
    assert "Remedy: " in out and "Near misses:" in out
    assert record["outputs"]["exit-code"] == "1"   # the case has a critical risk
    record = run_action(workspace, {"paths": ALLY, "args": "--exit-zero"}, installed)
    assert (record["failed"], record["outputs"]["exit-code"]) == (None, "0")


def test_an_unreadable_case_fails_the_action_with_status_2(installed, workspace):
    (workspace / "broken.yaml").write_text(BROKEN, encoding="utf-8")
    record = run_action(workspace, {"paths": f"{BALANCED} broken.yaml",
                                    "sarif-file": "diplo.sarif"}, installed)
    step = record["steps"]["Assess"]
    assert record["outputs"] == {"exit-code": "2", "sarif-file": "diplo.sarif"}
    # the SARIF run's error is the gate run's: shown once
    assert step["stderr"].count("diplo: error: broken.yaml:3:") == 1
    assert commands(step["stdout"])[-1]["file"] == "broken.yaml"
    assert (record["failed"], record["steps"]["Gate"]["status"]) == ("Gate", 2)


def test_no_input_can_run_a_command(installed, workspace):
    record = run_action(workspace, {"paths": f"{BALANCED} $(touch pwned) `touch pwned`",
                                    "pack": "'; touch pwned; '", "args": "; touch pwned"},
                        installed)
    assert record["outputs"]["exit-code"] == "2"
    assert not (workspace / "pwned").exists()


# --- the container image -----------------------------------------------------------------------

def dockerfile(path: Path = ROOT / "Dockerfile") -> list[list[tuple[str, str]]]:
    """The stages of a Dockerfile, each a list of (INSTRUCTION, arguments), with continuation
    lines joined, comments dropped and ARG defaults substituted into FROM."""
    logical, current = [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if current and line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    args: dict[str, str] = {}
    stages: list[list[tuple[str, str]]] = []
    for line in logical:
        instruction, _, rest = line.strip().partition(" ")
        instruction, rest = instruction.upper(), " ".join(rest.split())
        if instruction == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
            continue
        if instruction == "FROM":
            rest = re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], rest)
            stages.append([])
        stages[-1].append((instruction, rest))
    return stages


COMPILERS = re.compile(r"\b(gcc|g\+\+|clang|cc|build-essential|make)\b")


def test_the_dockerfile_builds_in_one_stage_and_runs_in_another():
    stages = dockerfile()
    assert len(stages) == 2
    build, final = stages
    base = build[0][1].split()[0]
    assert build[0][1] == f"{base} AS build" and final[0] == ("FROM", base)
    # a fixed release of Python (3.12.N) on a named Debian, never a moving tag
    assert re.fullmatch(r"python:3\.1[12]\.\d+-slim-(bookworm|trixie)", base), base
    build_runs = " ".join(args for instruction, args in build if instruction == "RUN")
    assert "apt-get install" in build_runs and COMPILERS.search(build_runs)
    assert "pip wheel" in build_runs and "--wheel-dir /wheels" in build_runs
    final_runs = [args for instruction, args in final if instruction == "RUN"]
    assert final_runs, "the final stage installs the wheels"
    for args in final_runs:
        assert "apt-get" not in args and not COMPILERS.search(args)
        # nothing is built in the final stage: only the wheels of the build stage install
        assert "--no-index --find-links /wheels" in args
        assert "--mount=type=bind,from=build,source=/wheels,target=/wheels" in args
    assert not [a for i, a in final if i == "COPY"], "no file of the build stage is copied in"
    instructions = [i for i, _ in final]
    assert final[instructions.index("ENTRYPOINT")][1] == '["diplo"]'
    user = final[instructions.index("USER")][1]
    assert user.split(":")[0] not in ("root", "0")
    assert instructions.index("USER") > max(i for i, x in enumerate(instructions) if x == "RUN")
    assert ("WORKDIR", "/work") in final


def build_context() -> list[str]:
    """The files `docker build` sends for this repository, by .dockerignore: patterns in order,
    the last that matches a file (or a folder above it) deciding, `!` keeping."""
    rules = []
    for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = "".join(".*" if part == "**" else "[^/]*" if part == "*" else "[^/]"
                        if part == "?" else re.escape(part)
                        for part in re.split(r"(\*\*|\*|\?)", pattern))
        rules.append((keep, re.compile(regex.replace(".*/", "(.*/)?"))))
    files = []
    for path in sorted(ROOT.rglob("*")):
        if not path.is_file():
            continue
        relative = path.relative_to(ROOT).as_posix()
        parts = relative.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        included = True
        for keep, regex in rules:
            if any(regex.fullmatch(p) for p in prefixes):
                included = keep
        if included:
            files.append(relative)
    return files


def test_the_build_context_is_what_the_wheel_needs(tmp_path):
    files = build_context()
    for needed in ("pyproject.toml", "README.md", "engine/__init__.py", "engine/cli/__init__.py",
                   "rules/defense-diplomacy/pack.yaml", "docs/ci.md"):
        assert needed in files
    assert not [f for f in files if f.startswith((".git/", "tests/", "bench/", "cases/", "engine/_packs/",
                                             "engine/_docs/")) or "__pycache__" in f]
    # the wheel builds from exactly those files, with the rule packs inside it
    context = tmp_path / "context"
    for name in files:
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, context / name)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                           "--no-build-isolation", "--no-index", "--wheel-dir",
                           str(tmp_path / "wheels"), str(context)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    import zipfile
    (wheel,) = (tmp_path / "wheels").glob("diplo-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "engine/_packs/defense-diplomacy/pack.yaml" in names


def _docker_unavailable() -> str | None:
    if shutil.which("docker") is None:
        return "docker is not installed (install Docker Engine or Podman's docker command)"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True)
    if info.returncode != 0:
        lines = [line for line in info.stderr.splitlines() if line.strip()]
        return f"no docker daemon answers (`docker info`: {lines[-1].strip() if lines else ''})"
    return None


def test_the_image_builds_and_assesses_a_mounted_case():
    reason = _docker_unavailable()
    if reason:
        pytest.skip(reason)
    tag = "diplo-test:ci-integration"
    built = subprocess.run(["docker", "build", "--quiet", "-t", tag, str(ROOT)],
                           capture_output=True, text=True, timeout=1800)
    assert built.returncode == 0, built.stderr
    try:
        ran = subprocess.run(["docker", "run", "--rm", "-v", f"{ROOT / 'cases'}:/work", tag,
                              "assess", "ally-trims-exercises.yaml", "--exit-zero"],
                             capture_output=True, text=True, timeout=300)
        assert (ran.returncode, ran.stderr) == (0, "")
        assert "Verdict: FAIL (1 critical, 4 high, 2 medium, 3 low risks; 3 strengths)" \
            in ran.stdout
        probe = subprocess.run(["docker", "run", "--rm", "--entrypoint", "sh", tag, "-c",
                                "id -u; command -v gcc cc || echo no-compiler"],
                               capture_output=True, text=True, timeout=300)
        assert probe.stdout.split() == ["10001", "no-compiler"]
    finally:
        subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True)


# --- the pre-commit hook -----------------------------------------------------------------------

(HOOK,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))


def selected(names, files=None, exclude=None) -> list[str]:
    """pre-commit's own filter: `files` searched in each path, `exclude` not."""
    files, exclude = files or HOOK["files"], exclude or HOOK.get("exclude", "^$")
    return [n for n in names if re.search(files, n) and not re.search(exclude, n)]


REPOSITORY = ["proposals/fy2027.yaml", "proposals/2028/draft.yml", "cases/a.yaml",
              "proposals/baseline.json", "proposals/report.json", "proposals/diplo-waivers.yaml",
              "cases/diplo-waivers.yml", ".pre-commit-config.yaml", "cases/.pre-commit-x.yaml",
              "docs/example.yaml", "proposals/notes.md", "README.md"]


def test_the_hook_takes_yaml_proposals_and_nothing_else():
    assert selected(REPOSITORY) == ["proposals/fy2027.yaml", "proposals/2028/draft.yml",
                                    "cases/a.yaml"]
    assert HOOK["entry"] == "diplo assess" and HOOK["language"] == "python"


def _proposals(folder: Path, *cases: str) -> Path:
    (folder / "proposals").mkdir(parents=True, exist_ok=True)
    for case in cases:
        shutil.copy(ROOT / "cases" / case, folder / "proposals" / case)
    report = run("assess", folder / "proposals" / cases[0], "--format", "json", "--exit-zero")
    (folder / "proposals" / "baseline.json").write_text(report.stdout, encoding="utf-8")
    _waivers(folder / "proposals" / "diplo-waivers.yaml", "DD-XXX-000")
    return folder


def _entry(folder: Path, names: list[str]):
    argv = shlex.split(HOOK["entry"]) + list(HOOK.get("args", [])) + names
    assert argv[0] == "diplo"
    return subprocess.run([sys.executable, "-m", "engine", *argv[1:]], cwd=folder,
                          capture_output=True, text=True)


def test_the_hooks_entry_on_what_it_selects(tmp_path):
    folder = _proposals(tmp_path, "balanced-partner.yaml")
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert selected(names) == ["proposals/balanced-partner.yaml"]
    assert _entry(folder, selected(names)).returncode == 0
    # why the baseline must be left out: given as a case, it fails the commit
    assert _entry(folder, selected(names) + ["proposals/baseline.json"]).returncode == 2
    shutil.copy(ROOT / ALLY, folder / "proposals" / "ally.yaml")
    (folder / "proposals" / "broken.yml").write_text(BROKEN, encoding="utf-8")
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert _entry(folder, [n for n in selected(names) if "broken" not in n]).returncode == 1
    done = _entry(folder, selected(names))
    assert done.returncode == 2 and "proposals/broken.yml:3:" in done.stderr


def _pre_commit() -> list[str] | None:
    found = shutil.which("pre-commit")
    if found:
        return [found]
    try:
        import pre_commit  # noqa: F401
    except ImportError:
        return None
    return [sys.executable, "-m", "pre_commit"]


def test_pre_commit_runs_the_hook(tmp_path):
    """pre-commit itself selects the files and runs the hook. The hook's definition is used as
    written but for `language: system` (the diplo of this environment), because `language:
    python` would build an environment with pip, which needs the network and a C compiler."""
    pre_commit = _pre_commit()
    if pre_commit is None:
        pytest.skip("pre-commit is not installed (pip install pre-commit)")
    folder = _proposals(tmp_path / "repo", "balanced-partner.yaml")
    config = {"repos": [{"repo": "local", "hooks": [{**HOOK, "language": "system"}]}]}
    (folder / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache"), "GIT_CONFIG_GLOBAL":
           os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}

    def git(*args):
        subprocess.run(["git", *args], cwd=folder, env=env, check=True, capture_output=True)

    def pre_commit_run():
        git("add", "-A")
        return subprocess.run([*pre_commit, "run", "--all-files", "--verbose", "--color",
                               "never"], cwd=folder, env=env, capture_output=True, text=True)

    git("init", "-q")
    done = pre_commit_run()
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"diplo assess\.+Passed", done.stdout)
    assert "balanced-partner" in done.stdout and "baseline.json" not in done.stdout
    (folder / "proposals" / "broken.yaml").write_text(BROKEN, encoding="utf-8")
    done = pre_commit_run()
    assert done.returncode == 1 and re.search(r"diplo assess\.+Failed", done.stdout)
    assert "proposals/broken.yaml:3:" in done.stdout


# --- docs/ci.md --------------------------------------------------------------------------------

CI_DOC = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
SNIPPETS = [yaml.safe_load(block)
            for block in re.findall(r"```yaml\n(.*?)```", CI_DOC, flags=re.DOTALL)]
GIT_URL = '"git+https://github.com/OWNER/diplo@REF"'


def _github_steps() -> list[dict]:
    return [step for snippet in SNIPPETS if "jobs" in snippet
            for job in snippet["jobs"].values() for step in job["steps"]]


def _gitlab_jobs() -> list[dict]:
    return [job for snippet in SNIPPETS if "jobs" not in snippet and "repos" not in snippet
            for job in snippet.values()]


def _doc_commands() -> list[str]:
    lines = [step["run"] for step in _github_steps() if "run" in step]
    lines += [line for job in _gitlab_jobs() for line in job["script"]]
    return lines


def test_the_doc_has_each_kind_of_snippet():
    assert len(SNIPPETS) == 6
    assert len([s for s in SNIPPETS if "jobs" in s]) == 2
    assert len(_gitlab_jobs()) == 2
    assert len([s for s in SNIPPETS if "repos" in s]) == 2
    assert "pip install diplo\n" not in CI_DOC and "`pip install diplo`" in CI_DOC


def test_the_action_snippet_gives_inputs_the_action_has():
    uses = [step for step in _github_steps() if step.get("uses", "").startswith("OWNER/diplo@")]
    assert len(uses) == 1
    given = set(uses[0]["with"])
    assert given <= set(ACTION["inputs"])
    assert {name for name, spec in ACTION["inputs"].items() if spec.get("required")} <= given
    # every input is in the doc's table
    for name in ACTION["inputs"]:
        assert f"| `{name}` |" in CI_DOC


def test_the_installs_in_the_docs_use_a_git_url():
    installs = [line for line in _doc_commands() if line.startswith("pip install")]
    assert installs and all(line == f"pip install {GIT_URL}" for line in installs)
    assert CI_DOC.count(f"pip install {GIT_URL}") == len(installs) + 1   # and the sh block


def test_pip_installs_diplo_from_a_git_url_as_the_docs_write_it(tmp_path):
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("needs git and a git checkout of diplo")
    mirror = tmp_path / "diplo.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(ROOT), str(mirror)], check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout.strip()
    # the doc's URL, with the placeholder repository a local copy of this one and REF its HEAD
    url = shlex.split(GIT_URL)[0].replace("https://github.com/OWNER/diplo",
                                          mirror.as_uri()).replace("@REF", f"@{head}")
    target = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                           "--no-build-isolation", "--no-index", "--target", str(target), url],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    version = subprocess.run([str(target / "bin" / "diplo"), "--version"], capture_output=True,
                             text=True, env={**os.environ, "PYTHONPATH": str(target)})
    assert version.stdout.startswith("diplo, version ")


@pytest.mark.parametrize("proposals, status", [
    (["balanced-partner.yaml"], 0),                                 # the gate passes
    (["balanced-partner.yaml", "ally-trims-exercises.yaml"], 1),    # the gate fails
])
def test_every_diplo_command_of_the_docs_runs(tmp_path, monkeypatch, proposals, status):
    for case in proposals:
        (tmp_path / "proposals").mkdir(exist_ok=True)
        shutil.copy(ROOT / "cases" / case, tmp_path / "proposals" / case)
    monkeypatch.chdir(tmp_path)
    diplo_lines = [line.split("||")[0].strip() for line in _doc_commands()
                   if line.startswith("diplo ")]
    assert len(diplo_lines) == 5
    for line in diplo_lines:
        argv = shlex.split(line)
        result = run(*argv[1:])
        expected = 0 if "--exit-zero" in argv else status
        assert result.exit_code == expected, (line, result.stderr)
        if "--output" in argv:
            written = tmp_path / argv[argv.index("--output") + 1]
            assert written.stat().st_size > 0
            written.unlink()


def test_gitlab_jobs_keep_the_reports_their_commands_write():
    for job in _gitlab_jobs():
        written = set()
        for line in job["script"]:
            argv = shlex.split(line.split("||")[0])
            if argv[0] == "diplo" and "--output" in argv:
                fmt = argv[argv.index("--format") + 1]
                written.add((fmt, argv[argv.index("--output") + 1]))
        artifacts = job["artifacts"]
        assert artifacts["when"] == "always"   # the reports matter most when the gate fails
        assert ("junit", artifacts["reports"]["junit"]) in written
        assert set(artifacts.get("paths", [])) <= {path for _, path in written}
        image = job["image"]
        if isinstance(image, dict):   # the container image: its entry point is not a shell
            assert image["entrypoint"] == [""]


def test_the_pre_commit_snippets_name_the_hook_and_select_the_right_files():
    configs = [s for s in SNIPPETS if "repos" in s]
    for config in configs:
        (repo,) = config["repos"]
        assert repo["repo"] == "https://github.com/OWNER/diplo" and repo["rev"] == "REF"
        assert [h["id"] for h in repo["hooks"]] == [HOOK["id"]]
    custom = configs[1]["repos"][0]["hooks"][0]
    names = REPOSITORY + ["proposals/fy2027.json", "proposals/sub/fy2028.json"]
    assert selected(names, custom["files"], custom["exclude"]) == [
        "proposals/fy2027.yaml", "proposals/2028/draft.yml", "proposals/report.json",
        "proposals/fy2027.json", "proposals/sub/fy2028.json"]


def test_the_report_format_doc_shows_real_github_output(in_repo):
    doc = (ROOT / "docs" / "report-format.md").read_text(encoding="utf-8")
    section = doc.split("### `github`")[1].split("\n### ")[0]
    (block,) = re.findall(r"```text\n(.*?)```", section, flags=re.DOTALL)
    command, *shown = block.splitlines()
    argv = shlex.split(command.removeprefix("$ "))
    result = run(*argv[1:])
    assert result.exit_code == 1, result.stderr
    lines = result.stdout.splitlines()
    assert shown[0] == lines[0] and shown[-1] == lines[-1]
    at = 0
    for line in shown:   # in the output's order, "..." standing for lines left out
        if line != "...":
            at = lines.index(line, at) + 1
