"""Readable tables for a terminal."""
from __future__ import annotations

from tabulate import tabulate

from . import register
from ..model import SEVERITIES

_ORDER = tuple(reversed(SEVERITIES))


def verdict_line(report) -> str:
    counts = report.summary.risks.model_dump()
    risks = [f"{counts[s]} {s}" for s in _ORDER if counts[s]]
    strengths = report.summary.strengths
    packs = ", ".join(f"{p.name} {p.version}" for p in report.packs)
    return (f"Verdict: {report.verdict.upper()} ({', '.join(risks) + ' risks' if risks else 'no risks'}; "
            f"{strengths} strength{'s' * (strengths != 1)}) [{packs}]")


@register
class TableFormat:
    name = "table"
    description = "a table of findings per case, risks first, with the verdict"

    def reports(self, reports, *, details=False) -> str:
        blocks = []
        for report in reports:
            case = report.case
            head = f"{case.title} ({case.id})"
            if case.source:
                head += f"  {case.source}"
            lines = [head]
            if report.findings:
                rows = [(i, f.severity if f.kind == "risk" else "strength", f.concern, f.title,
                         ", ".join(f.subjects) or "-", f.citation.section)
                        for i, f in enumerate(report.findings, 1)]
                lines.append(tabulate(rows, headers=("#", "severity", "concern", "title",
                                                     "subjects", "section"),
                                      disable_numparse=True))
            else:
                lines.append("No findings.")
            if details and report.findings:
                lines.append("")
                for i, f in enumerate(report.findings, 1):
                    lines.append(f"{i}. [{f.id}] {f.message}")
                    if f.remediation:
                        lines.append(f"   Remedy: {f.remediation}")
                    lines.append(f"   Guidance ({f.citation.section}): \"{f.citation.quote}\"")
            lines.append(verdict_line(report))
            if report.near_misses is not None:
                lines.append("Near misses:" + ("" if report.near_misses else " none"))
                lines += [f"  {n.message}" for n in report.near_misses]
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks) + "\n"

    def rules(self, rules) -> str:
        rows = [(r.id, r.kind, r.severity or "-", r.concern or "-", r.derives or "-",
                 r.citation, r.title) for r in rules]
        return tabulate(rows, headers=("id", "kind", "severity", "concern", "derives",
                                       "citation", "title"), disable_numparse=True) + "\n"
