"""GitHub Actions workflow commands: annotations on the pull request, no code-scanning licence.

Each finding is one `::error`, `::warning` or `::notice` command, located at the case file and
the line and column of the finding's first subject (else of the first case field it read,
else line 1), found as the SARIF format finds them. The level follows the severity:
critical and high: error; medium: warning; low, info and strengths: notice. A risk the gate
does not count (waived, or known from `--baseline`) is a notice whatever its severity, and its
title says why. A case file that could not be read or validated is an error at the line of the
error. After each case's commands, one plain line gives its verdict for the log.

Case and pack text goes through GitHub's escaping (`%`, CR and LF in the message; also `:` and
`,` in the properties), so no text of a case can end a command early or start another one; each
value is one line, and control characters are shown as escapes (engine/formats/escape.py), so
none reaches the log as an escape sequence.

When the environment variable GITHUB_STEP_SUMMARY names a file (as GitHub sets it for every
step), a Markdown table of each case's verdict, gate and counts is appended to it. File paths
are made relative to GITHUB_WORKSPACE when they lie inside it, as annotations require.
"""
from __future__ import annotations

import os

from ..errors import UsageError
from ..model import SEVERITIES
from . import finding_severity, gate_findings, register
from .caveats import coverage_line
from .escape import md_text, one_line, workflow_data, workflow_property
from .sarif import CaseLocator
from .table import change_text, severity_text, summary_text

LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "notice",
          "info": "notice"}
STEP_SUMMARY = "GITHUB_STEP_SUMMARY"
WORKSPACE = "GITHUB_WORKSPACE"
_COUNTS = tuple(reversed(SEVERITIES))


escape_data = workflow_data            # a command's message
escape_property = workflow_property    # a command's property value (file, title)


def command(level: str, message: str, **properties) -> str:
    """`::level key=value,...::message`, escaped; properties that are None are left out."""
    given = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items()
                     if value is not None)
    return f"::{level}{' ' + given if given else ''}::{escape_data(message)}"


def annotation_path(source: str) -> str:
    """A case path as GitHub locates annotations: relative to the workspace (the checkout)
    when the file lies inside it, with `/`."""
    workspace = os.environ.get(WORKSPACE)
    if workspace:
        full, root = os.path.abspath(source), os.path.abspath(workspace)
        try:
            inside = os.path.commonpath([full, root]) == root
        except ValueError:   # another drive
            inside = False
        if inside:
            source = os.path.relpath(full, root)
    return source.replace(os.sep, "/") if os.sep != "/" else source


def _excused(report, finding) -> str | None:
    """Why the gate does not count a risk, or None when it does (or for a strength)."""
    if finding.kind != "risk":
        return None
    if getattr(finding, "waived", None) is not None:
        w = finding.waived
        return f"waived until {w.expires} by {one_line(w.owner)}: {one_line(w.reason)}"
    baseline = getattr(report, "baseline", None)
    if baseline is not None and finding.id not in {*baseline.new, *baseline.worse}:
        return "known from the baseline"
    return None


def _finding_command(report, finding, locator) -> str:
    excused = _excused(report, finding)
    level = "notice" if finding.kind != "risk" or excused else LEVELS[finding.severity]
    what = finding_severity(finding)
    title = f"{what}{' risk' if finding.kind == 'risk' else ''}: {finding.title}"
    if excused:
        title += " (waived)" if getattr(finding, "waived", None) is not None \
            else " (known from the baseline)"
    # the message's lines are diplo's; each value in them is one line of its own
    lines = [one_line(finding.message)]
    if finding.remediation:
        lines.append(f"Remedy: {one_line(finding.remediation)}")
    lines.append(f"Guidance ({finding.citation.section}): "
                 f"\"{one_line(finding.citation.quote)}\"")
    if excused:
        lines.append(f"Not counted by the gate: {excused}.")
    lines.append(f"Finding {finding.id} (rule {finding.pack}/{finding.rule})")
    return _located(level, "\n".join(lines), report.case.source, finding, locator, title)


def _located(level, message, source, finding, locator, title) -> str:
    if not source:
        return command(level, message, title=title)
    line, column = locator.position(source, finding)
    return command(level, message, file=annotation_path(source), line=str(line),
                   col=None if column is None else str(column), title=title)


def _error_command(error) -> str:
    where = {}
    if error.file:
        where["file"] = annotation_path(error.file)
        if error.line:
            where["line"] = str(error.line)
            if error.column:
                where["col"] = str(error.column)
    return command("error", one_line(str(error)), **where, title="case not assessed")


# --- the step summary ---------------------------------------------------------------------------

def _md(text) -> str:
    """Case text in a Markdown table cell: one line, no markup, no entity, no autolink (`:`
    of `http:`), nothing that ends the cell."""
    return md_text(text, strict=True)


