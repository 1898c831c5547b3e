"""One rule in full for a terminal (`diplo rules show RULE`): the table format's `rule`."""
from __future__ import annotations

from tabulate import tabulate

from . import show_value
from .escape import one_line


def _value(value) -> str:
    return one_line(", ".join(value)) if isinstance(value, list) else show_value(value)


def rule_text(detail) -> str:
    """`detail` is an engine.authoring.rule_detail.RuleDetail. Each text of the pack is one
    line (a description, one line per line of it), with no control character
    (engine/formats/escape.py)."""
    d = detail
    line = one_line
    severity = d.severity or "-"
    if d.severity_override is not None:
        severity += f" (set by {line(d.severity_override.by)}; the rule gives " \
                    f"{d.severity_override.default})"
    rows = [("pack", d.pack), ("kind", d.kind)]
    if d.kind == "derive":
        rows.append(("derives", d.derives))
    else:
        rows += [("severity", severity), ("concern", d.concern)]
    rows += [("tags", ", ".join(d.tags) or "-"), ("file", f"{d.file}:{d.line}")]
    if d.disabled_by:
        rows.append(("status", f"left out of this run by {line(d.disabled_by)}"))
    rows = [(name, value if value is None else line(value)) for name, value in rows]
    lines = [f"{d.id}  {line(d.title)}", tabulate(rows, tablefmt="plain", disable_numparse=True)]
    if d.description:
        lines += [""] + [line(text) for text in d.description.splitlines()]
    lines += ["", "When:"]
    for c in d.conditions:
        pattern = f"{c.fact}" + (f" as {c.as_}" if c.as_ != c.fact else "")
        pattern += f" where {line(c.where)}" if c.where else ""
        lines.append(f"  {'not ' if c.negated else ''}{pattern}")
    if d.let:
        lines += ["Let:"] + [f"  {name} = {line(text)}" for name, text in d.let.items()]
    if d.derives:
        lines.append(f"Derives: {d.derives}")
        lines += [f"  {name} = {line(text)}" for name, text in d.fields.items()]
    if d.message:
        lines += [f"Message: {line(d.message)}"]
    if d.remediation:
        lines += [f"Remedy: {line(d.remediation)}"]
    lines += ["", "Parameters:" + ("" if d.parameters else " none")]
    for p in d.parameters:
        changed = "" if p.declared is None else f" (pack {p.pack} gives {_value(p.declared)})"
        lines += [f"  ${p.name} = {_value(p.value)} ({line(p.unit)}){changed}",
                  f"    {line(p.description)}", f"    Source: {line(p.source)}"]
    heading = f", {line(d.citation.heading)}" if d.citation.heading else ""
    lines += ["", f"Guidance ({d.citation.section}{heading}):",
              f"  \"{line(d.citation.quote)}\""]
    lines += ["", f"Tests ({len(d.tests)}):" if d.tests else "Tests: none name this rule"]
    lines += [f"  {line(t.file)}:{t.line}  {'+'.join(t.checks)}  {line(t.name)}"
              for t in d.tests]
    return "\n".join(lines) + "\n"
