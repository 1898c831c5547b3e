"""The kinds of fact every case provides and the type of each of their fields: the vocabulary
a rule pack's patterns match on. The loader checks rules against it; engine.core.facts
computes the facts."""
from __future__ import annotations

from ..model import CHANGE_REASONS, FINANCING, ORGANISATIONS

# The totals of a category, a group or a programme: sums of their line items.
_AGGREGATE = {
    "id": "string", "amount": "number", "prior": "number?", "change": "number?",
    "change_pct": "number?", "prior_real": "number?", "real_change": "number?",
    "real_change_pct": "number?", "share_of_total_pct": "number",
    "share_of_gdp_pct": "number?", "line_item_count": "number",
    # format 1.1
    "real_change_share_of_total_pct": "number?", "donor_financed_share_pct": "number",
    "off_budget_financed_share_pct": "number",
    # the real-terms change of the lines not ended by a closed mandate or a completed programme
    "continuing_real_change_pct": "number?",
}
# Changes across the years the case gives (`history`): nominal, and real where each year's
# inflation is stated; "unplanned" leaves out changes whose reason is a plan.
_VOLATILITY = {
    "history_years": "number", "volatility_pct": "number?", "mean_abs_change_pct": "number?",
    "largest_drop_pct": "number?", "real_volatility_pct": "number?",
    "real_mean_abs_change_pct": "number?", "largest_real_drop_pct": "number?",
    "unplanned_real_volatility_pct": "number?", "unplanned_largest_real_drop_pct": "number?",
}
# A line's figures, as a line item and as the funding of a commitment carry them.
_LINE = {
    "category": "string", "group": "string", "programme": "string", "change_reason": "string",
    "financing": "string", "amount": "number", "prior": "number?", "change": "number?",
    "change_pct": "number?", "prior_real": "number?", "real_change": "number?",
    "real_change_pct": "number?", "is_new": "bool?", "share_of_total_pct": "number",
    "share_of_gdp_pct": "number?", "real_change_share_of_total_pct": "number?",
}

# Field types of the facts every case provides. "?" marks a field that may be absent.
BASE_SCHEMAS: dict[str, dict[str, str]] = {
    "case": {
        "id": "string", "country": "string", "fiscal_year": "number", "currency": "string",
        "unit": "string", "gdp": "number?", "inflation_pct": "number",
        "inflation_stated": "bool", "threat_environment": "string?",
        "total": "number", "total_prior": "number?", "total_stated": "bool",
        "total_change": "number?", "total_change_pct": "number?",
        "total_real_change_pct": "number?", "share_of_gdp_pct": "number?",
        "continuing_total_change_pct": "number?", "continuing_total_real_change_pct": "number?",
        "line_item_count": "number", "commitment_count": "number",
        "active_commitment_count": "number", **_VOLATILITY,
        "fiscal_year_label": "string?", "total_change_reason": "string",
        "contingency_mechanism": "string?", "membership_count": "number",
        "armed_forces": "bool",
        "donor_financed_share_pct": "number", "off_budget_financed_share_pct": "number",
    },
    "line_item": {
        "id": "string", **_LINE, "partner_count": "number",
        "programme_declared": "bool", "funded_commitment_count": "number",
        "share_of_category_pct": "number", **_VOLATILITY,
    },
    "category": {**_AGGREGATE, "group": "string", "own": "bool",
                 "share_of_group_pct": "number?", **_VOLATILITY},
    "group": {**_AGGREGATE, "category_count": "number"},
    "programme": {**_AGGREGATE, "declared": "bool", "category": "string", "group": "string",
                  "category_count": "number", "change_reason": "string",
                  "financing": "string", "funded_commitment_count": "number",
                  "is_new": "bool?"},
    "commitment": {
        "id": "string", "kind": "string", "status": "string", "ends_year": "number?",
        "years_left": "number?", "partner_count": "number", "dependency_count": "number",
        "funded_by_count": "number", "guideline_count": "number",
        "funding_amount": "number?", "funding_prior": "number?",
        "funding_real_change_pct": "number?",
    },
    "dependency": {
        "commitment": "string", "category": "string", "kind": "string", "status": "string",
        "funded": "bool", "amount": "number",
        # the category as a whole (format 1.1)
        "line_item_count": "number", "funded_by_count": "number", "prior": "number?",
        "change": "number?", "change_pct": "number?", "prior_real": "number?",
        "real_change": "number?", "real_change_pct": "number?",
        "share_of_total_pct": "number?", "share_of_gdp_pct": "number?",
        "real_change_share_of_total_pct": "number?", "real_volatility_pct": "number?",
        "continuing_real_change_pct": "number?",
    },
    "funding": {"commitment": "string", "line": "string", "kind": "string",
                "status": "string", **_LINE, "programme_real_change_pct": "number?"},
    "guideline": {"commitment": "string", "organisation": "string", "kind": "string",
                  "status": "string"},
    "membership": {"id": "string", "stated": "bool", "commitment_count": "number",
                   "active_commitment_count": "number"},
    "transparency": {
        "budget_publication": "string?", "legislative_review": "bool?",
        "external_audit": "string?", "audit_reports_published": "bool?",
        "secret_share_pct": "number?", "off_budget_share_pct": "number?",
        "in_year_reporting": "bool?", "civil_society_oversight": "bool?",
        "audit_opinion": "string?", "un_milex_reporting": "bool?",
        "vienna_document_reporting": "bool?", "secret_share_disclosed": "bool?",
        "stated_count": "number",
    },
}

SINGLETON_KINDS = ("case", "transparency")

_KINDS = ("alliance", "security_agreement", "aid_program", "peacekeeping_mandate",
          "industry_partnership", "pooled_fund")
_STATUSES = ("active", "proposed", "ending")
_REASONS = CHANGE_REASONS
_FINANCING = FINANCING
_ORGANISATIONS = ORGANISATIONS

# The values an enumerated field may take.
ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("case", "unit"): ("one", "thousand", "million", "billion"),
    ("case", "threat_environment"): ("low", "moderate", "elevated", "severe"),
    ("case", "total_change_reason"): _REASONS,
    ("case", "contingency_mechanism"): ("reserve_line", "central_reserve",
                                        "supplementary_budget", "government_fund", "none"),
    ("commitment", "kind"): _KINDS,
    ("commitment", "status"): _STATUSES,
    ("line_item", "change_reason"): _REASONS,
    ("line_item", "financing"): _FINANCING,
    ("funding", "change_reason"): _REASONS,
    ("funding", "financing"): _FINANCING,
    # a programme whose lines give different reasons or financing says "mixed"
    ("programme", "change_reason"): _REASONS + ("mixed",),
    ("programme", "financing"): _FINANCING + ("mixed",),
    ("guideline", "organisation"): _ORGANISATIONS,
    ("membership", "id"): _ORGANISATIONS,
    ("transparency", "budget_publication"): ("disaggregated", "aggregate", "none"),
    ("transparency", "external_audit"): ("none", "financial", "financial_and_performance"),
    ("transparency", "audit_opinion"): ("unqualified", "qualified", "adverse", "disclaimer",
                                        "none"),
}
for _kind in ("dependency", "funding", "guideline"):
    ENUMS[(_kind, "kind")] = _KINDS
    ENUMS[(_kind, "status")] = _STATUSES

CATEGORY_FIELDS = {("line_item", "category"), ("category", "id"), ("dependency", "category"),
                   ("programme", "category"), ("funding", "category")}


def type_of(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, list):
        return "list"
    return "string"
