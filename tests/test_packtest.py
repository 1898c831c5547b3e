"""The rule-test harness (engine/packtest.py) and `diplo test`, on a tiny pack of their own.

The pack declares its own categories and concerns, so that rewriting the default pack does not
change what these tests see.
"""
from __future__ import annotations

import re
import textwrap
from types import SimpleNamespace

import pytest
import yaml
from click.testing import CliRunner

from engine import load_pack

from engine.authoring import packtest
from engine.cli import main
from engine.errors import DiploError

from conftest import DEFAULT_PACK, ROOT, param, rule, write_pack

CATEGORIES = {
    "joint_exercises": {"group": "engagement", "description": "Exercises with partners"},
    "personnel": {"group": "core", "description": "Pay and pensions"},
}
CONCERNS = {
    "engagement_limited": {"kind": "risk", "description": "Cuts limit engagement"},
    "partnerships_strengthened": {"kind": "strength", "description": "Investment in partners"},
}
CUT = "category == 'joint_exercises' and real_change_pct <= -$cut_pct"
RULES = [
    rule("T-CUT", [{"fact": "line_item", "as": "item", "where": CUT}],
         report={"message": "{item.id} is cut"}),
    # two subjects, named in the order of the patterns: people after exercises
    rule("T-BOTH", [{"fact": "line_item", "as": "ex", "where": CUT},
                    {"fact": "line_item", "as": "pay",
                     "where": "category == 'personnel' and change_pct > 0"}],
         report={"severity": "high", "message": "{ex.id} is cut while {pay.id} grows"}),
    rule("T-GROW", [{"fact": "line_item", "as": "item",
                     "where": "category == 'joint_exercises' and change_pct > 0"}],
         report={"kind": "strength", "severity": "info", "concern": "partnerships_strengthened",
                 "message": "{item.id} grows"}),
    rule("T-DERIVE", [{"fact": "line_item", "as": "item", "where": "change_pct > 0"}],
         derive={"fact": "growth", "fields": {"line": "item.id"}}),
]
TESTS = """\
base:
  inflation_pct: 2
  line_items:
    - {id: exercises, category: joint_exercises, amount: 80, prior: 100}
    - {id: people, category: personnel, amount: 500, prior: 480}
tests:
  - name: a deep cut fires
    expect:
      - {rule: T-CUT, subjects: [exercises], severity: medium, kind: risk}
      - {rule: T-BOTH, subjects: [people, exercises], concern: engagement_limited}
    absent:
      - {rule: T-GROW}
  - name: growth is a strength
    case:
      line_items: [{id: exercises, category: joint_exercises, amount: 120, prior: 100}]
    expect:
      - {rule: T-GROW, kind: strength}
    absent:
      - {rule: T-CUT}
      - {rule: T-BOTH}
"""
FAILING = """\
  - name: a shallow cut does not fire
    case:
      line_items: [{id: exercises, category: joint_exercises, amount: 80, prior: 100}]
    expect:
      - {rule: T-GROW}
    absent:
      - {rule: T-CUT, subjects: [exercises]}
"""


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """Write the tiny pack with a test file; returns (pack folder, write(test text))."""
    monkeypatch.chdir(tmp_path)  # file names in output are then short and relative
    folder = write_pack(tmp_path / "tiny", RULES, name="tiny", categories=CATEGORIES,
                        concerns=CONCERNS, parameters={"cut_pct": param(10)})

    def write(text: str, name: str = "rules.test.yaml"):
        path = folder / "rules" / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path
    return folder, write


def run_cli(*args):
    return CliRunner().invoke(main, list(args))


def outcomes(folder, **params):
    return {o.name: o for o in packtest.run_pack_tests([folder], params or None)}


def error_of(folder) -> DiploError:
    with pytest.raises(DiploError) as caught:
        packtest.run_pack_tests([folder])
    return caught.value


def finding(rule="T-CUT", subjects=("a", "b"), severity="medium", concern="engagement_limited",
            kind="risk"):
    return SimpleNamespace(rule=rule, subjects=list(subjects), severity=severity,
                           concern=concern, kind=kind)


