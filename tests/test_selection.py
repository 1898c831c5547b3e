"""Choosing the rules that report (--select, --ignore, `select` and `ignore` in diplo.toml), rule
tags, and `diplo rules show`."""
from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from engine import load_pack
from engine.authoring.lint import lint_pack
from engine.errors import PackError

from conftest import ROOT, run_cli, write_pack

ALLY = "cases/ally-trims-exercises.yaml"
BAD = ROOT / "tests" / "bad_inputs" / "packs"
run = run_cli
pytestmark = pytest.mark.usefixtures("in_repo")


def reporting(pack) -> set[str]:
    return {r.id for r in pack.rules if r.report is not None}


def derived(pack) -> set[str]:
    return {r.id for r in pack.rules if r.derive_kind}


def listed(*args) -> list[dict]:
    result = run("--no-config", "rules", "list", "--format", "json", *args)
    assert (result.exit_code, result.stderr) == (0, ""), result.stderr
    return json.loads(result.stdout)


def one_line_error(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("diplo: error: ") and result.stderr.count("\n") == 1
    return result.stderr


# --- tags ---------------------------------------------------------------------------------

def test_every_rule_of_the_shipped_packs_has_tags_and_rules_list_shows_them():
    rules = listed("--pack", "transparency-plus")
    assert rules and all(r["tags"] for r in rules)
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9-]*", t) for r in rules for t in r["tags"])
    by_id = {r["id"]: r for r in rules}
    assert by_id["DD-TRA-004"]["tags"] == ["transparency", "audit"]
    assert by_id["TP-AUD-001"]["tags"] == ["transparency", "audit", "cuts"]
    table = run("--no-config", "rules", "list").stdout
    header = table.splitlines()[0].split()
    assert header == ["id", "kind", "severity", "concern", "derives", "citation", "tags",
                      "title"]
    assert re.search(r"^DD-TRA-004 .* transparency, audit +No external audit", table, re.M)


def test_a_rule_without_tags_has_an_empty_list():
    assert {r["id"]: r["tags"] for r in listed("--pack", BAD / "_valid")} == {
        "T-001": [], "T-002": [], "T-003": []}


def test_a_pack_with_tags_lints_clean_and_a_bad_tag_is_an_error():
    assert not [d for d in lint_pack(ROOT / "rules" / "defense-diplomacy").diagnostics
                if d.level == "error"]
    [error] = [d for d in lint_pack(BAD / "rule-tag-not-slug").diagnostics
               if d.level == "error"]
    assert (error.code, error.line) == ("invalid-pack", 19)
    assert error.message.startswith("rules[1].tags[1]: expected a name of lower-case letters")
    assert "'Budget Cuts'" in error.message


# --- selecting ----------------------------------------------------------------------------

def test_select_by_id_prefix_keeps_only_those_reporting_rules():
    pack = load_pack(select=["DD-TRA-01"])
    assert reporting(pack) == {"DD-TRA-010", "DD-TRA-011", "DD-TRA-012"}
    assert derived(pack) == set()      # none of them needs a derived fact
    assert reporting(load_pack(select=["DD-TRA-010"])) == {"DD-TRA-010"}   # an exact id too


def test_select_by_concern_keeps_the_rules_that_derive_what_they_need():
    pack = load_pack(select=["concern:presence_reduced"])
    assert reporting(pack) == {"DD-PRE-002", "DD-PRE-003"}
    assert derived(pack) == {"DD-PRE-001"}


def test_select_by_tag_follows_derived_facts_through_every_level():
    pack = load_pack(select=["tag:elevated-threat"])
    assert reporting(pack) == {"DD-ALI-021", "DD-CRI-004", "DD-CRI-005", "DD-COM-022"}
    # DD-COM-022 needs credibility_at_risk (DD-COM-020), which needs commitment_at_risk
    # (DD-COM-001..005) and presence_reduced (DD-PRE-001); those need the level-1 cuts
    assert derived(pack) == {"DD-COM-020", "DD-COM-001", "DD-COM-002", "DD-COM-003",
                             "DD-COM-004", "DD-COM-005", "DD-CRI-001", "DD-ENG-001",
                             "DD-PAR-001", "DD-PRE-001"}


