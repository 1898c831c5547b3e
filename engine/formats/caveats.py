"""What every format says beside the findings, in the same words: the checks a report could
not make (coverage), the figures that look mistyped (warnings), whether each finding holds
across the ranges the case states (robustness), and the analyst's sources and notes."""
from __future__ import annotations

from . import show_number, show_severity


def coverage_line(entry) -> str:
    from .escape import one_line
    rules = f" (rules: {', '.join(entry.rules)})" if entry.rules else ""
    return one_line(f"{entry.missing}: {entry.reason}{rules}")


def warning_line(warning) -> str:
    from .escape import one_line
    accepted = " (accepted by the case)" if warning.accepted else ""
    return one_line(f"{warning.path}: {warning.message}{accepted}")


def robustness_of(report, finding_id: str):
    """The robustness entry of a finding, or None when the case states no range."""
    robust = getattr(report, "robustness", None)
    if robust is None:
        return None
    return next((f for f in robust.findings if f.finding == finding_id), None)


def switch_text(switch) -> str:
    return (f"{switch.field}: {show_severity(switch.before)} -> {show_severity(switch.after)} "
            f"at {show_number(switch.at)} ({show_severity(switch.before)} at "
            f"{show_number(switch.last_before)})")


def robustness_text(entry) -> str:
    """`holds across the stated ranges`, or where the finding depends on the truth."""
    if entry.holds:
        return "holds across the stated ranges"
    where = "; ".join(switch_text(s) for s in entry.switches)
    return f"depends on where the truth lies in the stated ranges: {where}"


def ranges_line(report) -> str | None:
    robust = getattr(report, "robustness", None)
    if robust is None:
        return None
    shown = ", ".join(f"{r.field} {show_number(r.value)} in [{show_number(r.low)}, "
                      f"{show_number(r.high)}]" for r in robust.ranges)
    verdicts = "/".join(robust.verdicts)
    return f"Ranges stated: {shown}; verdicts across them: {verdicts}"


def appearing(report) -> list:
    """Findings absent at the stated values that appear somewhere in the ranges."""
    robust = getattr(report, "robustness", None)
    return [] if robust is None else [f for f in robust.findings if not f.reported]


def sources_lines(report) -> list[str]:
    from .escape import one_line   # the analyst's words, each line one line
    notes = getattr(report, "notes", None)
    if notes is None:
        return []
    lines = []
    if notes.fiscal_year_label:
        lines.append(f"Fiscal year {notes.fiscal_year_label} (benchmarked as "
                     f"{report.case.fiscal_year})")
    if notes.sources:
        lines.append("Sources: " + "; ".join(notes.sources))
    if notes.notes:
        lines.append("Notes: " + notes.notes)
    for subject in notes.subjects:
        parts = (["sources: " + "; ".join(subject.sources)] if subject.sources else []) + (
            ["notes: " + subject.notes] if subject.notes else [])
        lines.append(f"{subject.id}: " + "; ".join(parts))
    return [one_line(line) for line in lines]


def plain_lines(report, brief: bool = False) -> list[str]:
    """The caveats of a report as indented plain text (the table format's); `brief`: counts."""
    lines: list[str] = []
    coverage = getattr(report, "coverage", [])
    warnings = getattr(report, "warnings", [])
    if brief:
        if coverage:
            lines.append(f"Could not check: {len(coverage)}")
        if warnings:
            lines.append(f"Warnings: {len(warnings)}")
        return lines
    if coverage:
        lines.append("Could not check:")
        lines += [f"  {coverage_line(entry)}" for entry in coverage]
    if warnings:
        lines.append("Warnings (figures that look mistyped):")
        lines += [f"  {warning_line(warning)}" for warning in warnings]
    ranges = ranges_line(report)
    if ranges is not None:
        lines.append(ranges)
        robust = report.robustness
        holding = [f for f in robust.findings if f.reported and f.holds]
        lines.append(f"  {len(holding)} of {sum(f.reported for f in robust.findings)} "
                     "findings hold across the stated ranges")
        for entry in robust.findings:
            if not entry.holds:
                state = "" if entry.reported else " (not at the stated values)"
                lines.append(f"  [{entry.finding}]{state} {robustness_text(entry)}")
        lines += [f"  {problem}" for problem in robust.invalid]
    lines += sources_lines(report)
    return lines


def properties(report) -> list[tuple[str, str]]:
    """The caveats as (name, value) pairs, for formats that carry properties (JUnit's)."""
    pairs = [("not-checked", coverage_line(e)) for e in getattr(report, "coverage", [])]
    pairs += [("warning", warning_line(w)) for w in getattr(report, "warnings", [])]
    ranges = ranges_line(report)
    if ranges is not None:
        pairs.append(("ranges", ranges))
        pairs += [("robustness", f"{e.finding}: {robustness_text(e)}")
                  for e in report.robustness.findings if not e.holds]
    pairs += [("note", line) for line in sources_lines(report)]
    return pairs
