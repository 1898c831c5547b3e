"""JUnit XML, for CI test-report views (GitLab, Jenkins, Azure DevOps, GitHub test reporters).

One testsuite per case (named by the case id); in it one testcase per rule of the loaded packs
that reports risks or strengths (name: the rule id; classname: the case id). A testcase fails
when its rule reported a risk at or above `fail_on` (`--fail-on`, default high) that fails the
gate of `diplo assess` (not waived; new or worse than a baseline, when one is given): the
failure's message lists the finding ids and messages, its text adds each remedy and guidance
quote. Every other testcase passes; the findings of a passing rule (risks below `fail_on`,
waived ones, strengths, and those folded into another rule's finding because they have the
same cause, which that finding reports) are listed in its `system-out`. Strengths never fail. No timestamps: the same inputs give the
same bytes.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

from ..errors import DiploError, UsageError
from ..model import SEVERITIES
from . import gate_findings, register

def _text(value) -> str:
    """Text of several lines (diplo's), for XML (engine/formats/escape.py)."""
    # imported here: asking for a format imports that format's module alone
    from .escape import xml_text
    return xml_text(value)


def _line(value) -> str:
    """Someone else's text (a case's, a pack's, a waiver's) as one line of it."""
    from .escape import one_line
    return one_line(value)


def loaded_rules(reports) -> list | None:
    """The rules (RuleInfo) of the packs the reports were assessed with, or None when those
    packs cannot be found again.

    Reports name their packs but do not list their rules, so the packs are loaded again:
    those of the running `diplo` command when there is one (the `--pack` values of its click
    context), else the built-in packs of those names. Either way the names and versions must
    match the reports' packs."""
    import click

    from ..core.run import list_rules, load_pack
    wanted = {(p.name, p.version) for report in reports for p in report.packs}
    if not wanted:
        return None
    candidates = []
    context = click.get_current_context(silent=True)
    if context is not None and "packs" in context.params:
        candidates.append(tuple(context.params["packs"] or ()))
    names = []
    for report in reports:
        names += [p.name for p in report.packs if p.name not in names]
    candidates.append(tuple(names))
    for specs in candidates:
        try:
            pack = load_pack(*specs)
        except DiploError:
            continue
        if {(p.name, p.version) for p in pack.packs} == wanted:
            return list_rules(pack)
    return None


def _finding_line(finding) -> str:
    what = finding.severity if finding.kind == "risk" else "strength"
    line = f"[{what}] {finding.id}: {_line(finding.message)}"
    waived = getattr(finding, "waived", None)
    if waived is not None:
        line += (f" (waived until {waived.expires} by {_line(waived.owner)}: "
                 f"{_line(waived.reason)})")
    return line


def _failure_text(findings) -> str:
    lines = []
    for finding in findings:
        lines.append(_finding_line(finding))
        if finding.remediation:
            lines.append(f"  Remedy: {_line(finding.remediation)}")
        lines.append(f"  Guidance ({finding.citation.section}): "
                     f"\"{_line(finding.citation.quote)}\"")
    return "\n".join(lines)


def _errored_suite(root, error: DiploError) -> None:
    """A case file that could not be read or validated: a suite of one errored test, so that a
    CI test report shows the batch as broken, not as passed."""
    name = _line(error.file or "case")
    suite = ET.SubElement(root, "testsuite", name=_text(name), tests="1", failures="0",
                          errors="1", skipped="0", time="0")
    test = ET.SubElement(suite, "testcase", name="read and validate the case",
                         classname=_text(name), time="0")
    if error.file:
        test.set("file", _text(_line(error.file)))
        if error.line:
            test.set("line", str(error.line))
    failed = ET.SubElement(test, "error", type="invalid-case",
                           message=_text(_line(str(error))))
    failed.text = _text(_line(str(error)))


@register
class JunitFormat:
    name = "junit"
    description = ("JUnit XML, for CI test reports: a testsuite per case, a testcase per rule, "
                   "failed at --fail-on")

    shows_unreadable = True   # a case file that could not be read: an errored test

    def reports(self, reports, *, details=False, fail_on: str = "high", rules=None,
                unreadable=(), **options) -> str:
        """`rules`: the RuleInfo list of the loaded packs (`engine.core.run.list_rules(pack)`);
        when not given, the packs named in the reports are loaded again (`loaded_rules`)."""
        if fail_on not in SEVERITIES:
            raise UsageError(f"fail_on must be one of {', '.join(SEVERITIES)}, not {fail_on!r}",
                             path="--fail-on")
        from . import caveats   # here: asking for a format imports that format's module alone
        if rules is None and reports:
            rules = loaded_rules(reports)
        complete = rules is not None
        root = ET.Element("testsuites", name="diplo")
        total_tests = total_failures = 0
        for report in reports:
            case = report.case
            by_rule: dict[tuple[str, str], list] = {}
            folded: dict[str, list[str]] = {}    # rule -> its findings folded into others
            for finding in report.findings:
                by_rule.setdefault((finding.pack, finding.rule), []).append(finding)
                for effect in finding.effects:
                    folded.setdefault(effect.rule, []).append(
                        f"[{effect.severity}] {effect.id}: folded into {finding.id} (the same "
                        f"cause, reported there): {_line(effect.message)}")
            if complete:
                # a rule this run left out (--disable, --select, --ignore) is no test of it
                left_out = {(p.name, rule) for p in report.packs for rule in p.disabled}
                keys = [(r.pack, r.id) for r in rules
                        if r.kind != "derive" and (r.pack, r.id) not in left_out]
                known = set(keys)
                keys += sorted(key for key in by_rule if key not in known)
            else:  # only the rules that reported can be named
                keys = sorted(by_rule)
            suite = ET.SubElement(root, "testsuite", name=_text(case.id))
            properties = ET.SubElement(suite, "properties")
            for name, value in (("title", case.title), ("source", case.source),
                                ("verdict", report.verdict), ("fail-on", fail_on),
                                ("packs", ", ".join(f"{p.name} {p.version}"
                                                    for p in report.packs)),
                                ("rules", "all rules that report" if complete else
                                 "only the rules that reported (the packs could not be "
                                 "loaded again)")):
                if value is not None:
                    ET.SubElement(properties, "property", name=name,
                                  value=_text(_line(value)))
            for name, value in caveats.properties(report):
                ET.SubElement(properties, "property", name=name, value=_text(_line(value)))
            gating = {f.id for f in gate_findings(report, fail_on)}
            failures = 0
            for pack, rule in keys:
                findings = by_rule.get((pack, rule), [])
                case_element = ET.SubElement(suite, "testcase", name=_text(rule),
                                             classname=_text(case.id), time="0")
                if case.source:
                    case_element.set("file", _text(_line(case.source)))
                failing = [f for f in findings if f.id in gating]
                if failing:
                    failures += 1
                    worst = max((f.severity for f in failing), key=SEVERITIES.index)
                    failure = ET.SubElement(case_element, "failure", type=worst, message=_text(
                        " | ".join(f"{f.id}: {_line(f.message)}" for f in failing)))
                    failure.text = _text(_failure_text(failing))
                rest = [_finding_line(f) for f in findings if f not in failing]
                rest += folded.get(rule, [])
                if rest:
                    out = ET.SubElement(case_element, "system-out")
                    out.text = _text("\n".join(rest))
            suite.set("tests", str(len(keys)))
            suite.set("failures", str(failures))
            suite.set("errors", "0")
            suite.set("skipped", "0")
            suite.set("time", "0")
            total_tests += len(keys)
            total_failures += failures
        for error in unreadable:
            _errored_suite(root, error)
        root.set("tests", str(total_tests + len(unreadable)))
        root.set("failures", str(total_failures))
        root.set("errors", str(len(unreadable)))
        root.set("time", "0")
        ET.indent(root)
        return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                + ET.tostring(root, encoding="unicode") + "\n")

    def rules(self, rules) -> str:
        raise UsageError("format junit shows assessments only; list rules with --format "
                         "table, json, markdown or sarif", path="--format")
