"""What-if analyses: compare, whatif and sweep, through the library and the command line.

Every expectation about a finding is checked against a fresh `assess` of the changed case, so
these tests pin the analyses to the compiled rules rather than to numbers written here.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from engine import assess, formats, load_case, load_pack
from engine.analysis.edit import with_values
from engine.errors import UsageError
from engine.analysis.sweep import sweep
from engine.analysis.whatif import Assessment, compare, compare_assessments, whatif

from conftest import BASE_CASE, make_case, param, rule, run_cli, write_pack

ROOT = Path(__file__).resolve().parent.parent
ALLY = "cases/ally-trims-exercises.yaml"
EXERCISES = "line_items.multinational-exercises.amount"
# the risk of the deep cut to multinational-exercises, which an active alliance relies on
DEEP_CUT = "DD-COM-014:northern-alliance/joint_exercises+multinational-exercises"


pytestmark = pytest.mark.usefixtures("in_repo")


@pytest.fixture(scope="module")
def pack():
    return load_pack()


@pytest.fixture(scope="module")
def ally(pack):
    return load_case(ROOT / ALLY, pack)


run = run_cli


def ally_variant(tmp_path: Path, name: str, change) -> str:
    data = yaml.safe_load((ROOT / ALLY).read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return str(path)


def restore_exercises(data):
    # the stated total must still cover the line items
    line = next(item for item in data["line_items"] if item["id"] == "multinational-exercises")
    line["amount"] = 180
    data["total"]["amount"] = 11500


def finding_ids(case, pack) -> set[str]:
    return {f.id for f in assess(case, pack).findings}


# --- compare ----------------------------------------------------------------------------------

def test_compare_finds_the_resolved_cut_and_its_cause(tmp_path, pack, ally):
    restored = load_case(ally_variant(tmp_path, "restored.yaml", restore_exercises), pack)
    result = compare(ally, restored, pack)

    resolved = {c.id: c for c in result.resolved}
    assert DEEP_CUT in resolved and not result.changed
    # the only new findings are those the base folded into a finding now resolved (the
    # presence cut's risk to the alliance, an effect of the credibility finding)
    folded = {e.id for f in assess(ally, pack).findings if f.id in resolved for e in f.effects}
    assert result.new and {c.id for c in result.new} <= folded
    deep = resolved[DEEP_CUT]
    assert (deep.change, deep.base_severity, deep.proposal_severity) == (
        "resolved", "high", None)
    # the finding weighs the cut against the whole budget, so the total is a cause too; the
    # other line items are not
    assert [(c.path, c.base, c.proposal) for c in deep.causes] == [
        ("total.amount", 11400, 11500), (EXERCISES, 95, 180)]
    # the cause is found through the derived fact: the finding itself reads no case field
    assert EXERCISES in deep.inputs
    assert set(resolved) == finding_ids(ally, pack) - finding_ids(restored, pack)
    assert result.unchanged == len(finding_ids(ally, pack) & finding_ids(restored, pack))
    # a gate at medium counts the presence risk that stands alone now as new
    assert result.fails("medium") and not result.fails("high")


def test_compare_matches_lines_by_id_not_position(tmp_path, pack, ally):
    reordered = load_case(ally_variant(
        tmp_path, "reordered.yaml", lambda d: d["line_items"].reverse()), pack)
    result = compare(ally, reordered, pack)
    assert (result.new, result.resolved, result.changed) == ([], [], [])


def test_a_line_in_one_case_only_shows_as_absent(tmp_path, pack, ally):
    def drop_aid(data):
        data["line_items"] = [i for i in data["line_items"] if i["id"] != "partner-aid"]
    result = compare(ally, load_case(ally_variant(tmp_path, "no-aid.yaml", drop_aid), pack),
                     pack)
    aid = next(c for c in result.resolved if c.id == "DD-PAR-010:partner-aid")
    assert [(c.path, c.proposal) for c in aid.causes] == [("line_items.partner-aid", None)]
    assert aid.causes[0].base["amount"] == 120


def test_a_finding_that_rests_on_an_absence_is_traced_to_the_entries_that_came(tmp_path, pack,
                                                                              ally):
    # DD-ALL-001 fires when no line funds a channel of diplomacy: it rests on the whole list
    # of line items, and the difference is the line that was added
    def add_attaches(data):
        data["line_items"].append({"id": "attaches", "category": "defense_attaches",
                                   "amount": 20, "prior": 20})
        data["total"] = {"amount": data["total"]["amount"] + 20,
                         "prior": data["total"]["prior"] + 20}
    result = compare(ally, load_case(ally_variant(tmp_path, "att.yaml", add_attaches), pack),
                     pack)
    [resolved] = [c for c in result.resolved if c.id == "DD-ALL-001"]
    assert [(c.path, c.base) for c in resolved.causes] == [("line_items.attaches", None)]
    assert resolved.causes[0].proposal["category"] == "defense_attaches"


def test_compare_needs_explained_reports(pack, ally):
    plain = Assessment(ally, pack, assess(ally, pack))
    with pytest.raises(UsageError, match="explain=True"):
        compare_assessments(plain, plain)


def test_compare_command(tmp_path):
    restored = ally_variant(tmp_path, "restored.yaml", restore_exercises)
    result = run("compare", ALLY, restored)
    assert (result.exit_code, result.stderr) == (0, "")
    assert "Resolved (2):" in result.stdout and "New (1):" in result.stdout
    assert f"{EXERCISES}: 95 -> 180" in result.stdout

    data = json.loads(run("compare", ALLY, restored, "--format", "json").stdout)
    deep = next(c for c in data["resolved"] if c["id"] == DEEP_CUT)
    assert deep["causes"] == [{"path": "total.amount", "base": 11400.0, "proposal": 11500.0},
                              {"path": EXERCISES, "base": 95.0, "proposal": 180.0}]

    markdown = run("compare", ALLY, restored, "--format", "markdown")
    assert markdown.exit_code == 0
    assert f"| high | `{DEEP_CUT}` |" in markdown.stdout


def test_compare_exit_status_follows_new_risks(tmp_path):
    restored = ally_variant(tmp_path, "restored.yaml", restore_exercises)
    # the other way round the proposal brings a new critical risk
    worse = run("compare", restored, ALLY)
    assert (worse.exit_code, worse.stderr) == (1, "")
    assert "New (2):" in worse.stdout
    assert run("compare", restored, ALLY, "--fail-on", "critical").exit_code == 1
    assert run("compare", restored, ALLY, "--exit-zero").exit_code == 0
    # the proposal still has high risks, but none new: the base already had them
    assert run("compare", ALLY, ALLY).exit_code == 0


def test_compare_bad_input_exits_2(tmp_path):
    result = run("compare", ALLY, str(tmp_path / "missing.yaml"))
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith("diplo: error:") and result.stderr.count("\n") == 1


def test_a_format_without_comparisons_says_so(monkeypatch):
    class Plain:
        name, description = "plain", "reports only"
    monkeypatch.setitem(formats._REGISTRY, "plain", Plain())
    with pytest.raises(UsageError, match="format plain cannot show a comparison"):
        formats.renderer("plain", "comparison")


# --- whatif -----------------------------------------------------------------------------------

def test_whatif_restoring_the_cut_clears_the_flag(pack, ally):
    sets = {EXERCISES: 170, "total.amount": 11500}
    result = whatif(ally, pack, sets)
    assert DEEP_CUT in {c.id for c in result.resolved}
    assert [(e.path, e.base, e.proposal) for e in result.edits] == [
        (EXERCISES, 95, 170), ("total.amount", 11400, 11500)]
    # the same change, assessed directly, agrees
    assert DEEP_CUT not in finding_ids(with_values(ally, sets), pack)
    assert DEEP_CUT in finding_ids(ally, pack)


def test_whatif_command(pack, ally):
    result = run("whatif", ALLY, "--set", f"{EXERCISES}=170", "--set", "total.amount=11500")
    assert (result.exit_code, result.stderr) == (0, "")
    assert f"What if: {EXERCISES}: 95 -> 170; total.amount: 11400 -> 11500" in result.stdout
    resolved = result.stdout.split("Resolved")[1].split("Changed in severity")[0]
    assert DEEP_CUT in resolved
    assert DEEP_CUT not in finding_ids(
        with_values(ally, {EXERCISES: 170, "total.amount": 11500}), pack)


def test_whatif_positional_path_is_shown_by_id():
    result = run("whatif", ALLY, "--set", "line_items[3].amount=170", "--set",
                 "total.amount=11500", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["edits"][0]["path"] == EXERCISES


def test_whatif_invalid_path_says_did_you_mean():
    result = run("whatif", ALLY, "--set", "line_items.multinational-exercise.amount=170")
    assert (result.exit_code, result.stdout) == (2, "")
    assert "did you mean 'multinational-exercises'" in result.stderr
    result = run("whatif", ALLY, "--set", "transparency.secret_share=1")
    assert result.exit_code == 2 and "did you mean 'secret_share_pct'" in result.stderr


def test_whatif_rejects_an_invalid_value_and_an_empty_change():
    result = run("whatif", ALLY, "--set", f"{EXERCISES}=-5")
    assert (result.exit_code, result.stdout) == (2, "")
    assert "expected a number >= 0" in result.stderr
    result = run("whatif", ALLY)
    assert result.exit_code == 2 and "nothing to change" in result.stderr


def test_whatif_parameters_are_causes(pack, ally):
    result = whatif(ally, pack, params={"deep_cut_pct": 60})
    deep = next(c for c in result.resolved if c.id == DEEP_CUT)
    assert [(p.name, p.base, p.proposal) for p in deep.parameter_causes] == [
        ("defense-diplomacy.deep_cut_pct", 25, 60)]
    assert "DD-COM-010:northern-alliance/joint_exercises+multinational-exercises" in {
        c.id for c in result.new}
    assert DEEP_CUT not in finding_ids(ally, load_pack(pack.packs[0].root,
                                                       params={"deep_cut_pct": 60}))
    cli = run("whatif", ALLY, "--param", "deep_cut_pct=60")
    assert cli.exit_code == 0
    assert "parameter defense-diplomacy.deep_cut_pct: 25 -> 60" in cli.stdout


# --- sweep ------------------------------------------------------------------------------------

def test_sweep_finds_a_switch_between_steps_by_bisection(pack, ally):
    result = sweep(ally, pack, EXERCISES, 80, 150, 7)
    assert [r.value for r in result.rows] == [80, 90, 100, 110, 120, 130, 140, 150]
    # every step is a plain assessment of the changed case
    for row in result.rows[::3]:
        assert set(row.findings) == finding_ids(with_values(ally, {EXERCISES: row.value}),
                                                pack)
    switch = next(s for s in result.switches if s.finding == DEEP_CUT)
    assert (switch.before, switch.after) == ("high", None)
    # a cut under 25% in real terms: 180 * 1.03 * 0.75 = 139.05
    assert 130 < switch.last_before < switch.at < 140
    assert switch.at - switch.last_before <= result.tolerance + 1e-9
    assert DEEP_CUT in finding_ids(with_values(ally, {EXERCISES: switch.last_before}), pack)
    assert DEEP_CUT not in finding_ids(with_values(ally, {EXERCISES: switch.at}), pack)


def test_sweep_downwards_finds_the_same_points(pack, ally):
    up = sweep(ally, pack, EXERCISES, 80, 150, 7)
    down = sweep(ally, pack, EXERCISES, 150, 80, 7)
    assert [r.value for r in down.rows] == [r.value for r in reversed(up.rows)]
    points = {s.finding: s.at for s in up.switches}
    for switch in down.switches:
        assert abs(switch.at - points[switch.finding]) <= 2 * up.tolerance
        assert switch.last_before > switch.at


def test_sweep_reports_invalid_steps_without_failing(pack, ally):
    result = sweep(ally, pack, EXERCISES, -20, 40, 3)
    first = result.rows[0]
    assert (first.value, first.findings) == (-20, None)
    assert "expected a number >= 0" in first.error
    assert all(r.error is None for r in result.rows[1:])


def test_sweep_command(tmp_path):
    result = run("sweep", ALLY, "--vary", EXERCISES, "--from", "-20", "--to", "150",
                 "--steps", "5")
    assert (result.exit_code, result.stderr) == (0, "")
    assert "error: " in result.stdout and "Switches (by bisection" in result.stdout
    data = json.loads(run("sweep", ALLY, "--vary", "transparency.secret_share_pct", "--from",
                          "0", "--to", "12", "--steps", "6", "--format", "json").stdout)
    assert len(data["rows"]) == 7
    ids = {f["id"] for f in data["findings"]}
    assert all(s["finding"] in ids for s in data["switches"])


def test_sweep_bad_paths_exit_2():
    result = run("sweep", ALLY, "--vary", "line_items.multinational-exercises.amout",
                 "--from", "0", "--to", "1")
    assert (result.exit_code, result.stdout) == (2, "")
    assert "did you mean 'amount'" in result.stderr
    result = run("sweep", ALLY, "--vary", "line_items.multinational-exercises.category",
                 "--from", "0", "--to", "1")
    assert result.exit_code == 2 and "not a number field" in result.stderr


# --- a pack other than the default ------------------------------------------------------------

USER_RULES = [
    rule("T-001", [{"fact": "line_item", "as": "item",
                    "where": "category == 'joint_exercises' and real_change_pct <= -$cut"}],
         derive={"fact": "trimmed", "fields": {"line": "item.id"}}),
    rule("T-002", [{"fact": "trimmed", "as": "t"}],
         report={"severity": "high", "message": "{t.line} is trimmed"}),
]


def test_the_analyses_work_with_a_user_pack(tmp_path):
    folder = write_pack(tmp_path / "user-pack", USER_RULES, name="user-pack",
                        parameters={"cut": param(15)})
    pack = load_pack(folder)
    case = make_case()   # exercises 80, prior 100, inflation 2%: a 21.6% real cut
    assert finding_ids(case, pack) == {"T-002:exercises"}

    restored = whatif(case, pack, {"line_items.exercises.amount": 95})
    assert [c.id for c in restored.resolved] == ["T-002:exercises"]
    assert [(c.path, c.base, c.proposal) for c in restored.resolved[0].causes] == [
        ("line_items.exercises.amount", 80, 95)]

    relaxed = whatif(case, pack, params={"cut": 30})
    assert [(p.name, p.base, p.proposal) for p in relaxed.resolved[0].parameter_causes] == [
        ("user-pack.cut", 15, 30)]

    result = sweep(case, pack, "line_items.exercises.amount", 70, 100, 6)
    (switch,) = result.switches
    # the line's prior in this year's money is 102; a 15% real cut ends at 86.7
    assert 85 < switch.last_before < switch.at < 90
    assert finding_ids(with_values(case, {"line_items.exercises.amount": switch.at}),
                       pack) == set()
    assert finding_ids(with_values(case, {"line_items.exercises.amount": switch.last_before}),
                       pack) == {"T-002:exercises"}

    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump(BASE_CASE, sort_keys=False), encoding="utf-8")
    cli = run("whatif", str(path), "--pack", str(folder), "--set",
              "line_items.exercises.amount=95")
    assert (cli.exit_code, cli.stderr) == (0, "")
    assert "T-002:exercises" in cli.stdout
    assert "line_items.exercises.amount: 80 -> 95" in cli.stdout
    cli = run("compare", str(path), str(path), "--pack", str(folder))
    assert cli.exit_code == 0 and "Unchanged: 1 finding " in cli.stdout


def test_the_markdown_format_also_shows_reports_and_rules():
    # every registered format is offered to `assess` and `rules list`, so markdown has both
    result = run("assess", ALLY, "--format", "markdown", "--exit-zero")
    assert (result.exit_code, result.stderr) == (0, "")
    # reports render as a reviewer's memo (tests/test_formats_review.py), verdict first
    assert result.stdout.startswith("# Assessment: Country A, FY2027 defence budget proposal\n"
                                    "\n**Verdict: FAIL (1 critical, ")
    assert re.search(r"^### [A-Z][a-z ]+ \(\d+\)\n\n- \*\*critical\*\*: ", result.stdout, re.M)
    rules = run("rules", "list", "--format", "markdown")
    assert rules.exit_code == 0 and "| DD-ENG-003 | risk | high |" in rules.stdout


def test_a_severity_changed_by_another_pack_version_is_a_change(tmp_path):
    def version(folder, severity):
        return load_pack(write_pack(tmp_path / folder, [
            rule("T-001", [{"fact": "line_item", "where": "category == 'joint_exercises' and "
                                                          "real_change_pct <= -10"}],
                 report={"severity": severity})], name="user-pack"))
    old, new = version("v1", "medium"), version("v2", "high")
    case = make_case()
    result = compare(case, case, old, proposal_pack=new)
    (changed,) = result.changed
    assert (changed.change, changed.base_severity, changed.proposal_severity) == (
        "more_severe", "medium", "high")
    assert result.fails("high") and not compare(case, case, new, proposal_pack=old).fails("low")
    assert "medium -> high" in formats.get("table").comparison(result)
