"""Choosing the rules that report (--select, --ignore, `select` and `ignore` in diplo.toml), rule
tags, and `diplo rules show`.

Most tests use tests/selection_pack, whose rules chain through derived facts (S-ENG-001 and
S-PRE-001 derive cuts, S-COM-001 derives credibility_at_risk from both, S-PAR-001 needs no
exercise cut), so that they do not change when the default pack does; those about the
shipped packs read what the packs hold at run time."""
from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
import yaml

from engine import load_pack
from engine.authoring.lint import lint_pack
from engine.core.run import list_rules
from engine.errors import PackError

from conftest import DEFAULT_PACK, ROOT, run_cli

PACK = ROOT / "tests" / "selection_pack"
BAD = ROOT / "tests" / "bad_inputs" / "packs"
run = run_cli
pytestmark = pytest.mark.usefixtures("in_repo")

CASE = """\
    id: {id}
    title: Selection test
    country: Country S
    fiscal_year: 2027
    currency: USD
    inflation_pct: 0
    line_items:
      - {{id: ex, category: exercises, amount: {exercises}, prior: 100}}
      - {{id: base, category: presence, amount: {presence}, prior: 100}}
    """


def write_case(folder: Path, name: str = "both-cut", exercises=80, presence=70) -> str:
    path = folder / f"{name}.yaml"
    path.write_text(textwrap.dedent(CASE.format(id=name, exercises=exercises,
                                                presence=presence)), encoding="utf-8")
    return str(path)


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

@pytest.mark.parametrize("folder", sorted((ROOT / "rules").iterdir()))
def test_every_rule_of_the_shipped_packs_has_tags(folder):
    for path in sorted((folder / "rules").glob("*.yaml")):
        if path.name.endswith(".test.yaml"):
            continue
        for rule in yaml.safe_load(path.read_text(encoding="utf-8"))["rules"]:
            tags = rule.get("tags")
            assert tags and all(re.fullmatch(r"[a-z0-9][a-z0-9-]*", t) for t in tags), \
                (path.name, rule["id"])


def test_rules_list_shows_the_tags():
    assert {r["id"]: r["tags"] for r in listed("--pack", PACK)}["S-ENG-003"] == [
        "engagement", "cuts", "deep"]
    table = run("--no-config", "rules", "list", "--pack", PACK).stdout
    assert table.splitlines()[0].split() == ["id", "kind", "severity", "concern", "derives",
                                             "citation", "tags", "title"]
    assert re.search(r"^S-ENG-003 .* engagement, cuts, deep +Exercises cut deeply$", table,
                     re.M)
    by_id = {r.id: r for r in list_rules(load_pack())}
    assert all(info.tags for info in by_id.values())


def test_a_rule_without_tags_has_an_empty_list():
    assert {r["id"]: r["tags"] for r in listed("--pack", BAD / "_valid")} == {
        "T-001": [], "T-002": [], "T-003": []}


