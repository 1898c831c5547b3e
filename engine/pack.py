"""Loading rule packs: reading, validating and analysing them into rules the compiler takes.

Everything a pack can get wrong is found here, before anything reaches the rule engine: unknown
keys, bad expressions, undefined parameters, facts, fields and categories, type mismatches,
duplicate ids, derivation cycles, citations that are not in the guidance.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from . import expr as ex
from .errors import PackError
from .facts import BASE_SCHEMAS, SINGLETON_KINDS
from .model import SEVERITIES, Severity
from .source import Document, format_path, read_document, read_text
from .template import Template, TemplateError, parse_template
from .validation import did_you_mean, validate

MANIFEST = "pack.yaml"
TEST_SUFFIXES = (".test.yaml", ".test.yml")  # rule tests sit beside rules; never rules
MAX_RULES = 20_000          # across rulesets of up to 4,000 (durable: 4,096 actions each)
MAX_PATTERNS = 12           # durable joins at most 16 facts per rule
MAX_LIST_VALUES = 100

Ident = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
PackName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]
RuleId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$", max_length=64)]
SemVer = Annotated[str, StringConstraints(
    pattern=r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")]
Prose = Annotated[str, StringConstraints(min_length=1, max_length=5000)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]
ParamValue = (bool | int | Annotated[float, Field(allow_inf_nan=False, ge=-1e15, le=1e15)]
              | str | list[str])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


class ParameterSpec(_Strict):
    value: ParamValue
    unit: Prose
    description: Prose
    source: Prose


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


class CitationSpec(_Strict):
    section: Slug
    quote: Prose


class RuleSpec(_Strict):
    id: RuleId
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    description: Prose | None = None
    when: list[WhenSpec] = Field(min_length=1, max_length=MAX_PATTERNS)
    let: dict[Ident, Expression] = Field(default_factory=dict)
    derive: DeriveSpec | None = None
    report: ReportSpec | None = None
    citation: CitationSpec


class RuleFile(_Strict):
    rules: list[RuleSpec] = Field(min_length=1)


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

def builtin_packs_dir() -> Path:
    """Where the packs shipped with diplo live: inside the package when installed, the
    repository's rules/ folder in a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_packs", here.parent / "rules"):
        if candidate.is_dir():
            return candidate
    raise PackError("the built-in rule packs are missing from this installation",
                    file=str(here / "_packs"))


DEFAULT_PACK = "defense-diplomacy"


PACK_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def resolve_pack_dir(spec: str | Path, *, relative_to: Path | None = None) -> Path:
    """A pack folder from a path, or the name of an installed pack (diplo's own included).

    A folder that exists wins over a name. `relative_to` is where a relative path starts
    (a pack's `extends` is relative to the pack; a command-line path to the working
    directory)."""
    if not str(spec).strip():
        raise PackError("the pack name or folder is empty", path="--pack")
    path = Path(spec)
    if relative_to is not None and not path.is_absolute():
        path = Path(os.path.normpath(relative_to / path))
    if path.is_dir():
        return path
    from . import registry
    if isinstance(spec, str) and PACK_NAME.match(spec):
        installed = registry.find_installed(spec)
        if installed is not None:
            return installed
        if not registry.installed_names():
            # diplo run from a source tree it was never installed from: no entry points at
            # all, so its own packs are found where they are
            builtin = builtin_packs_dir() / spec
            if builtin.is_dir():
                return builtin
    if path.exists():
        raise PackError("is not a folder; a rule pack is a folder with a pack.yaml",
                        file=str(spec))
    names = registry.installed_names()
    hint = did_you_mean(str(spec), names)
    raise PackError(f"no such rule pack folder or installed pack{hint or ''}"
                    + ("" if hint else f" (installed packs: {', '.join(names)})" if names else ""),
                    file=str(spec))


def _default_pack_dir() -> Path:
    """The default pack's folder when no pack is named: as `resolve_pack_dir(DEFAULT_PACK)`
    finds it, except that diplo's own copy is taken without reading the entry points of every
    installed distribution (milliseconds at every start, for the answer diplo ships)."""
    if Path(DEFAULT_PACK).is_dir():   # a folder that exists wins over a name, as there
        return Path(DEFAULT_PACK)
    builtin = builtin_packs_dir() / DEFAULT_PACK
    return builtin if builtin.is_dir() else resolve_pack_dir(DEFAULT_PACK)


# --- loading ---------------------------------------------------------------------------------

def load_pack(*specs: str | Path, params: dict[str, str | ParamValue] | None = None,
              disable: list[str] | tuple[str, ...] | dict[str, str] | None = None,
              severity: dict[str, str] | None = None) -> PackSet:
    """Load one or more packs (folders or installed pack names) into a PackSet; a pack that
    extends another brings it along, loaded first.

    With no argument, the default pack. `params` overrides parameter values by name (`name`
    or `pack.name`); `disable` leaves rules out by id; `severity` sets a reporting rule's
    severity by id. A dict for `disable` maps each id to who asks (shown in errors and
    reports); so do `by_*` keys in `origins` (see analyse)."""
    loader = _Loader()
    if not specs:
        loader.add(_default_pack_dir())
    for spec in specs:
        loader.add(resolve_pack_dir(spec))
    return analyse(loader.packs, params or {}, disable=disable, severity=severity)


