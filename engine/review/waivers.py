"""Waivers: risks a review has accepted, each with a reason, an owner and an expiry date.

A waived finding stays in its report, marked with its waiver, and no longer fails the gate
(`Report.fails_gate`). A waiver applies up to and including its `expires` date; from the next
day it is listed as expired and the finding counts again, so that an acceptance cannot outlive
its review. A waiver that matches no finding is listed as stale, so that waivers do not pile up
after the risks they accepted are gone. The format is in docs/review-workflows.md.

`apply_waivers` takes the date as an argument and never reads a clock, so that a report depends
on its inputs and the day only; the command takes the day from `today()`, which tests replace.
"""
from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from ..errors import DiploError, WaiverError
from ..inputs.found import check_link, quotable, withheld
from ..inputs.source import Document, read_document
from ..inputs.validation import validate
from ..model import Finding, Report, Waived, WaiverEntry, WaiversInfo

CONVENTIONAL_NAME = "diplo-waivers.yaml"
MAX_WAIVERS = 10_000


def today() -> datetime.date:
    """The day against which waivers expire: the local date. Replaced in tests."""
    return datetime.date.today()


def _date(value):
    # a date as YAML writes it (unquoted), or the same text quoted, as JSON must write it;
    # never a number (pydantic would read 20260630 as seconds since 1970) or a time of day
    if isinstance(value, datetime.datetime):
        raise PydanticCustomError("date_only", "expected a date YYYY-MM-DD without a time of "
                                  "day")
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError("date_invalid", "expected a day of the calendar") from None
    raise PydanticCustomError("date_format", "expected a date written YYYY-MM-DD")


Day = Annotated[datetime.date, BeforeValidator(_date)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=r"\S")]
Word = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=r"\S")]


class _Strict(BaseModel):
    # defer_build: validators are built when a waivers file is first read, not whenever
    # `diplo assess` imports this module to look for one
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


class WaiverSpec(_Strict):
    finding: Word | None = None
    rule: Word | None = None
    subjects: Annotated[list[Word], Field(min_length=1, max_length=500)] | None = None
    case: Word | None = None
    reason: Text
    owner: Word
    expires: Day


class WaiversFile(_Strict):
    waivers: Annotated[list[WaiverSpec], Field(max_length=MAX_WAIVERS)]


@dataclass(frozen=True)
class Waiver:
    """One waiver, and the line it starts on in its file."""

    spec: WaiverSpec
    line: int | None

    def matches(self, case_id: str, finding: Finding) -> bool:
        spec = self.spec
        if finding.kind != "risk" or (spec.case is not None and spec.case != case_id):
            return False
        if spec.finding is not None:
            return finding.id == spec.finding
        return finding.rule == spec.rule and set(finding.subjects) == set(spec.subjects or ())

    def applies_to_case(self, case_id: str) -> bool:
        return self.spec.case is None or self.spec.case == case_id

    def expired(self, day: datetime.date) -> bool:
        return day > self.spec.expires

    def entry(self, findings: list[str]) -> WaiverEntry:
        spec = self.spec
        return WaiverEntry(line=self.line, finding=spec.finding, rule=spec.rule,
                           subjects=list(spec.subjects) if spec.subjects is not None else None,
                           case=spec.case, reason=spec.reason, owner=spec.owner,
                           expires=spec.expires, findings=findings)


@dataclass(frozen=True)
class Waivers:
    """The waivers of one file, in the file's order."""

    source: str
    items: tuple[Waiver, ...]


def conventional_file(first_case: str | Path) -> Path | None:
    """The waivers file that sits in the folder of the first case, if there is one. A link
    there is followed only while it stays inside that folder: one that leads out is refused
    (WaiverError) before it is read, as it could lead to any file (engine.inputs.found)."""
    folder = Path(first_case).parent
    candidate = folder / CONVENTIONAL_NAME
    check_link(candidate, folder, WaiverError, what=f"a {CONVENTIONAL_NAME}",
               instead="name a waivers file with --waivers, or give --no-waivers")
    return candidate if candidate.is_file() else None


def load_waivers(path: str | Path, *, display: str | None = None,
                 found_in: str | Path | None = None) -> Waivers:
    """Read and check a waivers file; WaiverError (with file, line and field) when it is not
    valid. `found_in`: diplo found the file by itself (beside the cases, or named by a
    configuration file it found) in or from this folder, rather than being named it; unless
    the file is a regular file inside that folder, its errors quote nothing of it."""
    if found_in is not None and not quotable(path, found_in):
        try:
            return _load(path, display)
        except DiploError as exc:
            raise withheld(exc, WaiverError, file=display or str(path),
                           what="the waivers file",
                           instead="name it with --waivers") from None
    return _load(path, display)


def _load(path: str | Path, display: str | None) -> Waivers:
    doc = read_document(path, display=display)
    parsed: WaiversFile = validate(WaiversFile, doc, WaiverError, what="waivers file")
    items = []
    seen: dict[tuple, int] = {}
    for i, spec in enumerate(parsed.waivers):
        _check(spec, doc, i)
        target = (spec.case, spec.finding, spec.rule,
                  frozenset(spec.subjects) if spec.subjects is not None else None)
        line = doc.position(("waivers", i))[0]
        if target in seen:
            raise doc.error(WaiverError, f"waives the same finding as waivers[{seen[target]}] "
                            f"(line {items[seen[target]].line}); keep one", ("waivers", i))
        seen[target] = i
        items.append(Waiver(spec, line))
    return Waivers(doc.name, tuple(items))


def _check(spec: WaiverSpec, doc: Document, i: int) -> None:
    def fail(message: str, *path):
        raise doc.error(WaiverError, message, ("waivers", i) + path, key=bool(path))

    if spec.finding is not None and (spec.rule is not None or spec.subjects is not None):
        fail("give either 'finding' (a finding id) or 'rule' and 'subjects', not both",
             "rule" if spec.rule is not None else "subjects")
    if spec.finding is None:
        if spec.rule is None:
            fail("a waiver names the finding it accepts: 'finding' (a finding id, such as "
                 "DD-ENG-002:multinational-exercises), or 'rule' and 'subjects'")
        if spec.subjects is None:
            fail("'subjects' is required with 'rule' (the finding's subjects, as a list)",
                 "rule")


def apply_waivers(report: Report, waivers: Waivers, day: datetime.date) -> Report:
    """The report with its waived risks marked and the report's `waivers` filled in.

    The first unexpired waiver (in file order) that matches a risk applies to it. Waivers for
    other cases (`case`) are left out of this report."""
    case_id = report.case.id
    relevant = [w for w in waivers.items if w.applies_to_case(case_id)]
    matched: dict[int, list[str]] = {i: [] for i in range(len(relevant))}
    findings = []
    for finding in report.findings:
        mark = None
        for i, waiver in enumerate(relevant):
            if waiver.matches(case_id, finding):
                matched[i].append(finding.id)
                if mark is None and not waiver.expired(day):
                    spec = waiver.spec
                    mark = Waived(reason=spec.reason, owner=spec.owner, expires=spec.expires)
        findings.append(finding.model_copy(update={"waived": mark}) if mark else finding)
    applied, expired, stale = [], [], []
    for i, waiver in enumerate(relevant):
        if waiver.expired(day):
            expired.append(waiver.entry(matched[i]))
        elif matched[i]:
            applied.append(waiver.entry(matched[i]))
        else:
            stale.append(waiver.entry([]))
    info = WaiversInfo(source=waivers.source, applied=applied, expired=expired, stale=stale)
    return report.model_copy(update={"findings": findings, "waivers": info})
