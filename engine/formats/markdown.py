"""Markdown, for pull-request comments and wikis.

Assessment reports render as a reviewer's memo: the verdict first, on one line with its counts;
then the risks, under a heading per concern, each with its severity, title, id, message, remedy
and guidance (section and quote); then the strengths. With `--explain` (facts in the report)
each finding has a collapsed `<details>` block with its proof tree, drawn from the report's
facts alone. The memo keeps the report's order and carries no timestamp, so the same inputs
give the same bytes. Comparisons, sweeps and rule lists render as tables.
"""
from __future__ import annotations

import html
import re

from ..model import SEVERITIES
from . import (
    RULE_HEADERS,
    finding_severity,
    gate_findings,
    register,
    rule_rows,
    show_number,
    show_severity,
    show_value,
    sweep_rows,
)
from .table import (
    NO_CAUSE,
    SECTIONS,
    case_text,
    change_text,
    original_text,
    packs_text,
    severity_text,
    summary_text,
)


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


# --- the memo --------------------------------------------------------------------------------

_SPECIAL = re.compile(r"[\\`*<\[\]~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
# what would open a block at the start of a line: a heading, a quote, a list item, a rule
_BLOCK_START = re.compile(r"#{1,6}(?=\s|$)|>|[-+](?=\s|$)|[-=]+\s*$|\d{1,9}(?=[.)](?:\s|$))")


def _md(text) -> str:
    """Text from a case or a pack as inline Markdown: one line, and no character that would
    start emphasis, code, a link, HTML or (at the start of a line) a heading, quote or list."""
    text = " ".join(str(text).split())
    text = _SPECIAL.sub(lambda m: "\\" + m.group(), text)
    start = _BLOCK_START.match(text)
    if start:  # "1. x" -> "1\. x"; "# x" -> "\# x"
        at = start.end() if start.group().isdigit() else 0
        text = text[:at] + "\\" + text[at:]
    return text


def _inline_code(text: str) -> str:
    """`text` as a code span, whatever backticks it holds."""
    text = " ".join(str(text).split())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _concern(concern: str) -> str:
    return concern.replace("_", " ").capitalize()


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' * (count != 1)}"


def _verdict_line(report) -> str:
    return (f"**Verdict: {summary_text(report.verdict, report.summary)}** for "
            f"{_md(report.case.title)}")


def _gate_line(report, fail_on: str) -> str:
    """Whether the case passes `diplo assess --fail-on`, waivers and baseline considered."""
    counted = len(gate_findings(report, fail_on))
    threshold = SEVERITIES.index(fail_on)
    over = sum(1 for f in report.findings
               if f.kind == "risk" and SEVERITIES.index(f.severity) >= threshold)
    gate = f"At `--fail-on {fail_on}` this case"
    if counted:
        return f"{gate} fails the gate: {_plural(counted, 'risk')} at or above {fail_on}."
    if over:
        return (f"{gate} passes the gate: its {_plural(over, 'risk')} at or above {fail_on} "
                f"{'are' if over != 1 else 'is'} waived or known to the baseline.")
    return f"{gate} passes the gate: no risk at or above {fail_on}."


def _proof_lines(report, finding) -> list[str]:
    """The proof tree of a finding from the report's facts: finding, the facts it rests on,
    theirs in turn, each with its rule, fields, parameters and the case fields it read."""
    facts = {fact.id: fact for fact in report.facts or []}
    lines: list[str] = []

    def show(value) -> str:
        return ", ".join(show_value(v) for v in value) if isinstance(value, list) \
            else show_value(value)

    def details(node, pad: str, quote: bool):
        lines.append(f"{pad}  by rule {node.rule} ({node.pack}), guidance "
                     f"{node.citation.section}" + (f": \"{node.citation.quote}\"" if quote
                                                   else ""))
        if node.parameters:
            lines.append(f"{pad}  parameters: " + ", ".join(
                f"${k} = {show(v)}" for k, v in node.parameters.items()))
        if node.inputs:
            lines.append(f"{pad}  case fields: " + ", ".join(node.inputs))

    def walk(fact_id: str, prefix: str, last: bool, seen: tuple):
        head = "└─ " if last else "├─ "
        pad = prefix + ("   " if last else "│  ")
        fact = facts.get(fact_id)
        if fact is None or fact_id in seen:
            why = "not in the report" if fact is None else "shown above"
            lines.append(f"{prefix}{head}{fact_id}  ({why})")
            return
        lines.append(f"{prefix}{head}{fact.id}  (derived {fact.kind})")
        if fact.fields:
            lines.append(f"{pad}  fields: " + ", ".join(
                f"{k} = {show(v)}" for k, v in fact.fields.items()))
        details(fact, pad, True)
        for j, child in enumerate(fact.because):
            walk(child, pad, j == len(fact.because) - 1, seen + (fact_id,))

    what = finding.severity if finding.kind == "risk" else "strength"
    lines.append(f"{finding.id}  [{what}] {' '.join(finding.title.split())}")
    details(finding, "", False)
    for j, child in enumerate(finding.because):
        walk(child, "", j == len(finding.because) - 1, ())
    return [" ".join(line.split("\n")) for line in lines]


def _details_block(report, finding) -> list[str]:
    tree = _proof_lines(report, finding)
    longest = max((len(run) for line in tree for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    summary = f"Proof tree of <code>{html.escape(finding.id)}</code>"
    return (["", f"  <details><summary>{summary}</summary>", "", f"  {fence}text"]
            + [f"  {line}" for line in tree] + [f"  {fence}", "", "  </details>"])


def _finding_lines(report, finding, label: str, explain: bool) -> list[str]:
    lines = [f"- **{label}**: {_md(finding.title)} ({_inline_code(finding.id)})", "",
             f"  {_md(finding.message)}"]
    waived = getattr(finding, "waived", None)
    if waived is not None:
        lines += ["", f"  **Waived** until {waived.expires} by {_md(waived.owner)}: "
                      f"{_md(waived.reason)}"]
    change = getattr(finding, "severity_override", None)
    if change is not None:
        lines += ["", f"  **Severity** set by {_md(change.by)} (the rule gives "
                      f"{change.default})"]
    if finding.remediation:
        lines += ["", f"  **Remedy:** {_md(finding.remediation)}"]
    lines += ["", f"  **Guidance** ({_inline_code(finding.citation.section)}): "
                  f"\"{_md(finding.citation.quote)}\""]
    if explain:
        lines += _details_block(report, finding)
    return lines


def memo(report, *, fail_on: str | None = None) -> str:
    """One report as a reviewer's memo (see the module's description)."""
    case = report.case
    lines = [_verdict_line(report), ""]
    about = f"Case {_inline_code(case.id)}"
    if case.source:
        about += f" in {_inline_code(case.source)}"
    about += f", assessed with {_md(packs_text(report.packs))}."
    if fail_on is not None:
        about += " " + _gate_line(report, fail_on)
    lines.append(about)
    explain = report.facts is not None
    risks = [f for f in report.findings if f.kind == "risk"]
    strengths = [f for f in report.findings if f.kind != "risk"]
    lines += ["", f"### Risks ({len(risks)})"]
    if not risks:
        lines += ["", "No risks."]
    concerns: dict[str, list] = {}
    for finding in risks:        # concerns in the order of their first, most severe, risk
        concerns.setdefault(finding.concern, []).append(finding)
    for concern, findings in concerns.items():
        lines += ["", f"#### {_md(_concern(concern))} ({len(findings)})"]
        for finding in findings:
            lines += [""] + _finding_lines(report, finding, finding_severity(finding),
                                           explain)
    lines += ["", f"### Strengths ({len(strengths)})"]
    if not strengths:
        lines += ["", "No strengths."]
    for finding in strengths:
        lines += [""] + _finding_lines(report, finding, _md(_concern(finding.concern)),
                                       explain)
    near = report.near_misses
    if near is not None:
        lines += ["", f"### Near misses ({len(near)})", ""]
        lines += [f"- {_md(n.message)}" for n in near] if near else ["None."]
    return "\n".join(lines) + "\n"


_WORST = ("pass", "warn", "fail")


@register
class MarkdownFormat:
    name = "markdown"
    description = "a reviewer's memo in Markdown, for pull-request comments"

    def reports(self, reports, *, details=False, fail_on: str | None = None,
                **options) -> str:
        """`details` changes nothing: the memo always gives messages, remedies and quotes.
        `fail_on` adds a line on whether each case passes `diplo assess --fail-on`."""
        if fail_on is not None and fail_on not in SEVERITIES:
            fail_on = None
        blocks = [memo(report, fail_on=fail_on) for report in reports]
        if len(reports) > 1:
            verdicts = [r.verdict for r in reports]
            worst = max(verdicts, key=_WORST.index)
            counts = ", ".join(f"{verdicts.count(v)} {v}" for v in reversed(_WORST)
                               if verdicts.count(v))
            blocks.insert(0, f"**Verdict: {worst.upper()}** for {len(reports)} cases "
                             f"({counts})\n")
        return "\n---\n\n".join(blocks)

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
        rows = sweep_rows(w)
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
