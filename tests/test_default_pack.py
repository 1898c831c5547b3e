"""What the default pack must cover, from the guidance and the report contract."""
from __future__ import annotations

import re

import pytest

from engine import assess, load_case, load_pack

from conftest import DEFAULT_PACK, ROOT

CONCERNS = {"diplomacy_underfunded", "engagement_limited", "presence_reduced",
            "crisis_response_impaired", "commitments_undermined", "transparency_gap",
            "priorities_misaligned", "burden_sharing_shortfall", "partnerships_strengthened",
            "collective_budgeting", "technology_leveraged", "accountable_spending",
            "crisis_ready"}


@pytest.fixture(scope="module")
def pack():
    return load_pack()


def test_every_guidance_section_but_importance_is_cited(pack):
    index = (ROOT / "rules" / "defense-diplomacy" / "pack.yaml").read_text(encoding="utf-8")
    sections = set(re.findall(r"^    ([a-z-]+): \{heading:", index, re.M))
    assert len(sections) == 16
    cited = {rule.citation.section for rule in pack.rules}
    assert cited == sections - {"importance"}


def test_every_concern_of_the_report_contract_is_reported(pack):
    reported = {rule.report.concern for rule in pack.rules if rule.report}
    assert reported == CONCERNS
    for concern in CONCERNS:
        kind = pack.packs[0].manifest.concerns[concern].kind
        assert all(r.report.kind == kind for r in pack.rules
                   if r.report and r.report.concern == concern)


def test_the_pack_reasons_in_chains_and_is_large_enough(pack):
    assert len(pack.rules) >= 40
    derived = {rule.derive_kind for rule in pack.rules if rule.derive_kind}
    assert {"engagement_limited", "commitment_at_risk", "credibility_at_risk"} <= derived
    # a report that rests on a fact derived from a fact derived from the case
    uses = {kind for rule in pack.rules if rule.derive_kind == "credibility_at_risk"
            for kind in (p.kind for p in rule.patterns)}
    assert "commitment_at_risk" in uses


def test_every_threshold_is_a_parameter_with_a_source(pack):
    specs = pack.packs[0].manifest.parameters
    for name, spec in specs.items():
        assert len(spec.source) > 20, name
    text = " ".join(spec.source for spec in specs.values())
    for benchmark in ("NATO", "Wales", "Transparency International", "PEFA"):
        assert benchmark in text
    # no bare numeric thresholds in conditions: comparisons use $parameters (0 excepted)
    for path in (DEFAULT_PACK / "rules").glob("*.yaml"):
        if path.name.endswith(".test.yaml"):
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip().startswith("where:"):
                assert not re.search(r"[<>]=? *[1-9]", line), f"{path.name}: {line.strip()}"


@pytest.mark.parametrize("name", ["balanced-partner", "control-steady"])
def test_control_cases_have_no_risk_of_medium_or_more(pack, name):
    report = assess(load_case(ROOT / "cases" / f"{name}.yaml", pack), pack)
    assert not report.fails("medium"), [f.id for f in report.findings if f.kind == "risk"]
    assert report.summary.strengths >= 3


def test_there_are_a_dozen_example_cases_and_each_assesses():
    cases = sorted((ROOT / "cases").glob("*.yaml"))
    assert len(cases) >= 12
    verdicts = {assess(load_case(path)).verdict for path in cases}
    assert verdicts == {"pass", "warn", "fail"}


def test_the_default_pack_doc_lists_every_rule_and_parameter(pack):
    doc = (ROOT / "docs" / "default-pack.md").read_text(encoding="utf-8")
    for rule in pack.rules:
        assert f"| {rule.id} |" in doc, rule.id
    for name, spec in pack.packs[0].manifest.parameters.items():
        value = ", ".join(spec.value) if isinstance(spec.value, list) else str(spec.value)
        assert f"| `{name}` | {value} |" in doc, name
