"""Loading rule packs: finding a pack's folder, reading its manifest, guidance and rule files,
resolving what it extends, and turning each rule into its analysed form.

Everything a pack can get wrong is found here or in the analysis it calls, before anything
reaches the rule engine: unknown keys, bad expressions, undefined parameters, facts, fields and
categories, type mismatches, duplicate ids, derivation cycles, citations that are not in the
guidance."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import PackError
from ..inputs.source import Document, read_document, read_text
from ..inputs.validation import did_you_mean, validate
from . import expr as ex
from .analyse import analyse
from .manifest import (
    DEFAULT_PACK,
    PACK_NAME,
    _read_manifest,
    _version_ok,
    builtin_packs_dir,
    is_inside,
)
from .pack import Pack, PackSet, Pattern, Rule, Where, where_in
from .spec import (
    MANIFEST,
    TEST_SUFFIXES,
    ConcernSpec,
    Manifest,
    ParamValue,
    RuleFile,
    RuleSpec,
)
from .template import Template, TemplateError, parse_template


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


def load_pack(*specs: str | Path, params: dict[str, str | ParamValue] | None = None,
              disable: list[str] | tuple[str, ...] | dict[str, str] | None = None,
              severity: dict[str, str] | None = None,
              select: list[str] | tuple[str, ...] | dict[str, str] | None = None,
              ignore: list[str] | tuple[str, ...] | dict[str, str] | None = None) -> PackSet:
    """Load one or more packs (folders or installed pack names) into a PackSet; a pack that
    extends another brings it along, loaded first.

    With no argument, the default pack. `params` overrides parameter values by name (`name`
    or `pack.name`); `disable` leaves rules out by id; `severity` sets a reporting rule's
    severity by id; `select` and `ignore` choose the rules that report by selector (a rule
    id or its start, concern:NAME, tag:NAME: engine.lang.selection). A dict for `disable`,
    `select` or `ignore` maps each entry to who gives it (shown in errors and reports)."""
    loader = _Loader()
    if not specs:
        loader.add(_default_pack_dir())
    for spec in specs:
        loader.add(resolve_pack_dir(spec))
    return analyse(loader.packs, params or {}, disable=disable, severity=severity,
                   select=select, ignore=ignore)


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


class Glob:
    """A glob over pack-relative paths: `*` and `?` stay within one folder, a `**/` segment
    spans any number of folders (none included); everything else is literal.

    Matched without backtracking, so that no pattern can make loading a pack slow: a
    segment against a name by the classic two-pointer scan (linear in both, for all its
    stars), and `**/` segments by dynamic programming over (pattern segment, path segment)
    pairs, each pair decided once."""

    def __init__(self, pattern: str):
        parts = pattern.split("/")
        # `**` spans folders only as a segment of its own followed by another; elsewhere it
        # is two stars within one name
        self.segments = [None if part == "**" and k < len(parts) - 1 else part
                         for k, part in enumerate(parts)]

    def match(self, path: str) -> bool:
        names = path.split("/")
        segments = self.segments
        # reach[j]: the pattern so far can match the first j names
        reach = [True] + [False] * len(names)
        for segment in segments:
            if segment is None:
                for j in range(1, len(names) + 1):
                    reach[j] = reach[j] or reach[j - 1]
                continue
            reach = [False] + [reach[j - 1] and _name_matches(segment, names[j - 1])
                               for j in range(1, len(names) + 1)]
        return reach[len(names)]


def _name_matches(pattern: str, name: str) -> bool:
    """`*` (any run of characters) and `?` (one) against one file or folder name."""
    p = n = 0
    star, resume = -1, 0
    while n < len(name):
        if p < len(pattern) and pattern[p] != "*" and (pattern[p] == "?"
                                                       or pattern[p] == name[n]):
            p, n = p + 1, n + 1
        elif p < len(pattern) and pattern[p] == "*":
            star, resume = p, n
            p += 1
        elif star >= 0:
            # the last star takes one more character; earlier stars never need to move
            p, resume = star + 1, resume + 1
            n = resume
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


def _rule_files(root: Path, manifest: Manifest, doc: Document) -> list[Path]:
    found: list[Path] = []
    files = pack_files(root)
    for i, pattern in enumerate(manifest.rules):
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            raise doc.error(PackError, f"rule file path {pattern!r} leaves the pack folder; "
                            "paths are relative to the pack and stay inside it", ("rules", i))
        wanted = Glob(pattern)
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
    if not is_inside(root, path):
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





def _expr_where(doc: Document, path: tuple) -> Where:
    """Where an expression string starts, so that parser offsets give its column."""
    at = where_in(doc, path)
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
    at = where_in(doc, base)
    if (spec.derive is None) == (spec.report is None):
        raise at.error("a rule needs exactly one of 'derive' (a new fact) or "
                       "'report' (a finding)")
    for j, tag in enumerate(spec.tags):
        if tag in spec.tags[:j]:
            raise doc.error(PackError, f"tag '{tag}' is given twice", base + ("tags", j))
    patterns = []
    for j, item in enumerate(spec.when):
        wpath = base + ("when", j)
        if (item.fact is None) == (item.not_ is None):
            raise where_in(doc, wpath).error("each 'when' entry needs either 'fact' "
                                           "(with optional 'as' and 'where') or 'not'")
        negated = item.not_ is not None
        body = item.not_ if negated else item
        ppath = wpath + (("not",) if negated else ())
        where = None
        if body.where is not None:
            where = _parse(body.where, _expr_where(doc, ppath + ("where",)))
        patterns.append(Pattern(body.fact, body.as_ or body.fact, negated, where,
                                _expr_where(doc, ppath + ("where",)) if body.where
                                else where_in(doc, ppath), text=body.where))
    sites: dict[str, Where] = {}
    written = {f"let.{name}": value for name, value in spec.let.items()}
    written.update((f"derive.{name}", value)
                   for name, value in (spec.derive.fields if spec.derive else {}).items())
    lets = {}
    for name, value in spec.let.items():
        sites[f"let.{name}"] = _expr_where(doc, base + ("let", name))
        lets[name] = _parse(value, sites[f"let.{name}"])
    derive_fields = {}
    if spec.derive:
        sites["derive"] = where_in(doc, base + ("derive", "fact"))
        for name, value in spec.derive.fields.items():
            sites[f"derive.{name}"] = _expr_where(doc, base + ("derive", "fields", name))
            derive_fields[name] = _parse(value, sites[f"derive.{name}"])
    message = remediation = cause = None
    if spec.report:
        sites["message"] = where_in(doc, base + ("report", "message"))
        message = _template(spec.report.message, doc, base + ("report", "message"))
        if spec.report.remediation:
            sites["remediation"] = where_in(doc, base + ("report", "remediation"))
            remediation = _template(spec.report.remediation, doc,
                                    base + ("report", "remediation"))
        if spec.report.cause:
            sites["cause"] = where_in(doc, base + ("report", "cause"))
            cause = _template(spec.report.cause, doc, base + ("report", "cause"))
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
                remediation, citation, citation.quote, at, sites, tags=list(spec.tags),
                written=written, cause=cause)


def _template(text: str, doc: Document, path: tuple) -> Template:
    try:
        return parse_template(text)
    except TemplateError as exc:
        raise where_in(doc, path).error(f"in template: {exc.message}") from None
