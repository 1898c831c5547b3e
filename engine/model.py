"""Typed models of the two public contracts: the case (input, defined in `case_format` and
re-exported here) and the report (output).
"""
from __future__ import annotations

import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .case_format import (  # noqa: F401 (re-exported: the contracts are named from here)
    APPROXIMATE_TOLERANCE,
    CHANGE_REASONS,
    ESTIMATE_TYPES,
    FINANCING,
    MAX_AMOUNT,
    ORGANISATIONS,
    WARNING_CODES,
    Case,
    CaseCategory,
    Commitment,
    HistoryEntry,
    LineItem,
    Total,
    Transparency,
    benchmark_year,
)

Severity = Literal["info", "low", "medium", "high", "critical"]
FindingKind = Literal["risk", "strength"]

SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")


# --- the report -----------------------------------------------------------------------------

class FrozenModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CaseRef(FrozenModel):
    id: str
    title: str
    country: str
    fiscal_year: int
    source: str | None = None


class PackRef(FrozenModel):
    name: str
    version: str
    extends: str | None = Field(default=None, description="the pack this one extends")
    disabled: list[str] = Field(
        default_factory=list, description="rules of this pack left out of the assessment "
        "(by a pack that extends it, a project configuration or the command line)")


class SeverityChange(FrozenModel):
    default: Severity = Field(description="the severity the rule's own pack gives")
    by: str = Field(description="what changed it: a pack, a configuration file, the "
                                "command line")


class RiskCounts(FrozenModel):
    critical: int = 0
    high: int = 0
    medium: int = 0
    low: int = 0
    info: int = 0


class Summary(FrozenModel):
    risks: RiskCounts
    strengths: int


class Citation(FrozenModel):
    section: str
    quote: str


class Waived(FrozenModel):
    """Why a finding is accepted: the waiver that applies (`diplo docs review-workflows`)."""

    reason: str
    owner: str
    expires: datetime.date


class Effect(FrozenModel):
    """A finding folded into another because both have the same cause: one root cause is one
    finding, reported at the severity of its worst effect, with the others listed here."""

    id: str
    rule: str
    severity: Severity
    concern: str
    title: str
    message: str
    subjects: list[str]


class Finding(FrozenModel):
    id: str
    rule: str
    pack: str
    kind: FindingKind
    severity: Severity
    concern: str
    title: str
    message: str
    subjects: list[str]
    citation: Citation
    because: list[str]
    remediation: str | None = None
    inputs: list[str] = Field(default_factory=list,
                              description="case fields this finding read, e.g. line_items[0].amount")
    parameters: dict[str, float | int | str | bool | list[str]] = Field(default_factory=dict)
    waived: Waived | None = Field(
        default=None, description="the waiver that accepts this risk, or null (not waived)")
    severity_override: SeverityChange | None = Field(
        default=None, description="set when the severity is not the one the rule's pack "
                                  "gives, or null")
    cause: str | None = Field(
        default=None, description="what the finding is about at root (its rule's `cause`, "
                                  "e.g. a line item's id), or null")
    effects: list[Effect] = Field(
        default_factory=list, description="other findings with the same cause, folded into "
                                          "this one (the most severe)")


class WaiverEntry(FrozenModel):
    """One waiver of a waivers file, as a report lists it, with the findings it matched."""

    line: int | None
    finding: str | None = None
    rule: str | None = None
    subjects: list[str] | None = None
    case: str | None = None
    reason: str
    owner: str
    expires: datetime.date
    findings: list[str] = Field(default_factory=list,
                                description="ids of the findings of this case it matches")


class WaiversInfo(FrozenModel):
    """The waivers that were applied to a report, those that expired, and those that match
    nothing in its case."""

    source: str
    applied: list[WaiverEntry]
    expired: list[WaiverEntry]
    stale: list[WaiverEntry]


class BaselineInfo(FrozenModel):
    """The report's risks against a baseline report of the same case (by finding id)."""

    source: str
    case_found: bool = Field(description="false when the baseline has no report of this case: "
                                         "then every risk is new")
    known: list[str]
    new: list[str]
    worse: list[str]
    resolved: list[str]


class RuleInfo(FrozenModel):
    """One loaded rule, as `diplo rules list` shows it."""

    # built on first use: `diplo assess` never makes one
    model_config = ConfigDict(defer_build=True)

    id: str
    pack: str
    kind: Literal["derive", "risk", "strength"]
    severity: Severity | None
    concern: str | None
    derives: str | None
    citation: str
    title: str
    file: str
    line: int | None
    tags: list[str] = Field(default_factory=list)   # as the rule file gives them, in order


class NearMiss(FrozenModel):
    """A rule that did not fire because one numeric condition fell just short."""

    rule: str
    title: str
    fact: str
    condition: str
    field: str
    value: float
    threshold: float
    op: str
    gap: float
    message: str


class DerivedFact(FrozenModel):
    """A fact a rule derived while assessing, with what it rests on."""

    id: str
    kind: str
    rule: str
    pack: str
    fields: dict[str, float | int | str | bool | None]
    subjects: list[str]
    because: list[str]
    inputs: list[str]
    parameters: dict[str, float | int | str | bool | list[str]] = Field(default_factory=dict)
    citation: Citation


