"""The what-if commands: `diplo compare`, `diplo whatif` and `diplo sweep`.
"""
from __future__ import annotations

import sys

import click

from .. import formats
from ..model import SEVERITIES
from .common import (
    EXIT_FAIL,
    EXIT_OK,
    executor_address,
    executor_option,
    format_option,
    load_packs,
    pack_options,
    rule_options,
)

fail_on_option = click.option(
    "--fail-on", type=click.Choice(SEVERITIES), default="high", show_default=True,
    help="Exit with status 1 when the proposal has a new or more severe risk at or above "
         "this severity.")
exit_zero_option = click.option(
    "--exit-zero", is_flag=True,
    help="Exit with status 0 even when --fail-on is reached; invalid input still exits "
         "with 2.")

def show(format_name: str, kind: str, result, fail_on: str | None = None,
         exit_zero: bool = False):
    render = formats.renderer(format_name, kind)   # before any work is shown
    click.echo(render(result), nl=False)
    failed = fail_on is not None and result.fails(fail_on) and not exit_zero
    sys.exit(EXIT_FAIL if failed else EXIT_OK)

@click.command()
@click.argument("base", metavar="BASE")
@click.argument("proposal", metavar="PROPOSAL")
@pack_options
@format_option()
@fail_on_option
@exit_zero_option
def compare(base, proposal, packs, params, format_name, fail_on, exit_zero):
    """Compare PROPOSAL with BASE (two case files): findings new, resolved and changed in
    severity, each with the differing inputs it rests on.

    Exit status: 0, 1 when the proposal has a new or more severe risk at or above
    --fail-on, 2 bad input, 3 an internal error.
    """
    from ..analysis.whatif import compare as run_compare
    from ..core.run import load_case
    formats.renderer(format_name, "comparison")
    pack = load_packs(packs, params)
    result = run_compare(load_case(base, pack), load_case(proposal, pack), pack)
    show(format_name, "comparison", result, fail_on, exit_zero)

@click.command()
@click.argument("case", metavar="CASE")
@click.option("--set", "sets", multiple=True, metavar="PATH=VALUE",
              help="Change a field of the case (repeatable), e.g. "
                   "line_items.multinational-exercises.amount=180.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Change a rule pack parameter (repeatable); the original is assessed "
                   "with the pack as loaded.")
@click.option("--pack", "packs", multiple=True, metavar="DIR|NAME",
              help="A rule pack folder or installed pack name (repeatable; see "
                   "diplo pack list). Default: the defense-diplomacy pack.")
@rule_options
@format_option()
@fail_on_option
@exit_zero_option
def whatif(case, sets, params, packs, format_name, fail_on, exit_zero):
    """Assess CASE with fields changed by --set and/or parameters changed by --param, and
    compare that with CASE as it is.

    Exit status: 0, 1 when the change brings a new or more severe risk at or above
    --fail-on, 2 bad input, 3 an internal error.
    """
    from ..analysis.whatif import parse_sets
    from ..analysis.whatif import whatif as run_whatif
    from ..core.run import load_case, parse_params
    formats.renderer(format_name, "comparison")
    pack = load_packs(packs, ())   # the configuration file's params, not --param
    result = run_whatif(load_case(case, pack), pack, parse_sets(sets),
                        parse_params(params))
    show(format_name, "comparison", result, fail_on, exit_zero)

@click.command()
@click.argument("case", metavar="CASE")
@click.option("--vary", "path", required=True, metavar="PATH",
              help="The number field to vary, e.g. line_items.multinational-exercises.amount.")
@click.option("--from", "start", type=float, required=True, metavar="A",
              help="The first value.")
@click.option("--to", "stop", type=float, required=True, metavar="B",
              help="The last value (below A to sweep downwards).")
@click.option("--steps", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="Steps between A and B (the case is assessed at STEPS+1 values).")
@pack_options
@executor_option
@format_option()
def sweep(case, path, start, stop, steps, packs, params, format_name):
    """Assess CASE at evenly spaced values of one field, and find by bisection where each
    finding switches on or off or changes severity.

    A value that makes the case invalid is reported for its step. Exit status: 0 swept,
    2 bad input, 3 an internal error.
    """
    from ..api import sweep as run_sweep
    from ..core.run import load_case
    formats.renderer(format_name, "sweep")
    pack = load_packs(packs, params)
    result = run_sweep(load_case(case, pack), pack, path, start, stop, steps,
                       executor=executor_address())
    show(format_name, "sweep", result)