class _Loader:
    """Reads packs and the packs they extend, each once, bases before their extensions."""

    def __init__(self):
        self.packs: list[Pack] = []
        self._by_root: dict[Path, Pack] = {}

    def add(self, root: Path, chain: tuple[Pack, ...] = ()) -> Pack:
        key = root.resolve()
        if key in self._by_root:
            return self._by_root[key]
        manifest, doc = _read_manifest(root)
        for other in self.packs:
            if other.name == manifest.name:
                raise PackError(f"pack '{manifest.name}' is loaded twice: from "
                                f"{other.root / MANIFEST} and from {root / MANIFEST}; load one "
                                "of them", file=str(root / MANIFEST))
        base = None
        wanted = manifest.base
        if wanted is not None:
            names = [p.name for p in chain] + [manifest.name]
            base_root = _resolve_base(wanted.pack, root, doc)
            again = [p.name for p in chain if p.root.resolve() == base_root.resolve()]
            if again or base_root.resolve() == key:
                raise doc.error(PackError, "packs extend each other in a circle: "
                                + " -> ".join(names + (again or [manifest.name])),
                                ("extends",))
            base = self.add(base_root, chain + (_Pending(manifest.name, root),))
            if wanted.version is not None and not _version_ok(base.version, wanted.version):
                raise doc.error(PackError, f"this pack needs {base.name} {wanted.version}, "
                                f"but {base.name} {base.version} is loaded (from {base.root})",
                                ("extends", "version"))
        pack = _read_rules(root, manifest, doc, base)
        self._by_root[key] = pack
        self.packs.append(pack)
        return pack


@dataclass
class _Pending:
    """A pack whose base is being read: enough to recognise a circle."""
    name: str
    root: Path


def _resolve_base(spec: str, root: Path, doc: Document) -> Path:
    try:
        return resolve_pack_dir(spec, relative_to=root)
    except PackError as exc:
        raise doc.error(PackError, f"the pack it extends cannot be found: {exc.message} "
                        f"({spec!r}: an installed pack's name, or a folder relative to this "
                        "pack)", ("extends",)) from None


def _version_ok(version: str, specifier: str) -> bool:
    plain = _plain_specifier(specifier)
    release = _plain_release(version)
    if plain is not None and release is not None:
        return all(_PLAIN_OPS[op](release, bound) for op, bound in plain)
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version
    return SpecifierSet(specifier).contains(Version(version), prereleases=True)


# The specifiers packs write ('>=0.2,<1') and plain versions ('1.0.0'), matched without
# importing `packaging` (its import and patterns cost about 9 ms of every start): for these,
# PEP 440 reduces to comparing release numbers, trailing zeros aside. Anything else
# (pre-releases, '~=', '==1.*', local versions, a 'v') goes to `packaging`;
# tests/test_cold_start.py checks that the two agree.
_PLAIN_CLAUSE = re.compile(r"\s*(==|!=|<=|>=|<|>)\s*([0-9]+(?:\.[0-9]+)*)\s*")
_PLAIN_VERSION = re.compile(r"[0-9]+(?:\.[0-9]+)*")
_PLAIN_OPS = {"==": lambda v, b: v == b, "!=": lambda v, b: v != b,
              "<=": lambda v, b: v <= b, ">=": lambda v, b: v >= b,
              "<": lambda v, b: v < b, ">": lambda v, b: v > b}


def _release_key(text: str) -> tuple[int, ...]:
    numbers = [int(part) for part in text.split(".")]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


def _plain_release(version: str) -> tuple[int, ...] | None:
    return _release_key(version) if _PLAIN_VERSION.fullmatch(version) else None


def _plain_specifier(text: str) -> list[tuple[str, tuple[int, ...]]] | None:
    """(operator, release) of each clause, or None when a clause is not `OP RELEASE`."""
    clauses = []
    for clause in text.split(","):
        match = _PLAIN_CLAUSE.fullmatch(clause)
        if match is None:
            return None
        clauses.append((match[1], _release_key(match[2])))
    return clauses


def _check_specifier(text: str, doc: Document, path: tuple) -> None:
    if _plain_specifier(text) is not None:
        return
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    try:
        SpecifierSet(text)
    except InvalidSpecifier:
        raise doc.error(PackError, f"{text!r} is not a version specifier (write e.g. "
                        "'>=1.0,<2' or '~=1.2')", path) from None


def read_manifest(root: Path) -> Manifest:
    """A pack folder's manifest, validated (its rules are not read)."""
    return _read_manifest(root)[0]


def _read_manifest(root: Path) -> tuple[Manifest, Document]:
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise PackError(f"no {MANIFEST} in this folder; a rule pack needs a manifest",
                        file=str(root))
    if not _inside(root, manifest_path):
        # a link out of the pack could make error messages quote a file the pack may not read
        raise PackError(f"{MANIFEST} resolves outside the pack folder (a link?); a pack's "
                        "files must lie inside it", file=str(manifest_path))
    doc = read_document(manifest_path)
    manifest: Manifest = validate(Manifest, doc, PackError, what="pack manifest")
    if manifest.diplo is not None:
        _check_specifier(manifest.diplo, doc, ("diplo",))
        from ._version import __version__
        if not _version_ok(__version__, manifest.diplo):
            raise doc.error(PackError, f"pack '{manifest.name}' {manifest.version} works with "
                            f"diplo {manifest.diplo}; this is diplo {__version__}", ("diplo",))
    base = manifest.base
    if base is not None and base.version is not None:
        _check_specifier(base.version, doc, ("extends", "version"))
    if manifest.guidance is None and base is None:
        raise doc.error(PackError, "a pack needs a 'guidance' document for its rules to cite, "
                        "unless it extends a pack whose guidance they cite", ())
    if base is None:
        for key, unset in (("disable", []), ("overrides", OverridesSpec())):
            if getattr(manifest, key) != unset:
                raise doc.error(PackError, f"'{key}' changes the rules of the pack this one "
                                "extends, but it extends none (add 'extends')", (key,))
    return manifest, doc


