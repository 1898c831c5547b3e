"""Cases from spreadsheets: a workbook (.xlsx) or a CSV file whose rows are the budget's line
items, with optional sheets or blocks for commitments, transparency and the case's own fields,
read into a case (docs/spreadsheets.md).

A *mapping file* (YAML) says which column holds which field, maps the ministry's own budget
headings to the categories of the loaded packs, and may give the case's fields outright. Every
value read keeps the cell it came from, so that an error names the workbook, sheet and cell
(`budget.xlsx, sheet Lines, cell C14: amount 'n/a' is not a number`), and so does the YAML
written from it. openpyxl reads workbooks; it is imported only when a workbook is read
(`pip install "diplo[spreadsheets]"`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CaseError, SpreadsheetError
from ..model import Case
from .sheets import (  # noqa: F401 (the layout is named from here too)
    CASE_FIELDS,
    COMMITMENT_FIELDS,
    FIELDS,
    LINE_FIELDS,
    PARTS,
    REQUIRED_CASE,
    SHEET_SUFFIXES,
    TITLES,
    TRANSPARENCY_FIELDS,
    Cell,
    Grid,
    Mapping,
    _norm,
    column_letter,
    load_mapping,
    read_grids,
)
from .source import Document, format_path
from .validation import did_you_mean

_TRUE = {"true", "yes", "y", "1", "x"}
_FALSE = {"false", "no", "n", "0"}
_DASHES = {"-", "\u2013", "\u2014"}     # accounting sheets write a zero as a dash

# --- cells into values ------------------------------------------------------------------------

class _Reader:
    """Turns cells into case values, raising SpreadsheetError at the cell."""

    def __init__(self, name: str, mapping: Mapping, categories):
        self.name = name
        self.mapping = mapping
        self.categories = set(categories or ())

    def where(self, grid: Grid, row: int, col: int | None = None) -> str:
        sheet = f"sheet {grid.name}, " if grid.name is not None else ""
        return f"{sheet}cell {column_letter(col)}{row + 1}" if col is not None \
            else f"{sheet}row {row + 1}"

    def fail(self, where: str, message: str) -> SpreadsheetError:
        return SpreadsheetError(message, file=f"{self.name}, {where}")

    def convert(self, kind: str, field_name: str, cell: Cell, where: str) -> Any:
        """The value of a cell for a field of `kind`, or None when the cell is empty."""
        value = cell.value
        if cell.formula:
            raise self.fail(where, f"{field_name}: the cell holds a formula with no saved value "
                            "(the workbook was written by a program that does not calculate): "
                            "open and save it in a spreadsheet program, or type the value")
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            return None
        if kind in ("amount", "percent"):
            return self.number(kind, field_name, value, cell.percent, where)
        if kind in ("year", "fiscal_year"):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, str) and re.fullmatch(r"\d{4}", value):
                value = int(value)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if kind == "fiscal_year" and isinstance(value, str):
                return value            # a label such as 2026-27; the case format checks it
            raise self.fail(where, f"{field_name} {_shown(value)} is not a year")
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = _norm(value)
            if text in _TRUE or text in _FALSE:
                return text in _TRUE
            raise self.fail(where, f"{field_name} {_shown(value)} is not yes or no")
        text = _text(value)
        if kind == "text":
            return text
        if kind == "currency":
            return text.upper()
        if kind == "slug":
            return _slug(text)
        if kind == "enum":
            return re.sub(r"[\s-]+", "_", text.strip().casefold())
        items = [part.strip() for part in re.split(r"[;\n]" if re.search(r"[;\n]", text)
                                                   else ",", text) if part.strip()]
        if kind == "list":
            return items
        if kind == "slugs":
            return [_slug(item) for item in items]
        if kind == "names":
            return [item.casefold() for item in items]
        if kind == "category":
            return self.category(text, where)
        if kind == "categories":
            return [self.category(item, where) for item in items]
        raise AssertionError(kind)  # pragma: no cover

    def number(self, kind, field_name, value, percent: bool, where: str):
        if isinstance(value, bool):
            raise self.fail(where, f"{field_name} {_shown(value)} is not a number")
        if isinstance(value, (int, float)):
            if percent:
                if kind != "percent":
                    raise self.fail(where, f"{field_name} is formatted as a percentage "
                                    f"({value:.6g} is {value * 100:.6g}%); an amount is a sum "
                                    "of money")
                value = value * 100
            return _tidy(value)
        text = str(value).replace("\u00a0", " ").replace("\u202f", " ").strip()
        if text in _DASHES:      # accounting sheets write a zero as a dash
            return 0
        sign = -1 if text.startswith("(") and text.endswith(")") else 1
        text = text.strip("()").strip()
        has_percent = text.endswith("%")
        text = text.rstrip("%").strip()
        if has_percent and kind != "percent":
            raise self.fail(where, f"{field_name} {_shown(value)} is a percentage; an amount "
                            "is a sum of money")
        decimal = self.mapping.decimal
        thousands = "," if decimal == "." else "."
        compact = re.sub(r"[ ']", "", text)
        if re.fullmatch(rf"[-+]?\d{{1,3}}(\{thousands}\d{{3}})+(\{decimal}\d+)?", compact):
            compact = compact.replace(thousands, "")
        compact = compact.replace(decimal, ".")
        try:
            number = float(compact)
        except ValueError:
            raise self.fail(where, f"{field_name} {_shown(value)} is not a number") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise self.fail(where, f"{field_name} {_shown(value)} is not a number")
        return _tidy(sign * number)

    def category(self, heading: str, where: str) -> str:
        key = _norm(heading)
        if key in self.mapping.categories:
            return self.mapping.categories[key]
        as_name = re.sub(r"[\s-]+", "_", heading.strip().casefold())
        if not self.categories or as_name in self.categories:
            return as_name
        options = list(self.mapping.headings.values()) + sorted(self.categories)
        hint = did_you_mean(heading, options)
        where_to = (f"add it under `categories:` in {self.mapping.source}" if self.mapping.source
                    else "map it to one in a mapping file (--map), under `categories:`")
        raise self.fail(where, f"budget heading '{heading}' is not mapped to a category{hint} "
                        f"({where_to}; the categories: `diplo rules categories`)")


def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _tidy(number: float):
    """95.0 -> 95, so that the YAML reads as the sheet did."""
    number = round(number, 10)
    return int(number) if float(number).is_integer() and abs(number) < 2 ** 53 else number


def _shown(value) -> str:
    text = str(value)
    return repr(text if len(text) <= 40 else text[:39] + "\u2026")


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.casefold()).strip("-")
    return slug or text


# --- sheets and blocks into parts -------------------------------------------------------------

@dataclass
class Imported:
    """A case read from a spreadsheet, before validation: its data, and the cell or row each
    value came from (by field path) for errors and source notes."""

    name: str
    data: dict[str, Any]
    cells: dict[tuple, str]
    rows: dict[int, str]                  # line item index -> "sheet Lines, row 14"
    mapping: Mapping


def _empty(row: list[Cell]) -> bool:
    return all((c.value is None and not c.formula)
               or (isinstance(c.value, str) and not c.value.strip()) for c in row)


def _title_of(row: list[Cell]) -> str | None:
    filled = [c.value for c in row if not _empty([c])]
    # a merged title spreads one value over several cells
    if filled and all(v == filled[0] for v in filled) and isinstance(filled[0], str):
        return _norm(filled[0])
    return None


def _blocks(grid: Grid, mapping: Mapping) -> dict[str, tuple[int, int]]:
    """The parts whose block title stands alone on a row of the sheet: part -> (first row,
    end); rows before the first title belong to no part."""
    titles = {_norm(t): part for part, t in mapping.blocks.items()}
    starts = [(i, titles[t]) for i, row in enumerate(grid.rows)
              if (t := _title_of(row)) in titles]
    found = {}
    for j, (start, part) in enumerate(starts):
        end = starts[j + 1][0] if j + 1 < len(starts) else len(grid.rows)
        found.setdefault(part, (start + 1, end))
    return found


def _locate(grids: list[Grid], mapping: Mapping, reader: _Reader
            ) -> dict[str, tuple[Grid, int, int]]:
    """Where each part is: a sheet the mapping names, else a sheet or a block titled as the
    part; line items default to the first sheet up to its first block title."""
    by_name = {_norm(g.name): g for g in grids if g.name is not None}
    found: dict[str, tuple[Grid, int, int]] = {}
    for part, sheet in mapping.sheets.items():
        grid = by_name.get(_norm(sheet))
        if grid is None:
            names = [g.name for g in grids if g.name is not None]
            raise SpreadsheetError(f"no sheet '{sheet}'{did_you_mean(sheet, names)} (sheets: "
                                   f"{', '.join(names) or 'none'}; named in "
                                   f"{mapping.source or 'the mapping'})", file=reader.name)
        blocks = _blocks(grid, mapping)
        start, end = blocks.get(part, (0, min([s - 1 for s, _ in blocks.values()],
                                              default=len(grid.rows))))
        found[part] = (grid, start, end)
    for part in PARTS:
        if part in found:
            continue
        grid = by_name.get(_norm(mapping.blocks.get(part, TITLES[part])))
        if grid is not None and grid is not (found.get("line_items") or (None,))[0]:
            blocks = _blocks(grid, mapping)
            found[part] = (grid, *blocks.get(part, (0, len(grid.rows))))
            continue
        for grid in grids:
            blocks = _blocks(grid, mapping)
            if part in blocks:
                found[part] = (grid, *blocks[part])
                break
    if "line_items" not in found and grids:
        claimed = {id(g) for g, _, _ in found.values()}
        grid = next((g for g in grids if id(g) not in claimed), grids[0])
        blocks = _blocks(grid, mapping)
        found["line_items"] = (grid, 0, min([s - 1 for s, _ in blocks.values()],
                                            default=len(grid.rows)))
    return found


def _table(part: str, grid: Grid, start: int, end: int, reader: _Reader
           ) -> list[tuple[int, dict[str, tuple[Any, str]]]]:
    """The rows of a table part: (row index, field -> (value, cell)), empty rows skipped."""
    mapping = reader.mapping
    fields = FIELDS[part]
    wanted = {name: mapping.names(part, name) for name in fields}
    header = None
    for i in range(start, end):
        cells = [_norm(c.value) for c in grid.rows[i] if not _empty([c])]
        if sum(any(text in names for names in wanted.values()) for text in cells) >= 2:
            header = i
            break
    required = ("amount", "category") if part == "line_items" else ("id", "kind")
    where = f"sheet {grid.name}" if grid.name is not None else "the file"
    if header is None:
        headings = [", ".join(mapping.columns.get(part, {}).get(n, [n])) for n in required]
        raise SpreadsheetError(f"no heading row of {part.replace('_', ' ')} in {where}: "
                               f"expected columns headed {' and '.join(headings)} (name them "
                               "under `columns:` in a mapping file, --map)", file=reader.name)
    headings = {}
    for col, cell in enumerate(grid.rows[header]):
        text = _norm(cell.value) if not _empty([cell]) else None
        for name, names in wanted.items():
            if text in names and name not in headings:
                headings[name] = col
    named = mapping.columns.get(part, {})
    for name in list(required) + [n for n in named if n not in required]:
        if name not in headings and not (name == "id" and part == "line_items"):
            found = [str(c.value) for c in grid.rows[header] if not _empty([c])]
            heading = named.get(name, [name])[0]
            raise reader.fail(reader.where(grid, header), f"no column headed '{heading}' for "
                              f"{name}{did_you_mean(heading, found)} (the headings: "
                              f"{', '.join(found)})")
    rows = []
    for i in range(header + 1, end):
        row = grid.rows[i]
        cells = {name: (row[col] if col < len(row) else Cell(None), reader.where(grid, i, col))
                 for name, col in headings.items()}
        if all(_empty([cell]) for cell, _ in cells.values()):
            continue
        rows.append((i, cells))
    return rows


def _pairs(part: str, grid: Grid, start: int, end: int, reader: _Reader
           ) -> dict[str, tuple[Cell, str]]:
    """A part written as rows of field and value (Case, Transparency)."""
    fields = FIELDS[part]
    names = {h: name for name in fields for h in reader.mapping.names(part, name)}
    found: dict[str, tuple[Cell, str]] = {}
    for i in range(start, end):
        row = grid.rows[i]
        filled = [(c, cell) for c, cell in enumerate(row) if not _empty([cell])]
        if not filled:
            continue
        col, head = filled[0]
        key = _norm(head.value)
        if key in ("field", "setting", "name") and i == start:
            continue                                  # a header row over the pairs
        if key not in names:
            raise reader.fail(reader.where(grid, i, col), f"unknown {part} field "
                              f"'{head.value}'{did_you_mean(key.replace(' ', '_'), fields)}")
        value = next(((c, cell) for c, cell in filled[1:]), (col + 1, Cell(None)))
        found[names[key]] = (value[1], reader.where(grid, i, value[0]))
    return found


def read_spreadsheet(path: str | Path, mapping: Mapping | None = None, categories=None, *,
                     display: str | None = None) -> Imported:
    """A case's data from a workbook or CSV file, each value with the cell it came from.
    `categories` are the loaded packs' (a heading that is one of them needs no mapping)."""
    mapping = mapping or Mapping()
    name = display or str(path)
    reader = _Reader(name, mapping, categories)
    grids = read_grids(path, display=name)
    parts = _locate(grids, mapping, reader)
    data: dict[str, Any] = {}
    cells: dict[tuple, str] = {}
    origin = f"mapping file {mapping.source}" if mapping.source else name
    for key, value in mapping.case.items():
        data[key] = value
        cells[(key,)] = origin
    if "case" in parts:
        for key, (cell, where) in _pairs("case", *parts["case"], reader).items():
            value = reader.convert(CASE_FIELDS[key], key, cell, where)
            if value is not None:
                data[key], cells[(key,)] = value, where
    total = {}
    for key, target in (("total", "amount"), ("total_prior", "prior")):
        if key in data:
            total[target] = data.pop(key)
            cells[("total", target)] = cells.pop((key,))
    transparency = dict(mapping.transparency)
    for key in transparency:
        cells[("transparency", key)] = origin
    if "transparency" in parts:
        for key, (cell, where) in _pairs("transparency", *parts["transparency"], reader).items():
            value = reader.convert(TRANSPARENCY_FIELDS[key], key, cell, where)
            if value is not None:
                transparency[key], cells[("transparency", key)] = value, where
    lines, rows = _line_items(parts, reader, cells, total, name)
    if total:
        data["total"] = total
    data["line_items"] = lines
    commitments = []
    if "commitments" in parts:
        for i, cells_of in _table("commitments", *parts["commitments"], reader):
            item = {}
            for key, (cell, where) in cells_of.items():
                value = reader.convert(COMMITMENT_FIELDS[key], key, cell, where)
                if value is not None and value != []:
                    item[key] = value
                    cells[("commitments", len(commitments), key)] = where
            cells[("commitments", len(commitments))] = reader.where(parts["commitments"][0], i)
            commitments.append(item)
    if commitments:
        data["commitments"] = commitments
    if transparency:
        data["transparency"] = transparency
    missing = [key for key in REQUIRED_CASE if key not in data]
    if missing:
        raise SpreadsheetError(
            f"the case's {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not given: "
            "write them in a Case sheet or block (a field and its value on each row), or under "
            "`case:` in a mapping file (--map)", file=name)
    ordered = {key: data[key] for key in list(CASE_FIELDS) + ["total", "line_items",
                                                               "commitments", "transparency"]
               if key in data}
    return Imported(name, ordered, cells, rows, mapping)


