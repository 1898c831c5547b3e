"""Output formats for review workflows: SARIF (code scanning), JUnit XML (CI test reports), the
Markdown memo (pull-request comments), and the JSON Schemas of the case and the report."""
from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner
from junitparser import Failure, JUnitXml

from engine import assess, formats, load_case, load_pack
from engine.cli import main
from engine.cli.schema import schema
from engine.formats.sarif import artifact_uri, field_path
from engine.formats.table import summary_text
from engine.model import SEVERITIES, Report
from engine.core.run import list_rules

from conftest import BASE_CASE, make_case, rule, write_pack

ROOT = Path(__file__).resolve().parent.parent
CASES = sorted(f"cases/{p.name}" for p in (ROOT / "cases").glob("*.yaml"))
ALLY = "cases/ally-trims-exercises.yaml"
BALANCED = "cases/balanced-partner.yaml"
# a case whose risks have each kind of location: a line item, a commitment, a field
CRISIS = "cases/no-crisis-reserve.yaml"
TREATY = "DD-COM-010:country-q-mutual-defence-treaty/joint_exercises+bilateral-exercises"
SARIF_SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json")
                          .read_text(encoding="utf-8"))
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note",
          "info": "note"}


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch):
    # reports name cases by the path given; relative paths keep them short and stable
    monkeypatch.chdir(ROOT)


def run(*args):
    return CliRunner().invoke(main, list(args))


def report_of(*cases) -> list[dict]:
    result = run("assess", *cases, "--format", "json", "--exit-zero")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    return data if isinstance(data, list) else [data]


def assess_as(fmt: str, *args, exit_codes=(0, 1)) -> str:
    result = run("assess", *args, "--format", fmt)
    assert result.exit_code in exit_codes, result.stderr
    assert result.stderr == ""
    return result.stdout


def sarif_errors(log: dict) -> list[str]:
    validator = jsonschema.Draft4Validator(SARIF_SCHEMA)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(log)]


def line_of(path: str, text: str) -> tuple[int, int]:
    """(line, column) of the first occurrence of `text` in a file, both 1-based."""
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if text in line:
            return number, line.index(text) + 1
    raise AssertionError(f"{text!r} is not in {path}")


# --- SARIF ----------------------------------------------------------------------------------

def test_the_vendored_schema_is_the_official_one_and_refuses_a_broken_log():
    assert SARIF_SCHEMA["id"] == ("https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/"
                                  "schemas/sarif-schema-2.1.0.json")
    log = json.loads(assess_as("sarif", ALLY))
    log["runs"][0]["results"][0]["level"] = "fatal"
    del log["runs"][0]["tool"]["driver"]["name"]
    assert len(sarif_errors(log)) == 2


@pytest.mark.parametrize("case", CASES)
def test_sarif_of_every_example_validates_and_has_one_result_per_risk(case):
    log = json.loads(assess_as("sarif", case))
    assert sarif_errors(log) == []
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-schema-2.1.0.json")
    (run_,) = log["runs"]
    (rep,) = report_of(case)
    risks = [f for f in rep["findings"] if f["kind"] == "risk"]
    results = run_["results"]
    assert len(results) == len(risks)
    rules = run_["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted({f"{f['pack']}/{f['rule']}" for f in risks})
    for finding, result in zip(risks, results):
        assert result["ruleId"] == f"{finding['pack']}/{finding['rule']}"
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] == LEVELS[finding["severity"]]
        assert result["message"]["text"] == finding["message"]
        assert result["partialFingerprints"] == {"diploFindingId/v1": finding["id"]}
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == case
        assert physical["region"]["startLine"] >= 1
        descriptor = rules[result["ruleIndex"]]
        assert descriptor["shortDescription"]["text"] == finding["title"]
        assert descriptor["properties"]["citation"] == finding["citation"]
        assert descriptor["help"]["text"]


