"""Rule tests as data: small cases beside the rules, with the findings that must and must not
appear. `diplo test` and the pytest suite both run them through this module.

A test file sits beside a rule file (`rules/engagement.yaml` -> `rules/engagement.test.yaml`):

    base:                       # optional: case fields shared by the file's tests
      inflation_pct: 2
    tests:
      - name: a deep cut to exercises limits engagement
        case:                   # merged over base; header fields are filled in when absent
          line_items: [{id: ex, category: joint_exercises, amount: 80, prior: 100}]
        params: {engagement_cut_pct: 10}     # optional parameter overrides
        expect:                 # each must match at least one finding
          - {rule: DD-ENG-002, subjects: [ex], severity: medium}
        absent:                 # none may match any finding
          - {rule: DD-ENG-003}

A pattern matches a finding of its `rule` whose subjects (in any order), severity, concern and
kind equal those the pattern gives; a finding folded into another with the same cause (one of
its `effects`) is matched as well. A test that is wrong in itself (an invalid case, a pattern
naming no reporting rule or one it can never match, an unknown parameter) raises a DiploError
that names the test file, the line and the field; a test that runs but does not get the
findings it wants is a failed Outcome.
"""
from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any, Callable

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ..errors import CaseError, DiploError, PackError
from ..inputs.source import Document, read_document
from ..inputs.validation import did_you_mean, validate
from ..lang.loader import pack_files, resolve_pack_dir
from ..lang.pack import PackSet
from ..lang.spec import TEST_SUFFIXES
from ..model import Case, FindingKind, Report, Severity

HEADER = {"title": "Rule test", "country": "Testland", "fiscal_year": 2027, "currency": "USD"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class FindingPattern(_Strict):
    rule: Annotated[str, StringConstraints(min_length=1)]
    subjects: list[str] | None = None
    severity: Severity | None = None
    concern: str | None = None
    kind: FindingKind | None = None

    def matches(self, finding) -> bool:
        # subjects are what a finding is about, not a sequence: their order follows the
        # rule's patterns, which a test should not have to know
        return (finding.rule == self.rule
                and (self.subjects is None or sorted(finding.subjects) == sorted(self.subjects))
                and (self.severity is None or finding.severity == self.severity)
                and (self.concern is None or finding.concern == self.concern)
                and (self.kind is None or finding.kind == self.kind))

    def __str__(self) -> str:
        parts = [self.rule]
        if self.subjects is not None:
            parts.append("[" + ", ".join(self.subjects) + "]")
        parts += [x for x in (self.kind, self.severity, self.concern) if x]
        return " ".join(parts)


class TestSpec(_Strict):
    __test__ = False  # a data model, not something for pytest to collect

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    case: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, bool | int | float | str | list[str]] = Field(default_factory=dict)
    expect: list[FindingPattern] = Field(default_factory=list)
    absent: list[FindingPattern] = Field(default_factory=list)


class TestFile(_Strict):
    __test__ = False

    base: dict[str, Any] = Field(default_factory=dict)
    tests: list[TestSpec] = Field(min_length=1)


@dataclass
class Outcome:
    file: str
    line: int | None
    name: str
    passed: bool
    problems: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class PackTest:
    """One test, ready to run against a pack set."""

    file: str
    line: int | None
    spec: TestSpec
    case_data: dict
    doc: Document
    index: int
    case: Case | None = None

    @property
    def id(self) -> str:
        # no '::' in it: older pytest splits node ids on every '::'
        return f"{Path(self.file).name}: {self.spec.name}"

    def error(self, cls, message: str, path: tuple, *, key: bool = False) -> DiploError:
        """An error at a field of this test (`path` is inside the test's entry)."""
        return self.doc.error(cls, message, ("tests", self.index) + tuple(path), key=key)

    def case_error(self, exc: DiploError) -> DiploError:
        """A case error, placed at this test: the case is merged from several places, so the
        test's own line and the field's path in the case say where to look."""
        exc.file, exc.line, exc.column = self.file, self.line, None
        exc.path = f"case.{exc.path}" if exc.path else "case"
        exc.message += f" (test '{self.spec.name}')"
        return exc


