"""`diplo pack` (`init`, `lint` for pack authors, `list` to find installed packs) and
`diplo test` (a pack's rule tests)."""
from __future__ import annotations

import json
import sys

import click

from ..errors import UsageError
from .common import EXIT_FAIL, EXIT_OK, width_option


@click.group("pack")
def pack_group():
    """Find, create and check rule packs."""


@pack_group.command("list")
@click.option("--format", "format_name", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Output format.")
@width_option
def pack_list(format_name):
    """List every installed rule pack (diplo's own included): its name, the version its
    manifest declares, the pack it extends, the distribution that installs it and its folder.

    A pack listed here can be used by name: `diplo assess --pack NAME`. Python distributions
    register packs in the `diplo.packs` entry point group (`diplo docs writing-packs`)."""
    from ..formats.terminal import fit_table
    from ..lang.registry import available_packs
    listings = available_packs()
    if format_name == "json":
        click.echo(json.dumps([item.as_dict() for item in listings], indent=2))
        return
    rows = [(item.name, item.version or "?", item.extends or "", item.origin,
             f"UNUSABLE: {item.problem}" if item.problem else item.folder)
            for item in listings]
    click.echo(fit_table(rows, ("pack", "version", "extends", "installed by", "folder"),
                         drop=(3, 2), wrap=(4,)))


@pack_group.command("lint")
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
    (`diplo docs linting`).

    Exit status: 0 no error (with --strict, no warning either), 1 an error (or with --strict
    a warning), 2 DIR is not a rule pack or the command line is wrong, 3 an internal error.
    """
    from ..authoring.lint import check_codes, lint_pack, render
    from ..core.run import parse_params
    check_codes(ignore)   # before the work: a typo in an option is not worth waiting for
    report = lint_pack(folder, params=parse_params(params), context=context)
    report = report.without(ignore)
    click.echo(render(report, format_name), nl=False)
    sys.exit(EXIT_FAIL if report.fails(strict) else EXIT_OK)


@pack_group.command("init")
@click.argument("name")
@click.option("--dir", "folder", metavar="DIR", help="Where to write the pack (default: ./NAME); "
              "it must not exist or be empty.")
@click.option("--extends", metavar="PACK", help="Make the new pack extend this installed pack "
              "or pack folder (using its categories, concerns, parameters and facts).")
def pack_init(name, folder, extends):
    """Write a new rule pack NAME: a manifest, a guidance document, one rule with its tests,
    a README and a pyproject.toml to publish it. Its tests pass as written:
    `diplo test NAME`."""
    from ..authoring.scaffold import init_pack
    written = init_pack(name, folder, extends=extends)
    root = written[0].parent
    click.echo(f"Created rule pack '{name}' in {root}:")
    for path in written:
        click.echo(f"  {path.relative_to(root).as_posix()}")
    click.echo(f"Next: diplo test {root}   then   diplo pack lint {root}")


@click.command("test")
@click.argument("packs", nargs=-1, metavar="[PACK]...")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Override a rule pack parameter for every test (repeatable); a test's own "
                   "params go on top.")
@click.option("-v", "--verbose", is_flag=True, help="Also print one line per passing test.")
def run_rule_tests(packs, params, verbose):
    """Run the rule tests (*.test.yaml beside the rules) of each PACK (a folder or installed
    pack name; default: the defense-diplomacy pack), with the packs loaded together.

    Exit status: 0 every test passed, 1 a test failed, 2 an invalid pack or test file, or no
    test found, 3 an internal error.
    """
    from ..authoring.packtest import format_outcomes, run_pack_tests
    from ..core.run import parse_params
    from ..lang.manifest import DEFAULT_PACK
    packs = packs or (DEFAULT_PACK,)
    outcomes = run_pack_tests(list(packs), parse_params(params))
    if not outcomes:
        raise UsageError(f"no rule tests found in {', '.join(packs)} (test files are named "
                         "*.test.yaml, beside the rule files)")
    click.echo(format_outcomes(outcomes, verbose=verbose), nl=False)
    sys.exit(EXIT_OK if all(o.passed for o in outcomes) else EXIT_FAIL)
