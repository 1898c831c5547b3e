"""Loading rule packs: reading, validating and analysing them into rules the compiler takes.

Everything a pack can get wrong is found here, before anything reaches the rule engine: unknown
keys, bad expressions, undefined parameters, facts, fields and categories, type mismatches,
duplicate ids, derivation cycles, citations that are not in the guidance.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import PackError
from ..inputs.source import Document, format_path
from ..model import SEVERITIES
from . import expr as ex
from .spec import (
    CategorySpec,
    CitationSpec,
    Manifest,
    ParameterSpec,
    ParamValue,
    ReportSpec,
)
from .template import Template

# --- analysed forms -------------------------------------------------------------------------

@dataclass
class Where:
    file: str
    line: int | None
    column: int | None
    path: str

    def error(self, message: str, offset: int | None = None) -> PackError:
        column = self.column
        if offset is not None and column is not None:
            column += offset
        return PackError(message, file=self.file, line=self.line, column=column, path=self.path)


@dataclass
class Pattern:
    kind: str
    name: str
    negated: bool
    where: ex.Node | None
    at: Where
    implicit: bool = False
    text: str | None = None     # the `where` condition as written


@dataclass
class Rule:
    id: str
    pack: str
    title: str
    description: str | None
    patterns: list[Pattern]
    lets: dict[str, ex.Node]
    derive_kind: str | None
    derive_fields: dict[str, ex.Node]
    report: ReportSpec | None
    message: Template | None
    remediation: Template | None
    citation: CitationSpec
    quote: str
    at: Where
    sites: dict[str, Where] = field(default_factory=dict)   # "let.x", "derive.y", "message"
    params: dict[str, ParamValue] = field(default_factory=dict)   # those the rule reads
    fields_read: dict[str, set[str]] = field(default_factory=dict)  # binding -> fields
    stratum: int = 0
    tags: list[str] = field(default_factory=list)
    written: dict[str, object] = field(default_factory=dict)   # "let.x", "derive.y": as written
    cause: Template | None = None   # findings with the same cause are folded into one

    @property
    def kind(self) -> str:
        return "derive" if self.derive_kind else self.report.kind

    @property
    def positive(self) -> list[Pattern]:
        return [p for p in self.patterns if not p.negated]


@dataclass
class Pack:
    name: str
    version: str
    description: str
    root: Path
    manifest: Manifest
    rules: list[Rule]
    manifest_doc: Document
    base: "Pack | None" = None
    guidance: dict[str, str] = field(default_factory=dict)   # slug -> normalised text

    @property
    def ancestors(self) -> list["Pack"]:
        """The packs this one extends, nearest first."""
        found, pack = [], self.base
        while pack is not None:
            found.append(pack)
            pack = pack.base
        return found

    @property
    def extends(self) -> str | None:
        return self.base.name if self.base else None


@dataclass
class PackSet:
    """Packs loaded together: the unit the compiler turns into one rule network."""

    packs: list[Pack]
    rules: list[Rule]
    categories: dict[str, CategorySpec]
    schemas: dict[str, dict[str, str]]
    derived_by: dict[str, list[str]]
    strata: int
    parameters: dict[str, dict[str, ParameterSpec]]   # pack -> name -> spec (effective)
    compiled: object = None                           # set by the compiler
    # what every report of this set shares (pack references, each rule's citation), made once
    report_parts: dict = field(default_factory=dict, repr=False, compare=False)
    disabled: dict[str, str] = field(default_factory=dict)    # rule id -> who disabled it
    severity_overrides: dict[str, "SeverityOverride"] = field(default_factory=dict)
    # the same packs compiled with the dated parameters' values of other fiscal years
    year_variants: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def dated_parameters(self) -> dict[str, ParameterSpec]:
        """The parameters whose value depends on the case's fiscal year, by `PACK.NAME`."""
        return {f"{pack}.{name}": spec for pack, specs in self.parameters.items()
                for name, spec in specs.items() if spec.by_year}

    def visible_parameters(self, pack_name: str) -> dict[str, ParameterSpec]:
        """The parameters a pack's rules may read: its own and those of the packs it
        extends."""
        return _visible(next(p for p in self.packs if p.name == pack_name), self.parameters)

    @property
    def groups(self) -> dict[str, str]:
        return {name: spec.group for name, spec in self.categories.items()}


@dataclass(frozen=True)
class SeverityOverride:
    default: str     # the severity the rule's own pack gives
    by: str          # what set the new one: a pack, a configuration file, the command line


# --- finding packs ----------------------------------------------------------------------------


# --- loading ---------------------------------------------------------------------------------


# --- analysis across packs -------------------------------------------------------------------



def _visible(pack: Pack, parameters: dict[str, dict[str, ParameterSpec]]
             ) -> dict[str, ParameterSpec]:
    """The parameters a pack's rules may read: its own and those of the packs it extends."""
    visible: dict[str, ParameterSpec] = {}
    for owner in [pack] + pack.ancestors:
        for name, spec in parameters[owner.name].items():
            visible.setdefault(name, spec)
    return visible


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def where_in(doc: Document, path: tuple) -> Where:
    line, column = doc.position(path)
    return Where(doc.name, line, column, format_path(path))