class CoverageEntry(FrozenModel):
    """A check that could not be made, or was made on an assumption, because the case does not
    state what it needs. Absence is never read as zero or as fine: it is said here."""

    check: str = Field(description="what could not be checked: real_terms, burden_sharing, "
                       "line_change, total_change, volatility, real_volatility, threat, "
                       "transparency, commitment_link, memberships, contingency")
    missing: str = Field(description="the case field that is not stated, e.g. inflation_pct "
                         "or line_items[2].prior")
    subject: str | None = Field(default=None, description="the line item, commitment or "
                                "category the entry is about, or null for the case")
    reason: str
    rules: list[str] = Field(default_factory=list, description="the reporting rules of the "
                             "loaded packs that read what is missing (in conditions or "
                             "messages, directly or through derived facts)")


class PlausibilityWarning(FrozenModel):
    """A figure that is valid but almost certainly mistyped (`diplo assess --strict` makes it
    an error)."""

    code: str
    path: str = Field(description="the case field, e.g. inflation_pct")
    message: str
    line: int | None = None
    column: int | None = None
    accepted: bool = Field(default=False, description="the case lists the code in "
                           "accept_warnings: its author has checked the figure")


class SubjectNotes(FrozenModel):
    id: str
    field: str = Field(description="where it stands in the case, e.g. line_items[2]")
    sources: list[str]
    notes: str | None = None


class CaseNotes(FrozenModel):
    """What the analyst wrote about the case beyond its figures."""

    fiscal_year_label: str | None = Field(
        default=None, description="the fiscal year as written (2024-25) when a label; "
        "case.fiscal_year is then its benchmark year")
    sources: list[str]
    notes: str | None = None
    subjects: list[SubjectNotes] = Field(
        default_factory=list, description="line items and commitments with sources or notes")


class StatedRange(FrozenModel):
    field: str
    value: float
    low: float
    high: float


class RangeSwitch(FrozenModel):
    """Where, inside a stated range, a finding switches on or off or changes severity."""

    field: str
    before: Severity | None
    after: Severity | None
    at: float
    last_before: float
    exact: bool


class FindingRobustness(FrozenModel):
    finding: str
    title: str
    reported: bool = Field(description="the finding is in the report (at the stated values)")
    holds: bool = Field(description="the same severity, or the same absence, across every "
                        "stated range")
    switches: list[RangeSwitch]


class Robustness(FrozenModel):
    """Each finding across the ranges the case states, one figure at a time, the others at
    their values."""

    ranges: list[StatedRange]
    verdicts: list[Literal["pass", "warn", "fail"]] = Field(
        description="the verdicts met across the ranges")
    findings: list[FindingRobustness]
    invalid: list[str] = Field(default_factory=list, description="figures whose range makes "
                               "the case invalid somewhere (a sum above the total, say)")


class Report(FrozenModel):
    """The assessment report (report format, version 2: version 1 with keys added)."""

    schema_version: Literal[2] = 2
    case: CaseRef
    packs: list[PackRef]
    verdict: Literal["pass", "warn", "fail"]
    summary: Summary
    findings: list[Finding]
    coverage: list[CoverageEntry] = Field(default_factory=list)
    warnings: list[PlausibilityWarning] = Field(default_factory=list)
    notes: CaseNotes | None = None
    robustness: Robustness | None = None
    facts: list[DerivedFact] | None = None
    near_misses: list[NearMiss] | None = None
    waivers: WaiversInfo | None = None
    baseline: BaselineInfo | None = None

    def worst_risk(self) -> str | None:
        worst = None
        for finding in self.findings:
            if finding.kind == "risk" and (
                    worst is None or SEVERITIES.index(finding.severity) > SEVERITIES.index(worst)):
                worst = finding.severity
        return worst

    def fails(self, fail_on: str) -> bool:
        """True when a risk is at or above `fail_on`, waived or not, known to a baseline or
        not (`fails_gate` is what `diplo assess` exits with)."""
        threshold = SEVERITIES.index(fail_on)
        return any(f.kind == "risk" and SEVERITIES.index(f.severity) >= threshold
                   for f in self.findings)

    def gate_findings(self, fail_on: str) -> list[Finding]:
        """The risks at or above `fail_on` that fail a review gate: not waived and, when the
        report was compared with a baseline, new or more severe than in it."""
        threshold = SEVERITIES.index(fail_on)
        counted = None if self.baseline is None else {*self.baseline.new, *self.baseline.worse}
        return [f for f in self.findings
                if f.kind == "risk" and SEVERITIES.index(f.severity) >= threshold
                and f.waived is None and (counted is None or f.id in counted)]

    def fails_gate(self, fail_on: str) -> bool:
        """The exit status 1 of `diplo assess` with waivers and baselines; without them, the
        same as `fails`."""
        return bool(self.gate_findings(fail_on))

    def _repr_html_(self) -> str:
        """In a notebook, a report displays as its HTML report (`--format html`). The format is
        found by name in the registry when a notebook asks for it, so the model itself does not
        depend on the formats (nor on jinja2)."""
        from importlib import import_module
        return import_module("engine.formats").get("html").reports([self])

    def to_json(self) -> str:
        absent = {name for name in ("notes", "robustness", "facts", "near_misses", "waivers",
                                    "baseline")
                  if getattr(self, name) is None}
        return self.model_dump_json(indent=2, exclude_none=False, exclude=absent or None) + "\n"
