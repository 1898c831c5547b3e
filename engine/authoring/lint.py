"""Linting a rule pack: everything the loader and compiler refuse, and what they accept but is
almost certainly wrong (a rule that can never fire, a parameter nothing reads, a rule without
tests, a pack close to the rule engine's limits), each with its file, line and a fix.

    report = lint_pack("rules/my-pack")
    for diagnostic in report:
        print(diagnostic.file, diagnostic.line, diagnostic.code, diagnostic.message)

Every diagnostic has a permanent code (`CODES`, documented in docs/linting.md). Only the
packs whose folder is the linted one are judged: packs it extends, and packs loaded with it
as context, are there to resolve names.

No click and no printing here: `render(report, format)` gives the text or JSON that
`diplo pack lint` prints, and `report.fails(strict)` decides its exit status.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

from pydantic import BaseModel, ValidationError

from ..errors import DiploError, PackError, UsageError
from ..inputs.source import Document, read_document
from ..inputs.validation import _problems, describe, did_you_mean, explain_error
from ..lang import expr as ex
from ..lang import spec as pack_spec
from ..lang.analyse import analyse
from ..lang.kinds import ENUMS
from ..lang.loader import (
    _Loader,
    _normalise,
    _read_guidance,
    _resolve_base,
    _rule_files,
    _rule_from_spec,
    resolve_pack_dir,
    with_inherited,
)
from ..lang.manifest import _read_manifest
from ..lang.pack import Pack
from ..lang.spec import (
    MANIFEST,
    MAX_LIST_VALUES,
    MAX_PATTERNS,
    Manifest,
    RuleFile,
    RuleSpec,
)

LEVELS = ("error", "warning", "info")
NEAR_LIMIT = 0.8   # share of an engine cap from which a pack is warned


@dataclass(frozen=True)
class Code:
    """A kind of diagnostic: its permanent name, its usual level and what it is about."""

    name: str
    level: str
    summary: str
    hint: str       # the fix when a diagnostic has none more specific


CODES: dict[str, Code] = {c.name: c for c in (
    # what the loader or the compiler refuses
    Code("invalid-pack", "error", "the loader or the compiler refuses the pack",
         "the pack does not load until this is fixed; docs/rule-language.md describes every "
         "field"),
    Code("unknown-fact", "error", "a pattern names a fact kind that no case provides and no "
         "loaded rule derives",
         "use a fact every case provides or one a rule derives (see the list in the message); "
         "when another pack derives it, lint with `--with PACK`"),
    Code("derivation-cycle", "error", "a derived fact depends on itself through a chain of "
         "rules",
         "break the cycle: one rule in it must not use, directly or through other rules, the "
         "fact it derives; derive a fact of a new kind instead"),
    Code("unknown-section", "error", "a citation names a guidance section the manifest does "
         "not declare",
         "cite a section declared under guidance.sections in pack.yaml, or declare this one "
         "there with its heading and lines"),
    Code("quote-not-in-guidance", "error", "a citation's quote is not in the cited section",
         "copy the words from the cited section of the guidance exactly ('...' joins passages "
         "in their order), or cite the section they are in"),
    Code("unknown-concern", "error", "a rule reports a concern the manifest does not declare",
         "report a concern declared under concerns in pack.yaml, or declare it there with its "
         "kind and description"),
    Code("concern-kind-mismatch", "error", "a rule reports a risk under a strength concern, "
         "or the reverse",
         "risks report risk concerns and strengths strength concerns: change the rule's kind "
         "or pick a concern of its kind"),
    Code("invalid-severity", "error", "a severity outside info, low, medium, high, critical, "
         "or a strength that is not info",
         "use one of info, low, medium, high, critical; a strength is always info"),
    Code("engine-limit", "error", "the pack exceeds a limit of the rule engine",
         "split the rule or the pack, or test fewer distinct values; docs/limits.md gives each "
         "limit and what it protects against"),
    Code("invalid-test", "error", "a rule test file or test that the test runner refuses",
         "fix the test: `diplo test` refuses it as it is (docs/rule-language.md, 'Testing a "
         "pack')"),
    # what they accept, but is almost certainly wrong
    Code("contradictory-condition", "warning", "the conditions of a pattern leave no value: "
         "the pattern can never match",
         "check the direction of each comparison and the parameter values"),
    Code("needs-unproduced-fact", "warning", "a rule needs a derived fact that no rule can "
         "ever produce, so it never fires",
         "fix the rules that derive the fact (see their own warnings), or remove this rule"),
    Code("unused-derived-fact", "warning", "a derived fact no loaded rule reads",
         "read the fact in a rule (a pattern `fact: KIND`, or `not:`), or remove the rule that "
         "derives it: nothing reports what it derives"),
    Code("unused-parameter", "warning", "a parameter no rule reads",
         "use it in a condition, a let, a derive field or a message as $NAME, or remove it "
         "from pack.yaml"),
    Code("unused-concern", "warning", "a concern no rule reports",
         "report it from a rule, or remove it from pack.yaml"),
    Code("untested-rule", "warning", "a reporting rule without a test where it must fire "
         "(warning) or one where it must stay silent (info)",
         "add a test to a *.test.yaml file beside the rules"),
    Code("near-engine-limit", "warning", "the pack uses more than 80% of a limit of the rule "
         "engine",
         "plan to split the pack or the rule before the limit is reached; docs/limits.md"),
    Code("uncited-section", "info", "a guidance section no rule cites",
         "cite it from the rules it supports, or remove it from guidance.sections"),
)}


@dataclass(frozen=True)
class Diagnostic:
    level: str                  # error | warning | info
    code: str                   # a key of CODES
    message: str
    hint: str
    file: str
    line: int | None = None
    column: int | None = None
    rule: str | None = None

    def sort_key(self):
        return (self.file, self.line or 0, self.column or 0, self.code, self.message)

    @property
    def where(self) -> str:
        text = self.file
        if self.line is not None:
            text += f":{self.line}"
            if self.column is not None:
                text += f":{self.column}"
        return text

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class LintReport:
    """The diagnostics of one pack, sorted by file, line, column and code."""

    pack: str                   # the pack's name (its folder when the manifest is unreadable)
    root: str
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.diagnostics)

    def __len__(self) -> int:
        return len(self.diagnostics)

    def __getitem__(self, index):
        return self.diagnostics[index]

    def count(self, level: str) -> int:
        return sum(d.level == level for d in self.diagnostics)

    @property
    def summary(self) -> dict[str, int]:
        return {"errors": self.count("error"), "warnings": self.count("warning"),
                "infos": self.count("info")}

    def fails(self, strict: bool = False) -> bool:
        """An error fails the lint; with `strict`, so does a warning."""
        return bool(self.count("error") or (strict and self.count("warning")))

    def without(self, codes) -> "LintReport":
        """The report without the diagnostics of these codes (`--ignore`)."""
        codes = check_codes(codes)
        return LintReport(self.pack, self.root,
                          [d for d in self.diagnostics if d.code not in codes])

    def to_dict(self) -> dict:
        return {"pack": self.pack, "root": self.root,
                "diagnostics": [d.to_dict() for d in self.diagnostics],
                "summary": self.summary}


def check_codes(codes) -> set[str]:
    """The codes, if each is one; a UsageError naming the first that is not."""
    codes = set(codes)
    unknown = sorted(codes - set(CODES))
    if unknown:
        raise UsageError(f"unknown lint code '{unknown[0]}'{did_you_mean(unknown[0], CODES)} "
                         f"(codes: {', '.join(CODES)})", path="--ignore")
    return codes


# --- output -----------------------------------------------------------------------------------

def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def format_text(report: LintReport) -> str:
    """`FILE:LINE:COL: LEVEL CODE message`, an indented hint, and a count line."""
    lines = []
    for d in report:
        lines.append(f"{d.where}: {d.level} {d.code} {d.message}")
        lines.append(f"  hint: {d.hint}")
    s = report.summary
    lines.append(f"{_plural(s['errors'], 'error')}, {_plural(s['warnings'], 'warning')}, "
                 f"{_plural(s['infos'], 'info')}")
    return "\n".join(lines) + "\n"


def format_json(report: LintReport) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


FORMATS: dict[str, Callable[[LintReport], str]] = {"text": format_text, "json": format_json}


def render(report: LintReport, format_name: str = "text") -> str:
    try:
        return FORMATS[format_name](report)
    except KeyError:
        raise UsageError(f"unknown lint output format '{format_name}' (formats: "
                         f"{', '.join(FORMATS)})", path="--format") from None


# --- the entry point --------------------------------------------------------------------------

def lint_pack(folder: str | Path, *, params: dict | None = None,
              context: tuple | list = ()) -> LintReport:
    """Lint the pack in `folder` (or an installed pack's name).

    `params` overrides parameter values as `diplo assess --param` does (the contradiction
    checks use the values in effect); `context` names packs to load with it, as several
    `--pack` options would (a pack that uses facts another pack derives). Raises a DiploError
    when `folder` is not a pack at all, or a parameter override names no parameter."""
    root = resolve_pack_dir(folder)
    context = [resolve_pack_dir(spec) for spec in context]
    if not (root / MANIFEST).is_file():
        raise PackError(f"no {MANIFEST} in this folder; a rule pack needs a manifest",
                        file=str(folder))
    manifest_file = str(root / MANIFEST)
    params = dict(params or {})
    specs = [*context, root]
    diagnostics: list[Diagnostic] = []
    name = root.name

    from ..core.run import load_pack as compile_packs  # the authority on validity
    packset = None
    try:
        packset = compile_packs(*specs, params=params or None)
    except DiploError as exc:
        _raise_usage(exc)
        reading = _Reading(root, context, params, manifest_file)
        diagnostics += reading.run()
        name = reading.name or name
        first = _from_error(exc, manifest_file)
        if _key(first) not in {_key(d) for d in diagnostics}:
            diagnostics.append(first)
        diagnostics = [reading.name_rule(d) for d in diagnostics]
        if not reading.failed:
            # refused by the compiler only: the analysed pack still shows what else is wrong
            try:
                packset = compile_packs(*specs, params=params or None)
            except DiploError:
                packset = None
    if packset is not None:
        mine = [p for p in packset.packs if _same(p.root, root)]
        if mine:
            name = mine[0].name
            diagnostics += _Checks(packset, mine, params).run()
    diagnostics = sorted(set(diagnostics), key=Diagnostic.sort_key)
    return LintReport(name, str(root), diagnostics)


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _raise_usage(exc: DiploError) -> None:
    """A parameter override that names nothing is the caller's mistake, not the pack's."""
    if exc.file is None and (exc.path or "").startswith("--"):
        raise exc


# --- errors as diagnostics --------------------------------------------------------------------

_ERROR_CODES: list[tuple[str, Callable[[str, str], bool]]] = [
    ("derivation-cycle", lambda m, p: m.startswith("derivation cycle")
     or "derived later in a cycle" in m),
    ("unknown-fact", lambda m, p: m.startswith("unknown fact '")),
    ("unknown-section", lambda m, p: bool(re.match(r"guidance section '.*' is not declared",
                                                   m))),
    ("quote-not-in-guidance", lambda m, p: m.startswith("the quote is not in guidance")),
    ("unknown-concern", lambda m, p: bool(re.match(r"concern '.*' is not declared", m))),
    ("concern-kind-mismatch", lambda m, p: bool(re.match(
        r"concern '.*' is a (risk|strength) concern", m))),
    ("invalid-severity", lambda m, p: "strengths have severity info" in m
     or (bool(re.search(r"(^|\.)severity(\.|$)", p)) and m.startswith("expected one of"))),
    ("engine-limit", lambda m, p: any(w in m for w in (
        "the engine allows", "the engine cannot", "rules are loaded; the limit is",
        "the rule engine refused", "a list may hold at most"))
     or (bool(re.search(r"\.when$", p)) and "expected at most" in m)),
]


def _code_of(message: str, path: str) -> str:
    for code, test in _ERROR_CODES:
        if test(message, path):
            return code
    return "invalid-pack"


# fixes more specific than a code's own, by what the message says
_HINTS = [
    (re.compile(r"compares \d+ fields across facts"),
     "derive a fact that carries the compared values, and join on fewer fields"),
    (re.compile(r"\.when: expected at most"),
     "derive an intermediate fact from some of the patterns and match that instead"),
    (re.compile(r"start with the same condition"),
     "give some of the rules a more specific first pattern (a `where` on the first fact)"),
    (re.compile(r"against more than \d+ different values"),
     "use fewer distinct thresholds: share parameters, or derive a fact that classifies the "
     "values first"),
    (re.compile(r"rules are loaded; the limit is"), "split the rules into several packs"),
    (re.compile(r"a list may hold at most"),
     "move the values to a list parameter, or test a category group instead"),
]


def _from_error(exc: DiploError, default_file: str, *, rule: str | None = None,
                code: str | None = None) -> Diagnostic:
    code = code or _code_of(exc.message, exc.path or "")
    message = f"{exc.path}: {exc.message}" if exc.path else exc.message
    hint = next((h for pattern, h in _HINTS if pattern.search(message)), CODES[code].hint)
    return Diagnostic("error", code, message, hint, exc.file or default_file,
                      exc.line, exc.column, rule)


def _key(d: Diagnostic):
    # the loader adds "(and 2 more problems)" to the first; the reading lists each
    return (d.file, d.line, d.column, re.sub(r" \(and \d+ more problems?\)$", "", d.message))


def _schema(model: type[BaseModel], doc: Document, what: str):
    """(the validated model or None, every problem as a PackError): the loader's `validate`
    stops at the first problem."""
    if not isinstance(doc.data, dict):
        return None, [PackError(f"expected a mapping of {what} fields, found "
                                f"{describe(doc.data)}", file=doc.name,
                                line=doc.position(())[0] or 1, column=doc.position(())[1] or 1)]
    try:
        return model.model_validate(doc.data), []
    except ValidationError as exc:
        errors = []
        for problem in _problems(exc.errors(include_url=False)):
            path, message, at_key = explain_error(problem, model)
            errors.append(doc.error(PackError, message, path, key=at_key))
        return None, errors


class _Reading:
    """Reads the pack piece by piece, as the loader does, but goes on past an error: each
    rule file, guidance section and rule is checked on its own, so that independent errors
    are all reported. The checks across rules then run once on the rules that were read."""

    def __init__(self, root: Path, context, params: dict, manifest_file: str):
        self.root = root
        self.context = context
        self.params = params
        self.manifest_file = manifest_file
        self.found: list[Diagnostic] = []
        self.failed = False          # some part could not be read: later checks are partial
        self.name: str | None = None
        self.starts: dict[str, list[tuple[int, str]]] = {}   # rule file -> (line, rule id)

    def name_rule(self, d: Diagnostic) -> Diagnostic:
        """The diagnostic with the id of the rule whose entry holds its line, if any."""
        if d.rule is not None or d.line is None:
            return d
        before = [rule_id for line, rule_id in self.starts.get(d.file, []) if line <= d.line]
        return replace(d, rule=before[-1]) if before else d

    def add(self, exc: DiploError, rule: str | None = None):
        self.failed = True
        self.found.append(_from_error(exc, self.manifest_file, rule=rule))

    def run(self) -> list[Diagnostic]:
        try:
            self._read()
        except DiploError as exc:   # a part whose failure stops the reading
            self.add(exc)
        return self.found

    def _read(self):
        root = self.root
        doc = read_document(root / MANIFEST)
        manifest, errors = _schema(Manifest, doc, "pack manifest")
        for error in errors:
            self.add(error)
        if manifest is None:
            return
        self.name = manifest.name
        manifest, doc = _read_manifest(root)
        loader = _Loader()
        base = None
        try:
            for spec in self.context:
                loader.add(resolve_pack_dir(spec))
            if manifest.base is not None:
                base = loader.add(_resolve_base(manifest.base.pack, root, doc))
        except DiploError:
            # a pack this one needs does not load: the loader's own error says why (reading
            # on would report it again from the other side, or report every rule that uses it)
            self.failed = True
            return

        files: list[Path] = []
        for i, pattern in enumerate(manifest.rules):
            try:
                one = manifest.model_copy(update={"rules": [pattern]})
                files += [p for p in _rule_files(root, one, doc) if p not in files]
            except PackError as exc:
                self.add(doc.error(PackError, exc.message, ("rules", i)))

        own, broken = self._guidance(manifest, doc)
        try:
            guidance, concerns = with_inherited(manifest, doc, own, base)
        except DiploError as exc:
            self.add(exc)
            return

        rules = []
        for path in files:
            try:
                rdoc = read_document(path, display=str(path))
            except DiploError as exc:
                self.add(exc)
                continue
            raw = rdoc.data.get("rules") if isinstance(rdoc.data, dict) else None
            raw = raw if isinstance(raw, list) else []
            self.starts[rdoc.name] = sorted(
                (rdoc.position(("rules", i))[0] or 0, item["id"]) for i, item in enumerate(raw)
                if isinstance(item, dict) and isinstance(item.get("id"), str))
            rule_file, errors = _schema(RuleFile, rdoc, "rule file")
            for error in errors:
                self.add(error, _rule_at(rdoc, error))
            if rule_file is not None:
                specs = list(enumerate(rule_file.rules))
            else:
                specs = []
                for i, item in enumerate(raw):
                    try:
                        specs.append((i, RuleSpec.model_validate(item)))
                    except ValidationError:
                        pass   # reported with the file's problems
            for i, spec in specs:
                cited = guidance
                if spec.citation.section in broken:
                    # the section itself is reported: do not also fail every quote of it
                    cited = {**guidance, spec.citation.section:
                             _normalise(spec.citation.quote)}
                try:
                    rules.append(_rule_from_spec(spec, rdoc, i, manifest, cited,
                                                       concerns))
                except DiploError as exc:
                    self.add(exc, spec.id)

        if not self.failed:
            return   # everything read: the loader's own error is from the analysis
        # the checks across rules, on the rules that could be read (one error at most)
        partial = Pack(name=manifest.name, version=manifest.version,
                             description=manifest.description, root=root, manifest=manifest,
                             rules=rules, manifest_doc=doc, base=base, guidance=own)
        try:
            analyse(loader.packs + [partial], self.params)
        except DiploError as exc:
            # a rule left out may be the one that derived a fact: not a second problem
            if not exc.message.startswith("unknown fact"):
                self.add(exc)

    def _guidance(self, manifest, doc) -> tuple[dict[str, str], set[str]]:
        """The pack's own guidance sections that read correctly, and those that do not."""
        if manifest.guidance is None:
            return {}, set()
        sections = manifest.guidance.sections
        try:
            _read_guidance(self.root, manifest.model_copy(update={
                "guidance": manifest.guidance.model_copy(update={"sections": {}})}), doc)
        except DiploError as exc:
            self.add(exc)
            return {}, set(sections)
        good, broken = {}, set()
        for slug, section in sections.items():
            one = manifest.model_copy(update={"guidance": manifest.guidance.model_copy(
                update={"sections": {slug: section}})})
            try:
                good.update(_read_guidance(self.root, one, doc))
            except DiploError as exc:
                self.add(exc)
                broken.add(slug)
        return good, broken


def _rule_at(doc: Document, error: DiploError) -> str | None:
    """The id of the rule an error in a rule file is about, when it has one."""
    match = re.match(r"rules\[(\d+)\]", error.path or "")
    if not match or not isinstance(doc.data, dict):
        return None
    rules = doc.data.get("rules")
    i = int(match.group(1))
    if isinstance(rules, list) and i < len(rules) and isinstance(rules[i], dict):
        rule_id = rules[i].get("id")
        return rule_id if isinstance(rule_id, str) else None
    return None


# --- conditions that leave no value -----------------------------------------------------------

_INVERSE = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<",
            "in": "not in", "not in": "in"}
