"""Case format 1.1: every 1.0 case stays valid and gives identical facts (checked against a
frozen copy of the 1.0 facts function and of the example cases' facts, taken before 1.1), and
what 1.1 adds reaches the facts rules read: estimates, fiscal year labels, links from
commitments to lines, programmes, reasons, financing, guidelines, per-line history."""
from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import facts_1_0
from engine import load_case, load_pack
from engine.core.facts import case_facts
from engine.errors import CaseError
from engine.lang.kinds import BASE_SCHEMAS
from engine.model import Case

from conftest import ROOT
from test_properties import TIMING, case_dicts

FROZEN = json.loads((ROOT / "tests" / "data" / "facts-1.0" / "cases.json").read_text())
GROUPS_1_0: dict[str, str] = FROZEN["groups"]
CATEGORIES_1_0 = sorted(GROUPS_1_0)
PACK = load_pack()
KINDS_1_0 = {"case", "line_item", "category", "group", "commitment", "dependency",
             "transparency"}


def _as_data(fact) -> dict:
    return {"kind": fact.kind, "key": fact.key, "fields": dict(fact.fields),
            "subjects": list(fact.subjects),
            "sources": {name: list(src) for name, src in fact.sources.items()}}


def assert_same_1_0_facts(old: list[dict], new: list) -> None:
    """The facts of 1.0 are all there, in their order, each field with the same value and the
    same case fields behind it; 1.1 only adds fields to them and facts of new kinds."""
    new_data = [_as_data(f) for f in new]
    kept = [f for f in new_data if f["kind"] in KINDS_1_0]
    assert [(f["kind"], f["key"]) for f in kept] == [(f["kind"], f["key"]) for f in old]
    for before, after in zip(old, kept):
        assert after["subjects"] == before["subjects"], (before["kind"], before["key"])
        for name, value in before["fields"].items():
            assert name in after["fields"], (before["kind"], before["key"], name)
            assert after["fields"][name] == value, (before["kind"], before["key"], name)
            assert after["sources"][name] == before["sources"][name], (before["key"], name)
        for name in set(after["fields"]) - set(before["fields"]):
            # an addition is a field the 1.1 vocabulary declares
            assert name in BASE_SCHEMAS[after["kind"]], (after["kind"], name)
    assert {f["kind"] for f in new_data} - KINDS_1_0 <= {"programme", "funding", "guideline",
                                                         "membership"}


def test_the_groups_of_1_0_categories_are_unchanged():
    assert {name: PACK.groups[name] for name in GROUPS_1_0} == GROUPS_1_0


@pytest.mark.parametrize("name", sorted(FROZEN["facts"]))
def test_every_example_case_gives_its_1_0_facts(name):
    case = load_case(ROOT / "cases" / name, PACK)
    assert_same_1_0_facts(FROZEN["facts"][name], case_facts(case, PACK.groups))


@settings(derandomize=True, deadline=None, max_examples=150, database=None,
          suppress_health_check=TIMING)
@given(case_dicts(categories=CATEGORIES_1_0))
def test_every_1_0_case_gives_identical_facts_under_1_1(data):
    case = Case.model_validate(data)
    old = [_as_data(f) for f in facts_1_0.case_facts(case, GROUPS_1_0)]
    assert_same_1_0_facts(old, case_facts(case, PACK.groups))
    # a 1.0 case read as a file (as YAML) is valid under 1.1 and the same case
    assert Case.model_validate(yaml.safe_load(yaml.safe_dump(data))) == case


# --- what format 1.1 adds -------------------------------------------------------------------

BASE = {"id": "x", "title": "X", "country": "X", "fiscal_year": 2025, "currency": "GBP",
        "inflation_pct": 2.0}


def facts_of(data: dict, **extra) -> dict:
    case = Case.model_validate({**BASE, **data, **extra})
    return {f.id: f.fields for f in case_facts(case, PACK.groups)}


def test_a_fiscal_year_label_is_benchmarked_on_the_year_it_starts():
    case = Case.model_validate({**BASE, "fiscal_year": "2024-25",
                                "line_items": [{"id": "a", "category": "personnel",
                                                "amount": 1}],
                                "history": [{"fiscal_year": "2023/24", "total": 1},
                                            {"fiscal_year": "2022-2023", "total": 1}]})
    assert (case.fiscal_year, case.fiscal_year_label) == (2024, "2024-25")
    assert [h.fiscal_year for h in case.history] == [2023, 2022]
    fields = {f.id: f.fields for f in case_facts(case, PACK.groups)}["case"]
    assert (fields["fiscal_year"], fields["fiscal_year_label"]) == (2024, "2024-25")


