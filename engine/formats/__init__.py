"""Output formats, in a registry by name.

A format renders assessment reports and rule listings to text, and may also render the what-if
analyses (`comparison`, `sweep`) and one rule in full (`rule`); a format without one of those
methods cannot show that kind of output, and `renderer` says so. Register a new one with
`@register`; the CLI offers every registered name for `--format`.

`reports` takes options by keyword beyond `details`: `diplo assess` passes `fail_on` (the
`--fail-on` severity), which the JUnit format needs to decide what fails. A format takes the
options it knows and ignores the rest (declare `**options`); a format written before options
existed, whose `reports` takes only `details`, still works: `register` hands it only the
options it names.

Some options change what a format shows, and a format that does not take one must not be
handed it silently: a format lists those it takes in `options` (`summary`: verdicts and counts
per concern, no finding bodies; `max_chars`: a length limit), and `require_option` refuses the
others. A format whose `streams` is true renders a batch as the concatenation of its reports
rendered one at a time, so that `diplo assess` writes each report as soon as it is assessed.
"""
from __future__ import annotations

import functools
import inspect
import json
from importlib import import_module
from typing import Any, Callable, Protocol

from ..errors import UsageError
from ..model import SEVERITIES, Report, RuleInfo


class Format(Protocol):
    name: str
    description: str

    def reports(self, reports: list[Report], *, details: bool = False, **options: Any) -> str:
        ...

    def rules(self, rules: list[RuleInfo]) -> str: ...

    # optional: def comparison(self, comparison) -> str, def sweep(self, sweep) -> str,
    # def rule(self, detail) -> str (one rule in full: engine.authoring.rule_detail)


FINDING_HEADERS = ("#", "id", "severity", "concern", "title", "subjects", "section")


def finding_rows(report) -> list[tuple]:
    """One row per finding, in the report's order, for the tabular formats; long ids are
    shortened (`short_ids`). A pack's title is one line (engine/formats/escape.py)."""
    from .escape import one_line
    shown = short_ids([f.id for f in report.findings])
    return [(i, shown[f.id], finding_severity(f), f.concern, one_line(f.title),
             ", ".join(f.subjects) or "-", f.citation.section)
            for i, f in enumerate(report.findings, 1)]


ID_WIDTH = 32
ELLIPSIS = "\u2026"


def short_ids(ids: list[str], width: int = ID_WIDTH) -> dict[str, str]:
    """Each id as a table shows it: whole when it has at most `width` characters, else its
    start and end around an ellipsis, still telling every id of `ids` apart (ids that would
    look alike are given more characters, up to the whole id)."""
    shown: dict[str, str] = {}
    pending = list(dict.fromkeys(ids))
    while pending:
        cut = {id: _middle(id, width) for id in pending}
        alike: dict[str, int] = {}
        for text in cut.values():
            alike[text] = alike.get(text, 0) + 1
        # a shortened id holds an ellipsis and its width differs from one step to the next, so
        # it never looks like a whole id or one shortened at another width
        shown.update((id, text) for id, text in cut.items() if alike[text] == 1)
        pending = [id for id in pending if id not in shown]
        width += 8
    return shown


def _middle(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return text[:head] + ELLIPSIS + text[len(text) - (width - 1 - head):]


SUMMARY_HEADERS = ("concern", *reversed(SEVERITIES), "strengths")


def concern_rows(report) -> list[tuple]:
    """For a summary: one row per concern with findings (in the order of its first finding),
    with the number of its risks at each severity and of its strengths."""
    counts: dict[str, dict[str, int]] = {}
    for f in report.findings:
        row = counts.setdefault(f.concern, {})
        key = f.severity if f.kind == "risk" else "strengths"
        row[key] = row.get(key, 0) + 1
    return [(concern, *(str(row.get(k, 0)) for k in SUMMARY_HEADERS[1:]))
            for concern, row in counts.items()]


def finding_severity(finding) -> str:
    """A finding's severity, with its rule's own when a pack, a project or the command line
    changed it: a reader should not have to look elsewhere to see that."""
    if finding.kind != "risk":
        return "strength"
    change = finding.severity_override
    return finding.severity if change is None else f"{finding.severity} (was {change.default})"


def detail_lines(report, show_id, *, details: bool = True,
                 tree: Callable[[Any], list[str]] | None = None) -> list[str]:
    """Each finding numbered as in the table of findings: with `details`, its full id,
    message, remedy and quote; with `tree`, the lines `tree(finding)` gives (its proof tree)
    under it. Each text of a pack or a case is one line of its own."""
    from .escape import one_line
    lines = []
    for i, f in enumerate(report.findings, 1):
        below = []
        if details:
            lines.append(f"{i}. {show_id(f.id)} {one_line(f.message)}")
            if f.remediation:
                below.append(f"Remedy: {one_line(f.remediation)}")
            below.append(f"Guidance ({f.citation.section}): \"{one_line(f.citation.quote)}\"")
            if f.severity_override is not None:
                below.append(f"Severity: {f.severity}, set by "
                             f"{one_line(f.severity_override.by)} (the rule gives "
                             f"{f.severity_override.default})")
            below += tree(f) if tree is not None else []
        elif tree is not None:
            first, *below = tree(f)
            lines.append(f"{i}. {first}")
        lines += [f"   {line}" for line in below]
    return lines


def gate_findings(report, fail_on: str) -> list:
    """The risks that fail `diplo assess --fail-on`: at or above `fail_on`, and (when the report
    carries waivers or a baseline) not waived and new or worse than in the baseline."""
    gate = getattr(report, "gate_findings", None)
    if gate is not None:
        return list(gate(fail_on))
    threshold = SEVERITIES.index(fail_on)
    return [f for f in report.findings
            if f.kind == "risk" and SEVERITIES.index(f.severity) >= threshold]


def sweep_rows(sweep) -> list[list]:
    """One row per step of a sweep: the value, each finding's severity or '-', the verdict."""
    from .escape import one_line
    rows = []
    for step in sweep.rows:
        if step.error is not None:
            rows.append([show_number(step.value)] + [""] * len(sweep.findings)
                        + [f"error: {one_line(step.error)}"])
        else:
            rows.append([show_number(step.value)]
                        + [step.findings.get(f.id, "-") for f in sweep.findings]
                        + [step.verdict])
    return rows


RULE_HEADERS = ("id", "kind", "severity", "concern", "derives", "citation", "tags", "title")


def rule_rows(rules) -> list[tuple]:
    from .escape import one_line
    return [(r.id, r.kind, r.severity or "-", r.concern or "-", r.derives or "-", r.citation,
             ", ".join(r.tags) or "-", one_line(r.title)) for r in rules]


_REGISTRY: dict[str, Format] = {}


def _accepting(method: Callable[..., str]) -> Callable[..., str]:
    """`method`, or a wrapper that drops the options it does not name (a format written
    before `reports` took options)."""
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):  # pragma: no cover (a builtin or C callable)
        return method
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return method
    known = set(parameters)

    @functools.wraps(method)
    def reports(reports, **options):
        return method(reports, **{k: v for k, v in options.items() if k in known})
    return reports


