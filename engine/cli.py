"""The `diplo` command: parse arguments, call the library, render, map the exit status."""
from __future__ import annotations

import contextlib
import glob
import os
import re
import sys
import traceback
from pathlib import Path

import click

from . import __version__, formats
from .errors import DiploError, UsageError
from .model import SEVERITIES

EXIT_OK = 0           # assessed; no risk at or above --fail-on (not waived, not known)
EXIT_FAIL = 1         # assessed; a risk at or above --fail-on (not waived, not known)
EXIT_ERROR = 2        # usage error, invalid pack, waivers or baseline; or an invalid case
EXIT_BUG = 3          # an internal error

CASE_SUFFIXES = (".yaml", ".yml", ".json")
_GLOB = re.compile(r"[*?[]")


def _error(message: str) -> None:
    # one line per error, always: scripts read a line of stderr as the whole error
    message = re.sub(r"\s*[\r\n]+\s*", " ", message.strip())
    click.echo(f"diplo: error: {message}", err=True)


def _fail(message: str, status: int = EXIT_ERROR):
    _error(message)
    sys.exit(status)


def _remember(ctx, param, value):
    ctx.meta[f"diplo.{param.name}"] = value
    return value


def _rule_options(func):
    """--disable and --severity. Their values go to the context, not to the command's
    arguments, and `_settings` (so `_load_pack`) picks them up: every command that loads
    packs takes them without a change to its signature."""
    func = click.option("--severity", multiple=True, metavar="RULE=LEVEL", expose_value=False,
                        callback=_remember,
                        help="Report a rule's findings at this severity (info, low, medium, "
                             "high, critical) for this run (repeatable).")(func)
    func = click.option("--disable", multiple=True, metavar="RULE", expose_value=False,
                        callback=_remember,
                        help="Leave a rule out for this run (repeatable).")(func)
    return func


def _pack_options(func):
    func = _rule_options(func)
    func = click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
                        help="Override a rule pack parameter for this run (repeatable).")(func)
    func = click.option("--pack", "packs", multiple=True, metavar="DIR|NAME",
                        help="A rule pack folder or installed pack name (repeatable; see "
                             "diplo pack list). Default: the defense-diplomacy pack.")(func)
    return func


def _given(name: str) -> bool:
    """Whether the command line gave option `name` (rather than its default)."""
    source = click.get_current_context().get_parameter_source(name)
    return source not in (None, click.core.ParameterSource.DEFAULT,
                          click.core.ParameterSource.DEFAULT_MAP)


def _settings(**cli):
    """The effective settings of this command (engine.config): `cli` holds the values its
    command line gave (None or empty: not given), over the project configuration file
    (unless `diplo --no-config`), over the defaults. --disable and --severity are read from
    the context."""
    from .config import effective_settings
    from .run import parse_assignments, parse_params
    meta = click.get_current_context().meta
    cli["params"] = parse_params(cli.get("params") or ())
    cli["disable"] = list(meta.get("diplo.disable") or ())
    cli["severity"] = parse_assignments(meta.get("diplo.severity") or (), "--severity", "RULE")
    config_file, origin, use_config = meta.get("diplo.config", (None, "--config", True))
    return effective_settings(cli, config_file=config_file, use_config=use_config,
                              config_origin=origin)


def _format_option(default: str = "table"):
    return click.option("--format", "format_name", type=click.Choice(formats.names()),
                        default=default, show_default=True, help="Output format.")


def _load_pack(packs, params):
    """The packs a command runs with: --pack, --param, --disable and --severity over the
    project configuration file."""
    return _settings(packs=packs, params=params).load_pack()


def _expand(args, skip: set[Path]) -> list[str | DiploError]:
    """Case arguments, in order: files as given; folders as the case files directly inside
    them; glob patterns (also quoted ones the shell left alone, `**` for any depth) as the
    case files and folders they match. An argument that yields no case file is an error in
    its place. Files in `skip` (the waivers, baseline and output files) and waivers files are
    never taken from a folder or a pattern."""
    from .waivers import CONVENTIONAL_NAME

    def cases_in(folder: Path) -> list[str]:
        return sorted(str(p) for p in folder.iterdir() if is_case(p))

    def is_case(p: Path) -> bool:
        # a link in a reviewed folder could point anywhere: only files named outright follow it
        return (p.is_file() and not p.is_symlink() and p.suffix.lower() in CASE_SUFFIXES
                and p.name != CONVENTIONAL_NAME and p.resolve() not in skip)

    found: list[str | DiploError] = []
    for raw in args:
        path = Path(raw)
        if path.is_dir():
            inside = cases_in(path)
            found.extend(inside or [DiploError(
                "the folder holds no .yaml, .yml or .json case files", file=raw)])
        elif _GLOB.search(raw) and not path.exists():
            inside = []
            for match in sorted(glob.glob(raw, recursive=True)):
                if Path(match).is_dir():
                    inside.extend(cases_in(Path(match)))
                elif is_case(Path(match)):
                    inside.append(match)
            found.extend(inside or [DiploError(
                "the pattern matches no .yaml, .yml or .json case files", file=raw)])
        else:
            found.append(raw)
    return found


def _progress(total: int):
    """A progress bar on stderr when it is a terminal; never in a pipe or a CI log."""
    if total < 2 or not sys.stderr.isatty():
        return contextlib.nullcontext()
    return click.progressbar(length=total, label="Assessing", file=sys.stderr)


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
@click.option("--config", "config_file", metavar="FILE", envvar="DIPLO_CONFIG",
              help="Read settings from this file (a diplo.toml, or a pyproject.toml with "
                   "[tool.diplo]) instead of the one found from the working directory "
                   "upwards. Also: environment variable DIPLO_CONFIG.")
