"""The files of a rule pack as written: the manifest (pack.yaml) and rule files, as pydantic
models that validate them, with the language's size limits."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ..model import Severity

MANIFEST = "pack.yaml"


TEST_SUFFIXES = (".test.yaml", ".test.yml")  # rule tests sit beside rules; never rules


MAX_RULES = 20_000          # across rulesets of up to 4,000 (durable: 4,096 actions each)


MAX_PATTERNS = 12           # durable joins at most 16 facts per rule


MAX_LIST_VALUES = 100


MAX_TAGS = 12


Ident = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


PackName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]


RuleId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$", max_length=64)]


SemVer = Annotated[str, StringConstraints(
    pattern=r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")]


Prose = Annotated[str, StringConstraints(min_length=1, max_length=5000)]


Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]


# numbers within what a case's amounts may be: a parameter of thousands of digits would
# only ever overflow
ParamValue = (bool | Annotated[int, Field(ge=-10**15, le=10**15)]
              | Annotated[float, Field(allow_inf_nan=False, ge=-1e15, le=1e15)]
              | str | list[str])


class _Strict(BaseModel):
    # built when first used: a pack loaded from the cache of compiled packs validates nothing
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True,
                              defer_build=True)


class DatedValue(_Strict):
    """A parameter's value from a fiscal year on (a benchmark that changed over time)."""

    since: int = Field(alias="from", ge=1900, le=2200)
    value: ParamValue
    source: Prose


class ParameterSpec(_Strict):
    value: ParamValue                 # the value before the first dated one, if any
    unit: Prose
    description: Prose
    source: Prose
    # values by fiscal year: each applies from its year until the next; the case's fiscal year
    # chooses (a run-wide --param or an override replaces them all)
    by_year: list[DatedValue] | None = Field(default=None, min_length=1, max_length=50)

    def value_for(self, year: int | None):
        """The value that applies to fiscal year `year` (the plain value without one)."""
        chosen = self.value
        if year is not None:
            for dated in self.by_year or ():
                if dated.since <= year:
                    chosen = dated.value
        return chosen


class CategorySpec(_Strict):
    group: Ident
    description: Prose


class ConcernSpec(_Strict):
    kind: Literal["risk", "strength"]
    description: Prose


class SectionSpec(_Strict):
    heading: Prose
    lines: Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=2, max_length=2)]


class GuidanceSpec(_Strict):
    document: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    sections: dict[Slug, SectionSpec]


VersionSpecifier = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class ExtendsSpec(_Strict):
    pack: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    version: VersionSpecifier | None = None


class ParameterOverride(_Strict):
    value: ParamValue
    source: Prose


class OverridesSpec(_Strict):
    severity: dict[Annotated[str, StringConstraints(max_length=64)], Severity] = Field(
        default_factory=dict)
    parameters: dict[Ident, ParameterOverride] = Field(default_factory=dict)


class Manifest(_Strict):
    name: PackName
    version: SemVer
    description: Prose
    diplo: VersionSpecifier | None = None
    extends: Annotated[str, StringConstraints(min_length=1, max_length=300)] | ExtendsSpec \
        | None = None
    guidance: GuidanceSpec | None = None
    categories: dict[Ident, CategorySpec] = Field(default_factory=dict)
    concerns: dict[Ident, ConcernSpec] = Field(default_factory=dict)
    parameters: dict[Ident, ParameterSpec] = Field(default_factory=dict)
    disable: list[Annotated[str, StringConstraints(max_length=64)]] = Field(default_factory=list)
    overrides: OverridesSpec = Field(default_factory=OverridesSpec)
    rules: list[Annotated[str, StringConstraints(min_length=1, max_length=300)]] = Field(
        default_factory=lambda: ["rules/*.yaml"])

    @property
    def base(self) -> ExtendsSpec | None:
        if isinstance(self.extends, str):
            return ExtendsSpec(pack=self.extends)
        return self.extends


Expression = Annotated[str, StringConstraints(min_length=1)] | int | float | bool


class PatternSpec(_Strict):
    fact: Ident
    as_: Ident | None = Field(default=None, alias="as")
    where: Annotated[str, StringConstraints(min_length=1)] | None = None


class WhenSpec(_Strict):
    fact: Ident | None = None
    as_: Ident | None = Field(default=None, alias="as")
    where: Annotated[str, StringConstraints(min_length=1)] | None = None
    not_: PatternSpec | None = Field(default=None, alias="not")


class DeriveSpec(_Strict):
    fact: Ident
    fields: dict[Ident, Expression] = Field(default_factory=dict)


class ReportSpec(_Strict):
    kind: Literal["risk", "strength"]
    severity: Severity
    concern: Ident
    message: Prose
    remediation: Prose | None = None
    # findings of one case with the same cause (a template, e.g. "{cut.line}") are one finding
    cause: Prose | None = None


class CitationSpec(_Strict):
    section: Slug
    quote: Prose


class RuleSpec(_Strict):
    id: RuleId
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    description: Prose | None = None
    # what the rule is about, for `--select tag:NAME` and `--ignore tag:NAME`
    tags: list[Slug] = Field(default_factory=list, max_length=MAX_TAGS)
    when: list[WhenSpec] = Field(min_length=1, max_length=MAX_PATTERNS)
    let: dict[Ident, Expression] = Field(default_factory=dict)
    derive: DeriveSpec | None = None
    report: ReportSpec | None = None
    citation: CitationSpec


class RuleFile(_Strict):
    rules: list[RuleSpec] = Field(min_length=1)