# --- matching ---------------------------------------------------------------------------------

@pytest.mark.parametrize("pattern, matches", [
    ({"rule": "T-CUT"}, True),
    ({"rule": "T-BOTH"}, False),
    ({"rule": "T-CUT", "subjects": ["a", "b"]}, True),
    ({"rule": "T-CUT", "subjects": ["b", "a"]}, True),
    ({"rule": "T-CUT", "subjects": ["a"]}, False),
    ({"rule": "T-CUT", "subjects": ["a", "b", "c"]}, False),
    ({"rule": "T-CUT", "subjects": []}, False),
    ({"rule": "T-CUT", "severity": "medium"}, True),
    ({"rule": "T-CUT", "severity": "high"}, False),
    ({"rule": "T-CUT", "concern": "engagement_limited"}, True),
    ({"rule": "T-CUT", "concern": "presence_reduced"}, False),
    ({"rule": "T-CUT", "kind": "risk"}, True),
    ({"rule": "T-CUT", "kind": "strength"}, False),
    ({"rule": "T-CUT", "subjects": ["b", "a"], "severity": "medium", "kind": "risk",
      "concern": "engagement_limited"}, True),
])
def test_a_pattern_matches_on_every_attribute_it_gives(pattern, matches):
    assert packtest.FindingPattern.model_validate(pattern).matches(finding()) is matches


def test_expect_and_absent_against_a_real_pack(tiny):
    folder, write = tiny
    write(TESTS + FAILING)
    got = outcomes(folder)
    assert got["a deep cut fires"].passed, got["a deep cut fires"].problems
    assert got["growth is a strength"].passed, got["growth is a strength"].problems
    failed = got["a shallow cut does not fire"]
    assert not failed.passed
    assert failed.problems == [
        "expected a finding T-GROW, found none",
        "expected no finding T-CUT [exercises], found T-CUT:exercises"]


@pytest.mark.parametrize("attribute, wrong", [("severity", "high"), ("kind", "strength"),
                                              ("concern", "partnerships_strengthened")])
def test_a_pattern_the_rule_can_never_match_is_an_error(tiny, attribute, wrong):
    # as `absent`, it would pass whatever the rule does
    folder, write = tiny
    write(TESTS.replace("- {rule: T-GROW}", f"- {{rule: T-CUT, {attribute}: {wrong}}}"))
    error = error_of(folder)
    assert error.path == f"tests[0].absent[0].{attribute}"
    assert error.line == 12
    assert f"never '{wrong}'" in error.message


def test_a_pattern_naming_no_rule_is_an_error(tiny):
    folder, write = tiny
    write(TESTS.replace("{rule: T-GROW}", "{rule: T-GROWS}"))
    error = error_of(folder)
    assert (error.line, error.path) == (12, "tests[0].absent[0].rule")
    assert "no loaded rule has the id 'T-GROWS'; did you mean 'T-GROW'?" in error.message


def test_a_pattern_naming_a_derive_rule_matches_the_facts_it_derives(tiny):
    folder, write = tiny
    # in the first test only people grows: T-DERIVE derives growth for people alone
    write(TESTS.replace("      - {rule: T-GROW}\n",
                        "      - {rule: T-DERIVE, subjects: [exercises]}\n", 1)
          .replace("      - {rule: T-CUT, subjects: [exercises], severity: medium, kind: risk}\n",
                   "      - {rule: T-DERIVE, subjects: [people]}\n", 1))
    assert [o.passed for o in packtest.run_pack_tests([folder])] == [True, True]
    write(TESTS.replace("      - {rule: T-GROW}\n", "      - {rule: T-DERIVE}\n", 1))
    first = packtest.run_pack_tests([folder])[0]
    assert first.problems == ["expected no finding T-DERIVE, found growth:people"]


