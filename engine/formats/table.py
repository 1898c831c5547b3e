"""Readable tables for a terminal."""
from __future__ import annotations

from ..model import SEVERITIES
from . import (
    FINDING_HEADERS,
    RULE_HEADERS,
    SUMMARY_HEADERS,
    concern_rows,
    detail_lines,
    finding_rows,
    register,
    rule_rows,
    show_number,
    show_severity,
    show_value,
    sweep_rows,
)
from .caveats import plain_lines
from .escape import one_line
from .terminal import fit_lines, fit_table, paint, terminal
from .tree import proof_lines

_ORDER = tuple(reversed(SEVERITIES))


def summary_text(verdict: str, summary) -> str:
    counts = summary.risks.model_dump()
    risks = [f"{counts[s]} {s}" for s in _ORDER if counts[s]]
    strengths = summary.strengths
    return (f"{verdict.upper()} ({', '.join(risks) + ' risks' if risks else 'no risks'}; "
            f"{strengths} strength{'s' * (strengths != 1)})")


def packs_text(packs) -> str:
    return ", ".join(f"{p.name} {p.version}" for p in packs)


def verdict_line(report) -> str:
    return (f"Verdict: {paint(summary_text(report.verdict, report.summary), report.verdict)} "
            f"[{packs_text(report.packs)}]")


def change_text(change) -> str:
    """`path: base -> proposal` for a FieldChange or ParameterChange."""
    name = getattr(change, "path", None) or f"parameter {change.name}"
    return f"{name}: {show_value(change.base)} -> {show_value(change.proposal)}"


NO_CAUSE = ("no traced input differs (the rule may turn on something absent, such as a missing "
            "line, which reports do not trace)")

SECTIONS = (("new", "New"), ("resolved", "Resolved"), ("changed", "Changed in severity"))


def severity_text(change) -> str:
    if change.change == "new":
        return change.proposal_severity if change.kind == "risk" else "strength"
    if change.change == "resolved":
        return change.base_severity if change.kind == "risk" else "strength"
    return f"{change.base_severity} -> {change.proposal_severity}"


def original_text(value) -> str:
    return "the case does not give it" if value is None else f"the case has {show_value(value)}"


def case_text(ref) -> str:
    return one_line(ref.source or ref.id)