def test_ignore_removes_rules_and_select_and_ignore_combine():
    everything = load_pack()
    ignored = load_pack(ignore=["tag:transparency"])
    assert reporting(ignored) == {r for r in reporting(everything) if not r.startswith("DD-TRA")}
    assert derived(ignored) == derived(everything)
    both = load_pack(select=["DD-COM", "concern:presence_reduced"],
                     ignore=["DD-COM-02", "tag:unfunded"])
    assert reporting(both) == {"DD-COM-010", "DD-COM-011", "DD-PRE-002", "DD-PRE-003"}
    assert "DD-COM-020" not in derived(both)    # only DD-COM-021 and 022 needed its fact


def test_selectors_are_repeatable_and_comma_separated():
    ids = lambda rules: {r["id"] for r in rules if r["kind"] != "derive"}  # noqa: E731
    one = listed("--select", "DD-PRE,tag:secrecy", "--ignore", "DD-TRA-012, DD-PRE-003")
    two = listed("--select", "DD-PRE", "--select", "tag:secrecy", "--ignore", "DD-TRA-012",
                 "--ignore", "DD-PRE-003")
    assert ids(one) == ids(two) == {"DD-PRE-002", "DD-TRA-010", "DD-TRA-011"}


def test_a_selected_rule_fires_as_it_does_with_every_rule_loaded():
    full = json.loads(run("--no-config", "assess", ALLY, "--format", "json",
                          "--exit-zero").stdout)
    result = run("--no-config", "assess", ALLY, "--format", "json", "--select", "DD-COM-022")
    assert (result.exit_code, result.stderr) == (1, "")
    report = json.loads(result.stdout)
    assert report["findings"] == [f for f in full["findings"] if f["rule"] == "DD-COM-022"]
    assert report["findings"]
    disabled = set(report["packs"][0]["disabled"])
    assert {"DD-ENG-002", "DD-TRA-001", "DD-COM-021"} <= disabled
    assert not {"DD-COM-020", "DD-COM-001", "DD-ENG-001", "DD-PRE-001"} & disabled


def test_who_left_a_rule_out_is_recorded_with_the_disabled_rules():
    pack = load_pack(select={"DD-TRA": "diplo.toml:2"}, ignore=["tag:secrecy"],
                     disable=["DD-TRA-022"])
    assert pack.disabled["DD-ENG-002"] == "diplo.toml:2 (not selected)"
    assert pack.disabled["DD-TRA-011"] == "command line (ignore tag:secrecy)"
    assert pack.disabled["DD-COM-001"] == "diplo.toml:2 (no rule kept needs its fact)"
    assert pack.disabled["DD-TRA-022"] == "command line"    # --disable as before


def test_disabling_a_producer_a_selected_rule_needs_is_still_an_error():
    with pytest.raises(PackError) as caught:
        load_pack(select=["DD-PRE-002"], disable=["DD-PRE-001"])
    assert "rule 'DD-PRE-002'" in caught.value.message
    assert "which only disabled rules derive (DD-PRE-001, disabled by command line)" \
        in caught.value.message


def test_disable_still_takes_an_exact_id_only():
    err = one_line_error(run("--no-config", "rules", "list", "--disable", "DD-TRA"))
    assert "--disable DD-TRA: no rule 'DD-TRA' is loaded" in err


def test_selection_travels_to_worker_processes():
    args = ("--no-config", "assess", "cases/", "--format", "json", "--select",
            "concern:transparency_gap", "--ignore", "DD-TRA-04")
    one, two = run(*args, "--jobs", "1"), run(*args, "--jobs", "2")
    assert one.exit_code == two.exit_code == 1
    assert one.stdout == two.stdout
    rules = {f["rule"] for report in json.loads(one.stdout) for f in report["findings"]}
    assert rules and all(r.startswith("DD-TRA") and not r.startswith("DD-TRA-04")
                         for r in rules)


def test_what_if_keeps_the_selection():
    result = run("--no-config", "whatif", ALLY, "--set", "transparency.legislative_review=false",
                 "--select", "DD-TRA", "--format", "json")
    assert result.exit_code in (0, 1), result.stderr
    comparison = json.loads(result.stdout)
    assert [c["id"].split(":")[0] for c in comparison["new"]] == ["DD-TRA-003"]


