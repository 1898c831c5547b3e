"""The layout of a budget spreadsheet and reading its cells: which fields a sheet's columns
may hold and how each is read, the mapping file that names the columns and maps budget headings
to categories, and the cells of a workbook (openpyxl, imported only here and only when a workbook
is read) or a CSV file, with merged cells filled in. `engine.inputs.spreadsheet` turns them into
a case."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MappingError, SpreadsheetError
from .source import read_document, read_text
from .validation import did_you_mean

SHEET_SUFFIXES = (".xlsx", ".xlsm", ".csv")
MAX_WORKBOOK_BYTES = 20 * 1024 * 1024   # a budget is a few hundred kilobytes
MAX_ROWS = 10_000
MAX_COLUMNS = 200
PARTS = ("line_items", "commitments", "transparency", "case")
TITLES = {"line_items": "Line items", "commitments": "Commitments",
          "transparency": "Transparency", "case": "Case"}

# how each field's cell is read: the kinds of `_convert`
LINE_FIELDS = {"id": "slug", "category": "category", "amount": "amount", "prior": "amount",
               "partners": "list", "description": "text", "programme": "slug",
               "change_reason": "enum", "financing": "enum", "sources": "list",
               "notes": "text"}
COMMITMENT_FIELDS = {"id": "slug", "kind": "enum", "partners": "list",
                     "depends_on": "categories", "funded_by": "slugs", "status": "enum",
                     "ends_year": "year", "guidelines": "names", "sources": "list",
                     "notes": "text"}
TRANSPARENCY_FIELDS = {"budget_publication": "enum", "legislative_review": "bool",
                       "external_audit": "enum", "audit_reports_published": "bool",
                       "secret_share_pct": "percent", "off_budget_share_pct": "percent",
                       "in_year_reporting": "bool", "civil_society_oversight": "bool",
                       "audit_opinion": "enum", "un_milex_reporting": "bool",
                       "vienna_document_reporting": "bool", "secret_share_disclosed": "bool"}
CASE_FIELDS = {"id": "slug", "title": "text", "country": "text", "fiscal_year": "fiscal_year",
               "currency": "currency", "unit": "enum", "gdp": "amount",
               "inflation_pct": "percent", "threat_environment": "enum",
               "memberships": "names", "contingency_mechanism": "enum",
               "armed_forces": "bool", "sources": "list", "notes": "text",
               "accept_warnings": "names", "total": "amount", "total_prior": "amount"}
FIELDS = {"line_items": LINE_FIELDS, "commitments": COMMITMENT_FIELDS,
          "transparency": TRANSPARENCY_FIELDS, "case": CASE_FIELDS}
REQUIRED_CASE = ("id", "title", "country", "fiscal_year", "currency")


def _norm(text: Any) -> str:
    """A heading as compared: case, spacing and underscores do not matter."""
    return " ".join(str(text).replace("_", " ").split()).casefold()


# --- the mapping file -------------------------------------------------------------------------

@dataclass
class Mapping:
    """What a mapping file says; the default (no file) reads columns named as the fields."""

    source: str | None = None
    case: dict[str, Any] = field(default_factory=dict)
    transparency: dict[str, Any] = field(default_factory=dict)
    sheets: dict[str, str] = field(default_factory=dict)
    blocks: dict[str, str] = field(default_factory=lambda: dict(TITLES))
    columns: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    categories: dict[str, str] = field(default_factory=dict)   # normalised heading -> category
    headings: dict[str, str] = field(default_factory=dict)     # normalised -> as written
    total_label: str = "total"
    decimal: str = "."

    def names(self, part: str, name: str) -> list[str]:
        """The headings a field's column may have, normalised."""
        return [_norm(h) for h in self.columns.get(part, {}).get(name, [name])]


_MAPPING_KEYS = ("case", "transparency", "sheets", "blocks", "columns", "categories",
                 "total_label", "decimal")


