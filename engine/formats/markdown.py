"""Markdown, for pull-request comments and wikis.

Assessment reports render as a reviewer's memo: a title naming the case, the verdict on one
line with its counts, the case and its gate; then the risks, under a heading per concern, each
with its severity, title, id, message, remedy and guidance (section and quote); then the
strengths. With `--explain` (facts in the report) each finding has a collapsed `<details>`
block with its proof tree, drawn from the report's facts alone (engine/formats/tree.py). A
batch is one document: a title and the overall verdict, then each case one heading level
down, its findings' bodies collapsed. With `summary`, each case gives its verdict and counts
per concern instead of its findings.

The memo stays within a length limit (a pull-request comment holds 65,536 characters): it
leaves out whole findings, the least severe first, and says how many; when even the cases'
verdicts do not fit, the last cases. It keeps the report's order and carries no timestamp, so
the same inputs give the same bytes. Comparisons, sweeps and rule lists render as tables.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from ..model import SEVERITIES
from . import (
    RULE_HEADERS,
    SUMMARY_HEADERS,
    concern_rows,
    finding_severity,
    gate_findings,
    register,
    rule_rows,
    show_number,
    show_severity,
    sweep_rows,
)
from .caveats import (
    appearing,
    ranges_line,
    robustness_of,
    robustness_text,
    sources_lines,
)
from .escape import md_code, md_text, one_line
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
from .tree import proof_lines


def _cell(value) -> str:
    # the cells' text is escaped Markdown already (`md_text`, `md_code`); a pipe would still
    # end the cell (GitHub reads `\|` as a pipe, inside a code span too)
    return one_line(value).replace("|", "\\|")


def _table(headers, rows) -> list[str]:
    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    lines.extend("| " + " | ".join(_cell(v) for v in row) + " |" for row in rows)
    return lines


# --- the memo --------------------------------------------------------------------------------

# text from a case or a pack as inline Markdown, and as a code span (engine/formats/escape.py)
_md = md_text
_inline_code = md_code


def _concern(concern: str) -> str:
    return concern.replace("_", " ").capitalize()


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' * (count != 1)}"


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


def _proof_block(report, finding, pad: str) -> list[str]:
    tree = proof_lines(report, finding)
    longest = max((len(run) for line in tree for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    summary = f"Proof tree of <code>{html.escape(finding.id)}</code>"
    return (["", f"{pad}<details><summary>{summary}</summary>", "", f"{pad}{fence}text"]
            + [f"{pad}{line}" for line in tree] + [f"{pad}{fence}", "", f"{pad}</details>"])


def _finding_lines(report, finding, label: str, explain: bool, collapsed: bool) -> list[str]:
    """A finding as a list item: its label, title and id, then its body (message, waiver,
    severity change, remedy, guidance, proof tree); in a `collapsed` `<details>` block for a
    batch, where a reader first looks for which findings there are."""
    body = [f"{_md(finding.message)}"]
    waived = getattr(finding, "waived", None)
    if waived is not None:
        body += ["", f"**Waived** until {waived.expires} by {_md(waived.owner)}: "
                     f"{_md(waived.reason)}"]
    change = getattr(finding, "severity_override", None)
    if change is not None:
        body += ["", f"**Severity** set by {_md(change.by)} (the rule gives {change.default})"]
    if finding.remediation:
        body += ["", f"**Remedy:** {_md(finding.remediation)}"]
    body += ["", f"**Guidance** ({_inline_code(finding.citation.section)}): "
                 f"\"{_md(finding.citation.quote)}\""]
    robust = robustness_of(report, finding.id)
    if robust is not None:
        body += ["", f"**Robustness:** {_md(robustness_text(robust))}"]
    lines = [f"- **{label}**: {_md(finding.title)} ({_inline_code(finding.id)})", ""]
    if collapsed:
        lines += ["  <details><summary>Details"
                  + (" and proof tree" if explain else "") + "</summary>", ""]
    lines += [f"  {line}" if line else "" for line in body]
    if explain:
        lines += _proof_block(report, finding, "  ")
    if collapsed:
        lines += ["", "  </details>"]
    return lines


# --- one case's memo, in the pieces a length limit cuts between -------------------------------

@dataclass
class _Heading:
    text: str
    start: int          # the pieces under it: start <= i < stop
    stop: int
    empty: str = ""     # said under it when it has no piece at all


# what a piece is: a risk's rank by severity (0 critical ... 4 info), a strength or the near
# misses; a length limit leaves out the highest first
STRENGTH, NEAR = len(SEVERITIES), len(SEVERITIES) + 1


@dataclass
class _Case:
    head: list[str]                                   # title, verdict, case and gate, counts
    layout: list = field(default_factory=list)        # _Heading and piece numbers, in order
    pieces: list[list[str]] = field(default_factory=list)
    kinds: list[int] = field(default_factory=list)    # per piece: its rank (see above)

    def lines(self, kept: set[int] | None = None, say_left: bool = True) -> list[str]:
        """The memo with the pieces `kept` (None: the whole memo), ending with what it left
        out unless not `say_left`."""
        whole = kept is None or len(kept) == len(self.pieces)
        kept = set(range(len(self.pieces))) if kept is None else kept
        lines = list(self.head)
        for item in self.layout:
            if isinstance(item, _Heading):
                if item.start == item.stop:
                    if whole:
                        lines += ["", item.text, "", item.empty]
                elif any(i in kept for i in range(item.start, item.stop)):
                    lines += ["", item.text]
            elif item in kept:
                lines += [""] + self.pieces[item]
        if not whole and say_left:
            left = [kind for i, kind in enumerate(self.kinds) if i not in kept]
            lines += ["", f"*Left out of this case to keep the memo short: {_listed(_left(left))} "
                          "(see the note at the top).*"]
        return lines


def _left(kinds: list[int], of: list[int] | None = None) -> list[str]:
    """What pieces of these kinds are: ["2 risks", "3 strengths", "the near misses"]; with
    `of`, every piece there is: ["2 of 10 risks (the least severe)", ...]."""
    what = []
    for word, ranks in (("risk", range(STRENGTH)), ("strength", (STRENGTH,))):
        count = sum(1 for kind in kinds if kind in ranks)
        total = count if of is None else sum(1 for kind in of if kind in ranks)
        if count and of is None:
            what.append(_plural(count, word))
        elif count:
            what.append(f"{count} of {_plural(total, word)}"
                        + (" (the least severe)" if word == "risk" and count < total else ""))
    near = kinds.count(NEAR)
    if near:
        what.append("the near misses" if of is None else
                    f"the near misses of {_plural(near, 'case')}")
    return what


def _listed(what: list[str]) -> str:
    return ", ".join(what[:-1]) + " and " + what[-1] if len(what) > 1 else "".join(what)


def _case(report, level: int, *, fail_on: str | None, summary: bool, collapsed: bool,
          batch: bool) -> _Case:
    h = "#" * level
    case = report.case
    verdict = f"**Verdict: {summary_text(report.verdict, report.summary)}**"
    about = f"Case {_inline_code(case.id)}"
    if case.source:
        about += f" in {_inline_code(case.source)}"
    about += f", assessed with {_md(packs_text(report.packs))}."
    if fail_on is not None:
        about += " " + _gate_line(report, fail_on)
    title = _md(case.title) if batch else f"Assessment: {_md(case.title)}"
    memo = _Case(head=[f"{h} {title}", "", verdict, "", about] + _caveats(report, h, summary))
    near = report.near_misses
    if summary:
        rows = [(_md(_concern(concern)), *counts) for concern, *counts in concern_rows(report)]
        memo.head += [""] + (_table(SUMMARY_HEADERS, rows) if rows else ["No findings."])
        if near is not None:
            memo.head += ["", f"Near misses: {len(near) or 'none'}."]
        return memo
    explain = report.facts is not None
    risks = [f for f in report.findings if f.kind == "risk"]
    strengths = [f for f in report.findings if f.kind != "risk"]
    concerns: dict[str, list] = {}
    for finding in risks:        # concerns in the order of their first, most severe, risk
        concerns.setdefault(finding.concern, []).append(finding)
    memo.layout.append(_Heading(f"{h}# Risks ({len(risks)})", 0, len(risks), "No risks."))
    for concern, findings in concerns.items():
        start = len(memo.pieces)
        memo.layout.append(_Heading(f"{h}## {_md(_concern(concern))} ({len(findings)})",
                                    start, start + len(findings)))
        for finding in findings:
            memo.layout.append(len(memo.pieces))
            memo.pieces.append(_finding_lines(report, finding, finding_severity(finding),
                                              explain, collapsed))
            memo.kinds.append(SEVERITIES[::-1].index(finding.severity))
    start = len(memo.pieces)
    memo.layout.append(_Heading(f"{h}# Strengths ({len(strengths)})", start,
                                start + len(strengths), "No strengths."))
    for finding in strengths:
        memo.layout.append(len(memo.pieces))
        memo.pieces.append(_finding_lines(report, finding, _md(_concern(finding.concern)),
                                          explain, collapsed))
        memo.kinds.append(STRENGTH)
    if near is not None:
        memo.layout.append(len(memo.pieces))
        memo.pieces.append([f"{h}# Near misses ({len(near)})", ""]
                           + ([f"- {_md(n.message)}" for n in near] if near else ["None."]))
        memo.kinds.append(NEAR)
    return memo


def _caveats(report, h: str, brief: bool) -> list[str]:
    """What the case could not have checked, figures that look mistyped, the ranges it states
    and its sources: under the verdict, never left out for length."""
    lines: list[str] = []
    coverage, warnings = getattr(report, "coverage", []), getattr(report, "warnings", [])
    if brief:
        counts = [f"{_plural(len(coverage), 'check')} not made"] if coverage else []
        counts += [_plural(len(warnings), "figure") + " that look mistyped"] if warnings else []
        return ["", "*" + "; ".join(counts) + ".*"] if counts else []
    if coverage:
        lines += ["", f"{h}# Not checked ({len(coverage)})", ""]
        lines += [f"- {_inline_code(e.missing)}: {_md(e.reason)}"
                  + (f" (rules: {', '.join(_inline_code(r) for r in e.rules)})" if e.rules
                     else "") for e in coverage]
    if warnings:
        lines += ["", f"{h}# Figures that look mistyped ({len(warnings)})", ""]
        lines += [f"- {_inline_code(w.path)}: {_md(w.message)}"
                  + (" (accepted by the case)" if w.accepted else "") for w in warnings]
    ranges = ranges_line(report)
    if ranges is not None:
        lines += ["", f"{h}# Robustness", "", _md(ranges) + "."]
        lines += [f"- {_inline_code(e.finding)} (not at the stated values): "
                  f"{_md(robustness_text(e))}" for e in appearing(report)]
    sources = sources_lines(report)
    if sources:
        lines += ["", f"{h}# Sources and notes", ""] + [f"- {_md(line)}" for line in sources]
    return lines


def memo(report, *, fail_on: str | None = None) -> str:
    """One report as a reviewer's memo (see the module's description), whole."""
    return "\n".join(_case(report, 1, fail_on=fail_on, summary=False, collapsed=False,
                           batch=False).lines()) + "\n"


# --- the memo of one or more cases, within a length limit -------------------------------------

_WORST = ("pass", "warn", "fail")
DEFAULT_MAX_CHARS = 60_000


class _Document:
    """The memo of `reports`, rendered with the first `cases` cases and, when all are shown,
    the first `pieces` pieces in the order in which a length limit keeps them: every case's
    critical risks, then high ones and so on, then the strengths, then the near misses (each
    in the memo's order)."""

    def __init__(self, reports, *, fail_on: str | None, summary: bool):
        self.batch = len(reports) > 1
        self.cases = [_case(r, 2 if self.batch else 1, fail_on=fail_on, summary=summary,
                            collapsed=self.batch, batch=self.batch) for r in reports]
        self.top: list[str] = []
        if self.batch:
            verdicts = [r.verdict for r in reports]
            worst = max(verdicts, key=_WORST.index)
            counts = ", ".join(f"{verdicts.count(v)} {v}" for v in reversed(_WORST)
                               if verdicts.count(v))
            self.top = [f"# Assessment: {len(reports)} cases", "",
                        f"**Verdict: {worst.upper()}** for {len(reports)} cases ({counts})"]
        self.order = sorted((kind, c, i) for c, case in enumerate(self.cases)
                            for i, kind in enumerate(case.kinds))
        self.kinds = [kind for kind, _, _ in self.order]

    def text(self, cases: int, pieces: int, limit: int) -> str:
        shown = self.cases[:cases]
        kept: list[set[int]] = [set() for _ in shown]
        for _, c, i in self.order[:pieces]:
            if c < cases:
                kept[c].add(i)
        note = []
        if cases < len(self.cases) or pieces < len(self.order):
            left = self.kinds[pieces:] if cases == len(self.cases) else [
                kind for kind, c, i in self.order if c >= cases or i not in kept[c]]
            note = ["", self._note(left, len(self.cases) - cases, limit)]
        blocks: list[list[str]] = []
        for case, keep in zip(shown, kept):
            lines = case.lines(keep, say_left=self.batch)
            if not self.batch:   # one case: the note under its verdict says it all
                lines = lines[:len(case.head)] + note + lines[len(case.head):]
            blocks.append(lines)
        if self.batch or not blocks:
            blocks.insert(0, self.top + note)
        return "\n\n".join("\n".join(block) for block in blocks if block) + "\n"

    def _note(self, left: list[int], cases: int, limit: int) -> str:
        what = _left(left, self.kinds)
        if cases:
            what.append(f"{cases} of {_plural(len(self.cases), 'case')} (their verdicts too)")
        return (f"> **Shortened** to stay under {limit:,} characters: left out are "
                f"{_listed(what)}. For the whole memo run the same `diplo assess` with "
                "`--max-chars 0` (and `-o memo.md` to keep it in a file); `--format json` "
                "gives the reports.")

    def fitted(self, limit: int, appendix: str) -> str:
        """The memo whole if it fits in `limit` characters with `appendix` after it; else
        every case's verdict and as many findings as fit (risks before strengths), then, if
        even the verdicts do not fit, as many cases as fit."""
        room = limit - len(appendix)
        everything = len(self.cases)
        whole = self.text(everything, len(self.order), limit)
        if not limit or len(whole) <= room:
            return whole
        if len(self.text(everything, 0, limit)) <= room:
            best = _last_that_fits(lambda n: len(self.text(everything, n, limit)) <= room,
                                   len(self.order))
            return self.text(everything, best, limit)
        best = _last_that_fits(lambda n: len(self.text(n, 0, limit)) <= room, everything)
        # a memo of one case always names it, even under a limit too small for its verdict
        return self.text(best if self.batch else 1, 0, limit)


def _last_that_fits(fits, stop: int) -> int:
    """The largest n in 0..stop-1 for which fits(n) (0 when none does): a binary search, as
    a memo grows with every piece it keeps."""
    low, high = 0, stop - 1
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


@register
class MarkdownFormat:
    name = "markdown"
    description = "a reviewer's memo in Markdown, for pull-request comments"
    options = frozenset({"summary", "max_chars"})

    def reports(self, reports, *, details=False, fail_on: str | None = None,
                summary: bool = False, max_chars: int | None = None, appendix: str = "",
                **options) -> str:
        """`details` changes nothing: the memo always gives messages, remedies and quotes.
        `fail_on` adds a line on whether each case passes `diplo assess --fail-on`;
        `summary` gives verdicts and counts per concern instead of the findings. The memo with
        `appendix` (text a caller adds after it, never cut) stays within `max_chars`
        characters (default DEFAULT_MAX_CHARS; 0: no limit) by leaving findings out."""
        if fail_on is not None and fail_on not in SEVERITIES:
            fail_on = None
        limit = DEFAULT_MAX_CHARS if max_chars is None else max_chars
        document = _Document(reports, fail_on=fail_on, summary=summary)
        return document.fitted(limit, appendix) + appendix

    def rules(self, rules) -> str:
        # ids, concerns, sections and tags are plain names (the loader checks them); a title
        # is the pack's text
        rows = [(*row[:-1], md_text(row[-1])) for row in rule_rows(rules)]
        return "\n".join(_table(RULE_HEADERS, rows)) + "\n"

    def comparison(self, comparison) -> str:
        c = comparison
        lines = [f"### Compare: {md_text(c.base.title)} ({md_code(c.base.id)})", ""]
        lines += _table(("", "case", "verdict"), [
            ("base", md_text(case_text(c.base)), summary_text(c.base_verdict, c.base_summary)),
            ("proposal", md_text(case_text(c.proposal)) + (" (changed)" if c.edits
                                                           or c.parameters else ""),
             summary_text(c.proposal_verdict, c.proposal_summary))])
        if c.edits or c.parameters:
            lines.append("")
            lines.append("What if: " + "; ".join(md_code(change_text(e))
                                                 for e in c.edits + c.parameters))
        for key, heading in SECTIONS:
            changes = getattr(c, key)
            lines += ["", f"#### {heading} ({len(changes)})", ""]
            if not changes:
                lines.append("None.")
                continue
            lines += _table(("severity", "finding", "title", "because"), [
                (severity_text(ch), md_code(ch.id), md_text(ch.title),
                 "; ".join(md_code(change_text(x)) for x in ch.causes + ch.parameter_causes)
                 or NO_CAUSE) for ch in changes])
        lines += ["", f"Unchanged: {c.unchanged} finding{'s' * (c.unchanged != 1)} "
                      f"[{packs_text(c.packs)}]"]
        return "\n".join(lines) + "\n"

    def sweep(self, sweep) -> str:
        w = sweep
        lines = [f"### Sweep of {md_code(w.path)} from {show_number(w.start)} to "
                 f"{show_number(w.stop)} in {w.steps} step{'s' * (w.steps != 1)}", "",
                 f"{md_text(w.case.title)} ({md_code(w.case.id)}); {original_text(w.original)}.",
                 ""]
        rows = sweep_rows(w)
        for row, step in zip(rows, w.rows):
            if step.error is not None:   # the case's own words may be in it
                row[-1] = f"error: {md_text(step.error)}"
        lines += _table(["value"] + [str(i) for i in range(1, len(w.findings) + 1)]
                        + ["verdict"], rows)
        if w.findings:
            lines += ["", "Findings:", ""]
            lines += _table(("#", "finding", "title"),
                            [(i, md_code(f.id), md_text(f.title))
                             for i, f in enumerate(w.findings, 1)])
        lines.append("")
        if w.switches:
            lines += [f"Switches (by bisection, to within {show_number(w.tolerance)}):", ""]
            lines += _table(("finding", "change", "at", "still before at"), [
                (md_code(s.finding), f"{show_severity(s.before)} -> {show_severity(s.after)}",
                 show_number(s.at), show_number(s.last_before)
                 + ("" if s.exact else " (values in between make the case invalid)"))
                for s in w.switches])
        else:
            lines.append("Switches: none between the steps.")
        return "\n".join(lines) + "\n"
