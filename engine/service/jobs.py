"""What a worker process does with one request: read the case (or cases) it carries, call the
library, render the answer. The service's side (engine/service/app.py) has already parsed and
checked the options; a job is plain data, so that it crosses to a worker process as it is.

A job is `{"op": NAME, "parts": {PART: Part}, "options": {...}}`, a Part
`{"data": bytes, "name": str, "media": "yaml" | "json" | "sheet", "mapping": bytes | None,
"mapping_name": str | None}`. The answer is `{"status": 200, "body": str, "headers": {...}}`,
or `{"status": 4xx/5xx, "problem": {...}}` (engine/service/problems.py). Nothing raised here
reaches a client as a traceback: an error that is no error of diplo's is a bug, logged on the
server's standard error and answered as a bare 500.
"""
from __future__ import annotations

import inspect
import sys
import traceback
from typing import Any, Callable

from .. import formats
from ..errors import DiploError
from .problems import INTERNAL, from_error, problem


def run(pack, job: dict) -> dict[str, Any]:
    """The answer to one job, with the pack set this worker compiled at start."""
    try:
        return _OPS[job["op"]](pack, job["parts"], job["options"])
    except DiploError as exc:
        found = from_error(exc)
        return {"status": found["status"], "problem": found}
    except Exception as exc:  # a bug: said on the server, never in the answer
        print(f"diplo serve: internal error in {job.get('op')}: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        return {"status": 500, "problem": internal_error()}


def internal_error() -> dict[str, Any]:
    return problem(INTERNAL, 500, "an internal error occurred: a bug in diplo, not a problem "
                                  "with the request; the server's log has the details")


def read(pack, part: dict):
    """The case a part of the request carries."""
    from ..api import read_case, read_spreadsheet_case
    if part["media"] == "sheet":
        return read_spreadsheet_case(part["data"], pack, name=part["name"],
                                     mapping=part.get("mapping"),
                                     mapping_name=part.get("mapping_name") or "mapping.yaml")
    return read_case(part["data"], pack, name=part["name"], json=part["media"] == "json")


def _takes(method: Callable, option: str) -> bool:
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):  # pragma: no cover (a builtin or C callable)
        return False
    return option in parameters


def assess(pack, parts: dict, options: dict) -> dict[str, Any]:
    """A report in any format of the registry, with `diplo assess`'s options."""
    from ..api import assess as assess_case
    from ..review.gate import render
    case = read(pack, parts["case"])
    name = options["format"]
    explain = options["explain"] or formats.needs_facts(name)
    report = assess_case(case, pack, explain=explain, strict=options["strict"],
                         near_miss=options["margin"] if options["near_miss"] else None)
    extra = dict(options["format_options"])
    if _takes(formats.get(name).reports, "figures"):
        # a format that draws the budget from the case's figures (html) is given them: the
        # case came with the request, so it cannot read them again from a file
        from ..formats.html_figures import case_figures
        extra["figures"] = {case.source: case_figures(case, pack)}
    fail_on = options["fail_on"]
    body = render(name, [report], details=options["details"], fail_on=fail_on, **extra)
    return {"status": 200, "body": body, "headers": {
        "Diplo-Verdict": report.verdict,
        "Diplo-Gate": "fail" if report.fails_gate(fail_on) else "pass"}}


def explain(pack, parts: dict, options: dict) -> dict[str, Any]:
    """Proof trees, why a rule did not fire, remedies: `diplo explain`."""
    from ..analysis.explain import explain_case, render_explanation
    case = read(pack, parts["case"])
    result = explain_case(case, pack, finding_id=options["finding"], rule=options["rule"],
                          with_remedies=options["remedies"])
    body = result.to_json() if options["format"] == "json" else render_explanation(result)
    return {"status": 200, "body": body, "headers": {}}


def _comparison(result, options: dict) -> dict[str, Any]:
    render = formats.renderer(options["format"], "comparison")
    return {"status": 200, "body": render(result), "headers": {
        "Diplo-Gate": "fail" if result.fails(options["fail_on"]) else "pass"}}


def whatif(pack, parts: dict, options: dict) -> dict[str, Any]:
    """The case against itself with fields changed: `diplo whatif --set`."""
    from ..analysis.whatif import whatif as run_whatif
    return _comparison(run_whatif(read(pack, parts["case"]), pack, options["sets"]), options)


def compare(pack, parts: dict, options: dict) -> dict[str, Any]:
    """Two cases: `diplo compare BASE PROPOSAL`."""
    from ..analysis.whatif import compare as run_compare
    return _comparison(run_compare(read(pack, parts["base"]), read(pack, parts["proposal"]),
                                   pack), options)


def sweep(pack, parts: dict, options: dict) -> dict[str, Any]:
    """The findings along one value: `diplo sweep`."""
    from ..analysis.sweep import sweep as run_sweep
    render = formats.renderer(options["format"], "sweep")
    result = run_sweep(read(pack, parts["case"]), pack, options["vary"], options["from"],
                       options["to"], options["steps"])
    return {"status": 200, "body": render(result), "headers": {}}


_OPS = {"assess": assess, "explain": explain, "whatif": whatif, "compare": compare,
        "sweep": sweep}
OPS = tuple(_OPS)
