"""The `diplo` command: parse arguments, call the library, render, map the exit status."""
from __future__ import annotations

import os
import re
import sys
import traceback
from pathlib import Path

import click

from . import __version__, formats
from .errors import DiploError, UsageError
from .model import SEVERITIES

EXIT_OK = 0           # assessed; no risk at or above --fail-on
EXIT_FAIL = 1         # assessed; a risk at or above --fail-on
EXIT_ERROR = 2        # nothing assessed: usage error, invalid case or pack
EXIT_BUG = 3          # an internal error

CASE_SUFFIXES = (".yaml", ".yml", ".json")


def _fail(message: str, status: int = EXIT_ERROR):
    # one line, always: scripts read the first line of stderr as the whole error
    message = re.sub(r"\s*[\r\n]+\s*", " ", message.strip())
    click.echo(f"diplo: error: {message}", err=True)
    sys.exit(status)


def _pack_options(func):
    func = click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
                        help="Override a rule pack parameter for this run (repeatable).")(func)
    func = click.option("--pack", "packs", multiple=True, metavar="DIR|NAME",
                        help="A rule pack folder or built-in pack name (repeatable). "
                             "Default: the defense-diplomacy pack.")(func)
    return func


def _format_option(default: str = "table"):
    return click.option("--format", "format_name", type=click.Choice(formats.names()),
                        default=default, show_default=True, help="Output format.")


def _load_pack(packs, params):
    from .run import load_pack, parse_params
    return load_pack(*packs, params=parse_params(params))


def _expand(paths) -> list[str]:
    """Case arguments: files as given, folders as the case files directly inside them."""
    found: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = sorted(str(p) for p in path.iterdir()
                            if p.is_file() and p.suffix.lower() in CASE_SUFFIXES)
            if not inside:
                raise DiploError("the folder holds no .yaml, .yml or .json case files",
                                 file=raw)
            found.extend(inside)
        else:
            found.append(raw)
    return found


class _Guarded(click.Group):
    """Turns diplo's own errors into one line and exit 2, and bugs into exit 3."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DiploError as exc:
            _fail(str(exc))
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except BrokenPipeError:
            # the reader went away (`diplo ... | head`); nothing more to say to it
            sys.stdout = open(os.devnull, "w")
            sys.exit(141)
        except KeyboardInterrupt:
            click.echo("diplo: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # a bug: say so, never dress it up as bad input
            detail = traceback.format_exc(limit=-3).strip().splitlines()
            click.echo(f"diplo: internal error: {type(exc).__name__}: {exc}", err=True)
            click.echo("This is a bug in diplo, not a problem with your input. Please report "
                       "it with the command you ran and the files it read.", err=True)
            if detail:
                click.echo(f"  ({detail[-3].strip() if len(detail) >= 3 else detail[0]})",
                           err=True)
            sys.exit(EXIT_BUG)


@click.group(cls=_Guarded, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="diplo")
def main():
    """Assess defence budget proposals against guidance on defence diplomacy.

    Each finding is traced to the rule and the guidance section behind it.
    """


@main.command()
@click.argument("cases", nargs=-1, required=True, metavar="CASE...")
@_pack_options
@_format_option()
@click.option("--fail-on", type=click.Choice(SEVERITIES), default="high", show_default=True,
              help="Exit with status 1 when a risk is at or above this severity.")
@click.option("--exit-zero", is_flag=True,
              help="Exit with status 0 even when a risk reaches --fail-on (for reports that "
                   "must not stop a pipeline); invalid input still exits with 2.")
@click.option("--explain", is_flag=True,
              help="Include every derived fact (with its rule and inputs) in the report.")
@click.option("--details", is_flag=True,
              help="In the table, also print each finding's message, remedy and quote.")
@click.option("--near-miss", "near_miss", is_flag=True,
              help="Also list rules that did not fire but came close: one numeric condition "
                   "short by at most --margin of its threshold.")
@click.option("--margin", type=click.FloatRange(0, 10), default=0.2, show_default=True,
              help="With --near-miss: how close is close, as a share of the threshold.")
def assess(cases, packs, params, format_name, fail_on, exit_zero, explain, details,
           near_miss, margin):
    """Assess one or more case files (YAML or JSON; a folder means the cases in it).

    Exit status: 0 no risk at or above --fail-on, 1 at least one, 2 nothing assessed
    (bad usage, an invalid case or pack), 3 an internal error.
    """
    from .run import assess_files
    pack = _load_pack(packs, params)
    reports = assess_files(_expand(cases), pack, explain=explain,
                           near_miss=margin if near_miss else None)
    click.echo(formats.get(format_name).reports(reports, details=details), nl=False)
    failed = any(r.fails(fail_on) for r in reports) and not exit_zero
    sys.exit(EXIT_FAIL if failed else EXIT_OK)


@main.command("test")
@click.argument("packs", nargs=-1, metavar="[PACK]...")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Override a rule pack parameter for every test (repeatable); a test's own "
                   "params go on top.")
@click.option("-v", "--verbose", is_flag=True, help="Also print one line per passing test.")
def run_rule_tests(packs, params, verbose):
    """Run the rule tests (*.test.yaml beside the rules) of each PACK (a folder or built-in
    pack name; default: the defense-diplomacy pack), with the packs loaded together.

    Exit status: 0 every test passed, 1 a test failed, 2 an invalid pack or test file, or no
    test found, 3 an internal error.
    """
    from .pack import DEFAULT_PACK
    from .packtest import format_outcomes, run_pack_tests
    from .run import parse_params
    packs = packs or (DEFAULT_PACK,)
    outcomes = run_pack_tests(list(packs), parse_params(params))
    if not outcomes:
        raise UsageError(f"no rule tests found in {', '.join(packs)} (test files are named "
                         "*.test.yaml, beside the rule files)")
    click.echo(format_outcomes(outcomes, verbose=verbose), nl=False)
    sys.exit(EXIT_OK if all(o.passed for o in outcomes) else EXIT_FAIL)


@main.group()
def rules():
    """Inspect the loaded rule packs."""


@rules.command("list")
@_pack_options
@_format_option()
def rules_list(packs, params, format_name):
    """List the loaded rules: id, kind, severity, concern, citation."""
    from .run import list_rules
    pack = _load_pack(packs, params)
    click.echo(formats.get(format_name).rules(list_rules(pack)), nl=False)


@rules.command("categories")
@_pack_options
def rules_categories(packs, params):
    """List the categories that line items and commitments may use."""
    from tabulate import tabulate
    pack = _load_pack(packs, params)
    rows = [(name, spec.group, spec.description) for name, spec in pack.categories.items()]
    click.echo(tabulate(rows, headers=("category", "group", "description")))


from .cli_explain import register as _register_explain  # noqa: E402

_register_explain(main)

from .cli_whatif import register as _register_whatif
_register_whatif(main)


if __name__ == "__main__":  # pragma: no cover
    main()