def with_inherited(manifest: Manifest, doc: Document, own_guidance: dict[str, str],
                   base: Pack | None) -> tuple[dict[str, str], dict[str, ConcernSpec]]:
    """The guidance sections and concerns a pack's rules may cite and report: its own, then
    those of the packs it extends."""
    guidance = dict(own_guidance)
    concerns = dict(manifest.concerns)
    for ancestor in ([base] + base.ancestors) if base else []:
        for slug, text in ancestor.guidance.items():
            guidance.setdefault(slug, text)
        for name, spec in ancestor.manifest.concerns.items():
            if name in manifest.concerns and manifest.concerns[name].kind != spec.kind:
                raise doc.error(PackError, f"concern '{name}' is a {spec.kind} concern in "
                                f"{ancestor.name} ({ancestor.root / MANIFEST}); it cannot be a "
                                f"{manifest.concerns[name].kind} here", ("concerns", name, "kind"))
            concerns.setdefault(name, spec)
    return guidance, concerns


def _read_rules(root: Path, manifest: Manifest, doc: Document, base: Pack | None) -> Pack:
    if not manifest.rules and base is None:
        raise doc.error(PackError, "a pack needs rules unless it extends another pack",
                        ("rules",))
    rule_files = _rule_files(root, manifest, doc)
    specs: list[tuple[RuleSpec, Document, int]] = []
    for path in rule_files:
        rdoc = read_document(path, display=str(path))
        rule_file: RuleFile = validate(RuleFile, rdoc, PackError, what="rule file")
        specs.extend((spec, rdoc, i) for i, spec in enumerate(rule_file.rules))
    own = _read_guidance(root, manifest, doc) if manifest.guidance else {}
    guidance, concerns = with_inherited(manifest, doc, own, base)
    rules = [_rule_from_spec(spec, rdoc, i, manifest, guidance, concerns)
             for spec, rdoc, i in specs]
    return Pack(manifest.name, manifest.version, manifest.description, root, manifest, rules,
                doc, base, own)


def _inside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def pack_files(root: Path) -> list[tuple[str, Path]]:
    """Every file in a pack folder as (path relative to the pack, path), without following a
    link: listing or reading through a link could reach files the pack may not read."""
    found = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            found.append((path.relative_to(root).as_posix(), path))
    return found


