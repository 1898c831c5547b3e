"""Every command meets broken input the way `diplo assess` does.

Exit status 2, nothing on stdout, and one line on stderr that starts with "diplo: error:":
scripts read that line as the whole error, and a half-printed report on stdout would be taken
for a result. Each case is one broken thing given to one command; stdout, stderr and the exit
status are checked separately. docs/security.md points here.
"""
from __future__ import annotations


import pytest


from conftest import ONE_RULE, run_cli, write_pack

ALLY = "cases/ally-trims-exercises.yaml"
EXERCISES = "line_items.multinational-exercises.amount"
BAD = "tests/bad_inputs"


pytestmark = pytest.mark.usefixtures("in_repo")
run = run_cli


def assert_one_line_error(result, *words):
    err = result.stderr
    assert result.exit_code == 2, (result.exit_code, err, result.exception)
    assert result.stdout == ""
    assert "Traceback" not in err
    assert err.startswith("diplo: error: ") and err.endswith("\n") and err.count("\n") == 1, err
    assert isinstance(result.exception, SystemExit), result.exception
    missing = [w for w in words if w.lower() not in err.lower()]
    assert not missing, f"{missing} not in: {err}"


# --- the same broken case, given to every command that reads one ------------------------------

CASE_COMMANDS = {
    "assess": ["assess", "{case}"],
    "explain": ["explain", "{case}"],
    "explain-finding": ["explain", "{case}", "DD-ENG-002:multinational-exercises"],
    "explain-rule": ["explain", "{case}", "--rule", "DD-ENG-002"],
    "explain-remedies": ["explain", "{case}", "--remedies"],
    "compare-base": ["compare", "{case}", ALLY],
    "compare-proposal": ["compare", ALLY, "{case}"],
    "whatif": ["whatif", "{case}", "--set", f"{EXERCISES}=170"],
    "whatif-param": ["whatif", "{case}", "--param", "deep_cut_pct=60"],
    "sweep": ["sweep", "{case}", "--vary", EXERCISES, "--from", "80", "--to", "150",
              "--steps", "2"],
}

BROKEN_CASES = {
    "missing": ("no-such-case.yaml", ["no-such-case.yaml", "no such file"]),
    # assess takes a folder of cases; docs/ holds none, and the others take one file
    "folder": ("docs", ["docs"]),
    "invalid-field": (f"{BAD}/cases/bad-status.yaml", ["commitments[0].status", "actve"]),
    "yaml-syntax": (f"{BAD}/cases/invalid-yaml-syntax.yaml", ["invalid yaml"]),
    "json-syntax": (f"{BAD}/cases/invalid-json.json", ["invalid json"]),
    "binary": (f"{BAD}/cases/binary-nul.yaml", ["binary"]),
    "empty": (f"{BAD}/cases/empty.yaml", ["empty"]),
    "alias-bomb": (f"{BAD}/cases/alias-bomb.yaml", ["200,000 values"]),
    "python-tag": (f"{BAD}/cases/tagged-python-object.yaml", ["unsupported yaml tag"]),
    "unknown-category": (f"{BAD}/cases/unknown-category.yaml", ["unknown category"]),
    "rules-across-fields": (f"{BAD}/cases/items-exceed-total.yaml", ["more than the total"]),
}


@pytest.mark.parametrize("broken", list(BROKEN_CASES))
@pytest.mark.parametrize("command", list(CASE_COMMANDS))
def test_a_broken_case(command, broken):
    path, words = BROKEN_CASES[broken]
    args = [a.format(case=path) for a in CASE_COMMANDS[command]]
    assert_one_line_error(run(*args), *words)


# --- a broken pack or parameter, given to every command that loads packs ----------------------

PACK_COMMANDS = {
    **CASE_COMMANDS,
    "rules-list": ["rules", "list"],
    "rules-categories": ["rules", "categories"],
    "rules-show": ["rules", "show", "DD-TRA-005"],
}