def test_estimates_keep_the_value_for_assessment_and_the_range_beside_it():
    case = Case.model_validate({
        **BASE, "gdp": {"value": 1000, "approximate": True},
        "inflation_pct": {"value": 2.5, "range": [2, 3.5]},
        "transparency": {"secret_share_pct": {"value": 99, "approximate": True}},
        "line_items": [{"id": "a", "category": "personnel", "amount": {"value": 14.5}}],
        "history": [{"fiscal_year": 2024, "line_items": {"a": {"value": 10,
                                                               "range": [9, 11]}}}]})
    assert (case.gdp, case.inflation_pct, case.line_items[0].amount) == (1000, 2.5, 14.5)
    assert case.ranges() == {"gdp": (900, 1100), "inflation_pct": (2, 3.5),
                             # a percentage's range stays inside 0-100
                             "transparency.secret_share_pct": (89.1, 100),
                             "history[0].line_items.a": (9, 11)}
    assert Case.model_validate({**BASE, "line_items": [
        {"id": "a", "category": "personnel", "amount": 1}]}).ranges() == {}


def test_a_programme_split_over_lines_is_judged_as_a_whole():
    split = facts_of({"line_items": [
        {"id": "rd", "category": "research_development", "amount": 900, "prior": 800,
         "programme": "gcap"},
        {"id": "proc", "category": "procurement", "amount": 100, "prior": 300,
         "programme": "gcap", "change_reason": "agreed_phasing"},
        {"id": "pay", "category": "personnel", "amount": 50, "prior": 50}]})
    whole = facts_of({"line_items": [
        {"id": "gcap", "category": "research_development", "amount": 1000, "prior": 1100},
        {"id": "pay", "category": "personnel", "amount": 50, "prior": 50}]})
    for name in ("amount", "prior", "real_change_pct", "real_change_share_of_total_pct",
                 "share_of_total_pct"):
        assert split["programme:gcap"][name] == whole["programme:gcap"][name], name
    assert split["programme:gcap"]["declared"] and not whole["programme:gcap"]["declared"]
    assert split["programme:gcap"]["category"] == "research_development"   # the largest line
    assert split["line_item:proc"]["programme"] == "gcap"
    assert split["line_item:pay"]["programme"] == "pay"   # a line of its own
    assert split["programme:pay"]["line_item_count"] == 1


def test_a_commitment_tells_the_lines_that_fund_it_from_the_category_it_rests_on():
    facts = facts_of({
        "line_items": [
            {"id": "mission-a", "category": "peacekeeping", "amount": 0, "prior": 50,
             "change_reason": "mandate_ended"},
            {"id": "mission-b", "category": "peacekeeping", "amount": 100, "prior": 100}],
        "commitments": [
            {"id": "un-b", "kind": "peacekeeping_mandate", "funded_by": ["mission-b"]},
            {"id": "un-all", "kind": "peacekeeping_mandate", "depends_on": ["peacekeeping"]}]})
    funding = facts["funding:un-b/mission-b"]
    assert (funding["line"], funding["real_change_pct"]) == ("mission-b", -1.960784)
    assert funding["change_reason"] == "unknown" and funding["financing"] == "national"
    assert "funding:un-b/mission-a" not in facts      # a sibling line is no link
    dependency = facts["dependency:un-all/peacekeeping"]
    # the category as a whole: 150 last year, 100 now, in real terms
    assert dependency["real_change_pct"] == pytest.approx(-34.640523)
    assert (dependency["line_item_count"], dependency["funded_by_count"]) == (2, 0)
    assert facts["commitment:un-b"]["funding_real_change_pct"] == pytest.approx(-1.960784)
    assert facts["line_item:mission-a"]["change_reason"] == "mandate_ended"
    assert facts["line_item:mission-b"]["funded_commitment_count"] == 1


def test_guidelines_and_memberships():
    facts = facts_of({"memberships": ["nato", "eu"],
                      "line_items": [{"id": "a", "category": "personnel", "amount": 1}],
                      "commitments": [{"id": "alliance", "kind": "alliance",
                                       "guidelines": ["nato"]},
                                      {"id": "pact", "kind": "security_agreement",
                                       "status": "proposed", "guidelines": ["osce"]}]})
    assert facts["membership:nato"] == {"id": "nato", "stated": True, "commitment_count": 1,
                                        "active_commitment_count": 1}
    assert facts["membership:osce"]["stated"] is False
    assert facts["membership:eu"]["commitment_count"] == 0
    assert facts["guideline:alliance/nato"]["organisation"] == "nato"
    assert facts["case"]["membership_count"] == 3


def test_financing_shares_tell_donor_and_off_budget_money_apart():
    facts = facts_of({"line_items": [
        {"id": "grant", "category": "military_aid", "amount": 30, "financing": "donor_grant"},
        {"id": "loan", "category": "military_aid", "amount": 10, "financing": "loan"},
        {"id": "fund", "category": "military_aid", "amount": 20, "financing": "off_budget"},
        {"id": "own", "category": "personnel", "amount": 40}]})
    assert facts["category:military_aid"]["donor_financed_share_pct"] == pytest.approx(66.666667)
    assert facts["category:military_aid"]["off_budget_financed_share_pct"] == pytest.approx(
        33.333333)
    assert facts["case"]["donor_financed_share_pct"] == 40.0


