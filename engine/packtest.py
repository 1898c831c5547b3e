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
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from .errors import DiploError, PackError
from .model import Case, FindingKind, Report, Severity
from .pack import PackSet, resolve_pack_dir
from .source import Document, format_path, read_document
from .validation import validate

TEST_SUFFIX = ".test.yaml"
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
        return (finding.rule == self.rule
                and (self.subjects is None or finding.subjects == self.subjects)
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
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    case: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, bool | int | float | str | list[str]] = Field(default_factory=dict)
    expect: list[FindingPattern] = Field(default_factory=list)
    absent: list[FindingPattern] = Field(default_factory=list)


class TestFile(_Strict):
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

    @property
    def id(self) -> str:
        return f"{Path(self.file).name}::{self.spec.name}"


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


def collect(pack_dir: str | Path) -> list[PackTest]:
    """Every test of a pack folder (or built-in pack name), in file and file order."""
    root = resolve_pack_dir(pack_dir)
    tests: list[PackTest] = []
    for path in sorted(root.rglob(f"*{TEST_SUFFIX}")):
        doc = read_document(path)
        spec_file: TestFile = validate(TestFile, doc, PackError, what="rule test file")
        for i, spec in enumerate(spec_file.tests):
            data = merge(merge({"id": _slug(spec.name), **HEADER}, spec_file.base), spec.case)
            line = doc.position(("tests", i))[0]
            tests.append(PackTest(str(path), line, spec, data, doc, i))
    return tests


def run_test(test: PackTest, pack: PackSet, load_pack) -> Outcome:
    """Run one test. `load_pack` compiles the pack set again when the test overrides
    parameters."""
    from .case import check_case
    from .run import assess

    spec = test.spec
    outcome = Outcome(test.file, test.line, spec.name, True)
    try:
        if spec.params:
            pack = load_pack(*[p.root for p in pack.packs], params=spec.params)
        try:
            case = Case.model_validate(test.case_data)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            raise PackError(f"the test's case is invalid: {format_path(first['loc'])}: "
                            f"{first['msg']}", file=test.file, line=test.line) from None
        check_case(case, pack.categories, Document(f"{test.file}:{test.line}", None))
        report: Report = assess(case, pack)
    except DiploError as exc:
        outcome.passed = False
        outcome.problems.append(f"error: {exc}")
        return outcome
    outcome.findings = [f"{f.rule} [{', '.join(f.subjects)}] {f.kind} {f.severity} "
                        f"{f.concern}" for f in report.findings]
    for want in spec.expect:
        if not any(want.matches(f) for f in report.findings):
            outcome.problems.append(f"expected a finding {want}")
    for unwanted in spec.absent:
        hits = [f for f in report.findings if unwanted.matches(f)]
        if hits:
            outcome.problems.append(f"expected no finding {unwanted}, found "
                                    f"{', '.join(f.id for f in hits)}")
    outcome.passed = not outcome.problems
    return outcome


def run_pack_tests(pack_dirs: list[str | Path]) -> list[Outcome]:
    """Run the tests of each pack folder against the packs loaded together."""
    from .run import load_pack
    pack = load_pack(*pack_dirs)
    outcomes = []
    for pack_dir in pack_dirs:
        for test in collect(pack_dir):
            outcomes.append(run_test(test, pack, load_pack))
    return outcomes
