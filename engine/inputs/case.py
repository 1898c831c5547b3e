"""Reading and checking case files: the case format's rules of validity, with positions."""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import CaseError, DiploError
from ..model import Case
from .source import MAX_FILE_BYTES, Document, parse_yaml, read_document
from .validation import MAX_PROBLEMS, did_you_mean, validate

# sums may exceed a stated total by rounding only
_TOLERANCE = 1e-9

STDIN = "-"                 # the case argument that means standard input
STDIN_NAME = "<stdin>"      # how errors and reports name it


def load_case_document(path: str | Path, categories=None, *, display: str | None = None
                       ) -> Case:
    """Read and validate a case file (`-`: standard input, read as YAML, of which JSON is a
    part). `categories` are the loaded packs' (names, or a mapping of names to specs with a
    `group`)."""
    if str(path) == STDIN:
        display = display or STDIN_NAME
        doc = parse_yaml(_read_stdin(display), display)
    else:
        doc = read_document(path, display=display)
    return case_of_document(doc, categories, display or str(path))


def case_of_document(doc: Document, categories=None, source: str | None = None) -> Case:
    """A case from a document read from a file or received as text, validated; `source`
    names it in reports (the document's name when not given)."""
    case: Case = validate(Case, doc, CaseError, what="case", every=True)
    check_case(case, categories, doc)
    case._source = source or doc.name
    case._document = doc
    return case


def _read_stdin(name: str) -> str:
    stream = getattr(sys.stdin, "buffer", None)
    raw = stream.read(MAX_FILE_BYTES + 1) if stream is not None else \
        sys.stdin.read(MAX_FILE_BYTES + 1).encode("utf-8")
    if len(raw) > MAX_FILE_BYTES:
        raise CaseError(f"standard input is larger than the limit of {MAX_FILE_BYTES:,} bytes",
                        file=name)
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CaseError(f"is not valid UTF-8 (byte 0x{raw[exc.start]:02x})", file=name,
                        line=line) from None


def check_case(case: Case, categories=None, doc: Document | None = None) -> None:
    """The rules of validity that span several fields; `categories` are the loaded packs'
    (names, or a mapping of names to specs with a `group`). Every problem is reported, up to
    MAX_PROBLEMS of them."""
    doc = doc or getattr(case, "_document", None) or Document(
        getattr(case, "_source", None) or f"case {case.id}", None)
    problems: list[DiploError] = []

    def fail(message: str, path: tuple, key: bool = False):
        problems.append(doc.error(CaseError, message, path, key=key))

    line_ids: dict[str, int] = {}
    for list_name, items in (("line_items", case.line_items),
                             ("commitments", case.commitments)):
        first: dict[str, int] = {}
        for i, item in enumerate(items):
            if item.id in first:
                fail(f"duplicate id '{item.id}' (first used at {list_name}[{first[item.id]}])",
                     (list_name, i, "id"))
            else:
                first[item.id] = i
        if list_name == "line_items":
            line_ids = first
    known = _check_categories(case, categories, fail)
    _check_links(case, known, line_ids, fail)
    _check_totals(case, fail)
    _check_history(case, known, line_ids, fail)
    if problems:
        problems.sort(key=lambda p: (p.line or 0, p.column or 0))   # top to bottom
        raise CaseError.several(problems[:MAX_PROBLEMS],
                                more=max(0, len(problems) - MAX_PROBLEMS))


def _check_categories(case: Case, categories, fail) -> set[str] | None:
    """The categories a case may use (the packs' and its own), or None when the packs' are
    not known; the case's own categories checked against the packs'."""
    if categories is None:
        return None
    known = set(categories)
    groups = {getattr(spec, "group", None) for spec in (
        categories.values() if isinstance(categories, dict) else ())} - {None}
    for name, spec in case.categories.items():
        if name in known:
            fail(f"category '{name}' is already declared by the loaded rule packs: use it, or "
                 "give yours another name", ("categories", name), key=True)
        elif groups and spec.group not in groups:
            fail(f"unknown group '{spec.group}'{did_you_mean(spec.group, groups)} (a case's "
                 f"own category joins a group of the loaded packs: {', '.join(sorted(groups))})",
                 ("categories", name, "group"))
    known |= set(case.categories)
    for i, item in enumerate(case.line_items):
        if item.category not in known:
            fail(f"unknown category '{item.category}'{did_you_mean(item.category, known)} "
                 "(categories come from the loaded rule packs: `diplo rules categories`; a "
                 "case may declare its own under `categories`)", ("line_items", i, "category"))
    return known