_MIRROR = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


@dataclass
class _Atom:
    """One condition on one field of the pattern's own fact, from the top-level conjunction
    of its `where`: `op` is a comparison, `exists` or `absent`."""

    field: str
    op: str
    value: object
    text: str
    requires: bool      # holds only when the field is present


def _show_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_show_value(v) for v in value) + "]"
    if isinstance(value, str):
        return f"'{value}'"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _conjuncts(node: ex.Node, negated: bool = False):
    """(condition, negated) pairs that must all hold; a disjunction is left out (it cannot
    make a contradiction certain)."""
    if isinstance(node, ex.BoolOp):
        if (node.op == "and") != negated:
            for item in node.items:
                yield from _conjuncts(item, negated)
        return
    if isinstance(node, ex.Unary) and node.op == "not":
        yield from _conjuncts(node.operand, not negated)
        return
    yield node, negated


def _key_of(value):
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("number", float(value))
    return ("text", value)


class _Conditions:
    """Decides whether a pattern's conditions on its own fields leave any value."""

    def __init__(self, packset, rule, pattern, referenced: set[str]):
        self.packset = packset
        self.rule = rule
        self.pattern = pattern
        self.params = dict(rule.params)
        self.referenced = referenced    # own fields that later patterns compare with

    def own(self, node) -> str | None:
        if isinstance(node, ex.Ref) and (len(node.parts) == 1 or (
                len(node.parts) == 2 and node.parts[0] == self.pattern.name)):
            return node.parts[-1]
        return None

    def constant(self, node):
        if any(isinstance(n, ex.Ref) for n in ex.walk(node)):
            return ex.MISSING
        try:
            return ex.evaluate(node, lambda parts: ex.MISSING, self.params)
        except (ex.ExprError, KeyError, TypeError, ArithmeticError):
            return ex.MISSING

    def atoms(self) -> list[_Atom]:
        found = []
        for name in sorted(self.referenced):
            found.append(_Atom(name, "exists", None, f"the comparison with "
                               f"{self.pattern.name}.{name} in a later pattern (which needs "
                               "the field present)", True))
        if self.pattern.where is None:
            return found
        for node, negated in _conjuncts(self.pattern.where):
            atom = self.atom(node, negated)
            if atom is not None:
                found.append(atom)
        return found

    def atom(self, node, negated) -> _Atom | None:
        text = ex.unparse(node)
        params = sorted({n.name for n in ex.walk(node) if isinstance(n, ex.Param)})
        if params:
            text += " (" + ", ".join(f"${p} = {_show_value(self.params[p])}" for p in params
                                     if p in self.params) + ")"
        if negated:
            text = f"not ({text})" if isinstance(node, ex.Compare) else f"not {text}"
        if isinstance(node, ex.Call) and node.name == "exists":
            name = self.own(node.args[0])
            if name is None:
                return None
            return _Atom(name, "absent" if negated else "exists", None, text, not negated)
        if isinstance(node, ex.Ref):
            name = self.own(node)
            if name is None:
                return None
            # a bare true/false field: `flag` is flag == true; `not flag` holds when absent
            return _Atom(name, "==", negated is False, text, not negated)
        if not isinstance(node, ex.Compare) or node.op not in _INVERSE:
            return None
        op, left, right = node.op, node.left, node.right
        if self.own(left) is None:
            if self.own(right) is None or op not in _MIRROR:
                return None
            left, right, op = right, left, _MIRROR[op]
        name = self.own(left)
        value = self.constant(right)
        if name is None or value is ex.MISSING:
            return None
        if op in ("in", "not in") and not isinstance(value, list):
            value = [value]
        if negated:
            # the negation of a comparison holds when the field is absent
            return _Atom(name, _INVERSE[op], value, text, False)
        return _Atom(name, op, value, text, op not in ("!=", "not in"))

    def domain(self, name: str, atoms: list[_Atom]):
        """The values a present field can take, when the case format fixes them: true and
        false, or an enumerated field's values. (Not categories: the packs loaded with this
        one at assessment time may declare more.)"""
        values = [a.value for a in atoms if a.op in ("==", "!=")] + [
            v for a in atoms if a.op in ("in", "not in") for v in a.value]
        if values and all(isinstance(v, bool) for v in values):
            return {_key_of(True), _key_of(False)}
        kind_field = (self.pattern.kind, name)
        if kind_field in ENUMS:
            return {_key_of(v) for v in ENUMS[kind_field]}
        return None

    def unsatisfiable(self, atoms: list[_Atom], domain) -> bool:
        required = any(a.requires for a in atoms)
        if any(a.op == "absent" for a in atoms):
            return required
        if not required:
            return False    # an absent field satisfies every condition left
        allowed = None
        excluded = set()
        low = high = None   # (bound, strict)
        for a in atoms:
            if a.op == "==":
                allowed = {_key_of(a.value)} if allowed is None else \
                    allowed & {_key_of(a.value)}
            elif a.op == "in":
                values = {_key_of(v) for v in a.value}
                allowed = values if allowed is None else allowed & values
            elif a.op == "!=":
                excluded.add(_key_of(a.value))
            elif a.op == "not in":
                excluded |= {_key_of(v) for v in a.value}
            elif a.op in ("<", "<=", ">", ">="):
                if isinstance(a.value, bool) or not isinstance(a.value, (int, float)):
                    return False
                bound = (float(a.value), a.op in ("<", ">"))
                if a.op in ("<", "<="):
                    if high is None or bound[0] < high[0] or (bound[0] == high[0] and
                                                              bound[1]):
                        high = bound
                else:
                    if low is None or bound[0] > low[0] or (bound[0] == low[0] and bound[1]):
                        low = bound

        def within(key) -> bool:
            if key[0] != "number":
                return True
            v = key[1]
            if low is not None and (v < low[0] or (v == low[0] and low[1])):
                return False
            if high is not None and (v > high[0] or (v == high[0] and high[1])):
                return False
            return True

        if allowed is None and domain is not None:
            allowed = domain
        if allowed is not None:
            return not any(k not in excluded and within(k) for k in allowed)
        if low is not None and high is not None:
            if low[0] > high[0]:
                return True
            if low[0] == high[0]:
                return low[1] or high[1] or _key_of(low[0]) in excluded
        return False

    def conflict(self) -> list[_Atom] | None:
        """The fewest conditions (one, two, or all on one field) that leave no value."""
        by_field: dict[str, list[_Atom]] = {}
        for atom in self.atoms():
            by_field.setdefault(atom.field, []).append(atom)
        for name, atoms in by_field.items():
            domain = self.domain(name, atoms)
            if not self.unsatisfiable(atoms, domain):
                continue
            for a in atoms:
                if self.unsatisfiable([a], domain):
                    return [a]
            for i, a in enumerate(atoms):
                for b in atoms[i + 1:]:
                    if self.unsatisfiable([a, b], domain):
                        return [a, b]
            return atoms
        return None


