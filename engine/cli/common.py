"""What every command shares: exit statuses, one-line errors, the options that load packs,
the effective settings, the progress bar, and the guard that turns errors into exit statuses."""
from __future__ import annotations

import contextlib
import os
import re
import sys
import traceback

import click

from .. import formats
from ..errors import DiploError

EXIT_OK = 0           # assessed; no risk at or above --fail-on (not waived, not known)
EXIT_FAIL = 1         # assessed; a risk at or above --fail-on (not waived, not known)
EXIT_ERROR = 2        # usage error, invalid pack, waivers or baseline; or an invalid case
EXIT_BUG = 3          # an internal error

CASE_SUFFIXES = (".yaml", ".yml", ".json")
GLOB = re.compile(r"[*?[]")


# a message's own line breaks become spaces; any other character that some reader takes
# for the end of a line (\v, \f, \x1c-\x1e, \x85, U+2028, U+2029: str.splitlines does) or
# that a terminal acts on (escape sequences) is shown as an escape, as it may come from a
# file that is echoed (a key, a value)
_BREAKS = re.compile(r"\s*(?:\r\n|[\r\n])\s*")
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str) -> str:
    """Text that prints as exactly one line on any terminal and for any line reader."""
    text = _BREAKS.sub(" ", text.strip())
    return _UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                       else f"\\u{ord(m.group()):04x}", text)


def print_error(message: str | DiploError) -> None:
    # one line per error, always: scripts read a line of stderr as the whole error; an error
    # of several problems (every problem of a case file) is a line per problem
    for line in message.lines() if isinstance(message, DiploError) else [message]:
        click.echo(f"diplo: error: {one_line(line)}", err=True)


def print_problems(entry) -> None:
    """What went wrong with one case of a batch (a batch Entry): its error, or the
    plausibility warnings of its report that the case does not accept, a line each."""
    if entry.error is not None:
        print_error(entry.error)
        return
    report = entry.report
    for warning in report.warnings if report is not None else ():
        if not warning.accepted:
            where = report.case.source or report.case.id
            if warning.line is not None:
                where += f":{warning.line}:{warning.column}"
            text = one_line(f"{where}: {warning.path}: {warning.message}")
            click.echo(f"diplo: warning: {text}", err=True)


def fail(message: str | DiploError, status: int = EXIT_ERROR):
    print_error(message)
    sys.exit(status)


def _remember(ctx, param, value):
    ctx.meta[f"diplo.{param.name}"] = value
    return value


def _pack_names(ctx, param, incomplete):
    from .complete import pack_names
    return pack_names(ctx, param, incomplete)


def _rule_ids(ctx, param, incomplete):
    from .complete import rule_ids
    return rule_ids(ctx, param, incomplete)


def rule_options(func):
    """--select, --ignore, --disable and --severity. Their values go to the context, not to
    the command's arguments, and `settings_for` (so `load_packs`) picks them up: every command
    that loads packs takes them without a change to its signature."""
    func = click.option("--severity", multiple=True, metavar="RULE=LEVEL", expose_value=False,
                        callback=_remember,
                        help="Report a rule's findings at this severity (info, low, medium, "
                             "high, critical) for this run (repeatable).")(func)
    func = click.option("--disable", multiple=True, metavar="RULE", expose_value=False,
                        callback=_remember, shell_complete=_rule_ids,
                        help="Leave a rule out for this run, by its exact id (repeatable).")(func)
    func = click.option("--ignore", multiple=True, metavar="SELECTOR", expose_value=False,
                        callback=_remember,
                        help="Leave out the reporting rules a selector matches (repeatable, "
                             "or comma-separated; selectors as for --select).")(func)
    func = click.option("--select", multiple=True, metavar="SELECTOR", expose_value=False,
                        callback=_remember,
                        help="Report only the rules a selector matches: a rule id or its "
                             "start (DD-TRA), concern:NAME or tag:NAME (repeatable, or "
                             "comma-separated). Rules that derive facts a selected rule "
                             "needs still run (diplo docs configuration).")(func)
    return func


def pack_options(func):
    func = rule_options(func)
    func = click.option("--no-cache", is_flag=True, expose_value=False, callback=_remember,
                        help="Load the packs afresh: neither read nor write the cache of "
                             "compiled packs (diplo cache info).")(func)
    func = click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
                        help="Override a rule pack parameter for this run (repeatable).")(func)
    func = click.option("--pack", "packs", multiple=True, metavar="DIR|NAME",
                        shell_complete=_pack_names,
                        help="A rule pack folder or installed pack name (repeatable; see "
                             "diplo pack list). Default: the defense-diplomacy pack.")(func)
    return func


