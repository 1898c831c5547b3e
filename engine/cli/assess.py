"""`diplo assess`: assess case files, apply waivers and a baseline, render, gate."""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click

from ..errors import DiploError, UsageError
from ..model import SEVERITIES
from .common import (
    CASE_SUFFIXES,
    EXIT_ERROR,
    EXIT_FAIL,
    EXIT_OK,
    executor_address,
    executor_option,
    format_option,
    given,
    pack_options,
    print_problems,
    progress_bar,
    settings_for,
)


def _expand(args, skip: set[Path]) -> list[str | DiploError]:
    """Case arguments as case files (engine.inputs.expand); never the waivers, baseline or
    output file (`skip`), nor a waivers file found by convention."""
    from ..inputs.expand import expand_cases
    from ..review.waivers import CONVENTIONAL_NAME
    return expand_cases(args, skip=skip, skip_names=(CONVENTIONAL_NAME,),
                        suffixes=CASE_SUFFIXES)


@click.command()
@click.argument("cases", nargs=-1, required=True, metavar="CASE...")
@pack_options
@format_option()
@click.option("--fail-on", type=click.Choice(SEVERITIES), default="high", show_default=True,
              help="Exit with status 1 when a risk is at or above this severity (unless it "
                   "is waived or, with --baseline, already known). A configuration file's "
                   "fail-on replaces the default.")
@click.option("--exit-zero", is_flag=True,
              help="Exit with status 0 even when a risk reaches --fail-on (for reports that "
                   "must not stop a pipeline); a case that cannot be read, or other invalid "
                   "input, still exits with 2.")
@click.option("--explain", is_flag=True,
              help="Include every derived fact (with its rule and inputs) in the report; the "
                   "table and markdown formats show each finding's proof tree.")
@click.option("--details", is_flag=True,
              help="In the table, also print each finding's full id, message, remedy and "
                   "quote.")
@click.option("--summary", is_flag=True,
              help="Only the verdicts and the number of findings per concern and case, no "
                   "finding (table and markdown formats).")
@click.option("--max-chars", type=click.IntRange(min=0), metavar="N",
              help="Keep the markdown memo under N characters by leaving findings out, and "
                   "say so in it (default 60000, under a pull-request comment's limit; 0: no "
                   "limit).")
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
              help="Assess in N processes (0: one per CPU this process may use; never more "
                   "than there are cases); the output is the same.")
@executor_option
@click.option("-o", "--output", metavar="FILE",
              help="Write the output to FILE (atomically) instead of standard output.")
@click.option("--strict", is_flag=True,
              help="Refuse a case with a figure that looks mistyped (a plausibility warning "
                   "it does not accept): it is reported as invalid, exit status 2.")
@click.option("--map", "map_file", metavar="MAP.yaml",
              help="For a CASE that is a spreadsheet (.xlsx, .csv): the mapping of its columns "
                   "and budget headings, as for `diplo import` (diplo docs spreadsheets).")
