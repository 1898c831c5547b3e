"""The second example pack, rules/transparency-plus: a stricter transparency pack that extends
the default one (2.x). Loaded by folder (`--pack rules/transparency-plus`) and by name through
the installed entry point (`--pack transparency-plus`); its rule tests run and cover every rule;
what it changes in the default pack (severities, a disabled rule) shows in reports, and its own
transparency risks are listed with the default pack's, one finding per case.

stdout, stderr and the exit status are checked separately.
"""
from __future__ import annotations

import json

import pytest
import yaml

from engine import load_pack

from engine.authoring import packtest

from conftest import DEFAULT_PACK, ROOT, run_cli

pytestmark = pytest.mark.usefixtures("in_repo")

PACK = ROOT / "rules" / "transparency-plus"
FOLDER = "rules/transparency-plus"
NAME = "transparency-plus"
CASES = sorted(f"cases/{p.name}" for p in (ROOT / "cases").glob("*.yaml"))
AGGREGATE = "cases/aggregate-publication.yaml"       # aggregate, finances-only audit, 3% off budget
BALANCED = "cases/balanced-partner.yaml"             # every transparency arrangement in place
NO_RESERVE = "cases/no-crisis-reserve.yaml"          # no in-year reporting, 1% off budget
OWN_RULES = {"TP-AUD-001", "TP-AUD-002", "TP-PUB-001", "TP-OFF-001", "TP-SEC-001",
             "TP-ACC-001"}
RAISED = {"DD-TRA-002": ("medium", "high"), "DD-TRA-005": ("low", "medium"),
          "DD-TRA-030": ("low", "medium")}


def manifest(folder):
    return yaml.safe_load((folder / "pack.yaml").read_text(encoding="utf-8"))


def assess(*args) -> tuple[object, dict | list]:
    """`diplo assess ... --format json`: the result, and the report read from stdout."""
    result = run_cli("assess", *args, "--format", "json")
    assert result.exit_code in (0, 1), result.stderr   # 1: a case fails the gate
    assert result.stderr == ""
    return result, json.loads(result.stdout)


def findings(report: dict) -> dict[str, dict]:
    return {f["id"]: f for f in report["findings"]}


def folded(report: dict) -> dict[str, dict]:
    """Every finding of a report by id, those folded into another (its `effects`) too."""
    every = findings(report)
    for finding in report["findings"]:
        every.update((effect["id"], effect) for effect in finding["effects"])
    return every


def rules_of(report: dict) -> set[str]:
    return {f["rule"] for f in folded(report).values()}


def case_with(tmp_path, name: str, **transparency) -> str:
    """balanced-partner.yaml with some transparency arrangements changed, as a file."""
    data = yaml.safe_load((ROOT / BALANCED).read_text(encoding="utf-8"))
    data["id"] = name
    data["transparency"] = {**data["transparency"], **transparency}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return str(path)


