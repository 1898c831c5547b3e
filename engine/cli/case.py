"""`diplo case new`: a commented case file to start from, which passes validation."""
from __future__ import annotations

import click

from ..errors import UsageError


@click.group("case")
def case_group():
    """Start a case file."""


@click.command("new")
@click.option("--country", default="Country A", show_default=True,
              help="The country the budget is of (also makes the case's id).")
@click.option("--year", type=click.IntRange(1000, 9998), default=None,
              help="The fiscal year. Default: next year.")
@click.option("-o", "--output", metavar="FILE",
              help="Write the case to FILE (never over an existing file) instead of standard "
                   "output.")
def new_case(country, year, output):
    """Print a commented case file with every section of the case format and figures that
    pass validation, to replace with the proposal's (`diplo docs case-format`)."""
    from ..inputs.template import case_template
    text = case_template(country, year)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        with open(output, "x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise UsageError("the file exists; diplo case new never writes over a file",
                         path="--output") from None
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}",
                         path="--output") from None
    click.echo(f"wrote {output}", err=True)


case_group.add_command(new_case)