BROKEN_PACKS = {
    "invalid-manifest": (["--pack", f"{BAD}/packs/bad-semver"], ["pack.yaml", "version"]),
    "invalid-rule": (["--pack", f"{BAD}/packs/unknown-field"], ["rules/main.yaml",
                                                                 "no field"]),
    "missing-folder": (["--pack", "no-such-pack"], ["no-such-pack", "no such rule pack"]),
    "a-file": (["--pack", ALLY], ["not a folder"]),
    "no-manifest": (["--pack", "docs"], ["no pack.yaml"]),
    # two folders holding a pack of the same name (the same folder twice is one pack)
    "twice": (["--pack", f"{BAD}/packs/duplicate-rule-id-across-packs/first",
               "--pack", f"{BAD}/packs/parameter-declared-twice/first"],
              ["loaded twice", "duplicate-rule-id-across-packs/first",
               "parameter-declared-twice/first"]),
    "escaping-glob": (["--pack", f"{BAD}/packs/rules-glob-escapes"],
                      ["leaves the pack folder"]),
    "unknown-param": (["--param", "deep_cut_pc=60"], ["unknown parameter", "deep_cut_pct"]),
    "param-not-a-number": (["--param", "deep_cut_pct=deep"], ["expected a number", "'deep'"]),
    "param-infinite": (["--param", "deep_cut_pct=inf"], ["finite"]),
    "param-without-value": (["--param", "deep_cut_pct"], ["NAME=VALUE"]),
    "param-without-name": (["--param", "=60"], ["NAME=VALUE"]),
    "select-matches-nothing": (["--select", "DD-TRX"], ["--select DD-TRX",
                                                        "did you mean 'DD-TRA'"]),
    "ignore-unknown-kind": (["--ignore", "level:high"], ["--ignore level:high",
                                                         "concern:NAME or tag:NAME"]),
    "selection-leaves-nothing": (["--select", "DD-TRA", "--ignore", "DD-TRA"],
                                 ["no rule that reports is left"]),
}


@pytest.mark.parametrize("broken", list(BROKEN_PACKS))
@pytest.mark.parametrize("command", list(PACK_COMMANDS))
def test_a_broken_pack_or_parameter(command, broken):
    extra, words = BROKEN_PACKS[broken]
    args = [a.format(case=ALLY) for a in PACK_COMMANDS[command]] + extra
    if command == "whatif-param" and extra[0] == "--param":
        args = ["whatif", ALLY, *extra]  # whatif's --param is the change itself
    assert_one_line_error(run(*args), *words)


@pytest.mark.parametrize("broken", [b for b in BROKEN_PACKS if BROKEN_PACKS[b][0][0] == "--pack"
                                    or b.startswith("param-without")])
def test_a_broken_pack_given_to_diplo_test(broken):
    extra, words = BROKEN_PACKS[broken]
    if extra[0] == "--pack":
        args = ["test", *[a for a in extra if a != "--pack"]]
    else:
        args = ["test", *extra]
    assert_one_line_error(run(*args), *words)


@pytest.mark.parametrize("extra, words", [
    (["--param", "deep_cut_pc=60"], ["unknown parameter"]),
    (["--param", "deep_cut_pct=deep"], ["expected a number"]),
])
def test_a_broken_parameter_given_to_diplo_test(extra, words):
    assert_one_line_error(run("test", *extra), *words)


# --- what only one command reads ----------------------------------------------------------------

@pytest.mark.parametrize("args, words", [
    (["DD-NOPE-001:x"], ["FINDING_ID", "no finding 'DD-NOPE-001:x'"]),
    (["DD-ENG-002"], ["no finding 'DD-ENG-002'"]),
    (["DD-NOPE-001:x", "--remedies"], ["no finding"]),
    (["DD-NOPE-001:x", "--format", "json"], ["no finding"]),
    (["--rule", "DD-ENG-02"], ["--rule", "no loaded rule 'DD-ENG-02'", "did you mean"]),
    (["--rule", ""], ["--rule", "no loaded rule"]),
    (["--rule", "DD-NOPE", "--remedies"], ["no loaded rule"]),
    (["--rule", "DD-NOPE", "--format", "json"], ["no loaded rule"]),
])
def test_explain_unknown_finding_or_rule(args, words):
    assert_one_line_error(run("explain", ALLY, *args), *words)


