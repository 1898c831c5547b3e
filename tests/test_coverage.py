"""What a report could not check (coverage), the figures that look mistyped (plausibility
warnings, and --strict), the analyst's notes, and robustness across the ranges a case states:
each entry and each warning with data, in every output format. The packs are written here, so
that the entries follow from the rules they name, not from the default pack's."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
import yaml

from engine import assess, load_case
from engine.errors import CaseError
from engine.formats import get as get_format
from engine.inputs.plausibility import check
from engine.model import Case

from conftest import CITE, run_cli, write_pack

CATEGORIES = {
    "joint_exercises": {"group": "engagement", "description": "Exercises with partners"},
    "personnel": {"group": "core", "description": "Pay"},
    "peacekeeping": {"group": "engagement", "description": "Missions"},
}
CONCERNS = {"engagement_limited": {"kind": "risk", "description": "Cuts limit engagement"},
            "accountable_spending": {"kind": "strength", "description": "Open spending"}}


def report_rule(id, when, severity="medium", kind="risk", concern="engagement_limited"):
    return {"id": id, "title": f"Rule {id}", "when": when, "citation": CITE,
            "report": {"kind": kind, "severity": severity, "concern": concern,
                       "message": f"{id} fired"}}


RULES = [
    report_rule("C-REAL", [{"fact": "line_item", "where": "real_change_pct <= -10"}]),
    report_rule("C-GDP", [{"fact": "case", "where": "share_of_gdp_pct < 2"}]),
    report_rule("C-THREAT", [{"fact": "case", "where": "threat_environment == 'severe'"}]),
    report_rule("C-SECRET", [{"fact": "transparency", "where": "secret_share_pct > 8"}]),
    report_rule("C-VOL", [{"fact": "case", "where": "volatility_pct > 15"}]),
    report_rule("C-RVOL", [{"fact": "case", "where": "real_volatility_pct > 15"}]),
    report_rule("C-TOTAL", [{"fact": "case", "where": "total_change_pct < -5"}]),
    report_rule("C-LINK", [{"fact": "dependency", "where": "status == 'active'"}]),
    report_rule("C-NATO", [{"fact": "membership", "where": "id == 'nato'"}]),
    report_rule("C-RESERVE", [{"fact": "case", "where": "contingency_mechanism == 'none'"}]),
    # a chain: a derived cut, and a rule that reports on it
    {"id": "C-CUT", "title": "A cut", "citation": CITE,
     "when": [{"fact": "line_item", "as": "item", "where": "change_pct <= -25"}],
     "derive": {"fact": "deep_cut", "fields": {"line": "item.id"}}},
    report_rule("C-DEEP", [{"fact": "deep_cut"}], severity="high"),
]


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    from engine import load_pack
    folder = write_pack(tmp_path_factory.mktemp("coverage") / "pack", RULES,
                        categories=CATEGORIES, concerns=CONCERNS)
    return load_pack(folder)


FULL = {
    "id": "full", "title": "Everything stated", "country": "F", "fiscal_year": 2027,
    "currency": "EUR", "gdp": 10000, "inflation_pct": 2.0, "threat_environment": "low",
    "memberships": ["nato"], "contingency_mechanism": "central_reserve",
    "total": {"amount": 300, "prior": 300},
    "line_items": [{"id": "ex", "category": "joint_exercises", "amount": 100, "prior": 100},
                   {"id": "pay", "category": "personnel", "amount": 200, "prior": 200}],
    "commitments": [{"id": "alliance", "kind": "alliance", "depends_on": ["joint_exercises"]}],
    "transparency": {"budget_publication": "disaggregated", "legislative_review": True,
                     "external_audit": "financial", "audit_reports_published": True,
                     "secret_share_pct": 1, "off_budget_share_pct": 0,
                     "in_year_reporting": True, "civil_society_oversight": True,
                     "audit_opinion": "unqualified", "un_milex_reporting": True,
                     "vienna_document_reporting": True},
    "history": [{"fiscal_year": 2026, "total": 300, "inflation_pct": 2.0}],
}


def case_of(**changes) -> Case:
    data = json.loads(json.dumps(FULL))
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return Case.model_validate(data)


def entries(pack, **changes) -> dict[str, tuple[str, list[str]]]:
    return {e.missing: (e.check, e.rules) for e in assess(case_of(**changes), pack).coverage}


def test_a_case_that_states_everything_has_no_coverage_entry(pack):
    assert entries(pack) == {}


@pytest.mark.parametrize("changes, missing, check, rules", [
    ({"inflation_pct": None}, "inflation_pct", "real_terms", ["C-REAL", "C-RVOL"]),
    ({"gdp": None}, "gdp", "burden_sharing", ["C-GDP"]),
    ({"threat_environment": None}, "threat_environment", "threat", ["C-THREAT"]),
    ({"transparency": {}}, "transparency.secret_share_pct", "transparency", ["C-SECRET"]),
    ({"memberships": None}, "memberships", "memberships", ["C-NATO"]),
    ({"contingency_mechanism": None}, "contingency_mechanism", "contingency", ["C-RESERVE"]),
    ({"commitments": [{"id": "alliance", "kind": "alliance"}]}, "commitments[0].funded_by",
     "commitment_link", ["C-LINK"]),
    ({"history": [{"fiscal_year": 2026, "total": 300}]}, "history[].inflation_pct",
     "real_volatility", ["C-RVOL"]),
])
def test_each_missing_input_names_the_rules_that_read_it(pack, changes, missing, check, rules):
    found = entries(pack, **changes)
    assert found[missing] == (check, rules)


def test_a_line_without_a_prior_reaches_the_rules_of_derived_facts_too(pack):
    line = {"id": "ex", "category": "joint_exercises", "amount": 100}
    found = entries(pack, line_items=[line, FULL["line_items"][1]], total={"amount": 300})
    # C-DEEP matches deep_cut, which C-CUT derives from a line's change
    assert found["line_items[0].prior"] == ("line_change", ["C-DEEP", "C-REAL"])
    assert found["total.prior"] == ("total_change", ["C-TOTAL"])
    assert "line_items[1].prior" not in found


def test_no_prior_at_all_is_one_entry_and_no_history_is_unknown_volatility(pack):
    lines = [{"id": "ex", "category": "joint_exercises", "amount": 100},
             {"id": "pay", "category": "personnel", "amount": 200}]
    found = entries(pack, line_items=lines, total=None, history=None)
    assert found["line_items[].prior"][0] == "line_change"
    assert not any(key.startswith("line_items[0]") for key in found)
    assert found["history"] == ("volatility", ["C-RVOL", "C-VOL"])


def test_an_input_no_loaded_rule_reads_is_not_listed(tmp_pack):
    only_lines = tmp_pack([report_rule("L-1", [{"fact": "line_item",
                                                "where": "amount > 0"}])],
                          categories=CATEGORIES, concerns=CONCERNS)
    assert assess(case_of(gdp=None, inflation_pct=None, transparency={}),
                  only_lines).coverage == []


def test_coverage_is_in_the_json_report_and_absence_is_not_read_as_fine(pack):
    report = json.loads(assess(case_of(transparency={}), pack).to_json())
    assert report["schema_version"] == 2
    secret = [e for e in report["coverage"] if e["missing"] == "transparency.secret_share_pct"]
    assert secret[0]["rules"] == ["C-SECRET"]
    assert "not read as meeting it" in secret[0]["reason"]


# --- plausibility -------------------------------------------------------------------------

@pytest.mark.parametrize("changes, code, path, words", [
    ({"inflation_pct": 0.025}, "inflation_fraction", "inflation_pct", ["0.025%", "2.5"]),
    ({"history": [{"fiscal_year": 2026, "total": 300, "inflation_pct": 0.3}]},
     "inflation_fraction", "history[0].inflation_pct", ["0.3%"]),
    ({"gdp": 300}, "gdp_share_high", "gdp", ["100% of GDP", "unit (million)"]),
    ({"gdp": 1e9}, "gdp_share_low", "gdp", ["of GDP", "unit"]),
    ({"total": {"amount": 3000, "prior": 300}, "gdp": 100000}, "items_far_below_total",
     "total.amount",
     ["10.0% of the stated total"]),
    ({"total": {"amount": 300, "prior": 3000}}, "priors_far_below_prior_total", "total.prior",
     ["prior amounts add up to 10.0%"]),
    ({"line_items": [{"id": "ex", "category": "joint_exercises", "amount": 100, "prior": 0},
                     {"id": "pay", "category": "personnel", "amount": 200, "prior": 200}],
      "total": {"amount": 300}}, "zero_prior", "line_items[0].prior",
     ["prior of 0", "change_reason: new_programme"]),
])
def test_each_implausible_figure_gets_a_warning(pack, changes, code, path, words):
    warnings = check(case_of(**changes))
    assert [(w.code, w.path) for w in warnings] == [(code, path)]
    assert all(word in warnings[0].message for word in words), warnings[0].message
    assert [w.code for w in assess(case_of(**changes), pack).warnings] == [code]
    # --strict refuses the case, naming the figure
    with pytest.raises(CaseError) as refused:
        assess(case_of(**changes), pack, strict=True)
    assert refused.value.path == path and "implausible" in refused.value.message


def test_plausible_figures_give_no_warning(pack):
    assert check(case_of()) == []
    # real inflation under 1% is possible: a case accepts the warning once checked
    accepted = check(case_of(inflation_pct=0.4, accept_warnings=["inflation_fraction"]))
    assert [(w.code, w.accepted) for w in accepted] == [("inflation_fraction", True)]
    assess(case_of(inflation_pct=0.4, accept_warnings=["inflation_fraction"]), pack,
           strict=True)
    # a new line says so
    lines = [{"id": "ex", "category": "joint_exercises", "amount": 100, "prior": 0,
              "change_reason": "new_programme"}]
    assert check(case_of(line_items=lines, total=None)) == []


def test_gdp_in_billions_with_a_budget_in_millions_is_caught(pack):
    # the trial's mistake: GDP in billions made a budget 2003% of GDP and passed the 2% check
    warnings = check(case_of(gdp=15, total={"amount": 300, "prior": 300}))
    assert warnings[0].code == "gdp_share_high" and "2,000% of GDP" in warnings[0].message


def write_case(folder, data, name="case.yaml"):
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_warnings_go_to_stderr_and_strict_makes_them_errors(tmp_path, pack):
    data = json.loads(json.dumps(FULL))
    data["inflation_pct"] = 0.025
    path = write_case(tmp_path, data)
    args = ["assess", str(path), "--format", "json", "--no-waivers"]
    result = run_cli(*args, "--pack", _pack_dir(pack))
    assert result.exit_code in (0, 1)
    assert result.stderr.startswith(f"diplo: warning: {path}:")
    assert "inflation_pct: inflation of 0.025% looks like a fraction" in result.stderr
    assert result.stderr.count("\n") == 1
    assert json.loads(result.stdout)["warnings"][0]["code"] == "inflation_fraction"
    strict = run_cli(*args, "--pack", _pack_dir(pack), "--strict")
    assert (strict.exit_code, strict.stdout) == (2, "")
    assert strict.stderr.startswith(f"diplo: error: {path}:") and "implausible" in strict.stderr


def _pack_dir(pack) -> str:
    return str(pack.packs[0].root)


# --- every output format -----------------------------------------------------------------

def test_every_format_shows_what_could_not_be_checked_and_the_warnings(pack):
    report = assess(case_of(gdp=None, inflation_pct=0.025), pack)
    table = get_format("table").reports([report])
    assert "Could not check:\n  gdp: GDP is not stated" in table
    assert "Warnings (figures that look mistyped):\n  inflation_pct:" in table
    memo = get_format("markdown").reports([report])
    assert "## Not checked (1)" in memo and "`gdp`" in memo
    assert "## Figures that look mistyped (1)" in memo
    sarif = json.loads(get_format("sarif").reports([report]))
    case = sarif["runs"][0]["properties"]["cases"][0]
    assert [e["missing"] for e in case["coverage"]] == ["gdp"]
    assert [w["code"] for w in case["warnings"]] == ["inflation_fraction"]
    junit = ET.fromstring(get_format("junit").reports([report], rules=[]))
    props = [(p.get("name"), p.get("value")) for p in junit.iter("property")]
    assert ("not-checked", "gdp: " + report.coverage[0].reason + " (rules: C-GDP)") in props
    assert any(name == "warning" and value.startswith("inflation_pct:") for name, value in props)
    assert json.loads(get_format("json").reports([report]))["coverage"][0]["missing"] == "gdp"
    github = get_format("github").reports([report])
    assert "::notice title=not checked%3A gdp::gdp: GDP is not stated" in github
    assert "::warning title=figure that looks mistyped%3A inflation_pct::" in github


def test_sources_and_notes_are_carried_into_the_report(pack):
    data = json.loads(json.dumps(FULL))
    data.update(fiscal_year="2027-28", sources=["SIPRI, 2025"], notes="Approximate")
    data["line_items"][0].update(sources=["Budget book p. 12"])
    data["commitments"][0].update(notes="Renewed in 2024")
    report = assess(Case.model_validate(data), pack)
    assert report.notes.fiscal_year_label == "2027-28" and report.case.fiscal_year == 2027
    assert report.notes.sources == ["SIPRI, 2025"] and report.notes.notes == "Approximate"
    assert [(s.id, s.field, s.sources, s.notes) for s in report.notes.subjects] == [
        ("ex", "line_items[0]", ["Budget book p. 12"], None),
        ("alliance", "commitments[0]", [], "Renewed in 2024")]
    assert "Sources: SIPRI, 2025" in get_format("table").reports([report])
    assert "notes" not in json.loads(assess(case_of(), pack).to_json())


# --- robustness across stated ranges -----------------------------------------------------

def test_a_finding_that_flips_inside_a_range_says_where(pack):
    # exercises fall from 100 to 91: -10.8% in real terms at 2% inflation, a cut of at least
    # 10% (C-REAL) only while inflation is above 1.1% (91 / 1.011 = 90.0)
    lines = [{"id": "ex", "category": "joint_exercises", "amount": 91, "prior": 100},
             {"id": "pay", "category": "personnel", "amount": 209, "prior": 200}]
    case = case_of(line_items=lines, inflation_pct={"value": 2.0, "range": [0.5, 3.0]})
    report = assess(case, pack)
    fid = "C-REAL:ex"
    assert fid in {f.id for f in report.findings}
    robust = {f.finding: f for f in report.robustness.findings}
    assert [(r.field, r.value, r.low, r.high) for r in report.robustness.ranges] == [
        ("inflation_pct", 2.0, 0.5, 3.0)]
    entry = robust[fid]
    assert (entry.reported, entry.holds) == (True, False)
    [switch] = entry.switches
    assert (switch.field, switch.before, switch.after) == ("inflation_pct", None, "medium")
    assert switch.at == pytest.approx(1.12, abs=0.011) and switch.last_before < switch.at
    assert "depends on where the truth lies" in get_format("table").reports([report])


def test_a_finding_that_holds_across_its_range_says_so(pack):
    lines = [{"id": "ex", "category": "joint_exercises", "amount": {"value": 50,
                                                                    "approximate": True},
              "prior": 100},
             {"id": "pay", "category": "personnel", "amount": 200, "prior": 200}]
    report = assess(case_of(line_items=lines, total={"amount": 300, "prior": 300}), pack)
    assert report.robustness.ranges[0].field == "line_items[0].amount"
    assert (report.robustness.ranges[0].low, report.robustness.ranges[0].high) == (45, 55)
    robust = {f.finding: f for f in report.robustness.findings}
    assert robust["C-REAL:ex"].holds and robust["C-REAL:ex"].switches == []
    assert robust["C-DEEP:ex"].holds
    assert report.robustness.verdicts == ["fail"]
    memo = get_format("markdown").reports([report])
    assert "**Robustness:** holds across the stated ranges" in memo


def test_a_case_without_ranges_has_no_robustness(pack):
    report = assess(case_of(), pack)
    assert report.robustness is None
    assert "robustness" not in json.loads(report.to_json())


def test_load_case_reads_estimates_from_a_file(tmp_path, pack):
    data = json.loads(json.dumps(FULL))
    data["gdp"] = {"value": 10000, "range": [9000, 11000]}
    case = load_case(write_case(tmp_path, data), pack)
    assert case.gdp == 10000 and case.ranges() == {"gdp": (9000, 11000)}