def _check_links(case: Case, known, line_ids: dict[str, int], fail) -> None:
    for i, commitment in enumerate(case.commitments):
        seen: set[str] = set()
        for j, category in enumerate(commitment.depends_on):
            if known is not None and category not in known:
                fail(f"unknown category '{category}'{did_you_mean(category, known)}",
                     ("commitments", i, "depends_on", j))
            if category in seen:
                fail(f"category '{category}' is listed twice",
                     ("commitments", i, "depends_on", j))
            seen.add(category)
        seen = set()
        for j, line in enumerate(commitment.funded_by):
            if line not in line_ids:
                fail(f"no line item '{line}'{did_you_mean(line, line_ids)} (funded_by names "
                     "the ids of line items)", ("commitments", i, "funded_by", j))
            if line in seen:
                fail(f"line item '{line}' is listed twice", ("commitments", i, "funded_by", j))
            seen.add(line)
        seen = set()
        for j, name in enumerate(commitment.guidelines):
            if name in seen:
                fail(f"'{name}' is listed twice", ("commitments", i, "guidelines", j))
            seen.add(name)
    seen = set()
    for j, name in enumerate(case.memberships):
        if name in seen:
            fail(f"'{name}' is listed twice", ("memberships", j))
        seen.add(name)
    programmes = {item.programme for item in case.line_items if item.programme}
    for i, item in enumerate(case.line_items):
        if item.id in programmes and item.programme != item.id:
            fail(f"'{item.id}' is the name of a programme other line items belong to, but this "
                 "line is not in it: name the programme differently, or add "
                 f"`programme: {item.id}` here", ("line_items", i, "id"))


def _check_totals(case: Case, fail) -> None:
    if case.total is None:
        return
    amount = sum(item.amount for item in case.line_items)
    if amount > case.total.amount * (1 + _TOLERANCE) + _TOLERANCE:
        fail(f"the line items add up to {amount:,.6g}, more than the total of "
             f"{case.total.amount:,.6g}", ("total", "amount"))
    priors = [item.prior for item in case.line_items if item.prior is not None]
    if case.total.prior is not None and sum(priors) > case.total.prior * (
            1 + _TOLERANCE) + _TOLERANCE:
        fail(f"the line items' prior amounts add up to {sum(priors):,.6g}, more than the "
             f"prior total of {case.total.prior:,.6g}", ("total", "prior"))


def _check_history(case: Case, known, line_ids: dict[str, int], fail) -> None:
    years: dict[int, int] = {}
    for i, entry in enumerate(case.history):
        shown = entry.fiscal_year_label or entry.fiscal_year
        if entry.fiscal_year >= case.fiscal_year:
            fail(f"history year {shown} is not before the case's fiscal year "
                 f"{case.fiscal_year_label or case.fiscal_year}", ("history", i, "fiscal_year"))
        if entry.fiscal_year in years:
            fail(f"history year {shown} is repeated (first at "
                 f"history[{years[entry.fiscal_year]}])", ("history", i, "fiscal_year"))
        else:
            years[entry.fiscal_year] = i
        if entry.total is None and not entry.line_items and not entry.categories:
            fail("a history entry needs a total, line_items or categories (the amounts of "
                 "that year)", ("history", i))
        for line in entry.line_items:
            if line not in line_ids:
                fail(f"no line item '{line}' in this case{did_you_mean(line, line_ids)}",
                     ("history", i, "line_items", line), key=True)
        for category in entry.categories:
            if known is not None and category not in known:
                fail(f"unknown category '{category}'{did_you_mean(category, known)}",
                     ("history", i, "categories", category), key=True)