@pytest.mark.parametrize("sets, words", [
    (["nope.amount=1"], ["nope"]),
    (["line_items.multinational-exercise.amount=170"], ["did you mean"]),
    (["line_items.multinational-exercises.amout=170"], ["amout"]),
    (["line_items[99].amount=1"], ["no [99]"]),
    (["line_items[-1].amount=1"], ["-1"]),
    (["line_items[0][1]=1"], ["not a list"]),
    (["..=1"], ["empty field path"]),
    (["=1"], ["PATH=VALUE"]),
    (["total.amount"], ["PATH=VALUE"]),
    ([f"{EXERCISES}=-5"], ["expected a number >= 0"]),
    ([f"{EXERCISES}=lots"], ["expected a number"]),
    ([f"{EXERCISES}=1e400"], ["not a finite number"]),
    ([f"{EXERCISES}=nan"], ["finite"]),
    ([f"{EXERCISES}=1e16"], ["1e+15"]),
    (["transparency.secret_share_pct=200"], ["<= 100"]),
    (["line_items[0].category=nope"], ["unknown category 'nope'"]),
    (["line_items[0]=5"], ["expected a mapping"]),
    (["commitments.northern-alliance.status=actve"], ["did you mean 'active'"]),
    (["fiscal_year=1.5"], ["whole number"]),
    ([], ["nothing to change"]),
])
def test_whatif_bad_set(sets, words):
    args = ["whatif", ALLY]
    for assignment in sets:
        args += ["--set", assignment]
    assert_one_line_error(run(*args), *words)


@pytest.mark.parametrize("extra, words", [
    (["--vary", "nope", "--from", "1", "--to", "2"], ["unknown field 'nope'"]),
    (["--vary", "line_items.multinational-exercises.amout", "--from", "1", "--to", "2"],
     ["did you mean 'amount'"]),
    (["--vary", "line_items.nope.amount", "--from", "1", "--to", "2"], ["nope"]),
    (["--vary", "line_items[99].amount", "--from", "1", "--to", "2"], ["no [99]"]),
    (["--vary", "id", "--from", "1", "--to", "2"], ["not a number field"]),
    (["--vary", "line_items", "--from", "1", "--to", "2"], ["not a number field"]),
    (["--vary", "total", "--from", "1", "--to", "2"], ["not a number field"]),
    (["--vary", "", "--from", "1", "--to", "2"], ["field"]),
    (["--vary", EXERCISES, "--from", "nan", "--to", "2"], ["--from", "finite"]),
    (["--vary", EXERCISES, "--from", "1", "--to", "inf"], ["--to", "finite"]),
    (["--vary", EXERCISES, "--from", "-inf", "--to", "1"], ["--from", "finite"]),
])
def test_sweep_bad_vary(extra, words):
    assert_one_line_error(run("sweep", ALLY, *extra), *words)


# --- diplo test: broken test files --------------------------------------------------------------

RULE = ONE_RULE

ITEMS = "line_items: [{id: exercises, category: joint_exercises, amount: 80, prior: 100}]"

BROKEN_TESTS = {
    "yaml-syntax": ("tests: [\n", ["rules.test.yaml", "invalid yaml"]),
    "not-a-mapping": ("- a\n- b\n", ["rules.test.yaml", "expected a mapping"]),
    "no-tests": ("base: {}\n", ["rules.test.yaml", "tests"]),
    "unknown-key": (f"tests:\n  - name: t\n    case: {{{ITEMS}}}\n    expect: [{{rule: S-001}}]\n"
                    "    expct: []\n", ["expct", "did you mean"]),
    "invalid-case": ("tests:\n  - name: t\n    case: {line_items: [{id: x, category: "
                     "joint_exercises, amount: -1}]}\n    expect: [{rule: S-001}]\n",
                     ["case.line_items[0].amount", ">= 0"]),
    "unknown-category": ("tests:\n  - name: t\n    case: {line_items: [{id: x, category: "
                         "nope, amount: 1}]}\n    expect: [{rule: S-001}]\n",
                         ["unknown category 'nope'"]),
    "unknown-rule": (f"tests:\n  - name: t\n    case: {{{ITEMS}}}\n    expect: [{{rule: S-002}}]\n",
                     ["expect[0].rule", "no loaded rule has the id 'S-002'"]),
    "impossible-severity": (f"tests:\n  - name: t\n    case: {{{ITEMS}}}\n"
                            "    absent: [{rule: S-001, severity: high}]\n",
                            ["absent[0].severity", "never 'high'"]),
    "unknown-param": (f"tests:\n  - name: t\n    case: {{{ITEMS}}}\n    params: {{nope: 1}}\n"
                      "    expect: [{rule: S-001}]\n", ["params.nope", "unknown parameter"]),
    "nothing-expected": (f"tests:\n  - name: t\n    case: {{{ITEMS}}}\n",
                         ["expect", "absent"]),
    "duplicate-name": ("tests:\n" + 2 * f"  - name: t\n    case: {{{ITEMS}}}\n"
                                         "    expect: [{rule: S-001}]\n",
                       ["duplicate test name"]),
    "python-tag": ("tests:\n  - name: !!python/object/apply:os.system [echo hi]\n",
                   ["unsupported yaml tag"]),
    "binary": ("tests: \x00\n", ["binary"]),
}