def test_sarif_results_point_at_the_subject_line_item_or_commitment():
    log = json.loads(assess_as("sarif", CRISIS))
    results = {r["properties"]["finding"]: r for r in log["runs"][0]["results"]}

    def region(finding_id):
        return results[finding_id]["locations"][0]["physicalLocation"]["region"]

    line, column = line_of(CRISIS, "id: standby-force-readiness")
    cut = results["DD-CRI-004:standby-force-readiness"]
    assert (cut["ruleId"], cut["level"]) == ("defense-diplomacy/DD-CRI-004", "error")
    assert region("DD-CRI-004:standby-force-readiness") == {"startLine": line,
                                                            "startColumn": column}
    # a commitment as first subject
    line, column = line_of(CRISIS, "id: country-q-mutual-defence-treaty")
    assert region(TREATY) == {"startLine": line, "startColumn": column}
    # no subject: the field the finding read
    line, column = line_of(CRISIS, "audit_reports_published:")
    assert region("DD-TRA-006") == {"startLine": line, "startColumn": column}
    # medium and info risks
    assert results[TREATY]["level"] == "warning"
    assert results["DD-ALI-022"]["level"] == "note"


def test_sarif_strengths_are_not_results_and_the_run_counts_them():
    log = json.loads(assess_as("sarif", BALANCED))
    (run_,) = log["runs"]
    assert run_["results"] == [] and run_["tool"]["driver"]["rules"] == []
    (case,) = run_["properties"]["cases"]
    assert (case["verdict"], case["strengths"]) == ("pass", report_of(BALANCED)[0]["summary"]
                                                    ["strengths"])
    assert sarif_errors(log) == []


def test_sarif_of_several_cases_is_one_run_and_the_same_bytes_every_time():
    first = assess_as("sarif", *CASES)
    assert first == assess_as("sarif", *CASES)
    log = json.loads(first)
    assert len(log["runs"]) == 1 and sarif_errors(log) == []
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in log["runs"][0]["results"]}
    assert uris <= set(CASES) and len(uris) > 5
    ids = [r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]]
    assert ids == sorted(set(ids))


def test_sarif_of_a_json_case_at_an_absolute_path_with_a_space(tmp_path):
    data = yaml.safe_load(Path(CRISIS).read_text(encoding="utf-8"))
    path = tmp_path / "my cases" / "crisis.json"
    path.parent.mkdir()
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    log = json.loads(assess_as("sarif", str(path)))
    assert sarif_errors(log) == []
    results = {r["properties"]["finding"]: r for r in log["runs"][0]["results"]}
    physical = results["DD-CRI-004:standby-force-readiness"]["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == path.as_uri()
    assert "%20" in physical["artifactLocation"]["uri"]
    line, column = line_of(str(path), '"id": "standby-force-readiness"')
    # the JSON object that holds the line item starts on the line above its id, at its brace
    assert physical["region"]["startLine"] == line - 1


def test_sarif_without_a_readable_case_file_falls_back_to_line_1(tmp_path):
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump(BASE_CASE, sort_keys=False), encoding="utf-8")
    pack = load_pack()
    rep = assess(load_case(path, pack), pack)
    path.unlink()   # moved away after the assessment
    log = json.loads(formats.get("sarif").reports([rep]))
    assert sarif_errors(log) == []
    for result in log["runs"][0]["results"]:
        assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}
    # a case built in Python has no file: results have no location, and still validate
    log = json.loads(formats.get("sarif").reports([assess(make_case(), pack)]))
    assert log["runs"][0]["results"] and sarif_errors(log) == []
    assert all("locations" not in r for r in log["runs"][0]["results"])


def test_artifact_uris_and_field_paths():
    assert artifact_uri("cases/a.yaml") == "cases/a.yaml"
    assert artifact_uri("my cases/a b.yaml") == "my%20cases/a%20b.yaml"
    assert artifact_uri("c:case.yaml") == "c%3Acase.yaml"    # not a URI scheme
    assert artifact_uri("../x/#1.yaml") == "../x/%231.yaml"
    assert field_path("line_items[3].amount") == ("line_items", 3, "amount")
    assert field_path("transparency.external_audit") == ("transparency", "external_audit")


