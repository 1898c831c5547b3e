"""Errors as JSON problem details (RFC 9457), carrying what the command line prints: each
problem's line as `diplo: error:` shows it (after that prefix), and its message, file, line,
column and field path apart, for a program to point at the field.

Plain data and no web framework: the worker processes build problems from the errors they
catch, and the service sends them as they come.
"""
from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..errors import CaseError, DiploError, InputError, MappingError, SpreadsheetError

MEDIA_TYPE = "application/problem+json"

# A problem's `type` names the kind of problem (RFC 9457, section 3.1.1): tag URIs, which
# identify without pretending to be pages to fetch; docs/service.md lists them.
_TAG = "tag:diplo,2026:problem/"
INVALID_CASE = "invalid-case"
BAD_OPTION = "bad-option"
TOO_LARGE = "too-large"
SATURATED = "saturated"
TIME_LIMIT = "time-limit"
UNAUTHORIZED = "unauthorized"
NOT_FOUND = "not-found"
NOT_ACCEPTABLE = "not-acceptable"
METHOD = "method-not-allowed"
INTERNAL = "internal-error"
NOT_READY = "not-ready"

TITLES = {
    INVALID_CASE: "The case is invalid",
    BAD_OPTION: "An option of the request is invalid",
    TOO_LARGE: "The request's body is over the limit",
    SATURATED: "Every worker is busy and the queue is full",
    TIME_LIMIT: "The request took longer than the time limit",
    UNAUTHORIZED: "A bearer token is required",
    NOT_FOUND: "Not found",
    NOT_ACCEPTABLE: "No format of the answer is acceptable",
    METHOD: "Method not allowed",
    INTERNAL: "Internal error",
    NOT_READY: "Not ready",
}


class ProblemItem(BaseModel):
    """One problem of an input, as the command line prints it and in parts."""

    model_config = ConfigDict(extra="forbid")

    detail: str = Field(description="The problem as `diplo` prints it after 'diplo: error: '")
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    path: str | None = Field(None, description="The field path, such as "
                             "line_items[3].amount, or the option")


class Problem(BaseModel):
    """RFC 9457 problem details, with diplo's members `errors` and `more`."""

    model_config = ConfigDict(extra="forbid")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[ProblemItem] = Field(default_factory=list,
                                      description="Every problem found, the first as detail")
    more: int = Field(0, description="Problems found beyond those listed")


def type_uri(kind: str) -> str:
    return _TAG + kind


def problem(kind: str, status: int, detail: str, *, errors: list[ProblemItem] | None = None,
            more: int = 0) -> dict[str, Any]:
    return Problem(type=type_uri(kind), title=TITLES[kind], status=status, detail=detail,
                   errors=errors or [], more=more).model_dump(exclude_none=True)


def kind_of(error: DiploError) -> tuple[str, int]:
    """What an error of diplo is to a client: a case that cannot be read or is invalid is
    unprocessable content (422); anything else a request can cause is a bad option (400)."""
    if isinstance(error, (CaseError, InputError, SpreadsheetError, MappingError)):
        return INVALID_CASE, 422
    return BAD_OPTION, 400


def from_error(error: DiploError) -> dict[str, Any]:
    """The problem details of an error of diplo: `detail` is its first line as the command
    line prints it, `errors` every problem of it."""
    kind, status = kind_of(error)
    problems = error.problems or [error]
    items = [ProblemItem(detail=_one_line(str(p)), message=p.message, file=p.file,
                         line=p.line, column=p.column, path=p.path) for p in problems]
    return problem(kind, status, _one_line(str(error)), errors=items, more=error.hidden)


def _one_line(text: str) -> str:
    # as the command line's print_error does, so that both give the same line
    return re.sub(r"\s*[\r\n]+\s*", " ", text.strip())