def _line_items(parts, reader: _Reader, cells: dict, total: dict, name: str):
    grid = parts["line_items"][0]
    lines: list[dict] = []
    rows: dict[int, str] = {}
    ids: set[str] = set()
    label = reader.mapping.total_label
    for i, cells_of in _table("line_items", *parts["line_items"], reader):
        first = next((_norm(cell.value) for cell, _ in cells_of.values()
                      if not _empty([cell]) and isinstance(cell.value, str)), None)
        if first == label and not _empty([cells_of["amount"][0]]):
            # the sheet's own total row: the case's total, unless given elsewhere
            for key in ("amount", "prior"):
                if key in cells_of and key not in total:
                    cell, where = cells_of[key]
                    value = reader.convert("amount", f"total {key}", cell, where)
                    if value is not None:
                        total[key] = value
                        cells[("total", key)] = where
            continue
        item: dict[str, Any] = {}
        at = len(lines)
        for key, (cell, where) in cells_of.items():
            value = reader.convert(LINE_FIELDS[key], key, cell, where)
            if value is not None and value != []:
                item[key] = value
                cells[("line_items", at, key)] = where
        if "amount" not in item:
            raise reader.fail(cells_of["amount"][1], "amount is empty (every line item needs "
                              "this year's amount; a line with none is not in the budget)")
        if "category" not in item:
            raise reader.fail(cells_of["category"][1], "category is empty")
        if "id" not in item:
            # no id column: a slug of the description or the heading, kept unique
            base = _slug(str(item.get("description") or item["category"]))
            item["id"], n = base, 2
            while item["id"] in ids:
                item["id"], n = f"{base}-{n}", n + 1
            cells[("line_items", at, "id")] = reader.where(grid, i)
        ids.add(item["id"])
        rows[at] = reader.where(grid, i)
        item["sources"] = list(item.get("sources", [])) + [f"{name}, {rows[at]}"]
        cells[("line_items", at)] = rows[at]
        lines.append({key: item[key] for key in LINE_FIELDS if key in item})
    if not lines:
        where = f"sheet {grid.name}" if grid.name is not None else "the file"
        raise SpreadsheetError(f"no line items in {where} (every row under the headings is "
                               "empty)", file=name)
    return lines, rows


