"""Markdown, for review comments and wikis: the same content as the table format."""
from __future__ import annotations

from . import (FINDING_HEADERS, RULE_HEADERS, detail_lines, finding_rows, register,
               rule_rows, show_number, show_severity)
from .table import (NO_CAUSE, SECTIONS, case_text, change_text, original_text, packs_text,
                    severity_text, summary_text, verdict_line)


def _cell(value) -> str:
    # a pipe or a line break inside a cell would end the cell or the row
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _table(headers, rows) -> list[str]:
    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    lines.extend("| " + " | ".join(_cell(v) for v in row) + " |" for row in rows)
    return lines


def _code(text: str) -> str:
    return f"`{text}`" if "`" not in text else text


@register
class MarkdownFormat:
    name = "markdown"
    description = "Markdown tables, for review comments"

    def reports(self, reports, *, details=False) -> str:
        blocks = []
        for report in reports:
            case = report.case
            lines = [f"### {case.title} ({_code(case.id)})", ""]
            if case.source:
                lines += [f"Case: {_code(case.source)}", ""]
            if report.findings:
                lines += _table(FINDING_HEADERS, finding_rows(report))
            else:
                lines.append("No findings.")
            if details and report.findings:
                lines.append("")
                lines += detail_lines(report, lambda id: f"{_code(id)}:")
            lines += ["", f"**{verdict_line(report)}**"]
            near = getattr(report, "near_misses", None)
            if near is not None:
                lines += ["", "Near misses:" + ("" if near else " none")]
                lines += [f"- {n.message}" for n in near]
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks) + "\n"

    def rules(self, rules) -> str:
        return "\n".join(_table(RULE_HEADERS, rule_rows(rules))) + "\n"

    def comparison(self, comparison) -> str:
        c = comparison
        lines = [f"### Compare: {c.base.title} ({_code(c.base.id)})", ""]
        lines += _table(("", "case", "verdict"), [
            ("base", case_text(c.base), summary_text(c.base_verdict, c.base_summary)),
            ("proposal", case_text(c.proposal) + (" (changed)" if c.edits or c.parameters
                                                  else ""),
             summary_text(c.proposal_verdict, c.proposal_summary))])
        if c.edits or c.parameters:
            lines.append("")
            lines.append("What if: " + "; ".join(_code(change_text(e))
                                                 for e in c.edits + c.parameters))
        for key, heading in SECTIONS:
            changes = getattr(c, key)
            lines += ["", f"#### {heading} ({len(changes)})", ""]
            if not changes:
                lines.append("None.")
                continue
            lines += _table(("severity", "finding", "title", "because"), [
                (severity_text(ch), _code(ch.id), ch.title,
                 "; ".join(_code(change_text(x)) for x in ch.causes + ch.parameter_causes)
                 or NO_CAUSE) for ch in changes])
        lines += ["", f"Unchanged: {c.unchanged} finding{'s' * (c.unchanged != 1)} "
                      f"[{packs_text(c.packs)}]"]
        return "\n".join(lines) + "\n"

    def sweep(self, sweep) -> str:
        w = sweep
        lines = [f"### Sweep of {_code(w.path)} from {show_number(w.start)} to "
                 f"{show_number(w.stop)} in {w.steps} step{'s' * (w.steps != 1)}", "",
                 f"{w.case.title} ({_code(w.case.id)}); {original_text(w.original)}.", ""]
        rows = []
        for step in w.rows:
            if step.error is not None:
                rows.append([show_number(step.value)] + [""] * len(w.findings)
                            + [f"error: {step.error}"])
            else:
                rows.append([show_number(step.value)]
                            + [step.findings.get(f.id, "-") for f in w.findings]
                            + [step.verdict])
        lines += _table(["value"] + [str(i) for i in range(1, len(w.findings) + 1)]
                        + ["verdict"], rows)
        if w.findings:
            lines += ["", "Findings:", ""]
            lines += _table(("#", "finding", "title"),
                            [(i, _code(f.id), f.title) for i, f in enumerate(w.findings, 1)])
        lines.append("")
        if w.switches:
            lines += [f"Switches (by bisection, to within {show_number(w.tolerance)}):", ""]
            lines += _table(("finding", "change", "at", "still before at"), [
                (_code(s.finding), f"{show_severity(s.before)} -> {show_severity(s.after)}",
                 show_number(s.at), show_number(s.last_before)
                 + ("" if s.exact else " (values in between make the case invalid)"))
                for s in w.switches])
        else:
            lines.append("Switches: none between the steps.")
        return "\n".join(lines) + "\n"
