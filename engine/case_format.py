"""The case format, version 1.1: the typed model of a case file (one of diplo's two public
contracts; `engine.model` re-exports it beside the report, so `from engine.model import Case`
is the way to name it).

Field constraints here are the case format's rules of validity; cross-field rules (unique ids,
totals, history years, known categories, links to lines) live in `inputs/case.py`, which knows
where fields stand.

A number of a case may be written plainly (`14.5`) or as an estimate (`{value: 14.5, range: [13,
16]}`, or `{value: 14.5, approximate: true}`); a fiscal year as a year (`2024`) or a label
(`2024-25`). Once validated, a case holds plain values everywhere (the estimate's value, the
label's benchmark year), so that everything that reads a case reads numbers; what was written
beyond them is kept beside: `Case.ranges()` and `fiscal_year_label`.
"""
from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

MAX_AMOUNT = 1e15  # larger than any defence budget in any currency unit; beyond it is a typo
# an estimate written `approximate: true` spans its value plus or minus this share of it
APPROXIMATE_TOLERANCE = 0.10

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=120)]
Amount = Annotated[float, Field(ge=0, le=MAX_AMOUNT, allow_inf_nan=False)]
Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
InflationPct = Annotated[float, Field(ge=-50, le=1000, allow_inf_nan=False)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=500)]
Text = Annotated[str, StringConstraints(max_length=5000)]
CategoryName = Annotated[str, StringConstraints(min_length=1, max_length=120)]
YearNumber = Annotated[int, Field(ge=1000, le=9999)]

Unit = Literal["one", "thousand", "million", "billion"]
Threat = Literal["low", "moderate", "elevated", "severe"]
CommitmentKind = Literal["alliance", "security_agreement", "aid_program",
                         "peacekeeping_mandate", "industry_partnership", "pooled_fund"]
CommitmentStatus = Literal["active", "proposed", "ending"]
# Why a line (or the total) changes from last year: a closed list, so that a rule can rely on
# it and a misspelt reason is an error (docs/case-format.md, "Why a line changes").
ChangeReason = Literal[
    "unknown", "mandate_ended", "programme_completed", "agreed_phasing", "host_nation_request",
    "efficiency_saving", "reprioritisation", "budget_pressure", "legislated_plan",
    "threat_response", "new_programme", "price_change", "reclassification"]
Financing = Literal["national", "donor_grant", "loan", "off_budget", "host_nation_support",
                    "unknown"]
# organisations whose spending guidelines or reporting may apply to a country or commitment
Organisation = Literal["nato", "eu", "pesco", "osce", "un", "au", "asean", "ecowas", "gcc",
                       "csto", "sco"]
ContingencyMechanism = Literal["reserve_line", "central_reserve", "supplementary_budget",
                               "government_fund", "none"]
AuditOpinion = Literal["unqualified", "qualified", "adverse", "disclaimer", "none"]
# the plausibility warnings a case may say its author has checked (inputs/plausibility.py)
WarningCode = Literal["inflation_fraction", "gdp_share_high", "gdp_share_low",
                      "items_far_below_total", "priors_far_below_prior_total", "zero_prior"]
CHANGE_REASONS: tuple[str, ...] = get_args(ChangeReason)
FINANCING: tuple[str, ...] = get_args(Financing)
ORGANISATIONS: tuple[str, ...] = get_args(Organisation)
WARNING_CODES: tuple[str, ...] = get_args(WarningCode)

Sources = Annotated[list[Text], Field(max_length=100)]

_YEAR_LABEL = re.compile(r"(\d{4})\s*[-/]\s*(\d{2}|\d{4})")


def benchmark_year(label: str) -> int:
    """The year a fiscal year label is measured against: the year it starts in ("2024-25" ->
    2024), as NATO reports a fiscal year that straddles two calendar years."""
    return int(_YEAR_LABEL.fullmatch(label.strip()).group(1))


def _year_label(text: str) -> str:
    match = _YEAR_LABEL.fullmatch(text.strip())
    if match is None:
        # "_type": an error of the kind of value, so that a union names what it takes
        raise PydanticCustomError("year_label_type", "expected a year label such as 2024-25")
    first, second = match.group(1), match.group(2)
    following = str(int(first) + 1)
    if second != following and second != following[-2:]:
        raise PydanticCustomError(
            "year_label", f"a fiscal year label names two successive years ({first}-"
            f"{following[-2:]}), found {text!r}".replace("{", "{{").replace("}", "}}"))
    if not 1000 <= int(first) <= 9998:
        raise PydanticCustomError("year_label", f"expected a year from 1000 to 9999, found "
                                  f"{text!r}".replace("{", "{{").replace("}", "}}"))
    return text.strip()


YearLabel = Annotated[str, AfterValidator(_year_label), Field(
    json_schema_extra={"pattern": r"^\s*\d{4}\s*[-/]\s*(\d{2}|\d{4})\s*$"})]
FiscalYear = YearNumber | YearLabel


