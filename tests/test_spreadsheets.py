"""Spreadsheets in and out: `diplo import`, `diplo assess BUDGET.xlsx --map`, `diplo export`.

Every workbook is made here with openpyxl, the way a ministry's would look: a title row over
merged cells, headings merged down a column, a total row whose value is a formula (with the
value a spreadsheet program saved), thousands separators typed as text, a percentage formatted
as one, empty rows, and a second sheet of commitments.
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main

openpyxl = pytest.importorskip("openpyxl", reason='pip install "diplo[spreadsheets]"')

ROOT = Path(__file__).resolve().parent.parent

MAPPING = """\
case:
  id: country-m-fy2027
  title: Country M, FY2027 defence budget
  country: Country M
  fiscal_year: 2027
  currency: EUR
  inflation_pct: 2.5
  gdp: 250000
sheets:
  line_items: Lines
columns:
  id: Code
  category: Budget heading
  amount: Budget 2027
  prior: Outturn 2026
  partners: Partners
  description: Description
categories:
  Pay and allowances: personnel
  Running costs: operations_maintenance
  Major equipment: procurement
  Multinational exercises: joint_exercises
  Forces abroad: presence_abroad
"""

LINES = [
    # code, heading, amount, prior, partners, description
    ("pay", "Pay and allowances", 2100, 2050, None, "Salaries"),
    ("running", "Running costs", "1,250", "1,300", None, "Fuel, spares, bases"),
    (None, None, None, None, None, None),                          # an empty row
    ("frigates", "Major equipment", 640, 520, None, "Frigate programme"),
    ("tanks", None, 310, 300, None, "Tank upgrade"),               # heading merged from above
    ("exercises", "Multinational exercises", 40, 75, "Country N; Country O",
     "Exercise programme"),
    ("presence", "Forces abroad", 210, 230, "Country N", "Battalion abroad"),
]


def _with_saved_values(data: bytes, values: dict[str, str]) -> bytes:
    """openpyxl writes formulas without the values a spreadsheet program saves beside them;
    put them in, as a workbook saved by one has them."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = source.read(info.filename)
            if info.filename.startswith("xl/worksheets/sheet"):
                for ref, value in values.items():
                    body = re.sub(rf'(<c r="{ref}"[^>]*>\s*<f>[^<]*</f>)\s*<v\s*/>'.encode(),
                                  rf"\g<1><v>{value}</v>".encode(), body)
            target.writestr(info, body)
    return out.getvalue()


def make_workbook(path: Path, *, lines=LINES, secret: float = 0.012, saved_total=True,
                  extra=None) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Lines"
    sheet.append(["Ministry of Defence: budget 2027"])
    sheet.merge_cells("A1:F1")                                  # a title over merged cells
    sheet.append([])
    sheet.append(["Code", "Budget heading", "Budget 2027", "Outturn 2026", "Partners",
                  "Description"])
    first = sheet.max_row + 1
    for row in lines:
        sheet.append(list(row))
    # "Major equipment" covers the frigates and the tanks: one merged cell down the column
    frigates = first + [r[0] for r in lines].index("frigates")
    sheet.merge_cells(f"B{frigates}:B{frigates + 1}")
    last = sheet.max_row
    sheet.append([])
    sheet.append(["Total", None, f"=SUM(C{first}:C{last})", 4500])
    total_row = sheet.max_row
    if extra:
        extra(sheet)
    other = book.create_sheet("Commitments")
    other.append(["id", "kind", "partners", "depends_on", "funded_by", "status"])
    other.append(["northern-pact", "alliance", "Country N; Country O",
                  "Multinational exercises", "exercises; presence", "active"])
    transparency = book.create_sheet("Transparency")
    transparency.append(["field", "value"])
    transparency.append(["budget_publication", "disaggregated"])
    transparency.append(["legislative review", "yes"])
    transparency.append(["secret_share_pct", secret])
    transparency.cell(transparency.max_row, 2).number_format = "0.0%"
    buffer = io.BytesIO()
    book.save(buffer)
    data = buffer.getvalue()
    if saved_total:
        # the sum as a spreadsheet program computes it: 1,250 was typed as text, so SUM skips it
        total = sum(r[2] for r in lines if isinstance(r[2], (int, float)))
        data = _with_saved_values(data, {f"C{total_row}": str(total + 1250)})
    path.write_bytes(data)
    return path