def test_a_derive_rule_pattern_cannot_ask_for_a_severity(tiny):
    folder, write = tiny
    write(TESTS.replace("{rule: T-GROW}", "{rule: T-DERIVE, severity: high}"))
    assert "derives a fact: a pattern for it names the rule and subjects only" in \
        error_of(folder).message


def test_a_pattern_matches_a_finding_folded_into_another_by_cause(tmp_path, monkeypatch):
    # one root cause is one finding; the rule whose finding is folded still fired, and an
    # `absent` that could not see it would pass whatever the rule does
    monkeypatch.chdir(tmp_path)
    cut = {"fact": "line_item", "as": "item", "where": CUT}
    folder = write_pack(tmp_path / "folding", [
        rule("F-LOW", [cut], report={"message": "{item.id} is cut", "cause": "{item.id}"}),
        rule("F-HIGH", [cut], report={"severity": "high", "message": "{item.id} is cut deeply",
                                      "cause": "{item.id}"}),
    ], name="folding", categories=CATEGORIES, concerns=CONCERNS,
        parameters={"cut_pct": param(10)})
    (folder / "rules" / "rules.test.yaml").write_text(textwrap.dedent("""\
        base:
          line_items: [{id: exercises, category: joint_exercises, amount: 80, prior: 100}]
        tests:
          - name: both fire, one folded into the other
            expect:
              - {rule: F-HIGH, severity: high}
              - {rule: F-LOW, subjects: [exercises], severity: medium, kind: risk}
          - name: an absent pattern sees a folded finding
            absent:
              - {rule: F-LOW}
        """), encoding="utf-8")
    both, silent = packtest.run_pack_tests([folder])
    assert both.passed, both.problems
    assert silent.problems == ["expected no finding F-LOW, found F-LOW:exercises"]
    assert ("F-LOW [exercises] risk medium engagement_limited  (F-LOW:exercises) folded into "
            "F-HIGH:exercises") in silent.findings


# --- cases: header, base, merging -------------------------------------------------------------

def test_merge_merges_mappings_and_replaces_everything_else():
    base = {"a": {"x": 1, "y": [1, 2]}, "b": [1], "c": 1}
    merged = packtest.merge(base, {"a": {"y": [3]}, "b": [2], "d": {"z": 1}})
    assert merged == {"a": {"x": 1, "y": [3]}, "b": [2], "c": 1, "d": {"z": 1}}
    assert base == {"a": {"x": 1, "y": [1, 2]}, "b": [1], "c": 1}


def test_a_case_is_the_header_then_base_then_the_test(tiny):
    folder, write = tiny
    write(TESTS + """\
  - name: Own Header!
    case:
      id: own-id
      country: Freedonia
      transparency: {legislative_review: true}
    absent: [{rule: T-GROW}]
""")
    first, second, third = packtest.collect(folder)
    assert first.case.id == "a-deep-cut-fires"
    assert (first.case.country, first.case.fiscal_year, first.case.currency) == (
        "Testland", 2027, "USD")
    assert first.case.inflation_pct == 2
    assert [i.id for i in first.case.line_items] == ["exercises", "people"]
    # a list in the test replaces the base's list; a scalar in base stays
    assert [i.amount for i in second.case.line_items] == [120]
    assert second.case.inflation_pct == 2
    assert (third.case.id, third.case.country) == ("own-id", "Freedonia")
    assert third.case.transparency.legislative_review is True
    assert [t.line for t in (first, second, third)] == [7, 13, 21]
    assert second.id == "rules.test.yaml: growth is a strength"


def test_test_files_are_found_anywhere_in_the_pack_in_file_order(tiny):
    folder, write = tiny
    write(TESTS, "b.test.yaml")
    write(TESTS.replace("a deep cut", "another cut"), "a.test.yml")
    (folder / "more").mkdir()
    (folder / "more" / "c.test.yaml").write_text(TESTS.replace("a deep cut", "nested"))
    names = [(t.file.split("/")[-1], t.spec.name) for t in packtest.collect(folder)]
    # sorted by path: more/ before rules/
    assert names[::2] == [("c.test.yaml", "nested fires"), ("a.test.yml", "another cut fires"),
                          ("b.test.yaml", "a deep cut fires")]
    assert len(names) == 6