def executor_option(func):
    """--executor ADDRESS: a batch or a sweep on the workers of a Dask scheduler
    (`executor_address`)."""
    return click.option(
        "--executor", metavar="ADDRESS", expose_value=False, callback=_remember,
        help="Assess on the workers of the Dask distributed scheduler at ADDRESS "
             "(tcp://HOST:8786; pip install \"diplo[distributed]\"); the packs are sent to "
             "them by content, and the output is the same (diplo docs scaling).")(func)


def executor_address() -> str | None:
    return click.get_current_context().meta.get("diplo.executor")


def given(name: str) -> bool:
    """Whether the command line gave option `name` (rather than its default)."""
    source = click.get_current_context().get_parameter_source(name)
    return source not in (None, click.core.ParameterSource.DEFAULT,
                          click.core.ParameterSource.DEFAULT_MAP)


def settings_for(**cli):
    """The effective settings of this command (engine.config): `cli` holds the values its
    command line gave (None or empty: not given), over the project configuration file
    (unless `diplo --no-config`), over the defaults. --select, --ignore, --disable and
    --severity are read from the context."""
    from ..config import effective_settings
    from ..core import cache
    from ..core.run import parse_assignments, parse_params
    meta = click.get_current_context().meta
    cache.enable(not meta.get("diplo.no_cache"))
    cli["params"] = parse_params(cli.get("params") or ())
    cli["disable"] = list(meta.get("diplo.disable") or ())
    cli["select"] = list(meta.get("diplo.select") or ())
    cli["ignore"] = list(meta.get("diplo.ignore") or ())
    cli["severity"] = parse_assignments(meta.get("diplo.severity") or (), "--severity", "RULE")
    config_file, origin, use_config = meta.get("diplo.config", (None, "--config", True))
    return effective_settings(cli, config_file=config_file, use_config=use_config,
                              config_origin=origin)


def _set_width(ctx, param, value):
    ctx.meta["diplo.width"] = value
    if value:
        from ..formats.terminal import set_terminal
        set_terminal(width=value)


def width_option(func):
    """--width N: the width text output fits (default: the terminal's, COLUMNS, or no limit
    in a pipe)."""
    return click.option("--width", type=click.IntRange(min=40), metavar="N",
                        expose_value=False, callback=_set_width, is_eager=True,
                        help="Fit tables and text to N columns (default on a terminal: "
                             "COLUMNS, else its width; no limit when the output is not a "
                             "terminal).")(func)


def format_option(default: str = "table"):
    def decorate(func):
        func = click.option("--format", "format_name", type=click.Choice(formats.names()),
                            default=default, show_default=True, help="Output format.")(func)
        return width_option(func)
    return decorate


def load_packs(packs, params):
    """The packs a command runs with: --pack, --param, --select, --ignore, --disable and
    --severity over the project configuration file."""
    return settings_for(packs=packs, params=params).load_pack()


def progress_bar(total: int):
    """A progress bar on stderr when it is a terminal; never in a pipe or a CI log."""
    if total < 2 or not sys.stderr.isatty():
        return contextlib.nullcontext()
    return click.progressbar(length=total, label="Assessing", file=sys.stderr)


class Guarded(click.Group):
    """Turns diplo's own errors into one line and exit 2, and bugs into exit 3."""

    def invoke(self, ctx):
        from ..formats.terminal import of_stream, using_terminal
        with using_terminal(of_stream(sys.stdout)) as shown:
            if shown.colour:
                ctx.color = True    # click.echo keeps the colours, in a pipe too (FORCE_COLOR)
            return self._invoke(ctx)

    def _invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DiploError as exc:
            fail(exc)
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
            click.echo(f"diplo: internal error: {type(exc).__name__}: {one_line(str(exc))}",
                       err=True)
            click.echo("This is a bug in diplo, not a problem with your input. Please report "
                       "it with the command you ran and the files it read.", err=True)
            if detail:
                click.echo(f"  ({detail[-3].strip() if len(detail) >= 3 else detail[0]})",
                           err=True)
            sys.exit(EXIT_BUG)