@pytest.fixture()
def budget(tmp_path):
    (tmp_path / "map.yaml").write_text(MAPPING)
    return make_workbook(tmp_path / "budget.xlsx")


def run(*args, cwd=None):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


# --- import -----------------------------------------------------------------------------------

def test_import_reads_a_ministry_workbook(budget, monkeypatch):
    monkeypatch.chdir(budget.parent)
    status, out, err = run("import", "budget.xlsx", "--map", "map.yaml")
    assert (status, err) == (0, "")
    case = yaml.safe_load(out)
    lines = {item["id"]: item for item in case["line_items"]}
    assert list(lines) == ["pay", "running", "frigates", "tanks", "exercises", "presence"]
    assert lines["running"]["amount"] == 1250 and lines["running"]["prior"] == 1300
    assert lines["tanks"]["category"] == "procurement"          # the merged heading
    assert lines["exercises"]["partners"] == ["Country N", "Country O"]
    assert lines["pay"]["sources"] == ["budget.xlsx, sheet Lines, row 4"]
    assert case["total"] == {"amount": 4550, "prior": 4500}    # the formula's saved value
    assert case["commitments"] == [{
        "id": "northern-pact", "kind": "alliance", "partners": ["Country N", "Country O"],
        "depends_on": ["joint_exercises"], "funded_by": ["exercises", "presence"],
        "status": "active"}]
    # 1.2% formatted as a percentage is 0.012 in the cell: the case's 1.2
    assert case["transparency"] == {"budget_publication": "disaggregated",
                                    "legislative_review": True, "secret_share_pct": 1.2}
    assert case["id"] == "country-m-fy2027" and case["inflation_pct"] == 2.5
    # each figure's origin is noted beside it
    assert re.search(r"^    amount: 1250  # sheet Lines, cell C5$", out, re.M)
    assert re.search(r"^  amount: 4550  # sheet Lines, cell C12$", out, re.M)
    assert "secret_share_pct: 1.2  # sheet Transparency, cell B4" in out


def test_imported_case_is_assessed_as_the_workbook_is(budget, monkeypatch, tmp_path):
    monkeypatch.chdir(budget.parent)
    status, _, err = run("import", "budget.xlsx", "--map", "map.yaml", "-o", "case.yaml")
    assert status == 0 and err == "wrote case.yaml\n"
    status, yaml_report, _ = run("assess", "case.yaml", "--format", "json", "--exit-zero")
    assert status == 0
    status, sheet_report, err = run("assess", "budget.xlsx", "--map", "map.yaml",
                                    "--format", "json", "--exit-zero")
    assert status == 0, err
    from_yaml, from_sheet = json.loads(yaml_report), json.loads(sheet_report)
    assert from_sheet["case"]["source"] == "budget.xlsx"
    assert [f["id"] for f in from_sheet["findings"]] == [f["id"] for f in from_yaml["findings"]]
    assert from_sheet["verdict"] == from_yaml["verdict"]
    # the exercises the pact relies on are cut by nearly half
    assert any("exercises" in f["subjects"] and f["severity"] == "high"
               for f in from_sheet["findings"])


def test_import_never_writes_over_a_file(budget, monkeypatch):
    monkeypatch.chdir(budget.parent)
    Path("case.yaml").write_text("mine\n")
    status, out, err = run("import", "budget.xlsx", "--map", "map.yaml", "-o", "case.yaml")
    assert (status, out) == (2, "")
    assert err == "diplo: error: --output: case.yaml exists; give --force to write over it\n"
    assert Path("case.yaml").read_text() == "mine\n"