def merge(base: dict, extra: dict) -> dict:
    """`extra` over `base`: mappings merge key by key, anything else is replaced."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "test"


def _display(path: Path) -> str:
    """A path as a reader would type it: relative to the working folder when inside it
    (installed packs resolve to absolute paths)."""
    try:
        return os.path.relpath(path) if path.resolve().is_relative_to(Path.cwd()) else str(path)
    except (OSError, ValueError):
        return str(path)


def find_test_files(pack_dir: str | Path) -> list[Path]:
    root = resolve_pack_dir(pack_dir)
    found = []
    for rel, path in pack_files(root):
        if path.name.endswith(TEST_SUFFIXES):
            if path.is_symlink() or not path.is_file():
                raise PackError(f"test file {rel!r} is a link or not a regular file; a pack's "
                                "files must lie inside its folder", file=str(root))
            found.append(path)
    return found


def collect(pack_dir: str | Path) -> list[PackTest]:
    """Every test of a pack folder (or installed pack name), in file and file order.

    Raises a DiploError for the first invalid test file or test case."""
    tests: list[PackTest] = []
    for path in find_test_files(pack_dir):
        tests.extend(read_tests(path))
    return tests


def read_tests(path: str | Path) -> list[PackTest]:
    """The tests of one test file, each with its case validated."""
    name = _display(Path(path))
    doc = read_document(path, display=name)
    spec_file: TestFile = validate(TestFile, doc, PackError, what="rule test file")
    tests: list[PackTest] = []
    first: dict[str, int] = {}
    for i, spec in enumerate(spec_file.tests):
        line = doc.position(("tests", i))[0]
        data = merge(merge({"id": _slug(spec.name), **HEADER}, spec_file.base), spec.case)
        test = PackTest(name, line, spec, data, doc, i)
        if spec.name in first:
            raise test.error(PackError, f"duplicate test name '{spec.name}' (first on line "
                             f"{first[spec.name]})", ("name",))
        first[spec.name] = line
        if not spec.expect and not spec.absent:
            raise test.error(PackError, "a test must expect or forbid at least one finding "
                             "(give `expect` or `absent`)", ())
        try:
            test.case = validate(Case, Document(name, data), CaseError, what="case")
        except DiploError as exc:
            raise test.case_error(exc) from None
        tests.append(test)
    return tests


# --- running ----------------------------------------------------------------------------------

def _frozen(params: dict) -> tuple:
    # the type is part of the key: 1 == True == 1.0 in Python, but not to a parameter check
    return tuple(sorted((name, type(value).__name__,
                         tuple(value) if isinstance(value, list) else value)
                        for name, value in params.items()))


class PackCache:
    """Compiles a pack set with a test's parameter overrides, once per distinct set of
    values: tests of one pack repeat a few overrides, and compiling costs more than
    assessing."""

    def __init__(self, base_params: dict | None = None,
                 load_pack: Callable[..., PackSet] | None = None):
        self.base_params = dict(base_params or {})
        self._load_pack = load_pack
        self._packs: dict[tuple, PackSet] = {}
        self.compiled = 0

    def __call__(self, *specs: str | Path, params: dict) -> PackSet:
        key = (tuple(str(s) for s in specs), _frozen(params))
        if key not in self._packs:
            from ..core.run import load_pack
            load = self._load_pack or load_pack
            self._packs[key] = load(*specs, params={**self.base_params, **params})
            self.compiled += 1
        return self._packs[key]


def _with_params(test: PackTest, pack: PackSet, load_pack) -> PackSet:
    try:
        return load_pack(*[p.root for p in pack.packs], params=dict(test.spec.params))
    except DiploError as exc:
        name = (exc.path or "").removeprefix("--param ")
        if exc.file is None and exc.path and name in test.spec.params:
            unknown = exc.message.startswith(("unknown parameter", "parameter '"))
            raise test.error(type(exc), exc.message, ("params", name), key=unknown) from None
        exc.message += f" (with the params of test '{test.spec.name}' at {test.file}:{test.line})"
        raise


def check_patterns(test: PackTest, pack: PackSet) -> None:
    """Every pattern names a rule that reports, and could match what that rule reports: a
    pattern that can never match makes an `absent` pass whatever the rules do."""
    rules = {rule.id: rule for rule in pack.rules}
    for group in ("expect", "absent"):
        for j, pattern in enumerate(getattr(test.spec, group)):
            rule = rules.get(pattern.rule)
            if rule is None and group == "absent" and pattern.rule in pack.disabled:
                continue  # a pack that disables a rule may test that it stays silent
            if rule is None:
                raise test.error(PackError, f"no loaded rule has the id '{pattern.rule}'"
                                 f"{did_you_mean(pattern.rule, rules)}", (group, j, "rule"))
            for attribute in ("kind", "severity", "concern"):
                wanted = getattr(pattern, attribute)
                if rule.report is None:
                    if wanted is not None:
                        raise test.error(PackError, f"rule {rule.id} derives a fact: a pattern "
                                         "for it names the rule and subjects only",
                                         (group, j, attribute))
                    continue
                actual = getattr(rule.report, attribute)
                if wanted is not None and wanted != actual:
                    raise test.error(PackError, f"rule {rule.id} reports {attribute} "
                                     f"'{actual}', never '{wanted}'", (group, j, attribute))


def folded_findings(report: Report) -> list[SimpleNamespace]:
    """The effects of a report's folded findings, each as a pattern sees a finding: its own
    rule, subjects, severity and concern, the kind of the finding it is folded into (always
    its own), and that finding's id (`into`)."""
    return [SimpleNamespace(rule=e.rule, subjects=e.subjects, severity=e.severity,
                            concern=e.concern, kind=f.kind, id=e.id, into=f.id)
            for f in report.findings for e in f.effects]


