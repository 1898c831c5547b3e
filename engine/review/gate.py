"""What review workflows add to `diplo assess`: waivers and a baseline applied to each report,
notes on them after each report in the text formats, and the summary of a batch
(docs/review-workflows.md). The `--output` file is written by engine/review/output.py.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tabulate import tabulate

from .. import formats
from ..errors import DiploError
from ..formats.escape import md_code, md_text, one_line
from ..model import SEVERITIES, Report

if TYPE_CHECKING:  # imported where used: a plain assessment reads no waivers or baseline
    from .baseline import Baseline
    from .waivers import Waivers

_DOWN = tuple(reversed(SEVERITIES))


def review(report: Report, *, waivers: Waivers | None, baseline: Baseline | None,
           day: datetime.date) -> Report:
    """The report with waivers applied and compared with the baseline (either may be None)."""
    if waivers is not None:
        from .waivers import apply_waivers
        report = apply_waivers(report, waivers, day)
    if baseline is not None:
        from .baseline import compare_with_baseline
        report = compare_with_baseline(report, baseline)
    return report


@dataclass(frozen=True)
class Entry:
    """One case of a batch, in the order of the arguments: its report, or why it has none."""

    name: str
    report: Report | None = None
    error: DiploError | None = None


# --- rendering ---------------------------------------------------------------------------------

def render(format_name: str, reports: list[Report], *, details: bool, fail_on: str,
           batch: list[Entry] | None = None, **options) -> str:
    """The reports in a format, with what the format itself does not show of waivers and
    baselines: in the table format, notes after each report and, for a batch of more than one
    case, a summary table; in the markdown format, sections at the end (which the memo's
    length limit counts but never cuts). `options` go to the format as they are (`summary`,
    `max_chars`)."""
    fmt = formats.get(format_name)
    unreadable = [entry.error for entry in batch or () if entry.error is not None]
    if not reports and not (unreadable and getattr(fmt, "shows_unreadable", False)):
        return ""   # nothing assessed: the errors are on stderr
    if unreadable:
        options["unreadable"] = unreadable
    reviewed = any(r.waivers or r.baseline for r in reports)
    if format_name == "table" and reviewed:
        # the table format's text is its reports' blocks joined by a blank line, so rendering
        # them one at a time leaves room for each report's notes without touching the format
        text = "\n".join(fmt.reports([r], details=details, fail_on=fail_on, **options)
                         + _table_notes(r, fail_on) for r in reports)
    elif format_name == "markdown":
        appendix = ((_markdown_notes(reports) if reviewed else "")
                    + (_markdown_unreadable(unreadable) if unreadable else ""))
        text = fmt.reports(reports, details=details, fail_on=fail_on, appendix=appendix,
                           **options)
    else:
        text = fmt.reports(reports, details=details, fail_on=fail_on, **options)
    if format_name == "table" and batch is not None and len(batch) > 1:
        text += ("\n" if text else "") + summary_table(batch, fail_on)
    return text


def _gate_words(report: Report, fail_on: str) -> str:
    at_level = [f for f in report.findings if f.kind == "risk"
                and SEVERITIES.index(f.severity) >= SEVERITIES.index(fail_on)]
    counted = {f.id for f in report.gate_findings(fail_on)}
    excused = []
    waived = sum(1 for f in at_level if f.waived is not None)
    if waived:
        excused.append(f"{waived} waived")
    if report.baseline is not None:
        known = sum(1 for f in at_level if f.waived is None and f.id not in counted)
        if known:
            excused.append(f"{known} known from the baseline")
    verdict = "FAIL" if counted else "PASS"
    text = (f"Gate (--fail-on {fail_on}): {verdict} ({len(counted)} of {len(at_level)} "
            f"risk{'s' * (len(at_level) != 1)} at or above {fail_on} count")
    return text + (f"; {', '.join(excused)})" if excused else ")")


def _waiver_target(entry) -> str:
    if entry.finding is not None:
        target = entry.finding
    else:
        target = f"rule {entry.rule} on {', '.join(entry.subjects or ())}"
    return target + (f" (case {entry.case})" if entry.case else "")


def _waiver_rows(report: Report) -> list[tuple[str, str, str]]:
    info = report.waivers
    rows = []
    for finding in report.findings:
        if finding.waived is not None:
            w = finding.waived
            rows.append(("waived", finding.id,
                         f"until {w.expires.isoformat()}, owner {w.owner}: {w.reason}"))
    for entry in info.expired:
        rows.append(("EXPIRED", ", ".join(entry.findings) or _waiver_target(entry),
                     f"expired {entry.expires.isoformat()} (line {entry.line}), owner "
                     f"{entry.owner}: " + ("no longer waived" if entry.findings
                                           else "matches nothing either")))
    for entry in info.stale:
        rows.append(("stale", _waiver_target(entry),
                     f"line {entry.line}: matches no finding of this case; remove it"))
    return rows


def _baseline_rows(report: Report) -> list[tuple[str, str]]:
    info = report.baseline
    severity = {f.id: f.severity for f in report.findings}
    rows = [(name, f"{id} ({severity[id]})" if name != "resolved" else id)
            for name in ("new", "worse", "known", "resolved") for id in getattr(info, name)]
    return rows


def _baseline_head(report: Report) -> str:
    info = report.baseline
    head = (f"Baseline ({info.source}): {len(info.known)} known, {len(info.new)} new, "
            f"{len(info.worse)} worse, {len(info.resolved)} resolved")
    if not info.case_found:
        head += f"; the baseline has no report of case {report.case.id}, so every risk is new"
    return head


def _waivers_head(report: Report) -> str:
    info = report.waivers
    return (f"Waivers ({info.source}): {len(info.applied)} applied, {len(info.expired)} "
            f"expired, {len(info.stale)} stale")


def _table_notes(report: Report, fail_on: str) -> str:
    lines = []
    for present, head, rows in ((report.waivers, _waivers_head, _waiver_rows),
                                (report.baseline, _baseline_head, _baseline_rows)):
        if present is None:
            continue
        lines.append(one_line(head(report)))
        lines += ["  " + line for line in tabulate(
            [[one_line(cell) for cell in row] for row in rows(report)], tablefmt="plain",
            disable_numparse=True).splitlines()]
    lines.append(_gate_words(report, fail_on))
    return "\n".join(lines) + "\n"


def _markdown_notes(reports: list[Report]) -> str:
    # the memo marks waived risks and says whether each case passes the gate; what it does
    # not show is which waivers expired or match nothing, and the comparison with a baseline
    lines = ["", "## Waivers and baseline"]
    for report in reports:
        if report.waivers is None and report.baseline is None:
            continue
        # every text here may be someone else's: a case title, a waiver's owner, file names
        lines += ["", f"**{md_text(report.case.title)}** ({md_code(report.case.id)})"]
        if report.waivers is not None:
            lines += ["", md_text(_waivers_head(report))]
            rows = [row for row in _waiver_rows(report) if row[0] != "waived"]
            if rows:
                lines.append("")
                lines += [f"- {status}: {md_code(target)}: {md_text(text)}"
                          for status, target, text in rows]
        if report.baseline is not None:
            lines += ["", md_text(_baseline_head(report))]
            rows = [row for row in _baseline_rows(report) if row[0] != "known"]
            if rows:
                lines.append("")
                lines += [f"- {status}: {md_code(text)}" for status, text in rows]
    return "\n".join(lines) + "\n"


def _markdown_unreadable(errors: list[DiploError]) -> str:
    lines = ["", "## Cases that could not be assessed", "",
             f"The gate fails: {len(errors)} case file{'s' * (len(errors) != 1)} could not be "
             "read or validated, so the batch was not checked whole.", ""]
    lines += [f"- {md_code(str(error))}" for error in errors]
    return "\n".join(lines) + "\n"


def summary_table(batch: list[Entry], fail_on: str) -> str:
    """One row per case of a batch, in the order of the arguments, and the batch's gate."""
    headers = ["case", "verdict", "gate", *_DOWN, "strengths"]
    extra = []
    if any(e.report is not None and e.report.waivers is not None for e in batch):
        extra.append("waived")
    if any(e.report is not None and e.report.baseline is not None for e in batch):
        extra.append("new/worse")
    rows = []
    failing = invalid = 0
    for entry in batch:
        report = entry.report
        if report is None:
            invalid += 1
            rows.append([one_line(entry.name), "invalid", "-"]
                        + ["-"] * (len(_DOWN) + 1 + len(extra)))
            continue
        fails = report.fails_gate(fail_on)
        failing += fails
        counts = report.summary.risks.model_dump()
        row = [one_line(report.case.source or report.case.id), report.verdict,
               "fail" if fails else "pass", *(str(counts[s]) for s in _DOWN),
               str(report.summary.strengths)]
        if "waived" in extra:
            row.append(str(sum(1 for f in report.findings if f.waived is not None)))
        if "new/worse" in extra:
            row.append("-" if report.baseline is None else
                       str(len(report.baseline.new) + len(report.baseline.worse)))
        rows.append(row)
    assessed = len(batch) - invalid
    gate = "INVALID" if invalid else "FAIL" if failing else "PASS"
    last = (f"Batch: {gate} ({len(batch)} case{'s' * (len(batch) != 1)}: {failing} of "
            f"{assessed} assessed fail at --fail-on {fail_on}"
            + (f"; {invalid} invalid, see the errors" if invalid else "") + ")")
    from ..formats.terminal import fit_lines, fit_table
    return (fit_table(rows, headers + extra, wrap=(0,)) + "\n"
            + "\n".join(fit_lines([last])) + "\n")