# --- parameters -------------------------------------------------------------------------------

PARAM_TESTS = """\
base:
  line_items: [{id: exercises, category: joint_exercises, amount: 80, prior: 100}]
tests:
  - name: default threshold
    expect: [{rule: T-CUT}]
  - name: raised threshold 1
    params: {cut_pct: 30}
    absent: [{rule: T-CUT}]
  - name: raised threshold 2
    params: {cut_pct: 30}
    absent: [{rule: T-CUT}]
  - name: qualified name, other value
    params: {tiny.cut_pct: 15}
    expect: [{rule: T-CUT}]
"""


def test_params_override_and_are_compiled_once_per_distinct_value(tiny):
    folder, write = tiny
    write(PARAM_TESTS)
    compiled = []

    def counting_load(*specs, params):
        compiled.append(params)
        return load_pack(*specs, params=params)

    pack = load_pack(folder)
    cache = packtest.PackCache(load_pack=counting_load)
    results = [packtest.run_test(t, pack, cache) for t in packtest.collect(folder)]
    assert [r.passed for r in results] == [True, True, True, True], results
    assert compiled == [{"cut_pct": 30}, {"tiny.cut_pct": 15}]


def test_the_cache_tells_types_apart():
    assert packtest._frozen({"x": 1}) != packtest._frozen({"x": True})
    assert packtest._frozen({"x": ["a", "b"]}) == packtest._frozen({"x": ["a", "b"]})


def test_run_params_apply_to_every_test_and_a_tests_own_go_on_top(tiny):
    folder, write = tiny
    write(PARAM_TESTS)
    got = outcomes(folder, cut_pct="50")
    assert not got["default threshold"].passed
    assert got["raised threshold 1"].passed


def test_an_unknown_param_in_a_test_is_an_error_at_the_test(tiny):
    folder, write = tiny
    write(PARAM_TESTS.replace("{cut_pct: 30}", "{cut_pc: 30}", 1))
    error = error_of(folder)
    assert (error.file, error.line) == ("tiny/rules/rules.test.yaml", 7)
    assert error.path == "tests[1].params.cut_pc"
    assert "unknown parameter 'cut_pc'; did you mean 'cut_pct'?" in error.message


# --- invalid test files -----------------------------------------------------------------------

@pytest.mark.parametrize("old, new, line, path, words", [
    ("severity: medium,", "severity: med,", 9, "tests[0].expect[0].severity", "did you mean"),
    ("tests:", "test:", 6, "test", "unknown key 'test'"),
    ("    absent:\n      - {rule: T-GROW}\n", "    absents: []\n", 11, "tests[0].absents",
     "did you mean 'absent'"),
    ("  - name: growth is a strength", "  - name: a deep cut fires", 13, "tests[1].name",
     "duplicate test name 'a deep cut fires' (first on line 7)"),
])
def test_an_invalid_test_file_names_file_line_and_field(tiny, old, new, line, path, words):
    folder, write = tiny
    write(TESTS.replace(old, new, 1))
    error = error_of(folder)
    assert (error.file, error.line, error.path) == ("tiny/rules/rules.test.yaml", line, path)
    assert words in error.message


def test_a_test_without_expect_or_absent_is_an_error(tiny):
    folder, write = tiny
    write(TESTS.replace("    expect:\n      - {rule: T-GROW, kind: strength}\n", "")
          .replace("    absent:\n      - {rule: T-CUT}\n      - {rule: T-BOTH}\n", ""))
    error = error_of(folder)
    assert (error.line, error.path) == (13, "tests[1]")
    assert error.message.startswith("a test must expect or forbid at least one finding")


