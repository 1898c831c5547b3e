"""Reading and checking case files: the case format's rules of validity, with positions."""
from __future__ import annotations

from pathlib import Path

from ..errors import CaseError
from ..model import Case
from .source import Document, read_document
from .validation import did_you_mean, validate

# sums may exceed a stated total by rounding only
_TOLERANCE = 1e-9


def load_case_document(path: str | Path, categories=None, *, display: str | None = None
                       ) -> Case:
    doc = read_document(path, display=display)
    case: Case = validate(Case, doc, CaseError, what="case")
    check_case(case, categories, doc)
    case._source = display or str(path)
    case._document = doc
    return case


def check_case(case: Case, categories=None, doc: Document | None = None) -> None:
    """The rules of validity that span several fields; `categories` are the loaded packs'."""
    doc = doc or getattr(case, "_document", None) or Document(
        getattr(case, "_source", None) or f"case {case.id}", None)

    def fail(message: str, path: tuple, key: bool = False):
        raise doc.error(CaseError, message, path, key=key)

    for list_name, items in (("line_items", case.line_items),
                             ("commitments", case.commitments)):
        first: dict[str, int] = {}
        for i, item in enumerate(items):
            if item.id in first:
                fail(f"duplicate id '{item.id}' (first used at {list_name}[{first[item.id]}])",
                     (list_name, i, "id"))
            first[item.id] = i
    if categories is not None:
        known = set(categories)
        for i, item in enumerate(case.line_items):
            if item.category not in known:
                fail(f"unknown category '{item.category}'{did_you_mean(item.category, known)} "
                     "(categories come from the loaded rule packs: `diplo rules categories`)",
                     ("line_items", i, "category"))
        for i, commitment in enumerate(case.commitments):
            seen = set()
            for j, category in enumerate(commitment.depends_on):
                if category not in known:
                    fail(f"unknown category '{category}'{did_you_mean(category, known)}",
                         ("commitments", i, "depends_on", j))
                if category in seen:
                    fail(f"category '{category}' is listed twice",
                         ("commitments", i, "depends_on", j))
                seen.add(category)
    if case.total is not None:
        amount = sum(item.amount for item in case.line_items)
        if amount > case.total.amount * (1 + _TOLERANCE) + _TOLERANCE:
            fail(f"the line items add up to {amount:,.6g}, more than the total of "
                 f"{case.total.amount:,.6g}", ("total", "amount"))
        priors = [item.prior for item in case.line_items if item.prior is not None]
        if case.total.prior is not None and sum(priors) > case.total.prior * (
                1 + _TOLERANCE) + _TOLERANCE:
            fail(f"the line items' prior amounts add up to {sum(priors):,.6g}, more than the "
                 f"prior total of {case.total.prior:,.6g}", ("total", "prior"))
    years: dict[int, int] = {}
    for i, entry in enumerate(case.history):
        if entry.fiscal_year >= case.fiscal_year:
            fail(f"history year {entry.fiscal_year} is not before the case's fiscal year "
                 f"{case.fiscal_year}", ("history", i, "fiscal_year"))
        if entry.fiscal_year in years:
            fail(f"history year {entry.fiscal_year} is repeated (first at "
                 f"history[{years[entry.fiscal_year]}])", ("history", i, "fiscal_year"))
        years[entry.fiscal_year] = i