def load_mapping(path: str | Path, *, display: str | None = None) -> Mapping:
    """Read and check a mapping file (docs/spreadsheets.md); MappingError names its line
    (in the file, or as `display` when given)."""
    doc = read_document(path, display=display)
    data = doc.data

    def fail(message: str, where: tuple) -> MappingError:
        return doc.error(MappingError, message, where)

    if not isinstance(data, dict):
        raise fail("expected a mapping with keys such as columns, categories and case", ())
    for key in data:
        if key not in _MAPPING_KEYS:
            raise doc.error(MappingError, f"unknown key '{key}'{did_you_mean(key, _MAPPING_KEYS)}"
                            f" (keys: {', '.join(_MAPPING_KEYS)})", (key,), key=True)
    mapping = Mapping(source=display or str(path))
    for key in ("case", "transparency", "sheets", "blocks", "columns", "categories"):
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise fail(f"expected a mapping, found {type(value).__name__}", (key,))
    for part_key, allowed in (("case", CASE_FIELDS), ("transparency", TRANSPARENCY_FIELDS)):
        for name, value in data.get(part_key, {}).items():
            if name not in allowed:
                raise doc.error(MappingError, f"unknown field '{name}'"
                                f"{did_you_mean(name, allowed)}", (part_key, name), key=True)
            getattr(mapping, part_key)[name] = value
    for key in ("sheets", "blocks"):
        for part, name in data.get(key, {}).items():
            if part not in PARTS:
                raise doc.error(MappingError, f"unknown part '{part}'{did_you_mean(part, PARTS)}"
                                f" (parts: {', '.join(PARTS)})", (key, part), key=True)
            if not isinstance(name, str) or not name.strip():
                raise fail("expected the name of a sheet or block", (key, part))
            getattr(mapping, key)[part] = name
    columns = data.get("columns", {})
    # `columns:` may name line item columns directly, or give each part its own
    flat = {k: v for k, v in columns.items() if k not in PARTS}
    by_part = {k: v for k, v in columns.items() if k in PARTS}
    if flat:
        by_part = {**by_part, "line_items": {**flat, **by_part.get("line_items", {})}}
    for part, fields in by_part.items():
        if not isinstance(fields, dict):
            raise fail("expected a mapping of fields to column headings", ("columns", part))
        for name, heading in fields.items():
            where = ("columns", name) if part == "line_items" and name in flat \
                else ("columns", part, name)
            if name not in FIELDS[part]:
                raise doc.error(MappingError, f"unknown field '{name}'"
                                f"{did_you_mean(name, FIELDS[part])}", where, key=True)
            headings = heading if isinstance(heading, list) else [heading]
            if not headings or not all(isinstance(h, (str, int)) and str(h).strip()
                                       for h in headings):
                raise fail("expected a column heading, or a list of them", where)
            mapping.columns.setdefault(part, {})[name] = [str(h) for h in headings]
    for heading, category in data.get("categories", {}).items():
        if not isinstance(category, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", category):
            raise fail(f"expected a category name (lower case, such as joint_exercises), "
                       f"found {category!r}", ("categories", heading))
        mapping.categories[_norm(heading)] = category
        mapping.headings[_norm(heading)] = str(heading)
    for key in ("total_label", "decimal"):
        if key in data:
            value = data[key]
            if not isinstance(value, str) or (key == "decimal" and value not in (".", ",")):
                raise fail("expected '.' or ','" if key == "decimal" else "expected text",
                           (key,))
            setattr(mapping, key, _norm(value) if key == "total_label" else value)
    return mapping


# --- reading cells ----------------------------------------------------------------------------

@dataclass
class Cell:
    value: Any
    percent: bool = False        # formatted as a percentage (a workbook's 0.5% is 0.005)
    formula: bool = False        # a formula whose saved value is missing


@dataclass
class Grid:
    """One sheet (a CSV file is one sheet without a name): its rows of cells, merged cells
    filled with the value of their range."""

    name: str | None
    rows: list[list[Cell]]


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def read_grids(path: str | Path, *, display: str | None = None) -> list[Grid]:
    name = display or str(path)
    if Path(path).suffix.lower() == ".csv":
        return [_csv_grid(read_text(path, display=name), name)]
    return _workbook_grids(path, name)


def _csv_grid(text: str, name: str) -> Grid:
    import csv
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample.strip() else csv.excel
    except csv.Error:
        dialect = csv.excel
    rows = []
    for i, row in enumerate(csv.reader(text.splitlines(), dialect)):
        if i >= MAX_ROWS:
            raise SpreadsheetError(f"has more than {MAX_ROWS:,} rows", file=name)
        rows.append([Cell(value) for value in row[:MAX_COLUMNS]])
    return Grid(None, rows)


def _workbook_grids(path: str | Path, name: str) -> list[Grid]:
    try:
        import openpyxl
    except ImportError:
        raise SpreadsheetError('reading .xlsx workbooks needs openpyxl: pip install '
                               '"diplo[spreadsheets]"', file=name) from None
    import warnings
    import zipfile
    p = Path(path)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise SpreadsheetError("no such file", file=name) from None
    except OSError as exc:
        raise SpreadsheetError(f"cannot read: {exc.strerror or exc}", file=name) from None
    if not p.is_file():
        raise SpreadsheetError("is not a regular file", file=name)
    if size > MAX_WORKBOOK_BYTES:
        raise SpreadsheetError(f"file is {size:,} bytes; the limit is {MAX_WORKBOOK_BYTES:,}",
                               file=name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # openpyxl warns about styles it does not know
            # the saved values of formulas (what the spreadsheet program showed), and the
            # formulas themselves to tell an empty cell from a formula never calculated
            values = openpyxl.load_workbook(p, data_only=True)
            formulas = openpyxl.load_workbook(p, data_only=False)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        raise SpreadsheetError(f"is not an .xlsx workbook openpyxl can read ({exc})",
                               file=name) from None
    except Exception as exc:  # openpyxl's own errors (InvalidFileException and others)
        raise SpreadsheetError(f"is not an .xlsx workbook openpyxl can read "
                               f"({type(exc).__name__}: {exc})", file=name) from None
    grids = []
    for sheet in values.worksheets:
        if sheet.max_row > MAX_ROWS:
            raise SpreadsheetError(f"has more than {MAX_ROWS:,} rows", file=f"{name}, sheet "
                                   f"{sheet.title}")
        raw = formulas[sheet.title]
        width = min(sheet.max_column, MAX_COLUMNS)
        rows = []
        for r, row in enumerate(sheet.iter_rows(max_col=width), 1):
            cells = []
            for c, cell in enumerate(row, 1):
                value = cell.value
                formula = value is None and isinstance(raw.cell(r, c).value, str) \
                    and raw.cell(r, c).value.startswith("=")
                cells.append(Cell(value, "%" in (cell.number_format or ""), formula))
            rows.append(cells)
        for merged in sheet.merged_cells.ranges:
            top = sheet.cell(merged.min_row, merged.min_col)
            source = Cell(top.value, "%" in (top.number_format or ""))
            for r in range(merged.min_row, merged.max_row + 1):
                for c in range(merged.min_col, min(merged.max_col, width) + 1):
                    rows[r - 1][c - 1] = source
        grids.append(Grid(sheet.title, rows))
    return grids