# --- loading ----------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", [FOLDER, NAME], ids=["folder", "name"])
def test_the_pack_loads_with_its_base(spec):
    result = run_cli("rules", "list", "--pack", spec, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    rules = {r["id"]: r for r in json.loads(result.stdout)}
    assert OWN_RULES <= set(rules)
    assert {rules[r]["pack"] for r in OWN_RULES} == {NAME}
    assert "DD-TRA-001" in rules and rules["DD-TRA-001"]["pack"] == "defense-diplomacy"
    assert "DD-TRA-050" not in rules                      # disabled by the pack
    for rule_id, (_, raised) in RAISED.items():
        assert rules[rule_id]["severity"] == raised


@pytest.mark.parametrize("spec", [FOLDER, NAME], ids=["folder", "name"])
def test_the_report_names_both_packs_base_first(spec):
    result, report = assess("--pack", spec, AGGREGATE)
    assert result.exit_code == 1                          # DD-TRA-002 is high in this pack
    base, own = manifest(DEFAULT_PACK), manifest(PACK)
    assert [(p["name"], p["version"]) for p in report["packs"]] == [
        (base["name"], base["version"]), (own["name"], own["version"])]
    assert own["extends"]["pack"] == base["name"]


def test_the_same_findings_through_the_folder_and_the_name():
    _, by_folder = assess("--pack", FOLDER, *CASES)
    _, by_name = assess("--pack", NAME, *CASES)
    assert len(by_folder) == len(CASES)
    assert by_folder == by_name
    # and the pack changes something on these cases, so that the comparison means something
    _, default = assess(*CASES)
    assert by_folder != default


# --- its rule tests ---------------------------------------------------------------------------

def test_its_rule_tests_all_pass():
    outcomes = packtest.run_pack_tests([FOLDER])
    assert len(outcomes) == len(packtest.collect(PACK)) > 0
    # only this pack's tests run: the default pack's are not asked to hold under its changes
    assert {o.file for o in outcomes} == {f"{FOLDER}/rules/scrutiny.test.yaml"}
    failed = [packtest.format_failure(o) for o in outcomes if not o.passed]
    assert not failed, "\n".join(failed)


def test_every_rule_of_the_pack_has_a_test_where_it_fires_and_one_where_it_must_not():
    pack = load_pack(PACK)
    assert {r.id for r in pack.rules if r.pack == NAME} == OWN_RULES
    assert packtest.untested_rules(pack, packtest.collect(PACK), pack_names=[NAME]) == []


@pytest.mark.parametrize("spec", [FOLDER, NAME], ids=["folder", "name"])
def test_diplo_test_runs_the_rule_tests(spec):
    result = run_cli("test", spec)
    assert result.exit_code == 0, result.stdout
    assert result.stderr == ""
    assert result.stdout == f"{len(packtest.collect(PACK))} passed, 0 failed\n"


# --- what it changes in the default pack ------------------------------------------------------

@pytest.mark.parametrize("rule_id, transparency", [
    ("DD-TRA-002", {"budget_publication": "aggregate"}),
    ("DD-TRA-005", {"external_audit": "financial"}),
    ("DD-TRA-030", {"in_year_reporting": False}),
])
def test_severity_overrides_show_in_findings(tmp_path, rule_id, transparency):
    was, now = RAISED[rule_id]
    case = case_with(tmp_path, rule_id.lower(), **transparency)
    _, strict = assess("--pack", FOLDER, case)
    _, default = assess(case)
    assert findings(strict)[rule_id]["severity"] == now
    assert findings(strict)[rule_id]["severity_override"] == {"default": was, "by": f"pack {NAME}"}
    assert findings(default)[rule_id]["severity"] == was
    assert not findings(default)[rule_id].get("severity_override")


def test_raised_severities_hold_for_findings_folded_into_another():
    _, strict = assess("--pack", FOLDER, AGGREGATE, NO_RESERVE)
    _, default = assess(AGGREGATE, NO_RESERVE)
    seen = set()
    for mine, theirs in zip(strict, default):
        for rule_id, (was, now) in RAISED.items():
            if rule_id in folded(mine):
                seen.add(rule_id)
                assert folded(mine)[rule_id]["severity"] == now
                assert folded(theirs)[rule_id]["severity"] == was
    assert seen == set(RAISED)


def test_severities_it_does_not_override_keep_the_default():
    _, strict = assess("--pack", FOLDER, NO_RESERVE)
    _, default = assess(NO_RESERVE)
    for rule_id in ("DD-TRA-006", "DD-TRA-011"):
        assert folded(strict)[rule_id]["severity"] == folded(default)[rule_id]["severity"]
        assert not folded(strict)[rule_id].get("severity_override")


def test_its_transparency_risks_are_one_finding_with_the_default_packs():
    # a budget neither published by programme nor reported in-year (TP-PUB-001), beside the
    # default pack's critical scrutiny failures
    _, strict = assess("--pack", FOLDER, "cases/opaque-sector.yaml")
    _, default = assess("cases/opaque-sector.yaml")
    (gap,) = [f for f in strict["findings"] if f["concern"] == "transparency_gap"]
    assert gap["cause"] == "scrutiny"
    assert "TP-PUB-001" in {e["rule"] for e in gap["effects"]}
    assert strict["summary"]["risks"] == default["summary"]["risks"]


def test_the_disabled_rule_never_appears_and_its_replacement_does():
    _, default = assess(BALANCED)
    assert "DD-TRA-050" in rules_of(default)
    _, strict = assess("--pack", FOLDER, *CASES)
    assert all("DD-TRA-050" not in rules_of(report) for report in strict)
    assert "TP-ACC-001" in rules_of(next(r for r in strict if r["case"]["id"]
                                         == default["case"]["id"]))


def test_spending_outside_the_budget_within_pefas_best_band_is_reported_unless_tolerated(
        tmp_path):
    # 0.5% of the budget spent outside it: PEFA's best band, which the default pack leaves alone
    case = case_with(tmp_path, "half-a-percent-off-budget", off_budget_share_pct=0.5)
    _, default = assess(case)
    assert not {"DD-TRA-022", "TP-OFF-001"} & rules_of(default)
    assert "DD-TRA-050" in rules_of(default)
    _, strict = assess("--pack", FOLDER, case)
    finding = folded(strict)["TP-OFF-001"]
    assert finding["severity"] == "low"
    assert findings(strict)["TP-OFF-001"]["parameters"]["off_budget_tolerance_pct"] == 0
    assert "TP-ACC-001" not in rules_of(strict)
    _, tolerant = assess("--pack", FOLDER, case, "--param", "off_budget_tolerance_pct=1")
    assert "TP-OFF-001" not in rules_of(tolerant)
    assert "TP-ACC-001" in rules_of(tolerant)


def test_loading_it_leaves_the_default_pack_unchanged():
    strict = {r.id: r for r in load_pack(PACK).rules}
    default = {r.id: r for r in load_pack().rules}
    for rule_id, (was, now) in RAISED.items():
        assert strict[rule_id].report.severity == now
        assert default[rule_id].report.severity == was
    assert "DD-TRA-050" in default and "DD-TRA-050" not in strict
    assert not OWN_RULES & set(default)


def test_it_changes_no_parameter_of_the_default_pack():
    # PEFA's and the GDI's bands are published benchmarks the default pack's messages name
    assert "parameters" not in manifest(PACK).get("overrides", {})
    base = load_pack().parameters["defense-diplomacy"]
    mine = load_pack(PACK).parameters["defense-diplomacy"]
    assert {n: p.value for n, p in mine.items()} == {n: p.value for n, p in base.items()}


def test_it_extends_the_default_pack_of_this_major_version():
    base, own = manifest(DEFAULT_PACK), manifest(PACK)
    major = int(base["version"].split(".")[0])
    assert own["extends"]["version"] == f">={major}.0,<{major + 1}"