# --- into a case --------------------------------------------------------------------------------

class SheetDocument(Document):
    """A case read from a spreadsheet, for validation: an error names the cell of its field
    (or of the nearest part that has one) instead of a line and column."""

    def __init__(self, imported: Imported):
        super().__init__(imported.name, imported.data)
        self.cells = imported.cells

    def position(self, path, *, key: bool = False):
        return (None, None)

    def cell(self, path: tuple) -> str | None:
        path = tuple(path)
        while path:
            if path in self.cells:
                return self.cells[path]
            path = path[:-1]
        return None

    def error(self, cls, message: str, path: tuple, *, key: bool = False):
        cell = self.cell(path)
        return cls(message, file=f"{self.name}, {cell}" if cell else self.name,
                   path=format_path(path) or None)


def to_case(imported: Imported, categories=None) -> Case:
    """Validate imported data as a case (the case format's rules), errors at their cells."""
    from .case import check_case
    from .validation import validate
    doc = SheetDocument(imported)
    case: Case = validate(Case, doc, CaseError, what="case", every=True)
    check_case(case, categories, doc)
    case._source = imported.name
    case._document = doc
    return case


def load_spreadsheet_case(path: str | Path, mapping: str | Path | Mapping | None = None,
                          categories=None, *, display: str | None = None) -> Case:
    """Read, map and validate a case from a workbook or CSV file."""
    if mapping is not None and not isinstance(mapping, Mapping):
        mapping = load_mapping(mapping)
    return to_case(read_spreadsheet(path, mapping, categories, display=display), categories)


def is_spreadsheet(path: str | Path) -> bool:
    return Path(str(path)).suffix.lower() in SHEET_SUFFIXES