def assess(cases, packs, params, format_name, fail_on, exit_zero, explain, details, summary,
           max_chars, near_miss, margin, waivers_file, no_waivers, baseline_file, jobs, output,
           strict, map_file):
    """Assess one or more case files (YAML or JSON; a folder means the cases in it; a glob
    pattern, quoted or not, the cases it matches).

    Exit status: 0 no risk at or above --fail-on (waived and, with --baseline, known risks
    aside), 1 at least one, 2 a case could not be read or validated (the others are still
    assessed and reported in full; this wins over 0 and 1, even with --exit-zero), or bad usage,
    an invalid pack, waivers or baseline file, 3 an internal error.

    With --format jsonl each report is written as soon as its case is assessed, in the
    order of the cases.

    A project configuration file (diplo.toml, or [tool.diplo] in pyproject.toml) may set
    --pack, --param, --disable, --severity, --fail-on, --format and --waivers; the command
    line wins. `diplo config` shows the settings in effect.
    """
    from .. import formats
    from ..api import iter_assess_each
    from ..review import waivers as waiver_files
    from ..review.gate import Entry, render, review
    from ..review.output import OutputFile
    if waivers_file is not None and no_waivers:
        raise UsageError("--waivers and --no-waivers cannot be used together", path="--waivers")
    settings = settings_for(packs=packs, params=params, waivers=waivers_file, no_waivers=no_waivers,
                         fail_on=fail_on if given("fail_on") else None,
                         format=format_name if given("format_name") else None)
    fail_on, format_name = settings.fail_on.value, settings.format.value
    options = {}
    for name, value, flag in (("summary", summary, "--summary"),
                              ("max_chars", max_chars, "--max-chars")):
        if value is not None and value is not False:   # --max-chars 0 is given
            formats.require_option(format_name, name, flag)
            options[name] = value
    if output:   # a file is not the terminal: no colour, and no width unless --width says
        from ..formats.terminal import set_terminal
        set_terminal(colour=False, width=click.get_current_context().meta.get("diplo.width"))
    waivers_file = settings.waivers_file()
    pack = settings.load_pack()
    skip = {Path(f).resolve() for f in (waivers_file, baseline_file, output) if f}
    items = _expand(cases, skip)
    paths = [item for item in items if isinstance(item, str)]
    sheets = {item for item in paths if Path(item).suffix.lower() in (".xlsx", ".xlsm", ".csv")}
    case_files = [item for item in paths if item not in sheets]
    explain = explain or formats.needs_facts(format_name)
    waivers = None
    if waivers_file is not None:
        waivers = waiver_files.load_waivers(waivers_file, found_in=settings.waivers_found_in())
    elif not no_waivers and paths:
        waivers_file = waiver_files.conventional_file(paths[0])
        if waivers_file is not None:
            waivers = waiver_files.load_waivers(waivers_file, found_in=waivers_file.parent)
    baseline = None
    if baseline_file:
        from ..review.baseline import load_baseline
        baseline = load_baseline(baseline_file)

    # a format that streams is written a report at a time, as each case is assessed; on a
    # terminal its lines are the progress, and errors are said as they come
    streaming = formats.streams(format_name)
    live = streaming and output is None
    day = waiver_files.today()
    batch: list[Entry] = []  # in the order of the arguments
    # the output never replaces what this run reads
    inputs = {str(path): "a case" for path in paths if path != "-"}
    inputs.update((str(path), what) for path, what in (
        (waivers_file, "the waivers file"), (baseline_file, "the baseline"),
        (map_file, "the spreadsheet map"),
        (settings.config and settings.config.path, "the configuration file")) if path)
    with (OutputFile(output, inputs=inputs) if output is not None
          else contextlib.nullcontext()) as out:
        def write(text: str) -> None:
            if out is not None:
                out.write(text)
            elif text:
                click.echo(text, nl=False)
                sys.stdout.flush()

        with (contextlib.nullcontext() if live else progress_bar(len(paths))) as bar, \
                contextlib.closing(iter_assess_each(
                    case_files, pack, explain=explain, near_miss=margin if near_miss else None,
                    jobs=jobs, executor=executor_address(),
                    progress=(lambda done: bar.update(done - bar.pos)) if bar else None,
                    strict=strict)) as outcomes:
            for item in items:
                if isinstance(item, DiploError):
                    entry = Entry(item.file or "", error=item)
                else:
                    if item in sheets:
                        from .spreadsheet import assess_spreadsheet
                        report, error = assess_spreadsheet(
                            item, map_file, pack, explain=explain, strict=strict,
                            near_miss=margin if near_miss else None)
                    else:
                        report, error = next(outcomes)
                    if report is not None:
                        report = review(report, waivers=waivers, baseline=baseline, day=day)
                    entry = Entry(item, report=report, error=error)
                batch.append(entry)
                if live:
                    print_problems(entry)
                if streaming and entry.report is not None:
                    write(render(format_name, [entry.report], details=details,
                                 fail_on=fail_on, **options))
        reports = [entry.report for entry in batch if entry.report is not None]
        unreadable = [entry for entry in batch if entry.error is not None]
        if not live:
            for entry in batch:
                print_problems(entry)
        if not streaming:
            write(render(format_name, reports, details=details, fail_on=fail_on, batch=batch,
                         **options))
    # a gate never passes over a case it could not read: the others are reported in full, but
    # the status says that the batch was not checked whole
    if unreadable or not reports:
        sys.exit(EXIT_ERROR)
    failed = any(r.fails_gate(fail_on) for r in reports) and not exit_zero
    sys.exit(EXIT_FAIL if failed else EXIT_OK)
