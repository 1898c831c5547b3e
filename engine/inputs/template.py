"""A commented case file to start from (`diplo case new`): every section of the case format,
with figures that pass validation and raise no plausibility warning, so that an analyst
replaces them rather than writes the file from nothing."""
from __future__ import annotations

import datetime
import json
import re
import unicodedata

_TEMPLATE = """\
# A defence budget proposal, in diplo's case format 1.1 (`diplo docs case-format`).
# Replace the figures with the proposal's; delete what you do not know rather than guess:
# the report lists each check it could not make. Check the file with `diplo assess FILE`.
id: {slug}
title: {title}
country: {country}
fiscal_year: {year}              # or a label such as {year}-{next_short}: benchmarks use its first year
currency: USD                   # three capital letters
unit: million                   # one | thousand | million | billion: every amount below
gdp: 500000                     # same currency and unit; {{value: 500000, approximate: true}} if estimated
inflation_pct: 2.5              # in percent (2.5 for 2.5%); a range: {{value: 2.5, range: [2, 3.5]}}
threat_environment: moderate    # low | moderate | elevated | severe
memberships: [nato]             # organisations whose spending guidelines apply to the country
contingency_mechanism: central_reserve   # reserve_line | central_reserve | supplementary_budget | government_fund | none
sources:                        # where the figures come from
  - Ministry of defence, budget statement {year}
notes: Figures rounded to the nearest million.

total:
  amount: 10000                 # the proposed total defence budget
  prior: 9800                   # last year's enacted total
  change_reason: unknown        # why it changes: see the reasons under line_items

line_items:                     # the lines the assessment looks at (at least one)
  - id: pay-and-allowances
    category: personnel         # `diplo rules categories` lists them
    amount: 4200
    prior: 4100
  - id: equipment-programme
    category: procurement
    amount: 2500
    prior: 2400
    programme: frigates         # lines of one programme are judged as a whole
  - id: equipment-programme-rd
    category: research_development
    amount: 300
    prior: 350
    programme: frigates
    change_reason: agreed_phasing   # unknown | mandate_ended | programme_completed |
                                    # agreed_phasing | host_nation_request | efficiency_saving |
                                    # reprioritisation | budget_pressure | legislated_plan |
                                    # threat_response | new_programme | price_change | reclassification
  - id: running-costs
    category: operations_maintenance
    amount: 2700
    prior: 2650
  - id: multinational-exercises
    category: joint_exercises
    amount: {{value: 120, range: [110, 130]}}   # an estimate: the report says if findings hold across it
    prior: 115
    partners: [Country B]
    financing: national         # national | donor_grant | loan | off_budget | host_nation_support | unknown
    sources: [Exercise plan {year}]

commitments:                    # obligations to partners
  - id: alliance
    kind: alliance              # alliance | security_agreement | aid_program | peacekeeping_mandate |
                                # industry_partnership | pooled_fund
    partners: [Country B, Country C]
    funded_by: [multinational-exercises]   # the lines that fund it
    depends_on: [joint_exercises]          # or the categories it rests on as a whole
    guidelines: [nato]
    status: active              # active | proposed | ending

transparency:                   # leave out what you do not know: it is reported as not checked
  budget_publication: disaggregated   # disaggregated | aggregate | none
  legislative_review: true
  external_audit: financial     # none | financial | financial_and_performance
  audit_reports_published: true
  secret_share_pct: 1.5         # in percent of the budget
  off_budget_share_pct: 0
  in_year_reporting: true
  civil_society_oversight: true
  secret_share_disclosed: true  # false: the country does not publish its secret share
  audit_opinion: unqualified    # unqualified | qualified | adverse | disclaimer | none
  un_milex_reporting: true      # reports to the UN Report on Military Expenditures
  vienna_document_reporting: false   # exchanges budget information under the OSCE Vienna Document

history:                        # earlier enacted budgets, for trends and volatility
  - {{fiscal_year: {y2}, total: 9300, inflation_pct: 3.0}}
  - {{fiscal_year: {y1}, total: 9550, inflation_pct: 2.8, line_items: {{multinational-exercises: 110}}}}
"""


def case_template(country: str = "Country A", year: int | None = None) -> str:
    """A commented case for `country` and fiscal `year` (default: next year) that passes
    validation against the default pack."""
    year = year if year is not None else datetime.date.today().year + 1
    country = " ".join(country.split()) or "Country A"
    ascii_name = unicodedata.normalize("NFKD", country).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-") or "country"
    return _TEMPLATE.format(slug=f"{slug}-fy{year}", country=_scalar(country),
                            title=_scalar(f"{country}, FY{year} defence budget proposal"),
                            year=year, next_short=f"{(year + 1) % 100:02d}", y1=year - 1,
                            y2=year - 2)


def _scalar(text: str) -> str:
    """`text` as a YAML value that reads back as the same text: plain when it can be, else
    double-quoted (a JSON string is a YAML one)."""
    plain = re.fullmatch(r"[A-Za-z\u00c0-\uffff][\w .,()'-]*", text) and not re.search(r" #|: ", text)
    if plain and text.lower() not in ("yes", "no", "on", "off", "true", "false", "null", "y",
                                      "n"):
        return text
    return json.dumps(text, ensure_ascii=False)
