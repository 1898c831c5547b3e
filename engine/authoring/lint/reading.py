"""Everything the loader refuses, found at once: each file of a pack read and checked on its
own, so that one error does not hide the others, with the code and hint of each."""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Callable

from pydantic import BaseModel, ValidationError

from ...errors import DiploError, PackError
from ...inputs.source import Document, read_document
from ...inputs.validation import _problems, describe, explain_error
from ...lang.analyse import analyse
from ...lang.loader import (
    _Loader,
    _normalise,
    _read_guidance,
    _resolve_base,
    _rule_files,
    _rule_from_spec,
    resolve_pack_dir,
    with_inherited,
)
from ...lang.manifest import _read_manifest
from ...lang.pack import Pack
from ...lang.spec import (
    MANIFEST,
    Manifest,
    RuleFile,
    RuleSpec,
)
from .report import CODES, Diagnostic

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
