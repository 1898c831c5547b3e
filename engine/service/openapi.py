"""The OpenAPI 3.1 description of the service (`GET /openapi.json`), its schemas generated from
the pydantic models that make the answers: the report of docs/report-format.md, the case it
reads, comparisons, sweeps, explanations, rules and problems. The same models serialise what
the endpoints send, so the description cannot drift from them."""
from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from .. import __version__
from ..analysis.explain import Explanation
from ..analysis.sweep import Sweep
from ..analysis.whatif import Comparison
from ..authoring.rule_detail import RuleDetail
from ..model import SEVERITIES, Case, PackRef, Report, RuleInfo
from .options import media_type
from .problems import Problem

REF = "#/components/schemas/{model}"


def _schemas() -> tuple[dict[tuple, dict], dict[str, Any]]:
    refs, top = models_json_schema(
        [(Report, "serialization"), (Case, "validation"), (Comparison, "serialization"),
         (Sweep, "serialization"), (Explanation, "serialization"),
         (RuleInfo, "serialization"), (RuleDetail, "serialization"),
         (PackRef, "serialization"), (Problem, "serialization")], ref_template=REF)
    return refs, top.get("$defs", {})


def _param(name: str, schema: dict, description: str, *, where: str = "query",
           required: bool = False) -> dict:
    return {"name": name, "in": where, "required": required, "description": description,
            "schema": schema}


def _format(offered: list[str], default: str) -> dict:
    return _param("format", {"type": "string", "enum": offered, "default": default},
                  "The output format (or by Accept: " + ", ".join(
                      f"{media_type(n)} for {n}" for n in offered) + ")")


BOOL = {"type": "boolean", "default": False}
SOURCE = _param("source", {"type": "string", "maxLength": 200},
                "The name errors and the report give the case, as a file name would be "
                "(never read); default <request>, or an uploaded file's name")
FAIL_ON = _param("fail_on", {"type": "string", "enum": list(SEVERITIES), "default": "high"},
                 "The severity at which a risk fails the gate (the Diplo-Gate header, and "
                 "what the junit, markdown and html formats say)")


def _problems(*statuses: int) -> dict:
    meaning = {400: "A bad option (its name is the problem's path)",
               401: "No bearer token, or not this server's (with --token-file)",
               404: "No such rule", 406: "No format the Accept header takes",
               413: "The body is over the limit", 415: "A body a case cannot be read from",
               422: "The case cannot be read, or is invalid: every problem with its file, "
                    "line, column and field path",
               503: "Every worker is busy and the queue is full (Retry-After: 1)",
               504: "The time limit ran out; the worker was stopped"}
    return {str(s): {"description": meaning[s], "content": {"application/problem+json": {
        "schema": {"$ref": REF.format(model="Problem")}}}} for s in statuses}


def _case_body(refs) -> dict:
    case = {"$ref": refs[(Case, "validation")]["$ref"]}
    return {"required": True, "description": "A case (docs/case-format.md) as YAML or JSON, "
            "or a workbook or CSV file; or multipart/form-data with the case as part `case` "
            "and, for a spreadsheet, its mapping as part `mapping`", "content": {
                "application/yaml": {"schema": {"type": "string"}},
                "application/json": {"schema": case},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "format": "binary"}},
                "text/csv": {"schema": {"type": "string"}},
                "multipart/form-data": {"schema": {"type": "object", "required": ["case"],
                                                   "properties": {
                    "case": {"type": "string", "format": "binary"},
                    "mapping": {"type": "string", "format": "binary"}}}}}}


def _answers(offered: list[str], schema: dict, description: str) -> dict:
    content = {}
    for name in offered:
        kind = media_type(name)
        content.setdefault(kind, {"schema": schema if name == "json" else {"type": "string"}})
    return {"200": {"description": description, "content": content}}


