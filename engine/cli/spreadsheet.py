"""`diplo import` (a case from a workbook or CSV file) and `diplo export` (a case back as a
sheet); `diplo assess` reads workbooks through `assess_spreadsheet`."""
from __future__ import annotations

import sys

import click

from ..errors import DiploError, UsageError
from .common import load_packs, pack_options


def _write_new(path: str, data: str | bytes, force: bool) -> None:
    """Write the output whole or not at all; never over a file unless told."""
    import os
    import tempfile
    from pathlib import Path
    target = Path(path)
    if target.exists() and not force:
        raise UsageError(f"{path} exists; give --force to write over it", path="--output")
    body = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(body)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}", path="--output") from None


@click.command("import")
@click.argument("budget", metavar="BUDGET.xlsx|.csv")
@click.option("--map", "map_file", metavar="MAP.yaml",
              help="The mapping file: which column holds which field, which budget heading "
                   "is which category, and the case's own fields (diplo docs spreadsheets). "
                   "Without it, columns are headed by the field names.")
@click.option("-o", "--output", metavar="CASE.yaml",
              help="Write the case to this file instead of standard output.")
@click.option("--force", is_flag=True, help="With -o, write over an existing file.")
@pack_options
def import_command(budget, map_file, output, force, packs, params):
    """Build a case from a spreadsheet of line items (.xlsx or .csv), with optional sheets
    or blocks for commitments, transparency and the case's fields.

    The case is checked as `diplo assess` checks one, and each value is written with the
    cell it came from beside it. An error names the workbook, sheet and cell (exit 2).
    """
    from ..inputs.spreadsheet import load_mapping, read_spreadsheet, to_case
    from ..inputs.spreadsheet_out import case_yaml
    pack = load_packs(packs, params)
    mapping = load_mapping(map_file) if map_file else None
    imported = read_spreadsheet(budget, mapping, pack.categories)
    to_case(imported, pack.categories)          # refuses what assess would refuse
    text = case_yaml(imported)
    if output is None:
        click.echo(text, nl=False)
        return
    _write_new(output, text, force)
    click.echo(f"wrote {output}", err=True)


@click.command("export")
@click.argument("case", metavar="CASE")
@click.option("--format", "format_name", type=click.Choice(["xlsx", "csv"]), required=True,
              help="xlsx: a workbook with a sheet per part; csv: the line items, then a block "
                   "per other part.")
@click.option("-o", "--output", metavar="FILE",
              help="Write to FILE (an .xlsx workbook must go to a file or a pipe).")
@click.option("--force", is_flag=True, help="With -o, write over an existing file.")
@pack_options
def export_command(case, format_name, output, force, packs, params):
    """Write CASE back as a sheet that `diplo import` reads: line items, commitments,
    transparency and the case's fields. What a sheet cannot hold (history, a case's own
    categories, the ranges of estimates) is named on standard error."""
    from ..core.run import load_case
    from ..inputs.spreadsheet_out import export_case
    pack = load_packs(packs, params)
    data, left_out = export_case(load_case(case, pack), format_name)
    if left_out:
        click.echo(f"diplo: warning: {case}: not in the sheet: {', '.join(left_out)}",
                   err=True)
    if output is None:
        if format_name == "xlsx" and sys.stdout.isatty():
            raise UsageError("a workbook is not text: give -o FILE.xlsx, or send it to a pipe",
                             path="--output")
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    _write_new(output, data, force)
    click.echo(f"wrote {output}", err=True)


def assess_spreadsheet(path: str, map_file: str | None, pack, **options):
    """(report, None) or (None, error) for a workbook or CSV case, as
    engine.api.iter_assess_each gives for a case file."""
    from ..api import assess
    from ..inputs.spreadsheet import load_spreadsheet_case
    try:
        return assess(load_spreadsheet_case(path, map_file, pack.categories), pack,
                      **options), None
    except DiploError as exc:
        return None, exc