def test_history_per_line_gives_real_terms_volatility_where_inflation_allows():
    line = {"id": "ex", "category": "joint_exercises", "amount": 100, "prior": 100}
    facts = facts_of({"line_items": [line], "history": [
        {"fiscal_year": 2023, "line_items": {"ex": 80}, "inflation_pct": 10},
        {"fiscal_year": 2024, "total": 100, "line_items": {"ex": 100}, "inflation_pct": 25}]})
    ex = facts["line_item:ex"]
    assert ex["history_years"] == 2
    assert ex["volatility_pct"] == 25.0                      # 80 -> 100 nominal
    # 2023 -> 2024: +25% nominal at 25% inflation is flat; 2024 -> 2025: -1.96% at 2%
    assert ex["real_volatility_pct"] == pytest.approx(1.960784)
    assert ex["largest_real_drop_pct"] == pytest.approx(1.960784)
    no_inflation = facts_of({"line_items": [line], "history": [
        {"fiscal_year": 2023, "line_items": {"ex": 80}}]}, inflation_pct=None)
    assert "real_volatility_pct" not in no_inflation["line_item:ex"]
    assert no_inflation["line_item:ex"]["volatility_pct"] == 25.0


def test_a_planned_change_is_not_instability():
    facts = facts_of({"total": {"amount": 130, "prior": 100, "change_reason": "legislated_plan"},
                      "line_items": [{"id": "a", "category": "personnel", "amount": 130}],
                      "history": [{"fiscal_year": 2024, "total": 100}]})
    assert facts["case"]["real_volatility_pct"] == pytest.approx(27.45098)
    assert facts["case"]["unplanned_real_volatility_pct"] == 0.0
    assert facts["case"]["total_change_reason"] == "legislated_plan"


def test_a_case_may_declare_its_own_category_in_a_pack_group():
    case = load_case_text({**BASE, "categories": {"coast_guard": {"group": "posture"}},
                           "line_items": [{"id": "guard", "category": "coast_guard",
                                           "amount": 5, "prior": 5}],
                           "commitments": [{"id": "c", "kind": "security_agreement",
                                            "depends_on": ["coast_guard"]}]})
    facts = {f.id: f.fields for f in case_facts(case, PACK.groups)}
    assert facts["line_item:guard"]["group"] == "posture"
    assert facts["category:coast_guard"]["own"] is True
    assert facts["group:posture"]["amount"] == 5


def load_case_text(data: dict, tmp=None):
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "case.yaml"
        path.write_text(yaml.safe_dump(data))
        return load_case(path, PACK)


def test_the_new_headings_of_ministries_budgets_have_a_category():
    for name in ("nuclear_deterrent", "space", "pensions", "assistance_received",
                 "host_nation_support", "military_health", "intelligence"):
        assert name in PACK.categories, name


def test_commitments_and_history_name_what_exists():
    with pytest.raises(CaseError) as caught:
        load_case_text({**BASE, "line_items": [{"id": "a", "category": "personnel",
                                                "amount": 1}],
                        "commitments": [{"id": "c", "kind": "alliance", "funded_by": ["b"]}],
                        "history": [{"fiscal_year": 2024, "line_items": {"z": 1}}]})
    assert [p.path for p in caught.value.problems] == ["commitments[0].funded_by[0]",
                                                        "history[0].line_items.z"]


# --- the documentation of the format ------------------------------------------------------

CASE_FORMAT_DOC = (ROOT / "docs" / "case-format.md").read_text(encoding="utf-8")


def test_the_documented_example_is_a_valid_case_that_passes_strict(tmp_path):
    import re
    from click.testing import CliRunner
    from engine.cli import main
    example = re.search(r"```yaml\n(.*?)```", CASE_FORMAT_DOC, re.S).group(1)
    path = tmp_path / "example.yaml"
    path.write_text(example, encoding="utf-8")
    result = CliRunner().invoke(main, ["assess", str(path), "--strict", "--exit-zero",
                                       "--no-waivers"])
    assert (result.exit_code, result.stderr) == (0, "")
    assert load_case(path, PACK).ranges() == {"line_items[1].amount": (740, 800)}


def test_the_documentation_names_every_field_and_value_of_the_format():
    from engine.case_format import (
        ChangeReason,
        ContingencyMechanism,
        Financing,
        Organisation,
        WarningCode,
    )
    from engine.model import Commitment, HistoryEntry, LineItem, Total, Transparency
    from typing import get_args
    for model in (Case, Total, LineItem, Commitment, Transparency, HistoryEntry):
        for name in model.model_fields:
            assert f"{name}:" in CASE_FORMAT_DOC or f"`{name}`" in CASE_FORMAT_DOC, name
    for vocabulary in (ChangeReason, Financing, Organisation, ContingencyMechanism,
                       WarningCode):
        for value in get_args(vocabulary):
            assert f"`{value}`" in CASE_FORMAT_DOC, value
    for name in PACK.categories:
        assert name in CASE_FORMAT_DOC, name