def test_sarif_rule_metadata_carries_the_tags():
    result = run("--no-config", "rules", "list", "--pack", PACK, "--format", "sarif")
    rules = {r["name"]: r for r in json.loads(result.stdout)["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["S-COM-002"]["properties"]["tags"] == ["commitments_undermined", "commitments",
                                                       "credibility"]


def test_a_pack_with_tags_lints_clean_and_a_bad_tag_is_an_error():
    assert not [d for d in lint_pack(PACK).diagnostics if d.level == "error"]
    [error] = [d for d in lint_pack(BAD / "rule-tag-not-slug").diagnostics
               if d.level == "error"]
    assert (error.code, error.line) == ("invalid-pack", 19)
    assert error.message.startswith("rules[1].tags[1]: expected a name of lower-case letters")
    assert "'Budget Cuts'" in error.message


# --- selecting ----------------------------------------------------------------------------

def test_select_by_id_prefix_keeps_only_those_reporting_rules():
    pack = load_pack(PACK, select=["S-ENG"])
    assert reporting(pack) == {"S-ENG-002", "S-ENG-003"}
    assert derived(pack) == {"S-ENG-001"}
    assert reporting(load_pack(PACK, select=["S-ENG-003"])) == {"S-ENG-003"}   # an exact id
    assert reporting(load_pack(PACK, select=["S-"])) == reporting(load_pack(PACK))


def test_select_by_concern():
    pack = load_pack(PACK, select=["concern:presence_reduced"])
    assert reporting(pack) == {"S-PRE-002"}
    assert derived(pack) == {"S-PRE-001"}


def test_select_by_tag_keeps_the_rules_that_derive_what_the_selected_need():
    pack = load_pack(PACK, select=["tag:credibility"])
    assert reporting(pack) == {"S-COM-002"}
    # S-COM-002 needs credibility_at_risk (S-COM-001), which needs both cuts
    assert derived(pack) == {"S-COM-001", "S-ENG-001", "S-PRE-001"}
    # a negated pattern needs its fact too: without S-ENG-001, S-PAR-001 would always hold
    pack = load_pack(PACK, select=["tag:partnerships"])
    assert (reporting(pack), derived(pack)) == ({"S-PAR-001"}, {"S-ENG-001"})


def test_ignore_removes_rules_and_select_and_ignore_combine():
    pack = load_pack(PACK, ignore=["tag:engagement"])
    assert reporting(pack) == {"S-PRE-002", "S-COM-002", "S-PAR-001"}
    assert derived(pack) == {"S-ENG-001", "S-PRE-001", "S-COM-001"}   # all still needed
    pack = load_pack(PACK, select=["tag:cuts", "concern:commitments_undermined"],
                     ignore=["tag:deep", "S-PRE"])
    assert reporting(pack) == {"S-ENG-002", "S-COM-002"}
    assert derived(pack) == {"S-ENG-001", "S-PRE-001", "S-COM-001"}
    pack = load_pack(PACK, ignore=["tag:commitments", "S-PAR"])
    assert derived(pack) == {"S-ENG-001", "S-PRE-001"}   # nothing kept needs S-COM-001


def test_selectors_are_repeatable_and_comma_separated():
    def ids(rules):
        return {r["id"] for r in rules if r["kind"] != "derive"}
    one = listed("--pack", PACK, "--select", "S-ENG,tag:presence", "--ignore",
                 "S-ENG-003, S-PAR")
    two = listed("--pack", PACK, "--select", "S-ENG", "--select", "tag:presence", "--ignore",
                 "S-ENG-003", "--ignore", "S-PAR")
    assert ids(one) == ids(two) == {"S-ENG-002", "S-PRE-002"}


def test_a_selected_rule_fires_as_it_does_with_every_rule_loaded(tmp_path):
    case = write_case(tmp_path)
    full = json.loads(run("--no-config", "assess", case, "--pack", PACK, "--format", "json",
                          "--exit-zero").stdout)
    result = run("--no-config", "assess", case, "--pack", PACK, "--format", "json",
                 "--select", "S-COM")
    assert (result.exit_code, result.stderr) == (1, "")
    report = json.loads(result.stdout)
    assert report["findings"] == [f for f in full["findings"] if f["rule"] == "S-COM-002"]
    assert [f["id"] for f in report["findings"]] == ["S-COM-002:ex+base"]
    assert report["packs"][0]["disabled"] == ["S-ENG-002", "S-ENG-003", "S-PAR-001",
                                              "S-PRE-002"]
    explained = json.loads(run("--no-config", "assess", case, "--pack", PACK, "--format",
                               "json", "--select", "S-COM", "--explain").stdout)
    assert {f["rule"] for f in explained["facts"]} == {"S-COM-001", "S-ENG-001", "S-PRE-001"}


def test_who_left_a_rule_out_is_recorded_with_the_disabled_rules():
    pack = load_pack(PACK, select={"S-ENG": "diplo.toml:2"}, ignore=["tag:deep"])
    assert pack.disabled == {
        "S-PRE-002": "diplo.toml:2 (not selected)",
        "S-COM-002": "diplo.toml:2 (not selected)",
        "S-PAR-001": "diplo.toml:2 (not selected)",
        "S-ENG-003": "command line (ignore tag:deep)",
        "S-PRE-001": "diplo.toml:2 (no rule kept needs its fact)",
        "S-COM-001": "diplo.toml:2 (no rule kept needs its fact)",
    }


def test_disabling_a_producer_a_selected_rule_needs_is_still_an_error():
    with pytest.raises(PackError) as caught:
        load_pack(PACK, select=["S-PRE-002"], disable=["S-PRE-001"])
    assert "rule 'S-PRE-002'" in caught.value.message
    assert "which only disabled rules derive (S-PRE-001, disabled by command line)" \
        in caught.value.message
    # selection never brings back a rule --disable left out
    pack = load_pack(PACK, select=["S-ENG"], disable=["S-ENG-003"])
    assert reporting(pack) == {"S-ENG-002"}


def test_disable_still_takes_an_exact_id_only():
    err = one_line_error(run("--no-config", "rules", "list", "--pack", PACK, "--disable",
                             "S-ENG"))
    assert "--disable S-ENG: no rule 'S-ENG' is loaded" in err


def test_selection_travels_to_worker_processes(tmp_path):
    cases = [write_case(tmp_path, f"case-{i}", exercises=70 + 5 * i, presence=95 - 10 * i)
             for i in range(4)]
    args = ("--no-config", "assess", *cases, "--pack", PACK, "--format", "json", "--select",
            "tag:cuts", "--ignore", "S-ENG-003")
    one, two = run(*args, "--jobs", "1"), run(*args, "--jobs", "2")
    assert (one.exit_code, two.exit_code) == (0, 0), one.stderr + two.stderr
    assert one.stdout == two.stdout
    rules = {f["rule"] for report in json.loads(one.stdout) for f in report["findings"]}
    assert rules == {"S-ENG-002", "S-PRE-002"}


def test_what_if_keeps_the_selection(tmp_path):
    case = write_case(tmp_path, exercises=100, presence=100)
    result = run("--no-config", "whatif", case, "--pack", PACK, "--set",
                 "line_items.base.amount=50", "--select", "tag:presence", "--format", "json")
    assert result.exit_code in (0, 1), result.stderr
    comparison = json.loads(result.stdout)
    assert [c["id"] for c in comparison["new"]] == ["S-PRE-002:base"]


def test_a_selection_on_the_default_pack():
    pack = load_pack(select=["tag:transparency"])
    assert reporting(pack)
    assert all("transparency" in r.tags for r in pack.rules if r.report is not None)


# --- selectors that are wrong -------------------------------------------------------------

@pytest.mark.parametrize("args, words", [
    (["--select", "S-ENX"], "--select S-ENX: no loaded rule matches 'S-ENX'; did you mean "
                            "'S-ENG'?"),
    (["--ignore", "S-ENG-004"], "--ignore S-ENG-004: no loaded rule matches 'S-ENG-004'; did "
                                "you mean 'S-ENG-00"),
    (["--select", "concern:presence"], "did you mean 'concern:presence_reduced'?"),
    (["--select", "tag:credibilty"], "--select tag:credibilty: no loaded rule matches "
                                     "'tag:credibilty'; did you mean 'tag:credibility'?"),
    (["--select", "tag:nothing-like-it"], "(tags: commitments, credibility, cuts, deep, "
                                          "engagement, partnerships, presence)"),
    (["--select", "presence_reduced"], "to choose rules by concern, write "
                                       "concern:presence_reduced"),
    (["--select", "deep"], "to choose rules by tag, write tag:deep"),
    (["--select", "severity:high"], "unknown selector 'severity:high': a selector is a rule id "
                                    "or the start of one (DD-TRA), concern:NAME or tag:NAME"),
    (["--select", "S-ENG,,S-PRE"], "an empty selector in 'S-ENG,,S-PRE'"),
    (["--select", "S-COM-001"], "'S-COM-001' matches only rules that derive facts (S-COM-001)"),
    (["--ignore", "S-ENG-001"], "'S-ENG-001' matches only rules that derive facts"),
    (["--select", "tag:deep", "--ignore", "S-ENG-00"],
     "no rule that reports is left (--select tag:deep, --ignore S-ENG-00)"),
])
def test_a_selector_that_matches_nothing_useful_is_an_error(args, words, tmp_path):
    case = write_case(tmp_path)
    for command in (["rules", "list"], ["assess", case]):
        err = one_line_error(run("--no-config", *command, "--pack", PACK, *args))
        assert words in err, err


# --- diplo.toml ---------------------------------------------------------------------------

def write_config(folder: Path, text: str) -> None:
    text = textwrap.dedent(text).replace("PACK", PACK.as_posix())
    (folder / "diplo.toml").write_text(text, encoding="utf-8")


def test_select_and_ignore_in_diplo_toml_with_their_sources(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, """\
        packs = ["PACK"]
        select = ["tag:cuts", "concern:commitments_undermined"]
        ignore = [
          "tag:deep",
          "S-PRE",
        ]
        """)
    result = run("config", "--ignore", "S-PAR")
    assert (result.exit_code, result.stderr) == (0, "")
    rows = [re.split(r"\s{2,}", line.strip()) for line in result.stdout.splitlines()[3:]]
    assert [r for r in rows if r[0] in ("select", "ignore")] == [
        ["select", "tag:cuts", "diplo.toml:2"],
        ["select", "concern:commitments_undermined", "diplo.toml:2"],
        ["ignore", "tag:deep", "diplo.toml:4"],
        ["ignore", "S-PRE", "diplo.toml:5"],
        ["ignore", "S-PAR", "command line"],
    ]
    data = json.loads(run("config", "--format", "json", "--select", "S-ENG").stdout)
    assert data["select"] == {"value": ["S-ENG"], "source": {"S-ENG": "command line"}}
    assert data["ignore"] == {"value": ["tag:deep", "S-PRE"],
                              "source": {"tag:deep": "diplo.toml:4", "S-PRE": "diplo.toml:5"}}

    def ids(*args):
        result = run("rules", "list", "--format", "json", *args)
        assert result.exit_code == 0, result.stderr
        return {r["id"] for r in json.loads(result.stdout) if r["kind"] != "derive"}
    assert ids() == {"S-ENG-002", "S-COM-002"}
    assert ids("--select", "S-ENG") == {"S-ENG-002"}            # replaces the file's select
    assert ids("--ignore", "S-COM") == {"S-ENG-002"}            # adds to the file's ignore
    assert run("config", "--check").stdout.endswith(
        "Checked: the packs load (selection-test 1.0.0; 5 rules).\n")


def test_defaults_shown_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = run("config").stdout
    assert re.search(r"^select +\(every rule\) +default$", out, re.M)
    assert re.search(r"^ignore +\(none\) +default$", out, re.M)
    assert json.loads(run("config", "--format", "json").stdout)["select"] == {
        "value": [], "source": {}}


@pytest.mark.parametrize("text, where", [
    ('select = ["S-ENX"]\n', "diplo.toml:2:11: select[0]: no loaded rule matches 'S-ENX'; "
                             "did you mean 'S-ENG'?"),
    ('ignore = [\n  "tag:deep",\n  "concern:presence",\n]\n',
     "diplo.toml:4:3: ignore[1]: no loaded rule matches 'concern:presence'"),
    ('ignore = ["tag:deep, ,S-PRE"]\n', "diplo.toml:2:11: ignore[0]: an empty selector"),
    ('select = "S-ENG"\n', "diplo.toml:2:10: select: expected an array"),
])
def test_a_bad_selector_in_diplo_toml_is_named_at_its_line(tmp_path, monkeypatch, text, where):
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, 'packs = ["PACK"]\n' + text)
    err = one_line_error(run("rules", "list"))
    assert err.startswith(f"diplo: error: {where}"), err