@pytest.mark.parametrize("old, new, line, path, words", [
    # in the test's own case
    ("amount: 120", "amount: -120", 13, "case.line_items[0].amount", ">= 0"),
    # in base: every test that uses it names it at its own line
    ("  inflation_pct: 2", "  inflaton_pct: 2", 7, "case.inflaton_pct",
     "did you mean 'inflation_pct'"),
    # against the pack's categories, found only when the pack is known
    ("category: joint_exercises, amount: 120", "category: joint_exercise, amount: 120", 13,
     "case.line_items[0].category", "did you mean 'joint_exercises'"),
    ("{id: people,", "{id: exercises,", 7, "case.line_items[1].id", "duplicate id"),
])
def test_an_invalid_case_names_the_test_file_the_tests_line_and_the_case_field(
        tiny, old, new, line, path, words):
    folder, write = tiny
    write(TESTS.replace(old, new, 1))
    error = error_of(folder)
    assert (error.file, error.line, error.path) == ("tiny/rules/rules.test.yaml", line, path)
    assert words in error.message
    assert "(test '" in error.message


# --- output -----------------------------------------------------------------------------------

def test_a_failing_tests_output_says_where_what_and_what_was_found(tiny):
    folder, write = tiny
    write(TESTS + FAILING)
    failed = outcomes(folder)["a shallow cut does not fire"]
    assert packtest.format_failure(failed) == textwrap.dedent("""\
        FAIL tiny/rules/rules.test.yaml:21: a shallow cut does not fire
          expected a finding T-GROW, found none
          expected no finding T-CUT [exercises], found T-CUT:exercises
          findings of the case:
            T-CUT [exercises] risk medium engagement_limited  (T-CUT:exercises)
        """)


def test_output_without_findings_says_none():
    outcome = packtest.Outcome("x.test.yaml", 3, "n", False, ["expected a finding T-1, found none"])
    assert "  findings of the case: none\n" in packtest.format_failure(outcome)
    assert packtest.format_outcomes([outcome]).endswith("\n0 passed, 1 failed\n")


# --- the command ------------------------------------------------------------------------------

def test_cli_with_passing_and_failing_tests(tiny):
    folder, write = tiny
    write(TESTS + FAILING)
    result = run_cli("test", "tiny")
    assert result.exit_code == 1
    assert result.stderr == ""
    assert result.stdout.startswith("FAIL tiny/rules/rules.test.yaml:21: a shallow cut")
    assert "T-CUT [exercises] risk medium engagement_limited" in result.stdout
    assert "a deep cut fires" not in result.stdout
    assert result.stdout.endswith("\n2 passed, 1 failed\n")


def test_cli_verbose_lists_passing_tests(tiny):
    folder, write = tiny
    write(TESTS + FAILING)
    lines = run_cli("test", "-v", str(folder)).stdout.splitlines()
    assert lines[0].endswith("rules.test.yaml:7: a deep cut fires")
    assert lines[0].startswith("ok ")
    assert lines[1].endswith("rules.test.yaml:13: growth is a strength")
    assert lines[2].startswith("FAIL ")
    assert lines[-1] == "2 passed, 1 failed"


def test_cli_all_passing(tiny):
    folder, write = tiny
    write(TESTS)
    result = run_cli("test", "tiny")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "2 passed, 0 failed\n", "")


def test_cli_param(tiny):
    folder, write = tiny
    write(TESTS)
    result = run_cli("test", "tiny", "--param", "cut_pct=50")
    assert result.exit_code == 1
    assert result.stdout.endswith("\n1 passed, 1 failed\n")


def assert_error(result, *words):
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("diplo: error: ")
    for word in words:
        assert word in result.stderr, result.stderr


def test_cli_invalid_test_file(tiny):
    folder, write = tiny
    write(TESTS.replace("severity: medium,", "severity: med,"))
    assert_error(run_cli("test", "tiny"), "tiny/rules/rules.test.yaml:9:",
                 "tests[0].expect[0].severity", "did you mean 'medium'")


def test_cli_invalid_case_in_a_test(tiny):
    folder, write = tiny
    write(TESTS.replace("amount: 120", "amount: -120"))
    assert_error(run_cli("test", "tiny"), "tiny/rules/rules.test.yaml:13: ",
                 "case.line_items[0].amount", "growth is a strength")


