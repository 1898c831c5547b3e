"""`diplo pack`: commands about rule packs as files (`diplo pack lint DIR`).

The group is made here and added to the main group by `register`, which cli.py calls at its
end; each command is a plain function of the group, so more can be added beside `lint`.
"""
from __future__ import annotations

import sys

import click


@click.group("pack")
def pack():
    """Work on rule packs: check a pack folder before it is used."""


@pack.command("lint")
@click.argument("folder", metavar="DIR")
@click.option("--format", "format_name", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
@click.option("--strict", is_flag=True, help="Exit with status 1 on warnings too.")
@click.option("--ignore", "ignore", multiple=True, metavar="CODE",
              help="Leave out the diagnostics of this code (repeatable).")
@click.option("--with", "context", multiple=True, metavar="DIR|NAME",
              help="A pack to load with DIR, as another --pack would be (repeatable): for a "
                   "pack that uses facts, categories or concerns of another. Only DIR is "
                   "judged.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Lint with a parameter set to this value (repeatable).")
def lint(folder, format_name, strict, ignore, context, params):
    """Check the rule pack in DIR: everything the loader and the compiler would refuse, and
    what they accept but is almost certainly wrong (a rule that can never fire, an unused
    parameter, derived fact or concern, a rule without tests, a pack near the rule engine's
    limits). Each diagnostic gives its file, line, a permanent code and a fix
    (docs/linting.md).

    Exit status: 0 no error (with --strict, no warning either), 1 an error (or with --strict
    a warning), 2 DIR is not a rule pack or the command line is wrong, 3 an internal error.
    """
    from .cli import EXIT_FAIL, EXIT_OK
    from .lint import lint_pack, render
    from .run import parse_params
    report = lint_pack(folder, params=parse_params(params), context=context)
    report = report.without(ignore)
    click.echo(render(report, format_name), nl=False)
    sys.exit(EXIT_FAIL if report.fails(strict) else EXIT_OK)


def register(main: click.Group) -> None:
    main.add_command(pack)