# --- selectors that are wrong -------------------------------------------------------------

@pytest.mark.parametrize("args, words", [
    (["--select", "DD-TRX"], "--select DD-TRX: no loaded rule matches 'DD-TRX'; did you mean "
                             "'DD-TRA'?"),
    (["--ignore", "DD-TRA-060"], "--ignore DD-TRA-060: no loaded rule matches 'DD-TRA-060'; "
                                 "did you mean 'DD-TRA-050'?"),
    (["--select", "concern:transparency"], "did you mean 'concern:transparency_gap'?"),
    (["--select", "tag:fisc"], "--select tag:fisc: no loaded rule matches 'tag:fisc'; did you "
                               "mean 'tag:fiscal'?"),
    (["--select", "transparency_gap"], "to choose rules by concern, write "
                                       "concern:transparency_gap"),
    (["--select", "severity:high"], "unknown selector 'severity:high': a selector is a rule id "
                                    "or the start of one (DD-TRA), concern:NAME or tag:NAME"),
    (["--select", "DD-TRA,,DD-PRE"], "an empty selector in 'DD-TRA,,DD-PRE'"),
    (["--select", "DD-COM-00"], "'DD-COM-00' matches only rules that derive facts (DD-COM-001"),
    (["--select", "tag:secrecy", "--ignore", "DD-TRA-01"],
     "no rule that reports is left (--select tag:secrecy, --ignore DD-TRA-01)"),
])
def test_a_selector_that_matches_nothing_useful_is_an_error(args, words):
    for command in (["rules", "list"], ["assess", ALLY]):
        err = one_line_error(run("--no-config", *command, *args))
        assert words in err, err


# --- diplo.toml ---------------------------------------------------------------------------

CONFIG = """\
    select = ["DD-TRA", "concern:presence_reduced"]
    ignore = [
      "tag:secrecy",
      "DD-TRA-00",
    ]
    """


def write_config(folder: Path, text: str) -> None:
    (folder / "diplo.toml").write_text(textwrap.dedent(text), encoding="utf-8")


def test_select_and_ignore_in_diplo_toml_with_their_sources(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, CONFIG)
    result = run("config", "--ignore", "DD-TRA-012")
    assert (result.exit_code, result.stderr) == (0, "")
    rows = [re.split(r"\s{2,}", line.strip()) for line in result.stdout.splitlines()[3:]]
    assert [r for r in rows if r[0] in ("select", "ignore")] == [
        ["select", "DD-TRA", "diplo.toml:1"],
        ["select", "concern:presence_reduced", "diplo.toml:1"],
        ["ignore", "tag:secrecy", "diplo.toml:3"],
        ["ignore", "DD-TRA-00", "diplo.toml:4"],
        ["ignore", "DD-TRA-012", "command line"],
    ]
    data = json.loads(run("config", "--format", "json", "--select", "DD-PRE").stdout)
    assert data["select"] == {"value": ["DD-PRE"], "source": {"DD-PRE": "command line"}}
    assert data["ignore"]["source"] == {"tag:secrecy": "diplo.toml:3",
                                        "DD-TRA-00": "diplo.toml:4"}
    rules = {r["id"] for r in json.loads(run("rules", "list", "--format", "json").stdout)}
    assert rules == {"DD-TRA-020", "DD-TRA-021", "DD-TRA-022", "DD-TRA-030",
                     "DD-TRA-031", "DD-TRA-040", "DD-TRA-041", "DD-TRA-050", "DD-PRE-001",
                     "DD-PRE-002", "DD-PRE-003"}
    # --select replaces the file's select; --ignore adds to the file's ignore
    rules = {r["id"] for r in json.loads(run("rules", "list", "--format", "json", "--select",
                                             "DD-PRE").stdout)}
    assert rules == {"DD-PRE-001", "DD-PRE-002", "DD-PRE-003"}
    without = run("config", "--no-waivers")
    assert without.exit_code == 0


def test_defaults_shown_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = run("config").stdout
    assert re.search(r"^select +\(every rule\) +default$", out, re.M)
    assert re.search(r"^ignore +\(none\) +default$", out, re.M)


