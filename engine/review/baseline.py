"""Baselines: comparing a report with an earlier report of the same case, by finding id.

With a baseline, only risks that are new, or more severe than in the baseline, fail the gate
(`Report.fails_gate`): a pipeline adopting diplo on an existing budget blocks on what a change
makes worse, not on everything already known. Strengths are not compared.

A baseline is what `diplo assess --format json` wrote: one report, or an array of reports (one
per case, matched to the assessed cases by case id). Only `schema_version`, `case.id` and each
finding's `id`, `kind` and `severity` are read, so a baseline written with other options
(`--explain`, waivers) or by a later diplo that added keys is still a baseline.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import BaselineError, InputError
from ..inputs.source import Document, format_path, parse_json, read_text
from ..inputs.validation import describe, validate
from ..model import SEVERITIES, BaselineInfo, FindingKind, Report, Severity

WHAT = "a baseline is the JSON report of `diplo assess --format json` (one report or an array)"
_REPORT_KEYS = ("schema_version", "case", "findings")


class _Lenient(BaseModel):
    # keys this version does not read are ignored: a baseline may come from a later diplo
    # defer_build: validators are built when a baseline is first read
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True, defer_build=True)


class BaseFinding(_Lenient):
    id: str
    kind: FindingKind
    severity: Severity


class BaseCase(_Lenient):
    id: str


class BaseReport(_Lenient):
    schema_version: Literal[1, 2]   # version 2 only adds keys
    case: BaseCase
    findings: list[BaseFinding]


@dataclass(frozen=True)
class Baseline:
    """The reports of a baseline file, by case id."""

    source: str
    reports: dict[str, BaseReport]


class _Retry(Exception):
    """The fast reading found a problem; read again with positions to say where it is."""


def load_baseline(path: str | Path, *, display: str | None = None) -> Baseline:
    """Read a baseline report file; BaselineError (with file, line and field) when it is not a
    report or an array of reports."""
    name = display or str(path)
    text = read_text(path, display=name)
    try:
        # a batch's baseline can be megabytes: parse once, find positions only for an error
        return _build(name, json.loads(text), None)
    except (ValueError, RecursionError, _Retry):
        pass
    try:
        doc = parse_json(text, name)
    except InputError as exc:
        raise BaselineError(f"{exc.message}; {WHAT}", file=exc.file, line=exc.line,
                            column=exc.column, path=exc.path) from None
    return _build(name, doc.data, doc)


def _build(name: str, data: Any, doc: Document | None) -> Baseline:
    def fail(message: str, path: tuple = ()):
        if doc is None:
            raise _Retry
        raise doc.error(BaselineError, message, path)

    if isinstance(data, dict):
        items = [((), data)]
    elif isinstance(data, list):
        if not data:
            fail(f"the array holds no report; {WHAT}")
        items = [((i,), item) for i, item in enumerate(data)]
    else:
        fail(f"expected a report or an array of reports, found {describe(data)}; {WHAT}")
    reports: dict[str, BaseReport] = {}
    first: dict[str, tuple] = {}
    for where, item in items:
        if not isinstance(item, dict):
            fail(f"expected a report, found {describe(item)}; {WHAT}", where)
        missing = [key for key in _REPORT_KEYS if key not in item]
        if missing:
            fail(f"is not a report of diplo (it has no '{missing[0]}'); {WHAT}", where)
        report = _validate(item, where, doc)
        case_id = report.case.id
        if case_id in reports:
            fail(f"a second report of case '{case_id}' (the first is at "
                 f"{format_path(first[case_id]) or 'the top'}); a baseline holds one report "
                 "per case", where + ("case", "id"))
        reports[case_id] = report
        first[case_id] = where
    return Baseline(name, reports)


def _validate(item: dict, where: tuple, doc: Document | None) -> BaseReport:
    if doc is None:
        try:
            return BaseReport.model_validate(item)
        except ValidationError:
            raise _Retry from None
    # validate() knows the positions of a whole document; give it the item's, then put the
    # item's place in the array back in front of the field path
    n = len(where)
    part = Document(doc.name, item, doc.text,
                    values={k[n:]: v for k, v in doc.values.items() if k[:n] == where},
                    keys={k[n:]: v for k, v in doc.keys.items() if k[:n] == where})
    try:
        return validate(BaseReport, part, BaselineError, what="report")
    except BaselineError as exc:
        if where:
            exc.path = format_path(where) + ("." + exc.path if exc.path else "")
        raise


def compare_with_baseline(report: Report, baseline: Baseline) -> Report:
    """The report with its `baseline` filled in: each risk known, new or worse than in the
    baseline report of the same case, and the baseline's risks that are gone (resolved)."""
    base = baseline.reports.get(report.case.id)
    before: dict[str, str] = {}
    for finding in base.findings if base is not None else ():
        if finding.kind == "risk":
            # the same id twice (a hand-edited baseline): the more severe one counts
            if SEVERITIES.index(finding.severity) >= SEVERITIES.index(
                    before.get(finding.id, "info")):
                before[finding.id] = finding.severity
    known, new, worse = [], [], []
    current = set()
    for finding in report.findings:
        if finding.kind != "risk":
            continue
        current.add(finding.id)
        if finding.id not in before:
            new.append(finding.id)
        elif SEVERITIES.index(finding.severity) > SEVERITIES.index(before[finding.id]):
            worse.append(finding.id)
        else:
            known.append(finding.id)
    resolved = [id for id in before if id not in current]
    info = BaselineInfo(source=baseline.source, case_found=base is not None, known=known,
                        new=new, worse=worse, resolved=resolved)
    return report.model_copy(update={"baseline": info})