def _show_atoms(atoms: list[_Atom]) -> str:
    return " and ".join(f"`{a.text}`" if not a.text.startswith("the comparison") else a.text
                        for a in atoms)


def _conflict_hint(atoms: list[_Atom]) -> str:
    ops = {a.op for a in atoms}
    shown = _show_atoms(atoms)
    if "absent" in ops:
        return (f"{shown}: a field cannot be both present and absent; remove one of the "
                "conditions")
    if len(atoms) == 1:
        return f"{shown} accepts no value; give the list at least one value"
    if ops <= {"<", "<=", ">", ">="}:
        return (f"the bounds {shown} leave no value; check the direction of one comparison "
                "(or the parameter values)")
    if ops <= {"==", "in"}:
        return (f"a field has one value at a time, and {shown} ask for different ones; to "
                "accept any of them, write `in [...]` or join them with `or`")
    if len(atoms) == 2 and ops & {"==", "in"} and ops & {"<", "<=", ">", ">="}:
        return (f"{shown}: the value asked for lies outside the bound; check the value, the "
                "bound and its direction")
    if len(atoms) == 2 and ops & {"==", "in"} and ops & {"!=", "not in"}:
        return f"{shown} ask for a value and exclude it; remove one of them"
    return f"{shown} exclude every value the field can take; remove or correct one of them"