def glob_regex(pattern: str) -> re.Pattern:
    """A glob over pack-relative paths: `*` and `?` stay within one folder, `**/` spans any."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def _rule_files(root: Path, manifest: Manifest, doc: Document) -> list[Path]:
    found: list[Path] = []
    files = pack_files(root)
    for i, pattern in enumerate(manifest.rules):
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            raise doc.error(PackError, f"rule file path {pattern!r} leaves the pack folder; "
                            "paths are relative to the pack and stay inside it", ("rules", i))
        wanted = glob_regex(pattern)
        matches = [(rel, p) for rel, p in files if wanted.match(rel)
                   and p.suffix in (".yaml", ".yml", ".json") and rel != MANIFEST
                   and not p.name.endswith(TEST_SUFFIXES)]
        for rel, path in matches:
            if path.is_symlink() or not path.is_file():
                raise doc.error(PackError, f"rule file {rel!r} is a link or not a regular "
                                "file; a pack's files must lie inside its folder", ("rules", i))
        if not matches:
            raise doc.error(PackError, f"no rule files match {pattern!r}", ("rules", i))
        found.extend(p for _, p in matches if p not in found)
    return found


def _normalise(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"') \
        .replace("\u201d", '"')
    return re.sub(r"\s+", " ", text).strip().lower()


def _read_guidance(root: Path, manifest: Manifest, doc: Document) -> dict[str, str]:
    path = root / manifest.guidance.document
    if not _inside(root, path):
        raise doc.error(PackError, "the guidance document must be inside the pack folder",
                        ("guidance", "document"))
    if not path.is_file():
        problem = "is a folder, not a file" if path.is_dir() else "not found"
        raise doc.error(PackError, f"guidance document {manifest.guidance.document!r} {problem}",
                        ("guidance", "document"))
    lines = read_text(path).splitlines()
    sections = {}
    for slug, section in manifest.guidance.sections.items():
        first, last = section.lines
        if first > last:
            raise doc.error(PackError, f"lines {first}-{last}: the first line comes after the "
                            "last", ("guidance", "sections", slug, "lines"))
        if last > len(lines):
            raise doc.error(PackError, f"lines {first}-{last} are outside the document "
                            f"({len(lines)} lines)", ("guidance", "sections", slug, "lines"))
        if _normalise(section.heading) != _normalise(lines[first - 1]):
            raise doc.error(PackError, f"line {first} of the guidance is "
                            f"{lines[first - 1].strip()!r}, not the heading "
                            f"{section.heading!r}", ("guidance", "sections", slug, "heading"))
        sections[slug] = _normalise(" ".join(lines[first - 1:last]))
    return sections


def _where(doc: Document, path: tuple) -> Where:
    line, column = doc.position(path)
    return Where(doc.name, line, column, format_path(path))


def _expr_where(doc: Document, path: tuple) -> Where:
    """Where an expression string starts, so that parser offsets give its column."""
    at = _where(doc, path)
    if at.column is not None:
        text = doc.data
        for part in path:
            text = text[part]
        # a plain or quoted scalar on one line: columns add up; otherwise keep the start
        if isinstance(text, str) and "\n" not in text:
            lines = doc.lines
            raw_line = lines[at.line - 1] if at.line and at.line <= len(lines) else ""
            if raw_line[at.column - 1:at.column] in ("'", '"'):
                at.column += 1
    return at


def _parse(text, at: Where) -> ex.Node:
    if isinstance(text, bool) or isinstance(text, (int, float)):
        return ex.Literal(0, text)
    try:
        return ex.parse(text)
    except ex.ExprError as exc:
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise at.error(f"in expression {shown!r}: {exc.message}", exc.offset) from None


def _rule_from_spec(spec: RuleSpec, doc: Document, index: int, manifest: Manifest,
                    guidance: dict[str, str], concerns: dict[str, ConcernSpec]) -> Rule:
    base = ("rules", index)
    at = _where(doc, base)
    if (spec.derive is None) == (spec.report is None):
        raise at.error("a rule needs exactly one of 'derive' (a new fact) or "
                       "'report' (a finding)")
    patterns = []
    for j, item in enumerate(spec.when):
        wpath = base + ("when", j)
        if (item.fact is None) == (item.not_ is None):
            raise _where(doc, wpath).error("each 'when' entry needs either 'fact' "
                                           "(with optional 'as' and 'where') or 'not'")
        negated = item.not_ is not None
        body = item.not_ if negated else item
        ppath = wpath + (("not",) if negated else ())
        where = None
        if body.where is not None:
            where = _parse(body.where, _expr_where(doc, ppath + ("where",)))
        patterns.append(Pattern(body.fact, body.as_ or body.fact, negated, where,
                                _expr_where(doc, ppath + ("where",)) if body.where
                                else _where(doc, ppath)))
    sites: dict[str, Where] = {}
    lets = {}
    for name, value in spec.let.items():
        sites[f"let.{name}"] = _expr_where(doc, base + ("let", name))
        lets[name] = _parse(value, sites[f"let.{name}"])
    derive_fields = {}
    if spec.derive:
        sites["derive"] = _where(doc, base + ("derive", "fact"))
        for name, value in spec.derive.fields.items():
            sites[f"derive.{name}"] = _expr_where(doc, base + ("derive", "fields", name))
            derive_fields[name] = _parse(value, sites[f"derive.{name}"])
    message = remediation = None
    if spec.report:
        sites["message"] = _where(doc, base + ("report", "message"))
        message = _template(spec.report.message, doc, base + ("report", "message"))
        if spec.report.remediation:
            sites["remediation"] = _where(doc, base + ("report", "remediation"))
            remediation = _template(spec.report.remediation, doc,
                                    base + ("report", "remediation"))
        concern = concerns.get(spec.report.concern)
        cpath = base + ("report", "concern")
        if concern is None:
            raise doc.error(PackError, f"concern '{spec.report.concern}' is not declared in "
                            f"the manifest{did_you_mean(spec.report.concern, concerns)}",
                            cpath)
        if concern.kind != spec.report.kind:
            raise doc.error(PackError, f"concern '{spec.report.concern}' is a {concern.kind} "
                            f"concern, but this rule reports a {spec.report.kind}", cpath)
        if spec.report.kind == "strength" and spec.report.severity != "info":
            raise doc.error(PackError, "strengths have severity info",
                            base + ("report", "severity"))
    citation = spec.citation
    section = guidance.get(citation.section)
    if section is None:
        where = ("the guidance of this pack or of the packs it extends" if manifest.extends
                 else "the manifest")
        raise doc.error(PackError, f"guidance section '{citation.section}' is not declared in "
                        f"{where}{did_you_mean(citation.section, guidance)}",
                        base + ("citation", "section"))
    pieces = [p for p in re.split(r"\.\.\.|\u2026", _normalise(citation.quote)) if p.strip()]
    position = 0
    for piece in pieces:
        found = section.find(piece.strip(), position)
        if found < 0:
            raise doc.error(PackError, f"the quote is not in guidance section "
                            f"'{citation.section}': {piece.strip()[:80]!r} was not found there "
                            "(quote the text exactly; '...' may join separate passages)",
                            base + ("citation", "quote"))
        position = found + len(piece.strip())
    return Rule(spec.id, manifest.name, spec.title, spec.description, patterns, lets,
                spec.derive.fact if spec.derive else None, derive_fields, spec.report, message,
                remediation, citation, citation.quote, at, sites)


def _template(text: str, doc: Document, path: tuple) -> Template:
    try:
        return parse_template(text)
    except TemplateError as exc:
        raise _where(doc, path).error(f"in template: {exc.message}") from None


# --- analysis across packs -------------------------------------------------------------------

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


def _type_of(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, list):
        return "list"
    return "string"


def coerce_param(spec: ParameterSpec, raw, name: str):
    """A parameter override, converted to the declared parameter's type."""
    want = _type_of(spec.value)
    if not isinstance(raw, str):
        if _type_of(raw) != want:
            raise ValueError(f"expected a {want}, found {_show_value(raw)}")
        if want == "number" and not (math.isfinite(raw) and abs(raw) <= 1e15):
            raise ValueError(f"expected a finite number up to 1e15, found {raw!r}")
        if want == "list" and not all(isinstance(item, str) for item in raw):
            raise ValueError(f"expected a list of text, found {raw!r}")
        return raw
    text = raw.strip()
    if want == "number":
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"expected a number, found {raw!r}") from None
        if value != value or value in (float("inf"), float("-inf")) or abs(value) > 1e15:
            raise ValueError(f"expected a finite number up to 1e15, found {raw!r}")
        return int(value) if value.is_integer() and isinstance(spec.value, int) else value
    if want == "bool":
        if text.lower() in ("true", "yes", "1"):
            return True
        if text.lower() in ("false", "no", "0"):
            return False
        raise ValueError(f"expected true or false, found {raw!r}")
    if want == "list":
        return [piece.strip() for piece in text.split(",") if piece.strip()]
    return text