# --- diplo rules show ---------------------------------------------------------------------

def test_rules_show_prints_a_rule_in_full():
    result = run("--no-config", "rules", "show", "S-ENG-002", "--pack", PACK)
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == textwrap.dedent("""\
        S-ENG-002  Exercises cut
        pack      selection-test
        kind      risk
        severity  medium
        concern   engagement_limited
        tags      engagement, cuts
        file      tests/selection_pack/rules/main.yaml:19

        When:
          exercise_cut as cut where pct > -$deep_cut_pct
        Let:
          restore = cut.prior * (1 - $cut_pct / 100)
        Message: {cut.line} falls {cut.pct|abs|pct} in real terms.
        Remedy: Keep {cut.line} above {restore|num} to keep the cut under {$cut_pct|pct}.

        Parameters:
          $deep_cut_pct = 25 (percent)
            A real-terms cut at least this deep is a deep cut
            Source: Chosen for the tests, above cut_pct
          $cut_pct = 10 (percent)
            A real-terms cut at least this deep is a cut
            Source: Chosen for the tests

        Guidance (cuts, Cuts to engagement):
          "Fewer exercises weaken relationships with allies."

        Tests (2):
          tests/selection_pack/rules/main.test.yaml:4  absent  a deep cut to exercises is high, not medium
          tests/selection_pack/rules/main.test.yaml:13  expect  a small cut to exercises is medium
        """)