def step_summary(reports, unreadable, fail_on: str) -> str:
    """The Markdown appended to $GITHUB_STEP_SUMMARY: the batch's gate, then a row per case."""
    failing = [r for r in reports if gate_findings(r, fail_on)]
    gate = "FAIL" if failing or unreadable else "PASS"
    total = len(reports) + len(unreadable)
    counts = [f"{len(failing)} of {len(reports)} assessed fail at `--fail-on {fail_on}`"]
    if unreadable:
        counts.append(f"{len(unreadable)} could not be read or validated")
    lines = [f"### diplo: {gate}", "",
             f"{total} case{'s' * (total != 1)}: {'; '.join(counts)}.", "",
             "| case | verdict | gate | " + " | ".join(_COUNTS) + " | strengths |",
             "|---|---|---|" + "---:|" * (len(_COUNTS) + 1)]
    for report in reports:
        case = report.case
        name = _md(case.title) + " (" + _md(case.source or case.id) + ")"
        risks = report.summary.risks.model_dump()
        lines.append(f"| {name} | {report.verdict.upper()} | "
                     f"{'fail' if gate_findings(report, fail_on) else 'pass'} | "
                     + " | ".join(str(risks[s]) for s in _COUNTS)
                     + f" | {report.summary.strengths} |")
    for error in unreadable:
        lines.append(f"| {_md(error.file or 'a case')} | not assessed: {_md(str(error))} | "
                     "fail | " + " | ".join("-" for _ in _COUNTS) + " | - |")
    return "\n".join(lines) + "\n\n"


def _append_summary(text: str) -> None:
    path = os.environ.get(STEP_SUMMARY)
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as out:
            out.write(text)
    except OSError as exc:
        raise UsageError(f"cannot append the job summary: {exc.strerror or exc}", file=path,
                         path=STEP_SUMMARY) from None


def _caveat_commands(report) -> list[str]:
    """A warning at each figure that looks mistyped (unless the case accepts it) and a notice
    for each check the case left impossible."""
    source = report.case.source
    where = annotation_path(source) if source else None
    lines = [command("warning", one_line(w.message), file=where, line=w.line, col=w.column,
                     title=f"figure that looks mistyped: {w.path}")
             for w in getattr(report, "warnings", []) if not w.accepted]
    lines += [command("notice", one_line(coverage_line(e)), file=where,
                      title=f"not checked: {e.missing}")
              for e in getattr(report, "coverage", [])]
    return lines


@register
class GithubFormat:
    name = "github"
    description = ("GitHub Actions workflow commands: an annotation per finding at its line "
                   "of the case file, and a job summary")
    shows_unreadable = True   # a case file that could not be read: an error annotation

    def reports(self, reports, *, details=False, fail_on: str = "high", unreadable=(),
                **options) -> str:
        """`details` changes nothing: each annotation always has the message, remedy and
        quote. `fail_on` is the gate of the job summary; `unreadable`, the errors of the case
        files that could not be read or validated (each an error annotation)."""
        if fail_on not in SEVERITIES:
            raise UsageError(f"fail_on must be one of {', '.join(SEVERITIES)}, not {fail_on!r}",
                             path="--fail-on")
        locator = CaseLocator()
        lines = []
        for report in reports:
            lines += [_finding_command(report, f, locator) for f in report.findings]
            lines += _caveat_commands(report)
            lines.append(escape_data(f"diplo: {one_line(report.case.source or report.case.id)}"
                                     f": {summary_text(report.verdict, report.summary)}"))
        lines += [_error_command(error) for error in unreadable]
        _append_summary(step_summary(reports, list(unreadable), fail_on))
        return "\n".join(lines) + "\n" if lines else ""

    def rules(self, rules) -> str:
        raise UsageError("format github shows assessments only (as annotations); list rules "
                         "with --format table, json, markdown or sarif", path="--format")

    def comparison(self, comparison) -> str:
        """`diplo compare BASE PROPOSAL`: an annotation at the proposal for each finding that
        is new or more severe (by its severity in the proposal), and a notice for each one
        resolved or less severe; no job summary."""
        c = comparison
        locator = CaseLocator()
        lines = []
        for change in c.new + c.changed + c.resolved:
            worse = change.change in ("new", "more_severe")
            severity = change.proposal_severity or change.base_severity
            level = LEVELS[severity] if worse and change.kind == "risk" else "notice"
            title = (f"{change.change.replace('_', ' ')} "
                     f"{severity_text(change) + ' risk' if change.kind == 'risk' else 'strength'}"
                     f": {change.title}")
            lines_of = [one_line(change.message)]
            causes = change.causes + change.parameter_causes
            if causes:
                lines_of.append("Because: " + "; ".join(one_line(change_text(x))
                                                        for x in causes))
            lines_of.append(f"Finding {change.id} (rule {change.pack}/{change.rule})")
            # a resolved finding is no longer in the proposal: it is put at the entry or field
            # it rested on, which the proposal usually still has
            lines.append(_located(level, "\n".join(lines_of), c.proposal.source, change,
                                  locator, title))
        lines.append(escape_data(
            f"diplo: {one_line(c.proposal.source or c.proposal.id)} against "
            f"{one_line(c.base.source or c.base.id)}: {len(c.new)} new, "
            f"{len(c.resolved)} resolved, "
            f"{len(c.changed)} changed in severity, {c.unchanged} unchanged"))
        return "\n".join(lines) + "\n"