def analyse(packs: list[Pack], overrides: dict, *,
            disable: list[str] | tuple[str, ...] | dict[str, str] | None = None,
            severity: dict[str, str | tuple[str, str]] | None = None) -> PackSet:
    """Check packs loaded together and apply what changes them, in this order: each pack's
    `overrides` and `disable` (of the packs it extends), then `overrides` (parameter values),
    `disable` and `severity` given by the caller. `disable` may map each rule id to who
    disables it and a `severity` value may be (level, who); who is shown in reports."""
    seen_packs: dict[str, Pack] = {}
    for pack in packs:
        if pack.name in seen_packs:
            raise PackError(f"pack '{pack.name}' is loaded twice (also from "
                            f"{seen_packs[pack.name].root})", file=str(pack.root / MANIFEST))
        seen_packs[pack.name] = pack

    categories: dict[str, CategorySpec] = {}
    for pack in packs:
        for name, spec in pack.manifest.categories.items():
            if name in categories and categories[name].group != spec.group:
                raise pack.manifest_doc.error(
                    PackError, f"category '{name}' is declared by another pack in group "
                    f"'{categories[name].group}'", ("categories", name, "group"))
            categories.setdefault(name, spec)

    _check_parameter_conflicts(packs)
    parameters = _effective_parameters(packs, overrides)

    rule_sites: dict[str, Rule] = {}
    for pack in packs:
        for rule in pack.rules:
            if rule.id in rule_sites:
                other = rule_sites[rule.id].at
                raise rule.at.error(f"duplicate rule id '{rule.id}' (also at {other.file}:"
                                    f"{other.line})")
            rule_sites[rule.id] = rule
    disabled, severity_overrides = _apply_changes(packs, rule_sites, disable, severity)
    rules = [rule for pack in packs for rule in pack.rules if rule.id not in disabled]
    if len(rules) > MAX_RULES:
        raise PackError(f"{len(rules)} rules are loaded; the limit is {MAX_RULES}",
                        file=str(packs[0].root / MANIFEST))
    _check_disabled_producers(packs, rules, rule_sites, disabled)

    derived_by: dict[str, list[Rule]] = {}
    for rule in rules:
        if rule.derive_kind:
            if rule.derive_kind in BASE_SCHEMAS:
                raise rule.at.error(f"'{rule.derive_kind}' is a fact every case provides; "
                                    "a rule cannot derive it")
            derived_by.setdefault(rule.derive_kind, []).append(rule)

    order = _derivation_order(rules, derived_by)
    schemas = {kind: dict(fields) for kind, fields in BASE_SCHEMAS.items()}
    checker = _Checker(schemas, categories, {pack.name: _visible(pack, parameters)
                                             for pack in packs})
    for rule in order:
        checker.check(rule, derived_by)
    for rule in rules:
        if not rule.derive_kind:
            checker.check(rule, derived_by)

    strata = 0
    kind_stratum: dict[str, int] = {}
    for rule in order + [r for r in rules if not r.derive_kind]:
        level = 0
        for pattern in rule.patterns:
            # the engine withdraws no activation when a blocking fact arrives later, so a
            # negation waits until every fact of the negated kind exists
            below = kind_stratum.get(pattern.kind, 0)
            level = max(level, below + 1 if pattern.negated else below)
        rule.stratum = level
        strata = max(strata, level)
        if rule.derive_kind:
            kind_stratum[rule.derive_kind] = max(kind_stratum.get(rule.derive_kind, 0), level)
    return PackSet(packs, rules, categories, schemas,
                   {k: [r.id for r in v] for k, v in derived_by.items()}, strata, parameters,
                   disabled=disabled, severity_overrides=severity_overrides)


def _check_parameter_conflicts(packs: list[Pack]) -> None:
    owners: dict[str, Pack] = {}
    for pack in packs:
        for name in pack.manifest.parameters:
            other = owners.get(name)
            if other is not None:
                line, _ = other.manifest_doc.position(("parameters", name), key=True)
                raise pack.manifest_doc.error(
                    PackError, f"parameter '{name}' is also declared by pack '{other.name}' "
                    f"({other.manifest_doc.name}:{line}); a name means one parameter: rename "
                    "one, or set the other pack's value under 'overrides: parameters:' when "
                    "this pack extends it", ("parameters", name), key=True)
            owners[name] = pack


def _apply_changes(packs, rule_sites, disable, severity):
    """Rules left out and severities changed, by the packs that extend others and then by
    the caller: rule id -> who disabled it, and rule id -> SeverityOverride."""
    disabled: dict[str, str] = {}
    changed: dict[str, SeverityOverride] = {}

    def ancestor_rule(pack: Pack, rule_id: str, path: tuple) -> Rule:
        inherited = {r.id: r for a in pack.ancestors for r in a.rules}
        if rule_id not in inherited:
            own = " (it is this pack's own rule: change or remove it instead)" \
                if any(r.id == rule_id for r in pack.rules) else did_you_mean(rule_id, inherited)
            raise pack.manifest_doc.error(PackError, f"no rule '{rule_id}' in the packs this "
                                          f"one extends{own}", path)
        return inherited[rule_id]

    def set_severity(rule: Rule, level: str, by: str, error) -> None:
        if rule.report is None:
            raise error(f"rule '{rule.id}' derives a fact; only reporting rules have a "
                        "severity")
        if rule.report.kind == "strength" and level != "info":
            raise error(f"rule '{rule.id}' reports a strength; strengths have severity info")
        default = changed[rule.id].default if rule.id in changed else rule.report.severity
        rule.report = rule.report.model_copy(update={"severity": level})
        if level == default:
            changed.pop(rule.id, None)
        else:
            changed[rule.id] = SeverityOverride(default, by)

    for pack in packs:
        by = f"pack {pack.name}"
        for i, rule_id in enumerate(pack.manifest.disable):
            ancestor_rule(pack, rule_id, ("disable", i))
            disabled[rule_id] = by
        for rule_id, level in pack.manifest.overrides.severity.items():
            path = ("overrides", "severity", rule_id)
            rule = ancestor_rule(pack, rule_id, path)
            set_severity(rule, level, by, lambda message, path=path, pack=pack:
                         pack.manifest_doc.error(PackError, message, path))

    items = disable.items() if isinstance(disable, dict) else ((r, "command line")
                                                              for r in disable or ())
    for rule_id, by in items:
        if rule_id not in rule_sites:
            raise PackError(f"no rule '{rule_id}' is loaded{did_you_mean(rule_id, rule_sites)}",
                            path=f"--disable {rule_id}")
        disabled[rule_id] = by
    for rule_id, wanted in (severity or {}).items():
        level, by = wanted if isinstance(wanted, tuple) else (wanted, "command line")
        if rule_id not in rule_sites:
            raise PackError(f"no rule '{rule_id}' is loaded{did_you_mean(rule_id, rule_sites)}",
                            path=f"--severity {rule_id}")
        if level not in SEVERITIES:
            raise PackError(f"expected one of {', '.join(SEVERITIES)}, found {level!r}",
                            path=f"--severity {rule_id}")
        set_severity(rule_sites[rule_id], level, by,
                     lambda message, rule_id=rule_id: PackError(
                         message, path=f"--severity {rule_id}"))
    for rule_id in disabled:
        changed.pop(rule_id, None)
    return disabled, changed