def describe_finding(finding) -> str:
    """A finding in the notation of a pattern, so that wanted and found line up."""
    return (f"{finding.rule} [{', '.join(finding.subjects)}] {finding.kind} {finding.severity} "
            f"{finding.concern}  ({finding.id})")


def describe_fact(fact) -> str:
    return f"{fact.rule} [{', '.join(fact.subjects)}] derived {fact.kind}  ({fact.id})"


def run_test(test: PackTest, pack: PackSet, load_pack=None) -> Outcome:
    """Run one test. `load_pack` compiles the pack set again when the test overrides
    parameters (a PackCache keeps one compilation per distinct override; default: none)."""
    from ..core.run import assess
    from ..inputs.case import check_case

    spec = test.spec
    if spec.params:
        pack = _with_params(test, pack, load_pack or PackCache())
    check_patterns(test, pack)
    case = test.case
    if case is None:  # a PackTest built by hand
        try:
            case = validate(Case, Document(test.file, test.case_data), CaseError, what="case")
        except DiploError as exc:
            raise test.case_error(exc) from None
    try:
        check_case(case, pack.categories, Document(test.file, test.case_data))
    except DiploError as exc:
        raise test.case_error(exc) from None
    report: Report = assess(case, pack, explain=True)
    # a finding folded into another with the same cause is still a finding its rule made: an
    # `absent` that could not see it would pass whatever the rule does
    folded = folded_findings(report)
    # a pattern naming a rule that derives matches the facts it derived
    results = list(report.findings) + folded + list(report.facts or [])

    outcome = Outcome(test.file, test.line, spec.name, True)
    outcome.findings = [describe_finding(f) for f in report.findings] + [
        f"{describe_finding(f)} folded into {f.into}" for f in folded] + [
        describe_fact(f) for f in report.facts or []]
    for want in spec.expect:
        if not any(want.matches(f) for f in results):
            outcome.problems.append(f"expected a finding {want}, found none")
    for unwanted in spec.absent:
        hits = [f for f in results if unwanted.matches(f)]
        if hits:
            outcome.problems.append(f"expected no finding {unwanted}, found "
                                    f"{', '.join(f.id for f in hits)}")
    outcome.passed = not outcome.problems
    return outcome


def run_pack_tests(pack_dirs: list[str | Path], params: dict | None = None) -> list[Outcome]:
    """Run the tests of each pack folder against the packs loaded together (with `params`
    overriding parameters for every test; a test's own `params` go on top)."""
    from ..core.run import load_pack
    pack = load_pack(*pack_dirs, params=params or None)
    cache = PackCache(params)
    # the packs named, not those they extend: a base pack's tests test it as written, and an
    # extension may change what they expect
    named = {resolve_pack_dir(spec).resolve() for spec in pack_dirs}
    tests = [test for p in pack.packs if p.root.resolve() in named for test in collect(p.root)]
    return [run_test(test, pack, cache) for test in tests]


# --- coverage and output ----------------------------------------------------------------------

def untested_rules(pack: PackSet, tests: list[PackTest],
                   pack_names: list[str] | None = None) -> list[str]:
    """Rules lacking a test where they must fire (`expect`) or one where they must not
    (`absent`): one line each."""
    expected = {p.rule for t in tests for p in t.spec.expect}
    forbidden = {p.rule for t in tests for p in t.spec.absent}
    missing = []
    for rule in pack.rules:
        if pack_names is not None and rule.pack not in pack_names:
            continue
        lacks = [what for what, named in (("test where it fires (expect)", expected),
                                          ("test where it must not fire (absent)", forbidden))
                 if rule.id not in named]
        if lacks:
            missing.append(f"{rule.id} ({_display(Path(rule.at.file))}:{rule.at.line}): no "
                           + " and no ".join(lacks))
    return missing


def format_failure(outcome: Outcome) -> str:
    lines = [f"FAIL {outcome.where}: {outcome.name}"]
    lines += [f"  {problem}" for problem in outcome.problems]
    lines.append("  findings of the case:" + ("" if outcome.findings else " none"))
    lines += [f"    {finding}" for finding in outcome.findings]
    return "\n".join(lines) + "\n"


def format_outcomes(outcomes: list[Outcome], *, verbose: bool = False) -> str:
    """What `diplo test` prints: failures in full (passes too, one line each, when verbose),
    then the count line."""
    blocks = []
    for outcome in outcomes:
        if not outcome.passed:
            blocks.append(format_failure(outcome))
        elif verbose:
            blocks.append(f"ok   {outcome.where}: {outcome.name}\n")
    passed = sum(o.passed for o in outcomes)
    return "".join(blocks) + f"{passed} passed, {len(outcomes) - passed} failed\n"