def test_sarif_lists_the_rules_that_report_risks():
    result = run("rules", "list", "--format", "sarif")
    assert (result.exit_code, result.stderr) == (0, "")
    log = json.loads(result.stdout)
    assert sarif_errors(log) == []
    risks = [r for r in list_rules(load_pack()) if r.kind == "risk"]
    assert len(log["runs"][0]["tool"]["driver"]["rules"]) == len(risks)
    assert log["runs"][0]["results"] == []


# --- JUnit ----------------------------------------------------------------------------------

def reporting_rules() -> list[str]:
    return [r.id for r in list_rules(load_pack()) if r.kind != "derive"]


def failing_rules(rep: dict, fail_on: str) -> set[str]:
    level = SEVERITIES.index(fail_on)
    return {f["rule"] for f in rep["findings"]
            if f["kind"] == "risk" and SEVERITIES.index(f["severity"]) >= level}


@pytest.mark.parametrize("fail_on", ["high", "critical"])
def test_junit_read_back_by_junitparser_fails_the_rules_at_or_above_fail_on(fail_on):
    result = run("assess", ALLY, BALANCED, "--format", "junit", "--fail-on", fail_on)
    assert (result.exit_code, result.stderr) == (1, "")
    xml = JUnitXml.fromstring(result.stdout)
    suites = list(xml)
    reports = report_of(ALLY, BALANCED)
    assert [s.name for s in suites] == [r["case"]["id"] for r in reports]
    expected = [failing_rules(r, fail_on) for r in reports]
    assert [len(e) for e in expected] == ([2, 0] if fail_on == "high" else [1, 0])
    for suite, rep, failing in zip(suites, reports, expected):
        cases = list(suite)
        assert [c.name for c in cases] == reporting_rules()
        assert {c.classname for c in cases} == {rep["case"]["id"]}
        assert suite.tests == len(cases) and suite.failures == len(failing)
        failed = {c.name: c for c in cases if not c.is_passed}
        assert set(failed) == failing
        for name, case in failed.items():
            (failure,) = case.result
            assert isinstance(failure, Failure)
            for finding in rep["findings"]:
                if finding["rule"] == name and SEVERITIES.index(
                        finding["severity"]) >= SEVERITIES.index(fail_on):
                    assert finding["id"] in failure.message
                    assert finding["message"] in failure.message
    assert xml.failures == sum(len(e) for e in expected)


def test_junit_strengths_never_fail_and_lower_risks_pass_with_their_findings_shown():
    result = run("assess", BALANCED, ALLY, "--format", "junit", "--fail-on", "info")
    xml = JUnitXml.fromstring(result.stdout)
    balanced, ally = list(xml)
    assert balanced.failures == 0     # eight strengths, no risk
    strengths = {f["rule"] for f in report_of(BALANCED)[0]["findings"]}
    passed = {c.name: c for c in balanced if c.is_passed}
    assert strengths <= set(passed)
    assert all(passed[name].system_out for name in strengths)
    assert ally.failures == len(failing_rules(report_of(ALLY)[0], "info"))
    # at --fail-on high, the low risk passes and says so
    xml = JUnitXml.fromstring(assess_as("junit", ALLY))
    low = next(c for c in next(iter(xml)) if c.name == "DD-TRA-005")
    assert low.is_passed and "[low] DD-TRA-005: " in low.system_out


def test_junit_is_the_same_bytes_every_time_and_has_no_timestamp():
    first = assess_as("junit", *CASES)
    assert first == assess_as("junit", *CASES)
    assert "timestamp" not in first and first.startswith('<?xml version="1.0"')