def _check_disabled_producers(packs: list[Pack], rules: list[Rule],
                              rule_sites: dict[str, Rule], disabled: dict[str, str]) -> None:
    """A rule that needs a fact only disabled rules derive could never fire: say so rather
    than let it fall silent."""
    live = {r.derive_kind for r in rules if r.derive_kind}
    gone: dict[str, list[str]] = {}
    for rule_id in disabled:
        kind = rule_sites[rule_id].derive_kind
        if kind and kind not in live:
            gone.setdefault(kind, []).append(rule_id)
    if not gone:
        return
    for rule in rules:
        for pattern in rule.patterns:
            if pattern.kind in gone:
                ids = gone[pattern.kind]
                error = PackError(
                    f"rule '{rule.id}' ({rule.at.file}:{rule.at.line}) uses fact "
                    f"'{pattern.kind}', which only disabled rules derive "
                    f"({', '.join(f'{i}, disabled by {disabled[i]}' for i in ids)}); disable "
                    f"'{rule.id}' too, or keep one of them")
                for pack in packs:   # point at the entry that disabled it, when a pack did
                    if ids[0] in pack.manifest.disable:
                        at = _where(pack.manifest_doc,
                                    ("disable", pack.manifest.disable.index(ids[0])))
                        raise error.located(file=at.file, line=at.line, column=at.column,
                                            path=at.path)
                raise error.located(path=f"--disable {ids[0]}")


def _effective_parameters(packs: list[Pack], overrides: dict) -> dict[str, dict]:
    result = {pack.name: dict(pack.manifest.parameters) for pack in packs}
    for pack in packs:
        for name, change in pack.manifest.overrides.parameters.items():
            path = ("overrides", "parameters", name)
            owner = next((a for a in pack.ancestors if name in a.manifest.parameters), None)
            if owner is None:
                inherited = [n for a in pack.ancestors for n in a.manifest.parameters]
                own = (" (it is this pack's own parameter: set its value under 'parameters')"
                       if name in pack.manifest.parameters else did_you_mean(name, inherited))
                raise pack.manifest_doc.error(PackError, f"no parameter '{name}' in the packs "
                                              f"this one extends{own}", path)
            spec = result[owner.name][name]
            try:
                value = coerce_param(spec, change.value, name)
            except ValueError as exc:
                raise pack.manifest_doc.error(PackError, str(exc), path + ("value",)) from None
            result[owner.name][name] = spec.model_copy(update={
                "value": value, "source": f"{change.source} (set by pack {pack.name}; "
                                          f"{owner.name} gives {_show_value(spec.value)})"})
    for raw_name, raw_value in overrides.items():
        if "." in raw_name:
            pack_name, name = raw_name.split(".", 1)
            owners = [pack_name] if name in result.get(pack_name, {}) else []
        else:
            name = raw_name
            owners = [p for p, specs in result.items() if name in specs]
        if not owners:
            known = sorted({f"{p}.{n}" if "." in raw_name else n
                            for p, specs in result.items() for n in specs})
            raise PackError(f"unknown parameter '{raw_name}'{did_you_mean(raw_name, known)}",
                            path=f"--param {raw_name}")
        if len(owners) > 1:
            raise PackError(f"parameter '{raw_name}' is declared by several packs "
                            f"({', '.join(owners)}); write PACK.{name}",
                            path=f"--param {raw_name}")
        spec = result[owners[0]][name]
        try:
            value = coerce_param(spec, raw_value, name)
        except ValueError as exc:
            raise PackError(str(exc), path=f"--param {raw_name}") from None
        result[owners[0]][name] = spec.model_copy(update={"value": value})
    return result


def _show_value(value) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value).lower() \
        if isinstance(value, bool) else str(value)


def _derivation_order(rules: list[Rule], derived_by: dict[str, list[Rule]]) -> list[Rule]:
    """Derive rules in an order where every fact kind's producers come before its users;
    a cycle is an error that names the rules in it."""
    state: dict[str, int] = {}
    order: list[Rule] = []
    stack: list[Rule] = []

    def visit(kind: str):
        if state.get(kind) == 2:
            return
        if state.get(kind) == 1:
            start = next(i for i, r in enumerate(stack) if r.derive_kind == kind)
            cycle = stack[start:]
            names = " -> ".join(f"{r.id} (derives {r.derive_kind})" for r in cycle)
            raise cycle[-1].at.error(f"derivation cycle: {names}, which uses {kind}; a fact "
                                     "may not depend on itself")
        state[kind] = 1
        for rule in derived_by.get(kind, []):
            stack.append(rule)
            for pattern in rule.patterns:
                if pattern.kind in derived_by:
                    visit(pattern.kind)
            stack.pop()
            if rule not in order:
                order.append(rule)
        state[kind] = 2

    for kind in derived_by:
        visit(kind)
    return order


