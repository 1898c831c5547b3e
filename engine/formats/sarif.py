"""SARIF 2.1.0, for code-scanning tools (GitHub code scanning, GitLab, VS Code's SARIF viewer).

One log, one run for all the cases assessed. Each risk is a result: `ruleId` is
`<pack>/<rule>`, `level` follows the severity (critical and high: error; medium: warning; low
and info: note), the message is the finding's message, and the location is the case file at
the line and column of the finding's first subject (the line item or commitment with that id),
else of the first case field the finding read, else line 1. `partialFingerprints` carries the
finding id, which is stable from run to run, so that review tools track a finding across runs.
A waived risk carries a SARIF suppression (status accepted, with the waiver's reason), and
with a baseline each result has its `baselineState` (new, updated when more severe,
unchanged). Strengths are not results (code scanning shows every result as an alert, whatever
its `kind`); the run's properties count them per case. `tool.driver.rules` describes each rule
that has a result: its title, its guidance citation and the remedy. Text from a case or a pack
is one line in the text fields and escaped in the markdown ones; the properties carry it as it
is, as data.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import quote

from .. import __version__
from ..errors import DiploError
from . import register
from .caveats import robustness_of
from .escape import md_text, one_line

SARIF_SCHEMA = ("https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
                "sarif-schema-2.1.0.json")
SARIF_VERSION = "2.1.0"
FINGERPRINT = "diploFindingId/v1"

LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note",
          "info": "note"}
# GitHub code scanning's own severity scale for results that are not security alerts
PROBLEM_SEVERITY = {"error": "error", "warning": "warning", "note": "recommendation"}


def rule_id(pack: str, rule: str) -> str:
    return f"{pack}/{rule}"


def artifact_uri(source: str) -> str:
    """A case path as a URI reference: relative paths stay relative (with `/` and percent
    escapes), absolute ones become `file:` URIs."""
    path = Path(source)
    if path.is_absolute():
        return path.as_uri()
    text = source.replace(os.sep, "/") if os.sep != "/" else source
    # ':' is escaped too: in a relative reference's first segment it would read as a scheme
    return quote(text, safe="/-._~!$&'()*+,;=@")


_PART = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def field_path(text: str) -> tuple:
    """"line_items[3].amount" -> ("line_items", 3, "amount")."""
    return tuple(int(index) if index else name for index, name in _PART.findall(text))


class CaseLocator:
    """Lines and columns in case files, read once per file with `read_document`."""

    def __init__(self):
        self._documents: dict[str, object] = {}

    def _document(self, source: str):
        if source not in self._documents:
            from ..inputs.source import read_document
            try:
                self._documents[source] = read_document(source)
            except (DiploError, OSError):   # moved or changed since it was assessed
                self._documents[source] = None
        return self._documents[source]

    def position(self, source: str | None, finding) -> tuple[int, int | None]:
        """(line, column) for a finding: its first subject's entry, else the first field it
        read, else (1, None)."""
        document = self._document(source) if source else None
        data = getattr(document, "data", None)
        if not isinstance(data, dict):
            return 1, None
        if finding.subjects:
            subject = finding.subjects[0]
            for key in ("line_items", "commitments"):
                entries = data.get(key)
                if not isinstance(entries, list):
                    continue
                for index, entry in enumerate(entries):
                    if isinstance(entry, dict) and entry.get("id") == subject:
                        line, column = document.position((key, index))
                        if line is not None:
                            return line, column
        for text in finding.inputs:
            path = field_path(text)
            if path:
                line, column = document.position(path, key=True)
                if line is not None:
                    return line, column
        return 1, None


def _help(title: str, citation, remediation: str | None, example: str | None) -> dict:
    # a pack's text, one line each, and escaped in the markdown (engine/formats/escape.py)
    guidance = f"Guidance, section {citation.section}: \"{one_line(citation.quote)}\""
    markdown_guidance = (f"**Guidance**, section `{citation.section}`:\n\n> "
                         f"{md_text(citation.quote)}")
    if remediation:
        where = f" (as given for {example}; each result's properties give its own)" \
            if example else ""
        return {"text": f"Remedy{where}: {one_line(remediation)}\n{guidance}",
                "markdown": f"**Remedy**{where}: {md_text(remediation)}\n\n"
                            f"{markdown_guidance}"}
    return {"text": f"{one_line(title)}.\n{guidance}",
            "markdown": f"{md_text(title)}.\n\n{markdown_guidance}"}


def _descriptor(finding, remedies: set) -> dict:
    level = LEVELS[finding.severity]
    citation = finding.citation
    return {
        "id": rule_id(finding.pack, finding.rule),
        "name": finding.rule,
        "shortDescription": {"text": one_line(finding.title)},
        "fullDescription": {"text": f"{one_line(finding.title)}. Guidance, section "
                                    f"{citation.section}: \"{one_line(citation.quote)}\""},
        # a remedy names the finding's own lines; when the rule's findings differ, say whose
        "help": _help(finding.title, citation, finding.remediation,
                      finding.id if len(remedies) > 1 else None),
        "defaultConfiguration": {"level": level},
        "properties": {
            "pack": finding.pack, "rule": finding.rule, "severity": finding.severity,
            "concern": finding.concern,
            "citation": {"section": citation.section, "quote": citation.quote},
            "tags": [finding.concern],
            "problem.severity": PROBLEM_SEVERITY[level],
        },
    }


def _baseline_state(report, finding) -> str | None:
    baseline = getattr(report, "baseline", None)
    if baseline is None:
        return None
    if finding.id in baseline.new:
        return "new"
    if finding.id in baseline.worse:
        return "updated"
    return "unchanged"


def _notification(error: DiploError) -> dict:
    """A case file that could not be read or validated, as a tool execution notification:
    code scanning shows the run as failed with the reason, located in the file."""
    notification: dict = {"level": "error", "message": {"text": one_line(str(error))}}
    if error.file:
        region = {"startLine": error.line} if error.line else {}
        if error.line and error.column:
            region["startColumn"] = error.column
        location: dict = {"artifactLocation": {"uri": artifact_uri(error.file)}}
        if region:
            location["region"] = region
        notification["locations"] = [{"physicalLocation": location}]
    return notification


def _caveats(report) -> dict:
    """What a case's report could not check and the figures that look mistyped, as the run's
    properties of that case (empty lists: nothing missing)."""
    found: dict = {"coverage": [e.model_dump() for e in getattr(report, "coverage", [])],
                   "warnings": [w.model_dump() for w in getattr(report, "warnings", [])]}
    robust = getattr(report, "robustness", None)
    if robust is not None:
        found["robustness"] = robust.model_dump()
    return found


def _log(rules: list[dict], results: list[dict], packs: list, properties: dict | None,
         unreadable: list | None = None) -> str:
    driver = {"name": "diplo", "version": __version__, "semanticVersion": __version__,
              "rules": rules}
    tool: dict = {"driver": driver}
    if packs:
        tool["extensions"] = [{"name": name, "version": version} for name, version in packs]
    run: dict = {"tool": tool, "columnKind": "unicodeCodePoints", "results": results}
    if unreadable:
        run["invocations"] = [{"executionSuccessful": False, "toolExecutionNotifications": [
            _notification(error) for error in unreadable]}]
    if properties:
        run["properties"] = properties
    log = {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


@register
class SarifFormat:
    name = "sarif"
    description = "SARIF 2.1.0, for code scanning: one result per risk, located in the case file"
    shows_unreadable = True   # case files that could not be read: tool execution notifications

    def reports(self, reports, *, details=False, unreadable=(), **options) -> str:
        locator = CaseLocator()
        first: dict[str, object] = {}
        remedies: dict[str, set] = {}
        for report in reports:
            for finding in report.findings:
                if finding.kind == "risk":
                    rid = rule_id(finding.pack, finding.rule)
                    first.setdefault(rid, finding)
                    remedies.setdefault(rid, set()).add(finding.remediation)
        descriptors = {rid: _descriptor(finding, remedies[rid]) for rid, finding in first.items()}
        order = sorted(descriptors)
        index = {rid: i for i, rid in enumerate(order)}
        results = []
        for report in reports:
            source = report.case.source
            for finding in report.findings:
                if finding.kind != "risk":
                    continue
                rid = rule_id(finding.pack, finding.rule)
                result: dict = {
                    "ruleId": rid, "ruleIndex": index[rid], "level": LEVELS[finding.severity],
                    "message": {"text": one_line(finding.message)},
                }
                if source:
                    line, column = locator.position(source, finding)
                    region = {"startLine": line}
                    if column is not None:
                        region["startColumn"] = column
                    result["locations"] = [{"physicalLocation": {
                        "artifactLocation": {"uri": artifact_uri(source)}, "region": region}}]
                result["partialFingerprints"] = {FINGERPRINT: finding.id}
                state = _baseline_state(report, finding)
                if state:
                    result["baselineState"] = state
                waived = getattr(finding, "waived", None)
                if waived is not None:   # accepted by a waiver: code scanning dismisses it
                    result["suppressions"] = [{
                        "kind": "external", "status": "accepted",
                        "justification": f"{one_line(waived.reason)} (owner "
                                         f"{one_line(waived.owner)}, until {waived.expires})"}]
                result["properties"] = {
                    "case": report.case.id, "finding": finding.id,
                    "severity": finding.severity, "concern": finding.concern,
                    "title": finding.title, "subjects": list(finding.subjects),
                    "remediation": finding.remediation,
                    "citation": {"section": finding.citation.section,
                                 "quote": finding.citation.quote},
                }
                change = getattr(finding, "severity_override", None)
                if change is not None:
                    result["properties"]["severityOverride"] = change.model_dump()
                robust = robustness_of(report, finding.id)
                if robust is not None:   # whether it holds across the case's ranges
                    result["properties"]["robustness"] = robust.model_dump(
                        exclude={"finding", "title"})
                results.append(result)
        packs = sorted({(p.name, p.version) for report in reports for p in report.packs})
        cases = [{"id": r.case.id, "source": r.case.source, "verdict": r.verdict,
                  "risks": r.summary.risks.model_dump(), "strengths": r.summary.strengths,
                  **_caveats(r)} for r in reports]
        return _log([descriptors[rid] for rid in order], results, packs, {"cases": cases},
                    list(unreadable))

    def rules(self, rules) -> str:
        """The rules that report risks, as a SARIF log with no results (for importing rule metadata
        into a code-scanning tool)."""
        descriptors = []
        for rule in sorted((r for r in rules if r.kind == "risk"),
                           key=lambda r: rule_id(r.pack, r.id)):
            severity = rule.severity or "info"
            level = LEVELS[severity]
            descriptors.append({
                "id": rule_id(rule.pack, rule.id), "name": rule.id,
                "shortDescription": {"text": one_line(rule.title)},
                "defaultConfiguration": {"level": level},
                "properties": {"pack": rule.pack, "rule": rule.id, "kind": rule.kind,
                               "severity": rule.severity, "concern": rule.concern,
                               "citation": {"section": rule.citation},
                               "tags": ([rule.concern] if rule.concern else [])
                               + [t for t in rule.tags if t != rule.concern],
                               "problem.severity": PROBLEM_SEVERITY[level]},
            })
        return _log(descriptors, [], [], None)