class _Strict(BaseModel):
    # strict: "95" is not a number and 1 is not true; a case says what it means
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Estimate(_Strict):
    """A figure the analyst knows only approximately: its value (what the assessment uses) and
    the range in which the truth lies (what the robustness analysis explores)."""

    value: float
    range: list[float] | None = Field(default=None, min_length=2, max_length=2,
                                      description="[low, high]: the truth lies in it")
    approximate: bool | None = Field(
        default=None, description=f"true: the range is the value plus or minus "
        f"{APPROXIMATE_TOLERANCE:.0%} of it")

    @model_validator(mode="after")
    def _consistent(self):
        if self.range is not None:
            low, high = self.range
            if self.approximate is not None:
                problem = ("give a range or approximate: true, not both (a range already says "
                           "the figure is approximate)")
            elif low > high:
                problem = f"the range's low end {low:g} is above its high end {high:g}"
            elif not low <= self.value <= high:
                problem = f"the value {self.value:g} lies outside its range [{low:g}, {high:g}]"
            else:
                return self
            raise PydanticCustomError("estimate", problem.replace("{", "{{").replace("}", "}}"))
        return self

    def bounds(self, low_limit: float, high_limit: float) -> tuple[float, float] | None:
        """(low, high), or None when the figure is stated as exact."""
        if self.range is not None:
            return (self.range[0], self.range[1])
        if self.approximate:
            spread = abs(self.value) * APPROXIMATE_TOLERANCE
            return (max(low_limit, self.value - spread), min(high_limit, self.value + spread))
        return None


class AmountEstimate(_Estimate):
    value: Amount
    range: list[Amount] | None = Field(default=None, min_length=2, max_length=2,
                                       description="[low, high]: the truth lies in it")


class PercentEstimate(_Estimate):
    value: Percent
    range: list[Percent] | None = Field(default=None, min_length=2, max_length=2,
                                        description="[low, high]: the truth lies in it")


class InflationEstimate(_Estimate):
    value: InflationPct
    range: list[InflationPct] | None = Field(default=None, min_length=2, max_length=2,
                                             description="[low, high]: the truth lies in it")


# the class name of each estimate, as validation errors name a union's members
ESTIMATE_TYPES: dict[str, tuple[float, float]] = {
    "AmountEstimate": (0.0, MAX_AMOUNT), "PercentEstimate": (0.0, 100.0),
    "InflationEstimate": (-50.0, 1000.0)}

AmountValue = Amount | AmountEstimate
PercentValue = Percent | PercentEstimate
InflationValue = InflationPct | InflationEstimate


class _Part(_Strict):
    """A part of a case whose numbers may be estimates: after validation each field holds the
    estimate's value, and the estimate's range is kept in `_ranges` (by field name)."""

    _ranges: dict[str, tuple[float, float]] | None = PrivateAttr(default=None)
    _labels: dict[str, str] | None = PrivateAttr(default=None)

    @property
    def fiscal_year_label(self) -> str | None:
        """The fiscal year as written when it is a label ("2024-25"); `fiscal_year` is then
        its benchmark year."""
        return (self._labels or {}).get("fiscal_year")

    @model_validator(mode="after")
    def _plain_values(self):
        ranges = labels = None
        for name, value in self.__dict__.items():
            if isinstance(value, _Estimate):
                # the model is frozen to its users; this is its own construction
                object.__setattr__(self, name, value.value)
                bounds = value.bounds(*ESTIMATE_TYPES[type(value).__name__])
                if bounds is not None:
                    ranges = ranges or {}
                    ranges[name] = bounds
            elif isinstance(value, str) and name == "fiscal_year":
                object.__setattr__(self, name, benchmark_year(value))
                labels = {name: value}
            elif isinstance(value, dict) and name in ("line_items", "categories") and any(
                    isinstance(v, _Estimate) for v in value.values()):
                plain = {}
                for key, item in value.items():
                    if isinstance(item, _Estimate):
                        plain[key] = item.value
                        bounds = item.bounds(*ESTIMATE_TYPES[type(item).__name__])
                        if bounds is not None:
                            ranges = ranges or {}
                            ranges[f"{name}.{key}"] = bounds
                    else:
                        plain[key] = item
                object.__setattr__(self, name, plain)
        if ranges:
            self._ranges = ranges
        if labels:
            self._labels = labels
        return self


class Total(_Part):
    amount: AmountValue
    prior: AmountValue | None = None
    change_reason: ChangeReason = Field(
        default="unknown", description="why the total changes from last year")


class LineItem(_Part):
    id: Slug
    category: CategoryName
    amount: AmountValue
    prior: AmountValue | None = None
    partners: list[Name] = Field(default_factory=list, max_length=500)
    description: Text | None = None
    programme: Slug | None = Field(
        default=None, description="the programme this line belongs to: a programme split "
        "over several lines is judged as a whole")
    change_reason: ChangeReason = Field(default="unknown",
                                        description="why the line changes from last year")
    financing: Financing = Field(default="national", description="who pays for the line")
    sources: Sources = Field(default_factory=list)
    notes: Text | None = None