def test_a_csv_file_with_blocks_and_thousands_separators(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("budget.csv").write_text(
        "id;category;amount;prior\n"
        "pay;personnel;\"2 100\";2.050\n"
        ";;;\n"
        "exercises;joint exercises;40;75\n"
        "\n"
        "Case\n"
        "field;value\n"
        "id;country-c-fy2027\n"
        "title;Country C\n"
        "country;Country C\n"
        "fiscal_year;2027\n"
        "currency;eur\n"
        "inflation_pct;2,5%\n",
        encoding="utf-8")
    Path("map.yaml").write_text("decimal: ','\n")
    status, out, err = run("import", "budget.csv", "--map", "map.yaml")
    assert (status, err) == (0, "")
    case = yaml.safe_load(out)
    assert [(i["id"], i["category"], i["amount"], i["prior"]) for i in case["line_items"]] == [
        ("pay", "personnel", 2100, 2050), ("exercises", "joint_exercises", 40, 75)]
    assert (case["currency"], case["inflation_pct"]) == ("EUR", 2.5)
    assert "# cell C2" in out


# --- errors: one line naming the workbook, sheet and cell -------------------------------------

def _error(tmp_path, monkeypatch, *args):
    monkeypatch.chdir(tmp_path)
    status, out, err = run(*args)
    assert (status, out) == (2, "")
    assert err.count("\n") == 1, err
    return err


def test_a_cell_that_is_not_a_number_is_named(tmp_path, monkeypatch):
    (tmp_path / "map.yaml").write_text(MAPPING)
    lines = LINES[:5] + [("exercises", "Multinational exercises", "n/a", 75, None, None)]
    make_workbook(tmp_path / "budget.xlsx", lines=lines)
    err = _error(tmp_path, monkeypatch, "import", "budget.xlsx", "--map", "map.yaml")
    assert err == ("diplo: error: budget.xlsx, sheet Lines, cell C9: amount 'n/a' is not a "
                   "number\n")
    # the same through assess, which reports the case as invalid
    err = _error(tmp_path, monkeypatch, "assess", "budget.xlsx", "--map", "map.yaml")
    assert "budget.xlsx, sheet Lines, cell C9: amount 'n/a' is not a number" in err


def test_an_unmapped_heading_gets_a_did_you_mean(tmp_path, monkeypatch):
    (tmp_path / "map.yaml").write_text(MAPPING)
    lines = LINES[:5] + [("exercises", "Multinational exercise", 40, 75, None, None)]
    make_workbook(tmp_path / "budget.xlsx", lines=lines)
    err = _error(tmp_path, monkeypatch, "import", "budget.xlsx", "--map", "map.yaml")
    assert err.startswith("diplo: error: budget.xlsx, sheet Lines, cell B9: budget heading "
                          "'Multinational exercise' is not mapped to a category; did you mean "
                          "'Multinational exercises'? (add it under `categories:` in map.yaml")


def test_a_formula_without_a_saved_value_is_named(tmp_path, monkeypatch):
    (tmp_path / "map.yaml").write_text(MAPPING)
    make_workbook(tmp_path / "budget.xlsx", saved_total=False)
    err = _error(tmp_path, monkeypatch, "import", "budget.xlsx", "--map", "map.yaml")
    assert err.startswith("diplo: error: budget.xlsx, sheet Lines, cell C12: total amount: the "
                          "cell holds a formula with no saved value")


def test_a_percentage_in_an_amount_column_is_refused(tmp_path, monkeypatch):
    (tmp_path / "map.yaml").write_text(MAPPING)

    def percent(sheet):
        sheet["C4"].number_format = "0%"
    make_workbook(tmp_path / "budget.xlsx", extra=percent)
    err = _error(tmp_path, monkeypatch, "import", "budget.xlsx", "--map", "map.yaml")
    assert err.startswith("diplo: error: budget.xlsx, sheet Lines, cell C4: amount is formatted "
                          "as a percentage")


def test_case_format_errors_are_located_at_the_cell(tmp_path, monkeypatch):
    (tmp_path / "map.yaml").write_text(MAPPING)
    lines = LINES[:5] + [("exercises", "Multinational exercises", -40, 75, None, None)]
    make_workbook(tmp_path / "budget.xlsx", lines=lines)
    err = _error(tmp_path, monkeypatch, "import", "budget.xlsx", "--map", "map.yaml")
    assert err.startswith("diplo: error: budget.xlsx, sheet Lines, cell C9: "
                          "line_items[4].amount: ")


def test_a_missing_column_and_a_missing_sheet_are_named(tmp_path, monkeypatch):
    (tmp_path / "map.yaml").write_text(MAPPING.replace("Budget 2027", "Budget 2028"))
    make_workbook(tmp_path / "budget.xlsx")
    err = _error(tmp_path, monkeypatch, "import", "budget.xlsx", "--map", "map.yaml")
    assert err.startswith("diplo: error: budget.xlsx, sheet Lines, row 3: no column headed "
                          "'Budget 2028' for amount; did you mean 'Budget 2027'?")
    (tmp_path / "map.yaml").write_text(MAPPING.replace("line_items: Lines",
                                                       "line_items: Line"))
    err = _error(tmp_path, monkeypatch, "import", "budget.xlsx", "--map", "map.yaml")
    assert err.startswith("diplo: error: budget.xlsx: no sheet 'Line'; did you mean 'Lines'?")


def test_a_bad_mapping_file_is_named_at_its_line(tmp_path, monkeypatch):
    (tmp_path / "map.yaml").write_text(MAPPING.replace("columns:", "colums:"))
    make_workbook(tmp_path / "budget.xlsx")
    err = _error(tmp_path, monkeypatch, "import", "budget.xlsx", "--map", "map.yaml")
    assert err.startswith("diplo: error: map.yaml:11:1: colums: unknown key 'colums'; did you "
                          "mean 'columns'?")


def test_not_a_workbook(tmp_path, monkeypatch):
    (tmp_path / "budget.xlsx").write_text("not a zip\n")
    err = _error(tmp_path, monkeypatch, "import", "budget.xlsx")
    assert err.startswith("diplo: error: budget.xlsx: is not an .xlsx workbook")


def test_without_the_case_fields(tmp_path, monkeypatch):
    (tmp_path / "budget.csv").write_text("id,category,amount\npay,personnel,10\n")
    err = _error(tmp_path, monkeypatch, "import", "budget.csv")
    assert err == ("diplo: error: budget.csv: the case's id, title, country, fiscal_year, "
                   "currency are not given: write them in a Case sheet or block (a field and "
                   "its value on each row), or under `case:` in a mapping file (--map)\n")


# --- export: back as a sheet, and in again ------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_and_import_give_the_same_findings(fmt, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = ROOT / "cases" / "ally-trims-exercises.yaml"
    status, _, err = run("export", str(source), "--format", fmt, "-o", f"case.{fmt}")
    assert status == 0
    assert err.splitlines() == [f"diplo: warning: {source}: not in the sheet: history",
                                f"wrote case.{fmt}"]
    status, _, err = run("import", f"case.{fmt}", "-o", "back.yaml")
    assert status == 0, err
    reports = [json.loads(run("assess", path, "--format", "json", "--exit-zero")[1])
               for path in (str(source), "back.yaml")]
    assert [f["id"] for f in reports[0]["findings"]] == [f["id"] for f in reports[1]["findings"]]
    # the same bytes each time: a workbook carries no date of its own
    again = run("export", str(source), "--format", fmt, "-o", f"again.{fmt}")
    assert again[0] == 0
    assert Path(f"again.{fmt}").read_bytes() == Path(f"case.{fmt}").read_bytes()


def test_a_workbook_is_not_written_to_a_terminal(monkeypatch):
    import click
    monkeypatch.setattr(click.utils, "_default_text_stdout", None, raising=False)

    class Terminal(io.BytesIO):
        def isatty(self):
            return True

    import sys
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(Terminal()))
    from engine.cli.spreadsheet import export_command
    with click.Context(export_command), pytest.raises(Exception,
                                                     match="a workbook is not text"):
        export_command.callback(str(ROOT / "cases" / "balanced-partner.yaml"), "xlsx", None,
                                False, (), ())