@pytest.mark.parametrize("text, where", [
    ('select = ["DD-TRX"]\n', "diplo.toml:1:11: select[0]: no loaded rule matches 'DD-TRX'; "
                              "did you mean 'DD-TRA'?"),
    ('ignore = [\n  "tag:secrecy",\n  "concern:transparency",\n]\n',
     "diplo.toml:3:3: ignore[1]: no loaded rule matches 'concern:transparency'"),
    ('ignore = ["tag:secrecy, ,DD-PRE"]\n', "diplo.toml:1:11: ignore[0]: an empty selector"),
    ('select = "DD-TRA"\n', "diplo.toml:1:10: select: expected an array"),
])
def test_a_bad_selector_in_diplo_toml_is_named_at_its_line(tmp_path, monkeypatch, text, where):
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, text)
    err = one_line_error(run("rules", "list"))
    assert err.startswith(f"diplo: error: {where}"), err


# --- diplo rules show ---------------------------------------------------------------------

def test_rules_show_prints_a_rule_in_full():
    result = run("--no-config", "rules", "show", "DD-COM-010")
    assert (result.exit_code, result.stderr) == (0, "")
    out = result.stdout
    lines = out.splitlines()
    assert lines[0] == "DD-COM-010  An active commitment depends on a line that is being cut"
    for row in (["pack", "defense-diplomacy"], ["kind", "risk"], ["severity", "high"],
                ["concern", "commitments_undermined"], ["tags", "commitments, cuts"]):
        assert any(re.split(r"\s{2,}", line) == row for line in lines), row
    file_line = next(line for line in lines if line.startswith("file "))
    path, line = file_line.split()[1].rsplit(":", 1)
    written = (ROOT / path).read_text(encoding="utf-8").splitlines()
    assert written[int(line) - 1].strip() == "- id: DD-COM-010"
    assert "When:\n  commitment_at_risk as risk where status == 'active'\n" in out
    assert "Message: Active {risk.commitment_kind} {risk.commitment} depends on" in out
    assert "Remedy: Keep the real-terms cut to {risk.line} under {$cut_pct|pct}" in out
    assert "  $cut_pct = 10 (percent, real terms)\n    A real-terms cut to a line" in out
    assert "    Source: No public benchmark exists." in out
    assert ("Guidance (budget-cuts, Impact of Budget Cuts on Diplomatic Relations):\n"
            "  \"The weakening of such commitments due to financial constraints") in out
    tests = out.split("\nTests (")[1]
    count = int(tests.split(")")[0])
    shown = tests.splitlines()[1:]
    assert len(shown) == count >= 10
    assert ("  rules/defense-diplomacy/rules/commitments.test.yaml:15  expect  an active "
            "alliance that depends on exercises cut by 30% is at risk, high") in shown


def test_rules_show_as_json_with_the_values_of_this_run():
    result = run("--no-config", "rules", "show", "DD-COL-002", "--format", "json",
                 "--param", "cut_pct=12", "--severity", "DD-COL-002=high")
    assert (result.exit_code, result.stderr) == (0, "")
    rule = json.loads(result.stdout)
    assert list(rule) == ["id", "title", "pack", "kind", "severity", "severity_override",
                          "concern", "tags", "description", "conditions", "let", "derives",
                          "fields", "message", "remediation", "parameters", "citation",
                          "file", "line", "disabled_by", "tests"]
    assert (rule["severity"], rule["severity_override"]) == (
        "high", {"default": "medium", "by": "command line"})
    assert rule["tags"] == ["burden-sharing", "pooled-funds", "cuts"]
    assert rule["conditions"] == [{
        "fact": "partnership_cut", "as": "cut", "negated": False,
        "where": "category == 'pooled_fund' and real_change_pct > -$deep_cut_pct"}]
    # as written: the parentheses of the arithmetic are kept
    assert rule["let"] == {"restore": "cut.prior_real * (1 - $cut_pct / 100) - cut.amount"}
    params = {p["name"]: p for p in rule["parameters"]}
    assert list(params) == ["deep_cut_pct", "cut_pct"]
    assert (params["cut_pct"]["value"], params["cut_pct"]["declared"]) == (12, 10)
    assert (params["deep_cut_pct"]["value"], params["deep_cut_pct"]["declared"]) == (25, None)
    assert params["cut_pct"]["source"].startswith("No public benchmark exists.")
    assert rule["citation"]["section"] == "collaborative-budgeting"
    assert rule["citation"]["quote"].startswith("By coordinating their defense spending")
    assert (rule["file"], rule["line"]) == ("rules/defense-diplomacy/rules/collaboration.yaml",
                                            19)
    for test in rule["tests"]:
        text = (ROOT / test["file"]).read_text(encoding="utf-8").splitlines()
        assert test["name"] in text[test["line"] - 1], test
        assert set(test["checks"]) <= {"expect", "absent"}
    files = {t["file"] for t in rule["tests"]}
    assert files == {"rules/defense-diplomacy/rules/collaboration.test.yaml",
                     "rules/defense-diplomacy/rules/partnerships.test.yaml"}


