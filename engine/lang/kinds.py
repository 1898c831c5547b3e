"""The kinds of fact every case provides and the type of each of their fields: the vocabulary
a rule pack's patterns match on. The loader checks rules against it; engine.core.facts
computes the facts."""
from __future__ import annotations

# The totals of a category or of a group of categories: sums of their line items.
_AGGREGATE = {
    "id": "string", "amount": "number", "prior": "number?", "change": "number?",
    "change_pct": "number?", "prior_real": "number?", "real_change": "number?",
    "real_change_pct": "number?", "share_of_total_pct": "number",
    "share_of_gdp_pct": "number?", "line_item_count": "number",
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
        "line_item_count": "number", "commitment_count": "number",
        "active_commitment_count": "number", "history_years": "number",
        "volatility_pct": "number?", "mean_abs_change_pct": "number?",
        "largest_drop_pct": "number?",
    },
    "line_item": {
        "id": "string", "category": "string", "group": "string", "amount": "number",
        "prior": "number?", "change": "number?", "change_pct": "number?",
        "prior_real": "number?", "real_change": "number?", "real_change_pct": "number?",
        "is_new": "bool?", "share_of_total_pct": "number", "share_of_gdp_pct": "number?",
        "partner_count": "number",
    },
    "category": {**_AGGREGATE, "group": "string"},
    "group": {**_AGGREGATE, "category_count": "number"},
    "commitment": {
        "id": "string", "kind": "string", "status": "string", "ends_year": "number?",
        "years_left": "number?", "partner_count": "number", "dependency_count": "number",
    },
    "dependency": {
        "commitment": "string", "category": "string", "kind": "string", "status": "string",
        "funded": "bool", "amount": "number",
    },
    "transparency": {
        "budget_publication": "string?", "legislative_review": "bool?",
        "external_audit": "string?", "audit_reports_published": "bool?",
        "secret_share_pct": "number?", "off_budget_share_pct": "number?",
        "in_year_reporting": "bool?", "civil_society_oversight": "bool?",
        "stated_count": "number",
    },
}

SINGLETON_KINDS = ("case", "transparency")

# The values an enumerated field may take.
ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("case", "unit"): ("one", "thousand", "million", "billion"),
    ("case", "threat_environment"): ("low", "moderate", "elevated", "severe"),
    ("commitment", "kind"): ("alliance", "security_agreement", "aid_program",
                             "peacekeeping_mandate", "industry_partnership", "pooled_fund"),
    ("commitment", "status"): ("active", "proposed", "ending"),
    ("transparency", "budget_publication"): ("disaggregated", "aggregate", "none"),
    ("transparency", "external_audit"): ("none", "financial", "financial_and_performance"),
}
ENUMS[("dependency", "kind")] = ENUMS[("commitment", "kind")]
ENUMS[("dependency", "status")] = ENUMS[("commitment", "status")]

CATEGORY_FIELDS = {("line_item", "category"), ("category", "id"), ("dependency", "category")}


def type_of(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, list):
        return "list"
    return "string"