class Commitment(_Part):
    id: Slug
    kind: CommitmentKind
    partners: list[Name] = Field(default_factory=list, max_length=500)
    depends_on: list[CategoryName] = Field(
        default_factory=list, max_length=200,
        description="categories this commitment relies on as a whole")
    funded_by: list[Slug] = Field(default_factory=list, max_length=500,
                                  description="ids of the line items that fund it")
    status: CommitmentStatus = "active"
    ends_year: YearNumber | None = None
    guidelines: list[Organisation] = Field(
        default_factory=list, max_length=20,
        description="organisations whose spending guidelines apply to this commitment")
    sources: Sources = Field(default_factory=list)
    notes: Text | None = None


class Transparency(_Part):
    budget_publication: Literal["disaggregated", "aggregate", "none"] | None = None
    legislative_review: bool | None = None
    external_audit: Literal["none", "financial", "financial_and_performance"] | None = None
    audit_reports_published: bool | None = None
    secret_share_pct: PercentValue | None = None
    off_budget_share_pct: PercentValue | None = None
    in_year_reporting: bool | None = None
    civil_society_oversight: bool | None = None
    audit_opinion: AuditOpinion | None = Field(
        default=None, description="the external auditor's latest opinion on defence accounts")
    un_milex_reporting: bool | None = Field(
        default=None, description="the country reports to the UN Report on Military "
        "Expenditures")
    vienna_document_reporting: bool | None = Field(
        default=None, description="the country exchanges defence planning and budget "
        "information under the OSCE Vienna Document")
    secret_share_disclosed: bool | None = Field(
        default=None, description="false when the country does not make the share of secret "
        "spending public (as distinct from the case not stating it)")


class HistoryEntry(_Part):
    fiscal_year: FiscalYear
    total: AmountValue | None = None
    inflation_pct: InflationValue | None = Field(
        default=None, description="inflation in that year, in percent")
    line_items: dict[Slug, AmountValue] = Field(
        default_factory=dict, max_length=2000,
        description="that year's amounts of line items, by line id")
    categories: dict[CategoryName, AmountValue] = Field(
        default_factory=dict, max_length=500,
        description="that year's amounts of categories, by category")
    change_reason: ChangeReason = Field(
        default="unknown", description="why the total changed into that year")


class CaseCategory(_Strict):
    group: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=120)]
    description: Text | None = None


class Case(_Part):
    """One proposed defence budget (case format, version 1.1)."""

    id: Slug
    title: Name
    country: Name
    fiscal_year: FiscalYear
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    unit: Unit = "million"
    gdp: AmountValue | None = None
    inflation_pct: InflationValue | None = None
    threat_environment: Threat | None = None
    memberships: list[Organisation] = Field(
        default_factory=list, max_length=20,
        description="organisations the country belongs to whose guidelines apply to it")
    contingency_mechanism: ContingencyMechanism | None = Field(
        default=None, description="how unforeseen costs are met")
    armed_forces: bool = Field(
        default=True, description="false for a country without armed forces (NATO leaves such "
        "members out of its spending guidelines)")
    categories: dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$",
                                                      max_length=120)], CaseCategory] = Field(
        default_factory=dict, max_length=100,
        description="categories of this case's own, each mapped to a group of the packs")
    total: Total | None = None
    line_items: list[LineItem] = Field(min_length=1, max_length=2000)
    commitments: list[Commitment] = Field(default_factory=list, max_length=500)
    transparency: Transparency = Field(default_factory=Transparency)
    history: list[HistoryEntry] = Field(default_factory=list, max_length=200)
    sources: Sources = Field(default_factory=list)
    notes: Text | None = None
    accept_warnings: list[WarningCode] = Field(
        default_factory=list, max_length=len(WARNING_CODES),
        description="plausibility warnings the author has checked: reported as accepted")

    # where the case was read from, for reports and error positions
    _source: str | None = PrivateAttr(default=None)
    _document: Any = PrivateAttr(default=None)
    _found_ranges: dict | None = PrivateAttr(default=None)

    @property
    def source(self) -> str | None:
        return self._source

    def ranges(self) -> dict[str, tuple[float, float]]:
        """The estimates of the case with a range, by field path (`line_items[3].amount`,
        `history[0].line_items.x`): (low, high). Empty when every figure is exact."""
        if self._found_ranges is None:
            # once: a case is immutable, and every assessment asks
            self._found_ranges = self._collect_ranges()
        return dict(self._found_ranges)

    def _collect_ranges(self) -> dict[str, tuple[float, float]]:
        found: dict[str, tuple[float, float]] = {}

        def take(part: _Part, prefix: str):
            for name, bounds in (part._ranges or {}).items():
                found[f"{prefix}{name}"] = bounds

        take(self, "")
        if self.total is not None:
            take(self.total, "total.")
        take(self.transparency, "transparency.")
        for list_name in ("line_items", "commitments", "history"):
            for i, part in enumerate(getattr(self, list_name)):
                take(part, f"{list_name}[{i}].")
        return found