def test_junit_names_the_rules_of_a_pack_given_as_a_folder(tmp_path):
    folder = write_pack(tmp_path / "pack", [
        rule("T-001", [{"fact": "line_item", "where": "category == 'joint_exercises'"}],
             report={"severity": "high"}),
        rule("T-002", [{"fact": "line_item", "where": "category == 'cyber_security'"}],
             report={"severity": "high"}),
        rule("T-003", [{"fact": "line_item", "as": "x", "where": "amount > 0"}],
             derive={"fact": "funded", "fields": {"line": "x.id"}})], name="folder-pack")
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump(BASE_CASE, sort_keys=False), encoding="utf-8")
    result = run("assess", str(path), "--pack", str(folder), "--format", "junit")
    assert (result.exit_code, result.stderr) == (1, "")
    (suite,) = list(JUnitXml.fromstring(result.stdout))
    assert [(c.name, c.is_passed) for c in suite] == [("T-001", False), ("T-002", True)]
    # from Python, the rules can be given; without them only the rules that reported show
    pack = load_pack(folder)
    rep = assess(load_case(path, pack), pack)
    junit = formats.get("junit")
    given = JUnitXml.fromstring(junit.reports([rep], rules=list_rules(pack)))
    assert [c.name for c in next(iter(given))] == ["T-001", "T-002"]
    alone = JUnitXml.fromstring(junit.reports([rep]))
    (suite,) = list(alone)
    assert [c.name for c in suite] == ["T-001"]
    assert "only the rules that reported" in dict(
        (p.name, p.value) for p in suite.properties())["rules"]


def test_junit_cannot_list_rules():
    result = run("rules", "list", "--format", "junit")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("diplo: error: --format: format junit shows assessments")
    assert len(result.stderr.splitlines()) == 1


def test_junit_carries_text_that_xml_cannot(tmp_path):
    data = dict(BASE_CASE, title="Case \x01 with <tags> & \"quotes\"")
    path = tmp_path / "case.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    text = assess_as("junit", str(path))
    suite = next(iter(JUnitXml.fromstring(text)))
    title = dict((p.name, p.value) for p in suite.properties())["title"]
    # a control character is shown as an escape (engine/formats/escape.py); what XML cannot
    # carry otherwise becomes U+FFFD
    assert title == "Case \\x01 with <tags> & \"quotes\""


# --- the Markdown memo ----------------------------------------------------------------------

def test_the_memo_is_titled_by_its_case_then_gives_the_verdict_and_risks_by_concern():
    text = assess_as("markdown", ALLY)
    (rep,) = report_of(ALLY)
    report = Report.model_validate(rep)
    assert text.splitlines()[:3] == [
        "# Assessment: Country A, FY2027 defence budget proposal", "",
        f"**Verdict: {summary_text(report.verdict, report.summary)}**"]
    risks = [f for f in rep["findings"] if f["kind"] == "risk"]
    high = sum(1 for f in risks if f["severity"] in ("high", "critical"))
    assert high and (f"At `--fail-on high` this case fails the gate: {high} risk"
                     f"{'s' * (high != 1)} at or above high.") in text
    risks_part, strengths_part = text.split(f"## Strengths ({len(rep['findings']) - len(risks)})")
    assert f"## Risks ({len(risks)})" in risks_part
    # one heading per concern, in the order of the concerns' first (most severe) risk
    headings = re.findall(r"^### (.+) \((\d+)\)$", risks_part, re.M)
    concerns = []
    for finding in rep["findings"]:
        if finding["kind"] == "risk" and finding["concern"] not in concerns:
            concerns.append(finding["concern"])
    assert [h for h, _ in headings] == [c.replace("_", " ").capitalize() for c in concerns]
    sections = re.split(r"^### .+$", risks_part, flags=re.M)[1:]
    for concern, (heading, count), section in zip(concerns, headings, sections):
        mine = [f for f in rep["findings"] if f["kind"] == "risk" and f["concern"] == concern]
        assert int(count) == len(mine)
        positions = [section.index(f"(`{f['id']}`)") for f in mine]
        assert positions == sorted(positions)       # in the report's order
        for f in mine:
            assert f"- **{f['severity']}**: {f['title']} (`{f['id']}`)" in section
            assert f"**Guidance** (`{f['citation']['section']}`)" in section
            if f["remediation"]:
                assert f"**Remedy:** {f['remediation']}" in section
    for f in rep["findings"]:
        if f["kind"] == "strength":
            assert f"(`{f['id']}`)" in strengths_part
    assert "<details>" not in text


def test_the_memo_is_the_same_bytes_every_time():
    for args in ((ALLY,), tuple(CASES), (ALLY, "--explain"), (ALLY, "--near-miss")):
        assert assess_as("markdown", *args) == assess_as("markdown", *args)