def test_rules_show_as_json_with_the_values_of_this_run():
    result = run("--no-config", "rules", "show", "S-ENG-002", "--pack", PACK, "--format",
                 "json", "--param", "cut_pct=12", "--severity", "S-ENG-002=high")
    assert (result.exit_code, result.stderr) == (0, "")
    assert json.loads(result.stdout) == {
        "id": "S-ENG-002", "title": "Exercises cut", "pack": "selection-test", "kind": "risk",
        "severity": "high", "severity_override": {"default": "medium", "by": "command line"},
        "concern": "engagement_limited", "tags": ["engagement", "cuts"], "description": None,
        "conditions": [{"fact": "exercise_cut", "as": "cut", "negated": False,
                        "where": "pct > -$deep_cut_pct"}],
        "let": {"restore": "cut.prior * (1 - $cut_pct / 100)"},   # as written: parentheses kept
        "derives": None, "fields": {},
        "message": "{cut.line} falls {cut.pct|abs|pct} in real terms.",
        "remediation": "Keep {cut.line} above {restore|num} to keep the cut under "
                       "{$cut_pct|pct}.",
        "parameters": [
            {"name": "deep_cut_pct", "value": 25, "unit": "percent",
             "description": "A real-terms cut at least this deep is a deep cut",
             "source": "Chosen for the tests, above cut_pct", "pack": "selection-test",
             "declared": None},
            {"name": "cut_pct", "value": 12, "unit": "percent",
             "description": "A real-terms cut at least this deep is a cut",
             "source": "Chosen for the tests", "pack": "selection-test", "declared": 10}],
        "citation": {"section": "cuts", "heading": "Cuts to engagement",
                     "quote": "Fewer exercises weaken relationships with allies."},
        "file": "tests/selection_pack/rules/main.yaml", "line": 19, "disabled_by": None,
        "tests": [
            {"file": "tests/selection_pack/rules/main.test.yaml", "line": 4,
             "name": "a deep cut to exercises is high, not medium", "checks": ["absent"]},
            {"file": "tests/selection_pack/rules/main.test.yaml", "line": 13,
             "name": "a small cut to exercises is medium", "checks": ["expect"]}],
    }