@pytest.mark.parametrize("broken", list(BROKEN_TESTS))
def test_diplo_test_with_a_broken_test_file(broken, tmp_path):
    text, words = BROKEN_TESTS[broken]
    pack = write_pack(tmp_path / "pack", RULE, name="tested")
    (pack / "rules" / "rules.test.yaml").write_text(text, encoding="utf-8")
    assert_one_line_error(run("test", pack), *words)


def test_diplo_test_with_no_test_file(tmp_path):
    pack = write_pack(tmp_path / "pack", RULE, name="tested")
    assert_one_line_error(run("test", pack), "no rule tests found")


# --- usage errors: click's own message, but the same status and an empty stdout ----------------

@pytest.mark.parametrize("args", [
    ["explain"], ["compare", ALLY], ["whatif"], ["sweep", ALLY, "--from", "1", "--to", "2"],
    ["sweep", ALLY, "--vary", EXERCISES, "--from", "x", "--to", "2"],
    ["sweep", ALLY, "--vary", EXERCISES, "--from", "1", "--to", "2", "--steps", "0"],
    ["sweep", ALLY, "--vary", EXERCISES, "--from", "1", "--to", "2", "--steps", "100000"],
    ["explain", ALLY, "--format", "markdown"], ["compare", ALLY, ALLY, "--format", "xml"],
    ["whatif", ALLY, "--fail-on", "severe"], ["rules", "list", "--format", "xml"],
    ["test", "--nope"], ["rules", "nope"], ["nope"], ["schema"], ["schema", "nope"],
    ["assess", ALLY, "-j", "-1"], ["assess", ALLY, "--margin", "11", "--near-miss"],
])
def test_usage_errors_exit_2_with_nothing_on_stdout(args):
    result = run(*args)
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert "Error:" in result.stderr


# --- the files assess reads besides cases, and the file it writes -------------------------------

@pytest.mark.parametrize("extra, words", [
    (["--waivers", "no-such-waivers.yaml"], ["no-such-waivers.yaml", "no such file"]),
    (["--waivers", f"{BAD}/cases/bad-status.yaml"], ["unknown key"]),
    (["--waivers", f"{BAD}/cases/alias-bomb.yaml"], ["200,000 values"]),
    (["--waivers", f"{BAD}/cases/tagged-python-object.yaml"], ["unsupported yaml tag"]),
    (["--waivers", "cases"], ["cases"]),
    (["--waivers", "x.yaml", "--no-waivers"], ["cannot be used together"]),
    (["--baseline", "no-such-report.json"], ["no such file"]),
    (["--baseline", f"{BAD}/cases/invalid-json.json"], ["invalid json"]),
    (["--baseline", ALLY], ["baseline"]),
    (["--baseline", f"{BAD}/cases/json-deep-nesting.json"], ["nesting"]),
    (["-o", "no-such-folder/out.json"], ["folder does not exist"]),
    (["-o", "cases"], ["folder"]),
    (["-j", "2", "--pack", f"{BAD}/packs/bad-semver"], ["version"]),
])
def test_assess_with_a_broken_side_file(extra, words):
    assert_one_line_error(run("assess", ALLY, *extra), *words)


@pytest.mark.parametrize("cases, words", [
    (["no-such-*.yaml"], ["matches no"]),
    ([f"{BAD}/cases/bad-status.yaml", "-j", "2"], ["actve"]),
    (["docs"], ["no .yaml"]),
])
def test_assess_with_no_case_to_assess(cases, words):
    assert_one_line_error(run("assess", *cases), *words)