def test_the_memo_of_several_cases_opens_with_the_overall_verdict():
    text = assess_as("markdown", BALANCED, ALLY)
    assert text.startswith("# Assessment: 2 cases\n\n"
                           "**Verdict: FAIL** for 2 cases (1 fail, 1 pass)\n\n"
                           "## Country E, FY2027 defence budget\n\n"
                           "**Verdict: PASS (no risks; 8 strengths)**\n")
    assert re.findall(r"^## (.+)$", text, re.M) == [
        "Country E, FY2027 defence budget", "Country A, FY2027 defence budget proposal"]
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_the_memo_with_explain_has_a_proof_tree_per_finding():
    text = assess_as("markdown", ALLY, "--explain")
    result = run("assess", ALLY, "--format", "json", "--explain", "--exit-zero")
    rep = json.loads(result.stdout)
    assert text.count("<details><summary>") == text.count("</details>") == len(rep["findings"])
    facts = {f["id"]: f for f in rep["facts"]}
    block = text.split("<code>DD-COM-022:")[1].split("</details>")[0]
    finding = rep["findings"][0]
    assert finding["rule"] == "DD-COM-022"
    # down the tree: every fact the finding rests on, with its rule and the fields it read
    todo, seen = list(finding["because"]), set()
    while todo:
        fact = facts[todo.pop()]
        if fact["id"] in seen:
            continue
        seen.add(fact["id"])
        assert f"{fact['id']}  (derived {fact['kind']})" in block
        assert f"by rule {fact['rule']} (" in block
        for path in fact["inputs"]:
            assert path in block
        todo += fact["because"]
    assert len(seen) >= 3


def test_the_memo_escapes_text_from_the_case(tmp_path):
    data = dict(BASE_CASE, title="# A *bold* <b>case</b> [link](http://x) _under_")
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    text = assess_as("markdown", str(path))
    assert text.splitlines()[0] == (
        r"# Assessment: \# A \*bold\* \<b>case\</b> \[link\](http://x) \_under\_")


def test_the_other_formats_still_show_comparisons_and_rules():
    restored = run("compare", ALLY, ALLY, "--format", "markdown")
    assert restored.exit_code == 0 and restored.stdout.startswith("### Compare: ")
    rules = run("rules", "list", "--format", "markdown")
    assert rules.exit_code == 0 and "| DD-ENG-003 | risk | high |" in rules.stdout
    for name in ("sarif", "junit"):
        result = run("compare", ALLY, ALLY, "--format", name)
        assert result.exit_code == 2 and result.stdout == ""
        assert f"format {name} cannot show a comparison" in result.stderr


# --- the format protocol --------------------------------------------------------------------

def test_a_format_written_before_options_still_works():
    @formats.register
    class Old:
        name = "old-style"
        description = "a format whose reports takes details only"

        def reports(self, reports, *, details=False):
            return f"{len(reports)} {details}\n"

        def rules(self, rules):
            return ""

    try:
        # as `diplo assess` calls it (the CLI's --format choices are fixed when it is imported)
        rendered = formats.get("old-style").reports([assess(make_case())], details=True,
                                                   fail_on="high")
        assert rendered == "1 True\n"
    finally:
        formats._REGISTRY.pop("old-style")


@pytest.mark.parametrize("fmt", ["sarif", "junit", "markdown"])
def test_cli_exit_status_follows_fail_on_whatever_the_format(fmt):
    assert run("assess", ALLY, "--format", fmt).exit_code == 1
    assert run("assess", BALANCED, "--format", fmt).exit_code == 0
    zero = run("assess", ALLY, "--format", fmt, "--exit-zero")
    assert (zero.exit_code, zero.stderr) == (0, "") and zero.stdout
    bad = run("assess", "cases/no-such-case.yaml", "--format", fmt)
    assert bad.exit_code == 2 and "no such file" in bad.stderr
    # the formats CI reads show an unreadable case themselves; the memo has nothing to show
    assert bool(bad.stdout) == (fmt in ("sarif", "junit"))