@click.option("--no-config", is_flag=True,
              help="Ignore any configuration file.")
@click.pass_context
def main(ctx, config_file, no_config):
    """Assess defence budget proposals against guidance on defence diplomacy.

    Each finding is traced to the rule and the guidance section behind it. Settings come
    from the command line, then from diplo.toml (or [tool.diplo] in pyproject.toml) in the
    working directory or a folder above it: see `diplo config`.
    """
    from_env = ctx.get_parameter_source("config_file") == click.core.ParameterSource.ENVIRONMENT
    if config_file is not None and no_config and not from_env:
        raise UsageError("--config and --no-config cannot be used together")
    ctx.meta["diplo.config"] = (None if no_config else config_file,
                                "DIPLO_CONFIG" if from_env else "--config", not no_config)


@main.command()
@click.argument("cases", nargs=-1, required=True, metavar="CASE...")
@_pack_options
@_format_option()
@click.option("--fail-on", type=click.Choice(SEVERITIES), default="high", show_default=True,
              help="Exit with status 1 when a risk is at or above this severity (unless it "
                   "is waived or, with --baseline, already known). A configuration file's "
                   "fail-on replaces the default.")
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
@click.option("--waivers", "waivers_file", metavar="FILE",
              help="Accepted risks, each with a reason, an owner and an expiry date. Default: "
                   "the configuration file's waivers, else diplo-waivers.yaml in the folder of "
                   "the first case, if there is one.")
@click.option("--no-waivers", is_flag=True,
              help="Do not look for diplo-waivers.yaml beside the cases.")
@click.option("--baseline", "baseline_file", metavar="REPORT.json",
              help="An earlier JSON report (or array of reports): only risks new or more "
                   "severe than in it fail.")
@click.option("-j", "--jobs", type=click.IntRange(min=0), default=1, show_default=True,
              help="Assess in N worker processes (0: one per CPU); the output is the same.")
@click.option("-o", "--output", metavar="FILE",
              help="Write the output to FILE (atomically) instead of standard output.")
def assess(cases, packs, params, format_name, fail_on, exit_zero, explain, details,
           near_miss, margin, waivers_file, no_waivers, baseline_file, jobs, output):
    """Assess one or more case files (YAML or JSON; a folder means the cases in it; a glob
    pattern, quoted or not, the cases it matches).

    Exit status: 0 no risk at or above --fail-on (waived and, with --baseline, known risks
    aside), 1 at least one, 2 nothing assessed (bad usage, an invalid pack, waivers or baseline
    file, or no valid case; an invalid case among valid ones is reported on stderr and the
    others decide the status), 3 an internal error.

    A project configuration file (diplo.toml, or [tool.diplo] in pyproject.toml) may set
    --pack, --param, --disable, --severity, --fail-on, --format and --waivers; the command
    line wins. `diplo config` shows the settings in effect.
    """
    from . import waivers as waiver_files
    from .review import Entry, render, review, write_atomically
    from .run import assess_each
    if waivers_file is not None and no_waivers:
        raise UsageError("--waivers and --no-waivers cannot be used together", path="--waivers")
    settings = _settings(packs=packs, params=params, waivers=waivers_file, no_waivers=no_waivers,
                         fail_on=fail_on if _given("fail_on") else None,
                         format=format_name if _given("format_name") else None)
    fail_on, format_name = settings.fail_on.value, settings.format.value
    waivers_file = settings.waivers_file()
    pack = settings.load_pack()
    skip = {Path(f).resolve() for f in (waivers_file, baseline_file, output) if f}
    items = _expand(cases, skip)
    paths = [item for item in items if isinstance(item, str)]
    waivers = None
    if waivers_file is not None:
        waivers = waiver_files.load_waivers(waivers_file)
    elif not no_waivers and paths:
        found = waiver_files.conventional_file(paths[0])
        waivers = waiver_files.load_waivers(found) if found else None
    baseline = None
    if baseline_file:
        from .baseline import load_baseline
        baseline = load_baseline(baseline_file)

    with _progress(len(paths)) as bar:
        outcomes = iter(assess_each(
            paths, pack, explain=explain, near_miss=margin if near_miss else None,
            jobs=jobs or os.cpu_count() or 1,
            progress=(lambda done: bar.update(done - bar.pos)) if bar else None))
    day = waiver_files.today()
    batch: list[Entry] = []  # in the order of the arguments
    for item in items:
        if isinstance(item, DiploError):
            batch.append(Entry(item.file or "", error=item))
            continue
        report, error = next(outcomes)
        if report is not None:
            report = review(report, waivers=waivers, baseline=baseline, day=day)
        batch.append(Entry(item, report=report, error=error))
    reports = [entry.report for entry in batch if entry.report is not None]
    for entry in batch:
        if entry.error is not None:
            _error(str(entry.error))

    if reports:
        text = render(format_name, reports, details=details, fail_on=fail_on, batch=batch)
        if output:
            write_atomically(output, text)
        else:
            click.echo(text, nl=False)
    if not reports:
        sys.exit(EXIT_ERROR)  # nothing assessed
    # an invalid file among valid ones is reported on stderr (and in the batch summary); the
    # status is the gate's over the cases that could be assessed
    failed = any(r.fails_gate(fail_on) for r in reports) and not exit_zero
    sys.exit(EXIT_FAIL if failed else EXIT_OK)


@main.command("test")
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

from .cli_schema import register as _register_schema  # noqa: E402
_register_schema(main)

from .cli_config import register as _register_config  # noqa: E402
_register_config(main)

from .cli_pack import register as _register_pack  # noqa: E402
_register_pack(main)


if __name__ == "__main__":  # pragma: no cover
    main()