# --- the checks on a loaded pack --------------------------------------------------------------

class _Checks:
    def __init__(self, packset, mine: list, params: dict):
        self.packset = packset
        self.mine = mine
        self.names = {p.name for p in mine}
        self.params = params
        self.rules = [r for r in packset.rules if r.pack in self.names]
        self.found: list[Diagnostic] = []

    def add(self, code: str, message: str, hint: str | None = None, *, at=None,
            file: str | None = None, line=None, column=None, rule=None, level=None):
        if at is not None:
            file, line, column = at.file, at.line, at.column
        spec = CODES[code]
        self.found.append(Diagnostic(level or spec.level, code, message, hint or spec.hint,
                                     file, line, column, rule))

    def run(self) -> list[Diagnostic]:
        self.never_firing()
        self.unused()
        self.tests()
        self.limits()
        return self.found

    # rules that can never fire

    def never_firing(self):
        dead: dict[str, str] = {}    # rule id -> why
        for rule in self.packset.rules:
            for pattern in rule.patterns:
                referenced = {ref.parts[1] for other in rule.patterns if other.where is not None
                              for ref in ex.walk(other.where)
                              if isinstance(ref, ex.Ref) and len(ref.parts) == 2
                              and ref.parts[0] == pattern.name and other is not pattern}
                conflict = _Conditions(self.packset, rule, pattern,
                                       set() if pattern.negated else referenced).conflict()
                if conflict is None:
                    continue
                if not pattern.negated:
                    dead[rule.id] = "contradiction"
                if rule.pack not in self.names:
                    continue
                shown = _show_atoms(conflict)
                what = "leaves" if len(conflict) == 1 else "leave"
                if pattern.negated:
                    message = (f"rule {rule.id}: in its 'not' pattern on {pattern.kind}, {shown} "
                               f"{what} no value for {conflict[0].field}: the pattern never "
                               "matches, so the 'not' excludes nothing")
                else:
                    message = (f"rule {rule.id}: in its pattern on {pattern.kind}, {shown} "
                               f"{what} no value for {conflict[0].field}: the rule can never "
                               "fire")
                self.add("contradictory-condition", message, _conflict_hint(conflict),
                         at=pattern.at, rule=rule.id)
        producers: dict[str, list] = {}
        for rule in self.packset.rules:
            if rule.derive_kind:
                producers.setdefault(rule.derive_kind, []).append(rule)
        blocked: dict[str, str] = {}   # rule id -> the kind it waits for
        changed = True
        while changed:
            changed = False
            dead_kinds = {k for k, rs in producers.items() if all(r.id in dead for r in rs)}
            for rule in self.packset.rules:
                if rule.id in dead:
                    continue
                kind = next((p.kind for p in rule.positive if p.kind in dead_kinds), None)
                if kind is not None:
                    dead[rule.id] = "needs"
                    blocked[rule.id] = kind
                    changed = True
        for rule in self.rules:
            if rule.id not in blocked:
                continue
            kind = blocked[rule.id]
            ids = [r.id for r in producers[kind]]
            pattern = next(p for p in rule.positive if p.kind == kind)
            self.add("needs-unproduced-fact",
                     f"rule {rule.id} needs fact '{kind}', which no rule can produce: "
                     f"{'its only producer' if len(ids) == 1 else 'every rule that derives it'}"
                     f" ({', '.join(ids)}) can never fire; so this rule never fires either",
                     f"fix {', '.join(ids)} first (see the warnings about "
                     f"{'it' if len(ids) == 1 else 'them'}), or remove this rule",
                     at=pattern.at, rule=rule.id)

    # declared, derived or written, and never used

    def unused(self):
        read = {p.kind for r in self.packset.rules for p in r.patterns}
        reported: set[str] = set()
        for rule in self.rules:
            if rule.derive_kind and rule.derive_kind not in read \
                    and rule.derive_kind not in reported:
                reported.add(rule.derive_kind)
                ids = [r.id for r in self.packset.rules if r.derive_kind == rule.derive_kind]
                self.add("unused-derived-fact",
                         f"fact '{rule.derive_kind}', derived by {', '.join(ids)}, is read by no "
                         "loaded rule: it never leads to a finding",
                         f"read '{rule.derive_kind}' in a rule (`fact: {rule.derive_kind}`, or "
                         f"`not:` it), or remove {', '.join(ids)}",
                         at=rule.sites.get("derive", rule.at), rule=rule.id)
        params_read = {name for r in self.packset.rules for name in r.params}
        for pack in self.mine:
            doc = pack.manifest_doc
            users = [r for r in self.packset.rules if r.pack == pack.name
                     or pack.name in {a.name for a in _ancestors(self.packset, r.pack)}]
            for name in pack.manifest.parameters:
                if name not in params_read:
                    line, column = doc.position(("parameters", name), key=True)
                    self.add("unused-parameter", f"parameter '{name}' is read by no rule",
                             f"use ${name} in a condition, a let, a derive field or a "
                             "message, or remove it from pack.yaml",
                             file=doc.name, line=line, column=column)
            concerns = {r.report.concern for r in users if r.report is not None}
            for name, spec in pack.manifest.concerns.items():
                if name not in concerns:
                    line, column = doc.position(("concerns", name), key=True)
                    self.add("unused-concern", f"concern '{name}' ({spec.kind}) is reported by "
                             "no rule", f"report '{name}' from a {spec.kind} rule, or remove "
                             "it from pack.yaml", file=doc.name, line=line, column=column)
            if pack.manifest.guidance is not None:
                cited = {r.citation.section for r in users}
                for slug in pack.manifest.guidance.sections:
                    if slug not in cited:
                        line, column = doc.position(("guidance", "sections", slug), key=True)
                        self.add("uncited-section", f"guidance section '{slug}' is cited by no "
                                 "rule", None, file=doc.name, line=line, column=column)

    # rule tests

    def tests(self):
        from ..inputs.case import check_case
        from . import packtest
        tests = []
        for pack in self.mine:
            try:
                files = packtest.find_test_files(pack.root)
            except DiploError as exc:
                self.found.append(_from_error(exc, str(pack.root), code="invalid-test"))
                continue
            for path in files:
                try:
                    tests += packtest.read_tests(path)
                except DiploError as exc:
                    self.found.append(_from_error(exc, str(path), code="invalid-test"))
        # a test's own params analyse the packs again (on copies of the rules already read:
        # reading the files again for each set of params would take most of the time)
        cache = packtest.PackCache(self.params, load_pack=self._reanalyse)
        valid = []
        for test in tests:
            try:
                pack = self.packset
                if test.spec.params:
                    pack = packtest._with_params(test, self.packset, cache)
                packtest.check_patterns(test, pack)
                try:
                    check_case(test.case, pack.categories,
                               Document(test.file, test.case_data))
                except DiploError as exc:
                    raise test.case_error(exc) from None
                valid.append(test)
            except DiploError as exc:
                self.found.append(_from_error(exc, test.file, code="invalid-test"))
        expected = {p.rule for t in valid for p in t.spec.expect}
        forbidden = {p.rule for t in valid for p in t.spec.absent}
        for rule in self.rules:
            if rule.report is None:
                continue
            if rule.id not in expected:
                self.add("untested-rule", f"rule {rule.id} has no test where it must fire "
                         "(`expect`)", f"add a test whose case makes {rule.id} fire, with "
                         f"`expect: [{{rule: {rule.id}}}]`", at=rule.at, rule=rule.id)
            if rule.id not in forbidden:
                self.add("untested-rule", f"rule {rule.id} has no test where it must stay "
                         "silent (`absent`)", f"add a test with a case just short of what "
                         f"{rule.id} looks for, and `absent: [{{rule: {rule.id}}}]`",
                         at=rule.at, rule=rule.id, level="info")

    def _reanalyse(self, *roots, params: dict):
        copies: dict[int, object] = {}
        for pack in self.packset.packs:   # bases come before the packs that extend them
            base = copies.get(id(pack.base)) if pack.base is not None else None
            rules = [replace(r, patterns=list(r.patterns), params={}, fields_read={})
                     for r in pack.rules]
            copies[id(pack)] = replace(pack, rules=rules, base=base)
        return analyse(list(copies.values()), params)

    # the rule engine's limits

    def limits(self):
        near = _near
        total = len(self.packset.rules)
        if near(total, pack_spec.MAX_RULES) and self.rules:
            doc = self.mine[0].manifest_doc
            line, column = doc.position(("rules",), key=True)
            self.add("near-engine-limit", f"{total} rules are loaded; the engine's limit is "
                     f"{pack_spec.MAX_RULES}", "split the pack in two before it reaches the limit",
                     file=doc.name, line=line, column=column)
        for rule in self.rules:
            written = [p for p in rule.patterns if not p.implicit]
            if near(len(written), MAX_PATTERNS):
                self.add("near-engine-limit", f"rule {rule.id} has {len(written)} patterns; "
                         f"a rule may have {MAX_PATTERNS}", "derive an intermediate fact "
                         "from some of the patterns and match that instead", at=rule.at,
                         rule=rule.id)
            nodes = [n for tree in self._trees(rule) for n in ex.walk(tree)]
            longest = max((len(n.items) for n in nodes if isinstance(n, ex.ListLit)), default=0)
            if near(longest, MAX_LIST_VALUES):
                self.add("near-engine-limit", f"rule {rule.id} has a list of {longest} values; "
                         f"a list may hold {MAX_LIST_VALUES}", "move the values to a "
                         "list parameter, or group them (a category group)", at=rule.at,
                         rule=rule.id)
        shards = getattr(self.packset.compiled, "shards", None)
        if not shards:
            return    # not compiled (the compiler refused it, and said why)
        # the caps hold per ruleset; the compiler splits rules that share no fact across
        # rulesets, so a cap is near only for the rules that must stay together
        for shard in shards:
            self._shard_limits(shard.definition)

    def _shard_limits(self, definition: dict):
        from ..core.compile import (
            MAX_JOIN_REFS,
            MAX_SHARED_JOIN_HEADS,
            MAX_TESTS_PER_FIELD,
        )
        near = _near
        by_key = {f"r{i}": rule for i, rule in enumerate(self.packset.rules)}
        values: dict[tuple[str, str], set] = {}
        testers: dict[tuple[str, str], list] = {}
        heads: dict[str, list] = {}
        for key, entry in definition.items():
            rule = by_key.get(key)
            if rule is None:
                continue    # the compiler's own guard and sink rules
            bindings = entry["all"]
            joins = 0
            for binding in bindings:
                (alias, cond), = binding.items()
                kind = _binding_kind(cond)
                for name, value in _tests(cond):
                    values.setdefault((kind, name), set()).add(repr(value))
                    testers.setdefault((kind, name), []).append(rule)
                joins += _join_refs(cond)
            if rule.pack in self.names and near(joins, MAX_JOIN_REFS):
                self.add("near-engine-limit", f"rule {rule.id} compares {joins} fields across "
                         f"facts; the engine allows {MAX_JOIN_REFS}", "derive a fact that "
                         "carries the compared values, and join on fewer fields", at=rule.at,
                         rule=rule.id)
            if len(bindings) > 1:
                head = json.dumps(next(iter(bindings[0].values())), sort_keys=True)
                heads.setdefault(head, []).append(rule)
        for (kind, name), seen in values.items():
            mine = [r for r in testers[(kind, name)] if r.pack in self.names]
            if near(len(seen), MAX_TESTS_PER_FIELD) and mine:
                shown = name[2:] if name.startswith("f_") else name
                self.add("near-engine-limit", f"the loaded rules test {kind}.{shown} against "
                         f"{len(seen)} different values; the engine allows "
                         f"{MAX_TESTS_PER_FIELD}", "use fewer distinct thresholds: share "
                         "parameters, or derive a fact that classifies the values first",
                         at=mine[0].at, rule=mine[0].id)
        for head, rules in heads.items():
            mine = [r for r in rules if r.pack in self.names]
            if near(len(rules), MAX_SHARED_JOIN_HEADS) and mine:
                self.add("near-engine-limit", f"{len(rules)} rules with several patterns start "
                         f"with the same condition; the engine allows {MAX_SHARED_JOIN_HEADS}",
                         "give some of them a more specific first pattern (a `where` on the "
                         "first fact)", at=mine[0].at, rule=mine[0].id)

    @staticmethod
    def _trees(rule) -> list[ex.Node]:
        return ([p.where for p in rule.patterns if p.where is not None]
                + list(rule.lets.values()) + list(rule.derive_fields.values()))