def describe(service) -> dict[str, Any]:
    """The OpenAPI document of `service` (engine/service/app.py): its formats are those of
    the registry, as it offers them."""
    refs, schemas = _schemas()

    def ref(model, mode="serialization"):
        return {"$ref": refs[(model, mode)]["$ref"]}
    offered = service.offered
    reports, comparisons = offered["reports"], offered["comparison"]
    gate_headers = {"Diplo-Gate": {"schema": {"type": "string", "enum": ["pass", "fail"]},
                                   "description": "Whether a risk fails the gate at fail_on"}}
    assess_answer = _answers(reports, ref(Report), "The report (docs/report-format.md), in "
                             "the format asked for")
    assess_answer["200"]["headers"] = {**gate_headers, "Diplo-Verdict": {
        "schema": {"type": "string", "enum": ["pass", "warn", "fail"]}}}
    comparison = _answers(comparisons, ref(Comparison), "Findings new, resolved and changed")
    comparison["200"]["headers"] = gate_headers
    body = _case_body(refs)
    case_errors = _problems(400, 401, 406, 413, 415, 422, 503, 504)
    paths = {
        "/v1/assess": {"post": {
            "summary": "Assess a case (diplo assess)", "operationId": "assess",
            "parameters": [_format(reports, "json"), SOURCE, FAIL_ON,
                           _param("explain", BOOL, "Every derived fact with its provenance"),
                           _param("details", BOOL, "The table format's details"),
                           _param("near_miss", BOOL, "The rules that came close to firing"),
                           _param("margin", {"type": "number", "minimum": 0, "maximum": 10,
                                             "default": 0.2},
                                  "With near_miss: how close, as a share of the threshold"),
                           _param("strict", BOOL, "Refuse a figure that looks mistyped"),
                           _param("summary", BOOL, "Verdicts and counts only (table, "
                                                   "markdown)"),
                           _param("max_chars", {"type": "integer", "minimum": 0},
                                  "The markdown memo's length limit")],
            "requestBody": body, "responses": {**assess_answer, **case_errors}}},
        "/v1/explain": {"post": {
            "summary": "Proof trees, why a rule did not fire, remedies (diplo explain)",
            "operationId": "explain",
            "parameters": [_format(["json", "table"], "json"), SOURCE,
                           _param("finding", {"type": "string"}, "One finding's id"),
                           _param("rule", {"type": "string"},
                                  "Why this rule did or did not fire"),
                           _param("remedies", BOOL, "The smallest change that clears each "
                                                    "risk")],
            "requestBody": body,
            "responses": {**_answers(["json", "table"], ref(Explanation), "The explanation"),
                          **case_errors}}},
        "/v1/whatif": {"post": {
            "summary": "The case against itself with fields changed (diplo whatif --set)",
            "operationId": "whatif",
            "parameters": [_format(comparisons, "json"), SOURCE, FAIL_ON,
                           _param("set", {"type": "array", "items": {"type": "string"}},
                                  "PATH=VALUE, repeatable (line_items.ID.amount=180)",
                                  required=True)],
            "requestBody": body, "responses": {**comparison, **case_errors}}},
        "/v1/compare": {"post": {
            "summary": "Compare a proposal with a base (diplo compare)",
            "operationId": "compare", "parameters": [_format(comparisons, "json"), FAIL_ON],
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["base", "proposal"], "properties": {
                    "base": {"type": "string", "format": "binary"},
                    "proposal": {"type": "string", "format": "binary"}}}}}},
            "responses": {**comparison, **case_errors}}},
        "/v1/sweep": {"post": {
            "summary": "The findings along one value (diplo sweep)", "operationId": "sweep",
            "parameters": [_format(offered["sweep"], "json"), SOURCE,
                           _param("vary", {"type": "string"}, "The number field to vary",
                                  required=True),
                           _param("from", {"type": "number"}, "The first value", required=True),
                           _param("to", {"type": "number"}, "The last value", required=True),
                           _param("steps", {"type": "integer", "minimum": 1, "maximum": 1000,
                                            "default": 10}, "Steps between from and to")],
            "requestBody": body,
            "responses": {**_answers(offered["sweep"], ref(Sweep), "The sweep"),
                          **case_errors}}},
        "/v1/packs": {"get": {
            "summary": "The packs loaded at start", "operationId": "packs",
            "responses": {"200": {"description": "The packs, bases first", "content": {
                "application/json": {"schema": {"type": "array", "items": ref(PackRef)}}}},
                **_problems(401)}}},
        "/v1/rules": {"get": {
            "summary": "The loaded rules (diplo rules list)", "operationId": "rules",
            "parameters": [_format(offered["rules"], "json")],
            "responses": {**_answers(offered["rules"], {"type": "array",
                                                        "items": ref(RuleInfo)}, "The rules"),
                          **_problems(400, 401, 406)}}},
        "/v1/rules/{rule_id}": {"get": {
            "summary": "One rule in full (diplo rules show)", "operationId": "rule",
            "parameters": [_param("rule_id", {"type": "string"}, "The rule's id",
                                  where="path", required=True),
                           _format(offered["rule"], "json")],
            "responses": {**_answers(offered["rule"], ref(RuleDetail), "The rule"),
                          **_problems(400, 401, 404, 406)}}},
        "/healthz": {"get": {"summary": "The process is up", "operationId": "healthz",
                             "responses": {"200": {"description": "Up"}}}},
        "/readyz": {"get": {"summary": "The workers have compiled their packs; one is alive",
                            "operationId": "readyz",
                            "responses": {"200": {"description": "Ready"},
                                          "503": {"description": "No worker is alive"}}}},
    }
    document = {
        "openapi": "3.1.0",
        "info": {"title": "diplo", "version": __version__,
                 "description": "Assess defence budget proposals against guidance on defence "
                                "diplomacy (docs/service.md)."},
        "paths": paths,
        "components": {"schemas": schemas},
    }
    if service.options.token is not None:
        document["components"]["securitySchemes"] = {"bearer": {"type": "http",
                                                                "scheme": "bearer"}}
        document["security"] = [{"bearer": []}]
        for open_path in ("/healthz", "/readyz"):   # health checks need no token
            paths[open_path]["get"]["security"] = []
    return document