def test_rules_show_a_derive_rule_left_out_by_a_selection():
    result = run("--no-config", "rules", "show", "DD-COM-020", "--select", "DD-TRA")
    assert (result.exit_code, result.stderr) == (0, "")
    assert re.search(r"^derives +credibility_at_risk$", result.stdout, re.M)
    assert re.search(r"^status +left out of this run by command line \(no rule kept needs "
                     r"its fact\)$", result.stdout, re.M)
    assert "Derives: credibility_at_risk\n  commitment = risk.commitment\n" in result.stdout
    assert "Parameters: none" in result.stdout


def test_rules_show_finds_the_tests_of_every_loaded_pack():
    result = run("--no-config", "rules", "show", "DD-TRA-050", "--pack", "transparency-plus",
                 "--format", "json")
    rule = json.loads(result.stdout)
    assert rule["disabled_by"] == "pack transparency-plus"
    assert {Path(t["file"]).parts[1] for t in rule["tests"]} == {"defense-diplomacy",
                                                                 "transparency-plus"}


def test_rules_show_an_unknown_rule_or_format():
    err = one_line_error(run("--no-config", "rules", "show", "DD-TRA-50"))
    assert err == "diplo: error: RULE: no rule 'DD-TRA-50' is loaded; did you mean " \
                  "'DD-TRA-050'?\n"
    err = one_line_error(run("--no-config", "rules", "show", "DD-TRA-050", "--format",
                             "markdown"))
    assert "format markdown cannot show a rule" in err


def test_rules_show_a_rule_of_a_pack_without_tests(tmp_path):
    folder = write_pack(tmp_path / "p", textwrap.dedent("""\
        rules:
          - id: S-001
            title: A cut
            tags: [engagement]
            when:
              - fact: line_item
                as: item
                where: >-
                  category == 'joint_exercises'
                  and real_change_pct <= -10
            report:
              kind: risk
              severity: medium
              concern: engagement_limited
              message: "{item.id} is cut"
            citation:
              section: cuts-engagement
              quote: Reduced funding may restrict the frequency and scale of military exercises
        """))
    result = run("--no-config", "rules", "show", "S-001", "--pack", folder)
    assert (result.exit_code, result.stderr) == (0, "")
    assert "  line_item as item where category == 'joint_exercises' and real_change_pct <= " \
           "-10\n" in result.stdout
    assert result.stdout.endswith("Tests: none name this rule\n")


def test_junit_has_a_test_for_each_rule_that_ran_and_none_for_those_left_out():
    result = run("--no-config", "assess", ALLY, "--format", "junit", "--select", "DD-COM-02",
                 "--ignore", "DD-COM-021")
    assert result.exit_code == 1, result.stderr
    assert re.findall(r'<testcase name="([^"]+)"', result.stdout) == ["DD-COM-022"]
    everything = run("--no-config", "assess", ALLY, "--format", "junit", "--disable",
                     "DD-TRA-041")
    names = re.findall(r'<testcase name="([^"]+)"', everything.stdout)
    assert "DD-TRA-041" not in names and "DD-TRA-040" in names


def test_sarif_rule_metadata_carries_the_tags():
    log = json.loads(run("--no-config", "rules", "list", "--format", "sarif").stdout)
    rules = {r["name"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["DD-TRA-004"]["properties"]["tags"] == ["transparency_gap", "transparency",
                                                         "audit"]
