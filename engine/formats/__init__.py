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


FINDING_HEADERS = ("#", "severity", "concern", "title", "subjects", "section")


def finding_rows(report) -> list[tuple]:
    """One row per finding, in the report's order, for the tabular formats."""
    return [(i, finding_severity(f), f.concern, f.title, ", ".join(f.subjects) or "-",
             f.citation.section)
            for i, f in enumerate(report.findings, 1)]


def finding_severity(finding) -> str:
    """A finding's severity, with its rule's own when a pack, a project or the command line
    changed it: a reader should not have to look elsewhere to see that."""
    if finding.kind != "risk":
        return "strength"
    change = finding.severity_override
    return finding.severity if change is None else f"{finding.severity} (was {change.default})"


def detail_lines(report, show_id) -> list[str]:
    """Each finding's message, remedy and quote, numbered as in the table of findings."""
    lines = []
    for i, f in enumerate(report.findings, 1):
        lines.append(f"{i}. {show_id(f.id)} {f.message}")
        if f.remediation:
            lines.append(f"   Remedy: {f.remediation}")
        lines.append(f"   Guidance ({f.citation.section}): \"{f.citation.quote}\"")
        if f.severity_override is not None:
            lines.append(f"   Severity: {f.severity}, set by {f.severity_override.by} (the "
                         f"rule gives {f.severity_override.default})")
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
    rows = []
    for step in sweep.rows:
        if step.error is not None:
            rows.append([show_number(step.value)] + [""] * len(sweep.findings)
                        + [f"error: {step.error}"])
        else:
            rows.append([show_number(step.value)]
                        + [step.findings.get(f.id, "-") for f in sweep.findings]
                        + [step.verdict])
    return rows


RULE_HEADERS = ("id", "kind", "severity", "concern", "derives", "citation", "tags", "title")


def rule_rows(rules) -> list[tuple]:
    return [(r.id, r.kind, r.severity or "-", r.concern or "-", r.derives or "-", r.citation,
             ", ".join(r.tags) or "-", r.title) for r in rules]


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
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def show_severity(severity: str | None) -> str:
    return severity or "off"


# The built-in formats, by name and module. Each is imported the first time it is asked for
# (`get`), so that a command does not import what the formats it does not use need (the JUnit
# format's XML library, for one); `names` lists them all the same.
_BUILTIN = {"json": ("json_format", "JsonFormat"), "junit": ("junit", "JunitFormat"),
            "markdown": ("markdown", "MarkdownFormat"), "sarif": ("sarif", "SarifFormat"),
            "table": ("table", "TableFormat")}
_BUILTIN_MODULES = frozenset(f"{__name__}.{module}" for module, _ in _BUILTIN.values())
