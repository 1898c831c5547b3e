"""Properties the default pack's judgement must have on any case, whatever its figures:
- a bigger real-terms cut to a line never lowers the severity of what is said about it;
- keeping a closed line in the case (the transparent choice) never worsens the verdict;
- splitting a line into two lines of the same programme never changes the verdict;
- scaling every amount (and GDP) by a constant changes nothing.
Cases are generated (hypothesis), assessed with the default pack, and compared."""
from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import assess, load_pack
from engine.model import SEVERITIES, Case

PACK = load_pack()
VERDICTS = ("pass", "warn", "fail")
SETTINGS = settings(max_examples=30, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

CATEGORIES = ["joint_exercises", "presence_abroad", "military_aid", "readiness", "peacekeeping",
              "security_agreements", "pooled_fund", "procurement", "personnel",
              "cyber_security"]
KINDS = ["alliance", "security_agreement", "aid_program", "peacekeeping_mandate"]
amounts = st.integers(min_value=1, max_value=5_000)


@st.composite
def cases(draw):
    n = draw(st.integers(min_value=2, max_value=6))
    lines = []
    for i in range(n):
        prior = draw(amounts)
        change = draw(st.floats(min_value=-0.9, max_value=0.6))
        lines.append({"id": f"line-{i}", "category": draw(st.sampled_from(CATEGORIES)),
                      "amount": max(0, round(prior * (1 + change))), "prior": prior})
    lines.append({"id": "people", "category": "personnel", "amount": 20_000, "prior": 19_500})
    commitments = []
    for j in range(draw(st.integers(min_value=0, max_value=3))):
        funded = draw(st.lists(st.sampled_from([l["id"] for l in lines[:-1]]), min_size=0,
                               max_size=2, unique=True))
        entry = {"id": f"commitment-{j}", "kind": draw(st.sampled_from(KINDS)),
                 "status": draw(st.sampled_from(["active", "active", "proposed"]))}
        if funded:
            entry["funded_by"] = funded
        else:
            entry["depends_on"] = [draw(st.sampled_from(CATEGORIES))]
        commitments.append(entry)
    total = sum(l["amount"] for l in lines)
    data = {
        "id": "generated", "title": "A generated case", "country": "Country G",
        "fiscal_year": draw(st.integers(min_value=2020, max_value=2036)), "currency": "USD",
        "inflation_pct": draw(st.floats(min_value=0, max_value=30)),
        "gdp": total * draw(st.floats(min_value=20, max_value=200)),
        "threat_environment": draw(st.sampled_from(["low", "moderate", "elevated", "severe"])),
        "memberships": draw(st.sampled_from([[], ["nato"]])),
        "contingency_mechanism": draw(st.sampled_from(["central_reserve", "none"])),
        "line_items": lines, "commitments": commitments,
        "transparency": {"budget_publication": "disaggregated", "legislative_review": True,
                         "external_audit": "financial_and_performance",
                         "audit_reports_published": True, "secret_share_pct": 0.5},
    }
    return data


def report(data):
    return assess(Case.model_validate(data), PACK)


def rank(severity):
    return SEVERITIES.index(severity)


def worst_about(result, line_id):
    """The most severe risk that names the line, counting the effects folded into findings."""
    found = [-1]
    for finding in result.findings:
        if finding.kind != "risk":
            continue
        if line_id in finding.subjects:
            found.append(rank(finding.severity))
        found += [rank(e.severity) for e in finding.effects if line_id in e.subjects]
    return max(found)


def judgement(result):
    """What an analyst reads first: the verdict and each risk's rule and severity."""
    return (result.verdict, sorted((f.rule, f.severity, tuple(sorted(f.subjects)))
                                   for f in result.findings if f.kind == "risk"))


@SETTINGS
@given(cases(), st.floats(min_value=0.0, max_value=0.95))
def test_a_bigger_real_cut_never_lowers_severity(data, deeper):
    line = data["line_items"][0]
    before = report(data)
    worse = copy.deepcopy(data)
    worse["line_items"][0]["amount"] = int(line["amount"] * (1 - deeper))
    after = report(worse)
    assert worst_about(after, line["id"]) >= worst_about(before, line["id"])


@SETTINGS
@given(cases(), amounts, st.sampled_from(CATEGORIES),
       st.sampled_from(["mandate_ended", "programme_completed"]))
def test_keeping_a_closed_line_never_worsens_the_verdict(data, prior, category, reason):
    without = report(data)
    kept = copy.deepcopy(data)
    kept["line_items"].append({"id": "closed-line", "category": category, "amount": 0,
                               "prior": prior, "change_reason": reason})
    with_it = report(kept)
    assert VERDICTS.index(with_it.verdict) <= VERDICTS.index(without.verdict)
    risky = lambda r: sum(1 for f in r.findings  # noqa: E731
                          if f.kind == "risk" and rank(f.severity) >= rank("medium"))
    assert risky(with_it) <= risky(without)


@SETTINGS
@given(cases(), st.floats(min_value=0.1, max_value=0.9))
def test_splitting_a_line_within_its_programme_changes_nothing(data, share):
    line = data["line_items"][0]
    data["line_items"][0] = {**line, "programme": "split-programme"}
    whole = report(data)
    split = copy.deepcopy(data)
    first = {**line, "programme": "split-programme",
             "amount": round(line["amount"] * share), "prior": round(line["prior"] * share)}
    second = {**line, "id": line["id"] + "-b", "programme": "split-programme",
              "amount": line["amount"] - first["amount"],
              "prior": line["prior"] - first["prior"]}
    split["line_items"][0:1] = [first, second]
    for commitment in split["commitments"]:
        if line["id"] in commitment.get("funded_by", []):
            commitment["funded_by"] = commitment["funded_by"] + [second["id"]]
    # the programme's figures are the same: the rounding of the two halves aside
    assert report(split).verdict == whole.verdict


@SETTINGS
@given(cases(), st.sampled_from([0.001, 0.5, 3, 1000]))
def test_scaling_every_amount_changes_nothing(data, factor):
    scaled = copy.deepcopy(data)
    for line in scaled["line_items"]:
        line["amount"] *= factor
        line["prior"] *= factor
    scaled["gdp"] *= factor
    assert judgement(report(scaled)) == judgement(report(data))