def _near(used: int, cap: int) -> bool:
    return used > NEAR_LIMIT * cap


def _ancestors(packset, pack_name: str) -> list:
    pack = next((p for p in packset.packs if p.name == pack_name), None)
    return list(getattr(pack, "ancestors", []) or []) if pack is not None else []


_COMPARISONS = ("$eq", "$neq", "$lt", "$lte", "$gt", "$gte")


def _binding_kind(cond) -> str | None:
    """The fact kind a compiled condition matches: {"k": KIND}, first in nested "$and"s."""
    if not isinstance(cond, dict):
        return None
    if "k" in cond:
        return cond["k"]
    items = cond.get("$and") or [None]
    return _binding_kind(items[0])


def _tests(cond):
    """(field, constant) for each comparison of a field with a constant in a compiled
    condition: what the compiler counts against its per-field limit."""
    if isinstance(cond, list):
        for item in cond:
            yield from _tests(item)
        return
    if not isinstance(cond, dict):
        return
    for key, value in cond.items():
        if key in ("$and", "$or"):
            yield from _tests(value)
        elif key in _COMPARISONS and isinstance(value, dict):
            for name, rhs in value.items():
                if not isinstance(rhs, (dict, bool)):
                    yield name, rhs


def _join_refs(cond) -> int:
    """References to another fact's field ({alias: field}) in a compiled condition."""
    if isinstance(cond, list):
        return sum(_join_refs(item) for item in cond)
    if not isinstance(cond, dict):
        return 0
    count = 0
    for key, value in cond.items():
        if key in ("$and", "$or"):
            count += _join_refs(value)
        elif key in _COMPARISONS and isinstance(value, dict):
            count += sum(_rhs_refs(rhs) for rhs in value.values())
    return count


def _rhs_refs(rhs) -> int:
    if not isinstance(rhs, dict):
        return 0
    if set(rhs) == {"$m"}:
        return 0
    if any(k in rhs for k in ("$add", "$sub", "$mul", "$div")):
        inner = next(iter(rhs.values()))
        return _rhs_refs(inner.get("$l")) + _rhs_refs(inner.get("$r"))
    return 1