@register
class TableFormat:
    name = "table"
    description = "a table of findings per case, risks first, with the verdict"
    options = frozenset({"summary"})

    def reports(self, reports, *, details=False, summary=False, **options) -> str:
        """With `details`, each finding's full id, message, remedy and quote under the table;
        with facts in the report (`--explain`), each finding's proof tree; with `summary`, the
        number of findings per concern instead of the findings."""
        blocks = []
        for report in reports:
            case = report.case
            # a case's title and file name are someone else's text: one line each, so that
            # none can add a line of diplo's own (a forged verdict) or act on the terminal
            head = f"{one_line(case.title)} ({case.id})"
            if case.source:
                head += f"  {one_line(case.source)}"
            lines = fit_lines([head])
            if not report.findings:
                lines.append("No findings.")
            elif summary:
                rows = concern_rows(report)
                if terminal().width is not None:   # narrow: let a concern wrap at its words
                    rows = [(row[0].replace("_", " "), *row[1:]) for row in rows]
                lines.append(fit_table(rows, SUMMARY_HEADERS, wrap=(0,)))
            else:
                rows = [(*row[:2], paint(row[2], row[2]), *row[3:])
                        for row in finding_rows(report)]
                # narrower than the terminal: the guidance section, subjects and concern go
                # first (the details and `diplo explain` have them), then the title wraps;
                # the number, id and severity always stay
                lines.append(fit_table(rows, FINDING_HEADERS, drop=(6, 5, 3), wrap=(4,)))
                explain = report.facts is not None
                if details or explain:
                    lines.append("")
                    lines += fit_lines(detail_lines(
                        report, lambda id: f"[{id}]", details=details,
                        tree=(lambda f: proof_lines(report, f)) if explain else None))
            lines += fit_lines([verdict_line(report)])
            if report.near_misses is not None:
                if summary:
                    lines.append(f"Near misses: {len(report.near_misses) or 'none'}")
                else:
                    lines.append("Near misses:" + ("" if report.near_misses else " none"))
                    lines += fit_lines([f"  {one_line(n.message)}"
                                        for n in report.near_misses])
            lines += fit_lines(plain_lines(report, brief=summary))
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks) + "\n"

    def rules(self, rules) -> str:
        rows = [(*row[:2], paint(row[2], row[2]), *row[3:]) for row in rule_rows(rules)]
        return fit_table(rows, RULE_HEADERS, drop=(6, 4, 5, 3, 1), wrap=(7,)) + "\n"

    def rule(self, detail) -> str:
        from .rule_text import rule_text
        from .terminal import fit_text
        return fit_text(rule_text(detail))

    def comparison(self, comparison) -> str:
        c = comparison
        lines = [f"Compare: {one_line(c.base.title)} ({c.base.id})"
                 + ("" if c.proposal.id == c.base.id else
                    f" with {one_line(c.proposal.title)} ({c.proposal.id})")]
        rows = [("base", case_text(c.base), summary_text(c.base_verdict, c.base_summary)),
                ("proposal", case_text(c.proposal) + (" (changed)" if c.edits or c.parameters
                                                       else ""),
                 summary_text(c.proposal_verdict, c.proposal_summary))]
        lines.append(fit_table(rows, tablefmt="plain", wrap=(1, 2)))
        if c.edits:
            lines.append("What if: " + "; ".join(change_text(e) for e in c.edits))
        if c.parameters:
            lines.append("Parameters: " + "; ".join(
                f"{p.name}: {show_value(p.base)} -> {show_value(p.proposal)}"
                for p in c.parameters))
        for key, heading in SECTIONS:
            changes = getattr(c, key)
            lines.append("")
            lines.append(f"{heading} ({len(changes)})" + (":" if changes else ": none"))
            width = max((len(severity_text(ch)) for ch in changes), default=0)
            pad = " " * (width + 4)
            for ch in changes:
                lines.append(f"  {severity_text(ch):<{width}}  {ch.id}")
                lines.append(f"{pad}{one_line(ch.title)}")
                causes = [change_text(x) for x in ch.causes + ch.parameter_causes]
                lines.append(f"{pad}because " + ("; ".join(causes) if causes else NO_CAUSE))
        lines.append("")
        lines.append(f"Unchanged: {c.unchanged} finding{'s' * (c.unchanged != 1)} "
                     f"[{packs_text(c.packs)}]")
        return "\n".join(fit_lines(lines)) + "\n"

    def sweep(self, sweep) -> str:
        w = sweep
        lines = fit_lines([
            f"Sweep of {one_line(w.path)} from {show_number(w.start)} to "
            f"{show_number(w.stop)} in {w.steps} step{'s' * (w.steps != 1)} "
            f"({original_text(w.original)})",
            f"{one_line(w.case.title)} ({w.case.id})"
            + (f"  {one_line(w.case.source)}" if w.case.source else "")])
        headers = ["value"] + [str(i) for i in range(1, len(w.findings) + 1)] + ["verdict"]
        rows = sweep_rows(w)
        lines.append("")
        lines.append(fit_table(rows, headers, wrap=(len(headers) - 1,)))
        if w.findings:
            lines.append("")
            lines.append("Findings:")
            lines += _plain_rows([(i, f.id, one_line(f.title))
                                  for i, f in enumerate(w.findings, 1)])
        lines.append("")
        if w.switches:
            lines.append(f"Switches (by bisection, to within {show_number(w.tolerance)}):")
            rows = [(s.finding, f"{show_severity(s.before)} -> {show_severity(s.after)}",
                     f"at {show_number(s.at)}",
                     f"({show_severity(s.before)} at {show_number(s.last_before)}"
                     + ("" if s.exact else "; values in between make the case invalid")
                     + ")") for s in w.switches]
            lines += _plain_rows(rows)
        else:
            lines.append("Switches: none between the steps")
        return "\n".join(lines) + "\n"


def _plain_rows(rows) -> list[str]:
    """Rows aligned in columns; on a terminal too narrow for that, each row as wrapped text
    (ids too long for a column are better read whole)."""
    text = fit_table(rows, tablefmt="plain", width=10 ** 6)
    width = terminal().width
    if width is None or all(len(line) <= width for line in text.splitlines()):
        return text.splitlines()
    return fit_lines(["  ".join(str(cell) for cell in row) for row in rows])