def test_the_documentation_shows_real_output(tmp_path, monkeypatch):
    """docs/spreadsheets.md: its CSV file and mapping give the YAML and the errors it shows."""
    doc = (ROOT / "docs" / "spreadsheets.md").read_text()
    blocks = re.findall(r"```(\w+)\n(.*?)```", doc, re.S)
    mapping = next(body for lang, body in blocks if lang == "yaml" and "columns:" in body)
    sheet = next(body for lang, body in blocks if lang == "text" and body.startswith("Code,"))
    shown = next(body for lang, body in blocks if lang == "yaml" and "# Imported" in body)
    monkeypatch.chdir(tmp_path)
    Path("map.yaml").write_text(mapping)
    Path("budget.csv").write_text(sheet)
    status, out, err = run("import", "budget.csv", "--map", "map.yaml")
    assert (status, err) == (0, "")
    for line in shown.splitlines():
        if line != "...":
            assert line in out.splitlines(), line
    errors = re.findall(r"^\$ diplo import budget\.csv --map map\.yaml\s+# (.*)\n(diplo: .*)$",
                        doc, re.M)
    assert len(errors) == 2
    for how, expected in errors:
        broken = sheet.replace("exercises,40,75", "exercises,n/a,75") if "n/a" in how \
            else sheet.replace("Multinational exercises,40", "Multinational exercise,40")
        Path("budget.csv").write_text(broken)
        assert run("import", "budget.csv", "--map", "map.yaml")[2] == expected + "\n"