def test_rules_show_a_derive_rule_left_out_by_a_selection_and_a_negated_condition():
    result = run("--no-config", "rules", "show", "S-COM-001", "--pack", PACK, "--select",
                 "S-ENG")
    assert (result.exit_code, result.stderr) == (0, "")
    out = result.stdout
    assert re.search(r"^derives +credibility_at_risk$", out, re.M)
    assert re.search(r"^status +left out of this run by command line \(no rule kept needs "
                     r"its fact\)$", out, re.M)
    assert "When:\n  exercise_cut as ex\n  presence_cut as pre\nDerives: credibility_at_risk\n" \
           "  line = ex.line\n  presence_line = pre.line\n\nParameters: none\n" in out
    assert out.endswith("Tests: none name this rule\n")
    strength = run("--no-config", "rules", "show", "S-PAR-001", "--pack", PACK).stdout
    assert "  line_item as item where category == 'exercises' and amount > 0\n" \
           "  not exercise_cut\n" in strength
    assert "  tests/selection_pack/rules/main.test.yaml:30  expect  steady exercises" in strength


def test_rules_show_a_rule_of_the_default_pack_in_both_formats():
    info = next(r for r in list_rules(load_pack()) if r.kind == "risk")
    table = run("--no-config", "rules", "show", info.id)
    assert (table.exit_code, table.stderr) == (0, "")
    assert table.stdout.startswith(f"{info.id}  {info.title}\n")
    assert re.search(rf"^tags +{re.escape(', '.join(info.tags))}$", table.stdout, re.M)
    assert re.search(rf"^severity +{info.severity}$", table.stdout, re.M)
    rule = json.loads(run("--no-config", "rules", "show", info.id, "--format", "json").stdout)
    assert (rule["id"], rule["title"], rule["tags"], rule["concern"], rule["citation"]["section"]
            ) == (info.id, info.title, info.tags, info.concern, info.citation)
    written = (ROOT / rule["file"]).read_text(encoding="utf-8").splitlines()
    assert written[rule["line"] - 1].strip() == f"- id: {info.id}"
    pack = load_pack()
    [loaded] = [r for r in pack.rules if r.id == info.id]
    assert {p["name"]: p["value"] for p in rule["parameters"]} == loaded.params
    for test in rule["tests"]:
        lines = (ROOT / test["file"]).read_text(encoding="utf-8").splitlines()
        assert test["name"] in lines[test["line"] - 1]
        assert rule["file"].startswith(str(DEFAULT_PACK.relative_to(ROOT)))


