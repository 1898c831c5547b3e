"""Writing what the spreadsheet reader reads: the YAML case of `diplo import` (each figure with
the cell it came from), and a case written back as a sheet (`diplo export`: .xlsx or CSV) in
the layout `engine.inputs.spreadsheet` reads, so that exporting and importing give the case
back. It lives beside the reader because the two share that layout; it needs nothing above
the case model."""
from __future__ import annotations

import csv
import io
from typing import Any

import yaml

from ..errors import UsageError
from ..model import Case
from .spreadsheet import (
    CASE_FIELDS,
    COMMITMENT_FIELDS,
    LINE_FIELDS,
    TITLES,
    TRANSPARENCY_FIELDS,
    Imported,
)

EXPORT_FORMATS = ("xlsx", "csv")


def _scalar(value: Any) -> str:
    """One value as YAML text on one line (quoted where YAML would read it otherwise)."""
    text = yaml.safe_dump([value], default_flow_style=True, allow_unicode=True,
                          width=1 << 30).strip()
    return text[1:-1]


def case_yaml(imported: Imported, *, command: str = "diplo import") -> str:
    """The imported case as YAML, each value read from a cell noted beside it."""
    mapping = imported.mapping
    head = [f"# Imported by `{command}` from {imported.name}"
            + (f" with the mapping {mapping.source}" if mapping.source else "") + ".",
            "# Beside each value, the cell it was read from; each line item's sources name "
            "its row."]
    lines: list[str] = []

    def note(path: tuple) -> str:
        cell = imported.cells.get(path)
        return f"  # {cell}" if cell and not cell.startswith(imported.name) else ""

    def emit(value: Any, path: tuple, indent: str, first: str | None = None) -> None:
        # `first` is the prefix of the first line ("- " of a list entry)
        for n, (key, item) in enumerate(value.items()):
            pad = (first if n == 0 and first is not None else indent)
            if isinstance(item, dict):
                lines.append(f"{pad}{_scalar(key)}:{note(path + (key,))}")
                emit(item, path + (key,), indent + "  ")
            elif isinstance(item, list) and item and isinstance(item[0], dict):
                lines.append(f"{pad}{_scalar(key)}:")
                for j, entry in enumerate(item):
                    emit(entry, path + (key, j), indent + "    ", first=indent + "  - ")
            else:
                lines.append(f"{pad}{_scalar(key)}: {_scalar(item)}{note(path + (key,))}")

    emit(imported.data, (), "")
    return "\n".join(head + lines) + "\n"


# --- a case back as a sheet --------------------------------------------------------------------

def _cell(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
        return int(value)
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def _sheets(case: Case) -> tuple[dict[str, list[list[Any]]], list[str]]:
    """The case as the reader's parts: a table per part, and what a sheet cannot hold."""
    data = case.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    left_out = []
    for key in ("history", "categories"):
        if data.get(key):
            left_out.append(key)
    if case.ranges():
        left_out.append("the ranges of estimates (their values are written)")

    def value(v):
        return v["value"] if isinstance(v, dict) and "value" in v else v

    pairs = [["field", "value"]]
    for key in CASE_FIELDS:
        if key in ("total", "total_prior"):
            continue
        if key == "fiscal_year" and case.fiscal_year_label:
            pairs.append([key, case.fiscal_year_label])
        elif key in data and data[key] not in ([], None):
            pairs.append([key, _cell(value(data[key]))])
    if "total" in data:
        pairs.append(["total", _cell(value(data["total"]["amount"]))])
        if data["total"].get("prior") is not None:
            pairs.append(["total_prior", _cell(value(data["total"]["prior"]))])
        if data["total"].get("change_reason", "unknown") != "unknown":
            left_out.append("total.change_reason")
    lines = [list(LINE_FIELDS)]
    for item in data["line_items"]:
        lines.append([_cell(value(item.get(key))) if item.get(key) not in ([], None) else None
                      for key in LINE_FIELDS])
    sheets = {"line_items": lines, "case": pairs}
    if data.get("commitments"):
        sheets["commitments"] = [list(COMMITMENT_FIELDS)] + [
            [_cell(c.get(key)) if c.get(key) not in ([], None) else None
             for key in COMMITMENT_FIELDS] for c in data["commitments"]]
    stated = {k: v for k, v in data.get("transparency", {}).items() if v is not None}
    if stated:
        sheets["transparency"] = [["field", "value"]] + [
            [key, _cell(value(stated[key]))] for key in TRANSPARENCY_FIELDS if key in stated]
    return sheets, left_out


def export_case(case: Case, format_name: str) -> tuple[bytes, list[str]]:
    """The case as an .xlsx workbook (a sheet per part) or a CSV file (the line items, then
    a block per other part under its title), and what the sheet could not hold."""
    if format_name not in EXPORT_FORMATS:
        raise UsageError(f"unknown format '{format_name}'; formats are "
                         f"{', '.join(EXPORT_FORMATS)}", path="--format")
    sheets, left_out = _sheets(case)
    if format_name == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerows(sheets["line_items"])
        for part in ("commitments", "transparency", "case"):
            if part in sheets:
                writer.writerow([])
                writer.writerow([TITLES[part]])
                writer.writerows(sheets[part])
        return out.getvalue().encode("utf-8"), left_out
    try:
        import openpyxl
    except ImportError:
        raise UsageError('writing .xlsx workbooks needs openpyxl: pip install '
                         '"diplo[spreadsheets]"', path="--format") from None
    book = openpyxl.Workbook()
    first = True
    for part in ("line_items", "commitments", "transparency", "case"):
        if part not in sheets:
            continue
        sheet = book.active if first else book.create_sheet()
        sheet.title = "Lines" if part == "line_items" else TITLES[part]
        first = False
        for row in sheets[part]:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return _fixed_zip_times(out.getvalue()), left_out


def _fixed_zip_times(data: bytes) -> bytes:
    """The same workbook with every member dated 1980-01-01 and the document's dates cleared,
    so that one case exports to the same bytes each time."""
    import re
    import zipfile
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*",
                              rb"\g<1>1980-01-01T00:00:00Z", body)
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(fixed, body)
    return out.getvalue()