# --- JSON Schemas of the contracts ----------------------------------------------------------

def schema_from_cli(name: str) -> dict:
    result = run("schema", name)
    assert (result.exit_code, result.stderr) == (0, "")
    return json.loads(result.stdout)


def test_the_schemas_name_their_dialect_and_title():
    for name in ("case", "report"):
        printed = schema_from_cli(name)
        assert printed == schema(name)
        assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert printed["title"].startswith(f"diplo {'case' if name == 'case' else 'assessment'}")
        jsonschema.Draft202012Validator.check_schema(printed)
    result = run("schema", "policy")
    assert result.exit_code == 2 and result.stdout == ""


@pytest.mark.parametrize("case", CASES)
def test_every_example_case_validates_against_the_case_schema(case):
    validator = jsonschema.Draft202012Validator(schema_from_cli("case"))
    data = yaml.safe_load((ROOT / case).read_text(encoding="utf-8"))
    assert [e.message for e in validator.iter_errors(data)] == []


@pytest.mark.parametrize("change", [
    {"budget": 10},                                                   # an unknown key
    {"line_items": []},                                               # no line items
    {"currency": "dollars"},
    {"fiscal_year": "2027"},
    {"line_items": [{"id": "Exercises", "category": "joint_exercises", "amount": 1}]},
    {"line_items": [{"id": "x", "category": "joint_exercises", "amount": -5}]},
    {"threat_environment": "dire"},
    {"commitments": [{"id": "a", "kind": "treaty"}]},
])
def test_a_broken_case_does_not_validate(change):
    validator = jsonschema.Draft202012Validator(schema("case"))
    data = yaml.safe_load(Path(ALLY).read_text(encoding="utf-8"))
    assert validator.is_valid(data)
    data.update(change)
    assert not validator.is_valid(data)
    missing = dict(data)
    del missing["id"]
    assert not validator.is_valid(missing)


def test_reports_validate_against_the_report_schema():
    validator = jsonschema.Draft202012Validator(schema_from_cli("report"))
    for args in ((*CASES,), (ALLY, "--explain", "--near-miss")):
        result = run("assess", *args, "--format", "json", "--exit-zero")
        data = json.loads(result.stdout)
        for rep in data if isinstance(data, list) else [data]:
            assert [e.message for e in validator.iter_errors(rep)] == []


# --- the documentation's excerpts are real output -------------------------------------------

def test_the_output_formats_documentation_shows_real_output():
    doc = (ROOT / "docs" / "report-format.md").read_text(encoding="utf-8")
    section = doc.split("## Output formats")[1]
    memo_excerpt = section.split("````markdown\n")[1].split("````")[0]
    shown = memo_excerpt.split("\n")
    whole = [line for line in shown[:shown.index(next(x for x in shown if "..." in x))]]
    output = assess_as("markdown", ALLY, "--explain")
    assert output.startswith("\n".join(whole) + "\n")
    sarif_excerpt = section.split("```json\n")[1].split("    ...")[0]
    log = json.loads(assess_as("sarif", ALLY))
    (result,) = [r for r in log["runs"][0]["results"]
                 if r["properties"]["finding"] ==
                 "DD-COM-014:northern-alliance/joint_exercises+multinational-exercises"]
    assert json.dumps(result, indent=2, ensure_ascii=False).startswith(sarif_excerpt.rstrip())
    junit = assess_as("junit", ALLY, "--fail-on", "critical")
    xml_excerpt = section.split("```xml\n")[1].split("    ...")[0]
    assert junit.startswith(xml_excerpt)


def test_junit_shows_a_rule_whose_finding_is_folded_into_another_rules():
    folding = [f for f in report_of(ALLY)[0]["findings"] if f.get("effects")]
    assert folding
    xml = JUnitXml.fromstring(assess_as("junit", ALLY))
    cases = {c.name: c for c in next(iter(xml))}
    for finding in folding:
        for effect in finding["effects"]:
            if effect["rule"] == finding["rule"]:
                continue
            out = cases[effect["rule"]].system_out or ""
            assert f"{effect['id']}: folded into {finding['id']} (the same cause" in out