def register(cls):
    if cls.__module__ in _BUILTIN_MODULES and getattr(cls, "name", None) in _REGISTRY:
        # a built-in format loaded after a format of the same name was registered: the one
        # registered keeps the name, as it would have if the built-ins had been loaded first
        return cls
    return _register(cls)


def _register(cls):
    instance = cls()
    if callable(getattr(instance, "reports", None)):
        try:
            instance.reports = _accepting(instance.reports)
        except AttributeError:  # pragma: no cover (slots or a frozen instance: left as it is)
            pass
    _REGISTRY[instance.name] = instance
    return cls


def get(name: str) -> Format:
    if name not in _REGISTRY and name in _BUILTIN:
        module, class_name = _BUILTIN[name]
        cls = getattr(import_module(f"{__name__}.{module}"), class_name)
        if name not in _REGISTRY:   # its module was imported before, its name taken since
            _register(cls)
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown format '{name}'; formats are {', '.join(names())}") from None


def names() -> list[str]:
    return sorted(set(_REGISTRY) | set(_BUILTIN))


def require_option(name: str, option: str, flag: str) -> None:
    """A UsageError naming `flag` unless format `name` takes `option` (in its `options`)."""
    if option in getattr(get(name), "options", ()):
        return
    able = [n for n in names() if option in getattr(get(n), "options", ())]
    raise UsageError(f"format {name} does not take it; it is for the "
                     f"{' and '.join(able) or 'no'} format{'s' * (len(able) != 1)}", path=flag)


def streams(name: str) -> bool:
    """Whether format `name` can be written one report at a time (see the module's text)."""
    return bool(getattr(get(name), "streams", False))


def needs_facts(name: str) -> bool:
    """Whether format `name` draws every finding's proof tree whatever the options, so that
    its reports must carry the derived facts (as `--explain` gives them)."""
    return bool(getattr(get(name), "needs_facts", False))


def renderer(name: str, kind: str) -> Callable[[Any], str]:
    """The method of format `name` that renders `kind` ("comparison", "sweep")."""
    method = getattr(get(name), kind, None)
    if method is None:
        raise UsageError(f"format {name} cannot show a {kind}", path="--format")
    return method


def show_number(value: float | int) -> str:
    """95.0 -> "95", 166.86 -> "166.86", 0.1 + 0.2 -> "0.3": what a reader typed, not float
    noise."""
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:.10g}"


def show_value(value: Any) -> str:
    """A case value for text output; None is a field or entry the case does not have."""
    if value is None:
        return "absent"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return show_number(value)
    if isinstance(value, dict):
        return "present"   # a whole line or commitment: present in one case only
    from .escape import one_line   # a case's text: one line, shown as written
    if isinstance(value, list):
        return one_line(json.dumps(value, ensure_ascii=False))
    return one_line(value)


def show_severity(severity: str | None) -> str:
    return severity or "off"


# The built-in formats, by name and module. Each is imported the first time it is asked for
# (`get`), so that a command does not import what the formats it does not use need (the JUnit
# format's XML library, for one); `names` lists them all the same.
_BUILTIN = {"json": ("json_format", "JsonFormat"), "junit": ("junit", "JunitFormat"),
            "jsonl": ("jsonl", "JsonlFormat"),
            "markdown": ("markdown", "MarkdownFormat"), "sarif": ("sarif", "SarifFormat"),
            "table": ("table", "TableFormat"),
            "github": ("github", "GithubFormat"), "html": ("html", "HtmlFormat")}
_BUILTIN_MODULES = frozenset(f"{__name__}.{module}" for module, _ in _BUILTIN.values())