def _visible(pack: Pack, parameters: dict[str, dict[str, ParameterSpec]]
             ) -> dict[str, ParameterSpec]:
    """The parameters a pack's rules may read: its own and those of the packs it extends."""
    visible: dict[str, ParameterSpec] = {}
    for owner in [pack] + pack.ancestors:
        for name, spec in parameters[owner.name].items():
            visible.setdefault(name, spec)
    return visible


class _Checker:
    """Resolves every name in a rule and checks the types of its expressions."""

    def __init__(self, schemas, categories, visible):
        self.schemas = schemas
        self.categories = categories
        self.visible = visible   # pack -> the parameters its rules may read

    def check(self, rule: Rule, derived_by):
        params = self.visible[rule.pack]
        self._params = params
        self._refs: dict[int, tuple[str, str]] = {}
        names: dict[str, Pattern] = {}
        for pattern in rule.patterns:
            if pattern.kind not in self.schemas:
                known = sorted(self.schemas)
                producer = ("" if pattern.kind not in derived_by else
                            " (it is derived later in a cycle)")
                raise pattern.at.error(f"unknown fact '{pattern.kind}'{producer} (facts are "
                                       f"{', '.join(known)})"
                                       f"{did_you_mean(pattern.kind, known)}")
            if pattern.name in names:
                raise pattern.at.error(f"the name '{pattern.name}' is used by two patterns; "
                                       "give one of them another name with 'as'")
            names[pattern.name] = pattern
        if all(p.negated for p in rule.patterns):
            pass  # the compiler anchors such rules on the case fact
        rule.fields_read = {}
        rule.params = {}

        def use_param(node: ex.Param, at: Where):
            if node.name not in params:
                raise at.error(f"unknown parameter '${node.name}'"
                               f"{did_you_mean(node.name, params)}", node.offset)
            rule.params[node.name] = params[node.name].value
            return _type_of(params[node.name].value)

        seen_positive: list[Pattern] = []
        for pattern in rule.patterns:
            if pattern.where is not None:
                def resolve(ref: ex.Ref, at=pattern.at, current=pattern):
                    return self._resolve(ref, at, current, names, seen_positive, rule)
                typ = self._type(pattern.where, resolve, lambda n, at=pattern.at: use_param(
                    n, at), pattern.at, condition=True)
                if typ != "bool":
                    raise pattern.at.error("a 'where' condition must be true or false, "
                                           f"not a {typ}")
            if not pattern.negated:
                seen_positive.append(pattern)

        value_scope = [p for p in rule.patterns if not p.negated]
        let_types: dict[str, str] = {}
        for name, node in rule.lets.items():
            at = rule.sites.get(f"let.{name}", rule.at)
            let_types[name] = self._type(node, lambda ref: self._resolve_value(
                ref, at, names, value_scope, rule, let_types), lambda n: use_param(n, at), at)
        field_types = {}
        for name, node in rule.derive_fields.items():
            at = rule.sites.get(f"derive.{name}", rule.at)
            field_types[name] = self._type(node, lambda ref: self._resolve_value(
                ref, at, names, value_scope, rule, let_types), lambda n: use_param(n, at), at)
        for key, template in (("message", rule.message), ("remediation", rule.remediation)):
            if template is None:
                continue
            # folded text moves placeholders off their written column: point at the template
            at = rule.sites.get(key, rule.at)
            for ph in template.placeholders:
                if ph.name.startswith("$"):
                    use_param(ex.Param(None, ph.name[1:]), at)
                else:
                    self._resolve_value(ex.Ref(None, tuple(ph.name.split("."))), at,
                                        names, value_scope, rule, let_types)
        if rule.derive_kind:
            schema = {name: typ.rstrip("?") + "?" for name, typ in field_types.items()}
            existing = self.schemas.get(rule.derive_kind)
            if existing is not None and existing != schema:
                raise rule.sites.get("derive", rule.at).error(
                    f"fact '{rule.derive_kind}' is derived elsewhere with fields "
                    f"{_show_schema(existing)}; this rule gives {_show_schema(schema)}")
            self.schemas[rule.derive_kind] = schema

    def _resolve(self, ref: ex.Ref, at: Where, current: Pattern, names, earlier, rule):
        parts = ref.parts
        if len(parts) == 1:
            return self._field(current, parts[0], ref, at, rule)
        if len(parts) > 2:
            raise at.error(f"'{ref.text}' has too many parts; write binding.field", ref.offset)
        binding, name = parts
        if binding == current.name:
            return self._field(current, name, ref, at, rule)
        pattern = names.get(binding)
        if pattern is None and binding in SINGLETON_KINDS:
            pattern = self._implicit(binding, rule, names)
        if pattern is None:
            raise at.error(f"'{binding}' is not a pattern of this rule"
                           f"{did_you_mean(binding, names)}", ref.offset)
        if pattern.negated:
            raise at.error(f"'{binding}' is a 'not' pattern: its fields exist only in its own "
                           "where", ref.offset)
        if pattern not in earlier and not pattern.implicit:
            raise at.error(f"'{binding}' is matched after this pattern; a condition may only "
                           "refer to patterns listed before it", ref.offset)
        return self._field(pattern, name, ref, at, rule)

    def _implicit(self, kind: str, rule: Rule, names) -> Pattern:
        pattern = Pattern(kind, kind, False, None, rule.at, implicit=True)
        rule.patterns.insert(0, pattern)
        names[kind] = pattern
        return pattern

    def _resolve_value(self, ref: ex.Ref, at: Where, names, scope, rule, let_types):
        parts = ref.parts
        if len(parts) == 1:
            if parts[0] in let_types:
                return let_types[parts[0]]
            raise at.error(f"'{parts[0]}' is not a let value of this rule; write binding.field "
                           f"for a fact's field{did_you_mean(parts[0], let_types)}", ref.offset)
        if len(parts) != 2:
            raise at.error(f"'{ref.text}' has too many parts; write binding.field", ref.offset)
        binding, name = parts
        pattern = names.get(binding)
        if pattern is None and binding in SINGLETON_KINDS:
            pattern = self._implicit(binding, rule, names)
            scope.insert(0, pattern)
        if pattern is None or pattern.negated:
            raise at.error(f"'{binding}' is not a matched pattern of this rule"
                           f"{did_you_mean(binding, [p.name for p in scope])}", ref.offset)
        return self._field(pattern, name, ref, at, rule)

    def _field(self, pattern: Pattern, name: str, ref: ex.Ref, at: Where, rule: Rule) -> str:
        schema = self.schemas[pattern.kind]
        if name not in schema:
            raise at.error(f"fact '{pattern.kind}' has no field '{name}' (its fields are "
                           f"{', '.join(sorted(schema))}){did_you_mean(name, schema)}",
                           ref.offset)
        if not pattern.negated:
            rule.fields_read.setdefault(pattern.name, set()).add(name)
        self._refs[id(ref)] = (pattern.kind, name)
        return schema[name].rstrip("?")

    def _type(self, node: ex.Node, resolve, use_param, at: Where, condition=False) -> str:
        t = lambda n: self._type(n, resolve, use_param, at, condition)  # noqa: E731
        if isinstance(node, ex.Literal):
            return _type_of(node.value)
        if isinstance(node, ex.Param):
            return use_param(node)
        if isinstance(node, ex.Ref):
            return resolve(node)
        if isinstance(node, ex.ListLit):
            types = {t(item) for item in node.items}
            if len(types) > 1 or "list" in types:
                raise at.error("a list must hold values of one type", node.offset)
            if len(node.items) > MAX_LIST_VALUES:
                raise at.error(f"a list may hold at most {MAX_LIST_VALUES} values", node.offset)
            return "list"
        if isinstance(node, ex.Unary):
            inner = t(node.operand)
            want = "bool" if node.op == "not" else "number"
            if inner != want:
                raise at.error(f"'{node.op}' needs a {want}, found a {inner}", node.offset)
            return want
        if isinstance(node, ex.Binary):
            for side in (node.left, node.right):
                if t(side) != "number":
                    raise at.error(f"'{node.op}' needs numbers on both sides, found a "
                                   f"{t(side)}", side.offset)
            return "number"
        if isinstance(node, ex.BoolOp):
            for item in node.items:
                if t(item) != "bool":
                    raise at.error(f"'{node.op}' joins conditions, found a {t(item)}",
                                   item.offset)
            return "bool"
        if isinstance(node, ex.Call):
            if node.name == "exists":
                if not isinstance(node.args[0], ex.Ref):
                    raise at.error("exists() takes a field", node.offset)
                t(node.args[0])
                return "bool"
            for arg in node.args:
                if t(arg) != "number":
                    raise at.error(f"{node.name}() needs numbers", arg.offset)
            return "number"
        if isinstance(node, ex.Compare):
            left, right = t(node.left), t(node.right)
            if node.op in ("in", "not in"):
                if right != "list":
                    raise at.error(f"'{node.op}' needs a list on its right, found a {right}",
                                   node.right.offset)
                self._check_members(node.left, node.right, at, use_param)
                return "bool"
            if node.op == "contains":
                raise at.error("'contains' is not available: lists in facts are expanded into "
                               "facts of their own (see the 'dependency' fact)", node.offset)
            if left != right:
                raise at.error(f"cannot compare a {left} with a {right}", node.offset)
            if left == "list":
                raise at.error("lists cannot be compared; use 'in'", node.offset)
            if left == "bool" and node.op not in ("==", "!="):
                raise at.error("true/false values can only be compared with == or !=",
                               node.offset)
            if left == "string" and node.op not in ("==", "!="):
                raise at.error("text can only be compared with == or !=", node.offset)
            for a, b in ((node.left, node.right), (node.right, node.left)):
                if isinstance(b, ex.Literal) and isinstance(b.value, str):
                    self._check_members(a, ex.ListLit(b.offset, (b,)), at, use_param)
            return "bool"
        raise at.error(f"unsupported expression {type(node).__name__}", node.offset)

    def _check_members(self, left: ex.Node, right: ex.Node, at: Where, use_param):
        """A string compared with a category or enumerated field must be one of its values."""
        if not isinstance(left, ex.Ref):
            return
        kind_field = self._kind_field(left, at)
        if kind_field is None:
            return
        if kind_field in CATEGORY_FIELDS:
            allowed, what = tuple(self.categories), "category"
        elif kind_field in ENUMS:
            allowed, what = ENUMS[kind_field], f"value of {kind_field[0]}.{kind_field[1]}"
        else:
            return
        values: list[tuple[str, int, str]] = []
        if isinstance(right, ex.ListLit):
            for item in right.items:
                if isinstance(item, ex.Literal):
                    values.append((item.value, item.offset, ""))
        elif isinstance(right, ex.Param):
            value = self._param_value(right)
            if isinstance(value, list):
                values.extend((v, right.offset, f" (in parameter ${right.name})")
                              for v in value)
        for value, offset, origin in values:
            if value not in allowed:
                raise at.error(f"'{value}'{origin} is not a {what}"
                               f"{did_you_mean(value, allowed)}", offset)

    def _param_value(self, node: ex.Param):
        spec = self._params.get(node.name)
        return None if spec is None else spec.value

    def _kind_field(self, ref: ex.Ref, at: Where):
        return self._refs.get(id(ref))


def _show_schema(schema: dict) -> str:
    return "{" + ", ".join(f"{k}: {v.rstrip('?')}" for k, v in sorted(schema.items())) + "}"


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)