def test_rules_show_finds_the_tests_of_every_loaded_pack(tmp_path):
    extension = tmp_path / "extension"
    (extension / "rules").mkdir(parents=True)
    (extension / "pack.yaml").write_text(textwrap.dedent(f"""\
        name: extension
        version: 1.0.0
        description: Disables a rule of the selection pack and tests that it stays silent.
        extends: {PACK.as_posix()}
        disable: [S-ENG-003]
        rules: []
        """), encoding="utf-8")
    (extension / "rules" / "silent.test.yaml").write_text(textwrap.dedent("""\
        tests:
          - name: a deep cut is not reported by the disabled rule
            case:
              line_items: [{id: ex, category: exercises, amount: 50, prior: 100}]
            absent: [{rule: S-ENG-003}]
        """), encoding="utf-8")
    rule = json.loads(run("--no-config", "rules", "show", "S-ENG-003", "--pack", extension,
                          "--format", "json").stdout)
    assert rule["disabled_by"] == "pack extension"
    assert [(Path(t["file"]).name, t["checks"]) for t in rule["tests"]] == [
        ("main.test.yaml", ["expect"]), ("main.test.yaml", ["absent"]),
        ("silent.test.yaml", ["absent"])]


def test_rules_show_an_unknown_rule_or_format():
    err = one_line_error(run("--no-config", "rules", "show", "S-ENG-02", "--pack", PACK))
    assert err == "diplo: error: RULE: no rule 'S-ENG-02' is loaded; did you mean " \
                  "'S-ENG-002'?\n"
    err = one_line_error(run("--no-config", "rules", "show", "S-ENG-002", "--pack", PACK,
                             "--format", "markdown"))
    assert "format markdown cannot show a rule" in err


# --- other formats ------------------------------------------------------------------------

def test_junit_has_a_test_for_each_rule_that_ran_and_none_for_those_left_out(tmp_path):
    case = write_case(tmp_path)
    result = run("--no-config", "assess", case, "--pack", PACK, "--format", "junit",
                 "--select", "tag:cuts", "--ignore", "S-ENG-003")
    assert result.exit_code == 0, result.stderr
    assert re.findall(r'<testcase name="([^"]+)"', result.stdout) == ["S-ENG-002", "S-PRE-002"]
    everything = run("--no-config", "assess", case, "--pack", PACK, "--format", "junit",
                     "--disable", "S-PAR-001")
    assert re.findall(r'<testcase name="([^"]+)"', everything.stdout) == [
        "S-ENG-002", "S-ENG-003", "S-PRE-002", "S-COM-002"]