def test_cli_no_tests_found(tiny):
    folder, _ = tiny
    assert_error(run_cli("test", "tiny"), "no rule tests found in tiny", "*.test.yaml")


def test_cli_unknown_pack(tiny):
    assert_error(run_cli("test", "no-such-pack"), "no-such-pack")


def test_cli_several_packs_run_each_packs_tests(tiny, tmp_path):
    folder, write = tiny
    write(TESTS)
    other = write_pack(tmp_path / "other", [rule(
        "O-CUT", [{"fact": "line_item", "as": "item",
                   "where": CUT.replace("$cut_pct", "$other_cut_pct")}],
        report={"message": "cut"})], name="other", categories=CATEGORIES, concerns=CONCERNS,
        parameters={"other_cut_pct": param(10)})   # a parameter name means one parameter
    # a test of one pack may name the other's rules: the packs are loaded together
    (other / "rules" / "rules.test.yaml").write_text(
        TESTS.replace("{rule: T-GROW}", "{rule: O-CUT}").replace("name: a", "name: other"))
    result = run_cli("test", "tiny", "other", "-v")
    assert result.stderr == ""
    assert result.stdout.endswith("3 passed, 1 failed\n")
    assert re.search(r"FAIL other/rules/rules.test.yaml:7: other deep cut fires\n"
                     r"  expected no finding O-CUT, found O-CUT:exercises", result.stdout)


# --- coverage ---------------------------------------------------------------------------------

def test_untested_rules_lists_reporting_rules_without_both_kinds_of_test(tiny):
    folder, write = tiny
    write(TESTS.split("  - name: growth")[0])
    missing = packtest.untested_rules(load_pack(folder), packtest.collect(folder))
    assert [re.sub(r" \(.*?\)", "", line, count=1) for line in missing] == [
        "T-CUT: no test where it must not fire (absent)",
        "T-BOTH: no test where it must not fire (absent)",
        "T-GROW: no test where it fires (expect)",
        "T-DERIVE: no test where it fires (expect) and no test where it must not fire (absent)",
    ]
    assert "rules/rules.yaml:" in missing[0]
    write(TESTS.replace("      - {rule: T-GROW}\n", "      - {rule: T-GROW}\n"
                        "      - {rule: T-DERIVE, subjects: [exercises]}\n", 1)
          .replace("      - {rule: T-GROW, kind: strength}\n",
                   "      - {rule: T-GROW, kind: strength}\n      - {rule: T-DERIVE}\n", 1))
    assert packtest.untested_rules(load_pack(folder), packtest.collect(folder)) == []


# --- the documentation's example ---------------------------------------------------------------

def test_the_example_in_the_rule_language_guide_passes(tmp_path):
    text = (ROOT / "docs" / "rule-language.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    manifest = yaml.safe_load(blocks[0])
    rules = yaml.safe_load(blocks[1])["rules"] + yaml.safe_load("rules:\n" + blocks[2])["rules"]
    section = text.split("## Testing a pack", 1)[1]
    example = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    folder = tmp_path / "my-pack"
    (folder / "rules").mkdir(parents=True)
    (folder / "guidance.txt").write_bytes((DEFAULT_PACK / "guidance.txt").read_bytes())
    (folder / "pack.yaml").write_text(yaml.safe_dump(manifest), encoding="utf-8")
    (folder / "rules" / "engagement.yaml").write_text(yaml.safe_dump({"rules": rules}))
    (folder / "rules" / "engagement.test.yaml").write_text(example, encoding="utf-8")
    results = packtest.run_pack_tests([folder])
    assert len(results) >= 2
    assert all(r.passed for r in results), [r.problems for r in results if not r.passed]


def test_cli_help():
    result = run_cli("test", "--help")
    assert (result.exit_code, result.stderr) == (0, "")
    assert " test [OPTIONS] [PACK]..." in result.stdout.splitlines()[0]
    assert "--verbose" in result.stdout and "--param" in result.stdout
