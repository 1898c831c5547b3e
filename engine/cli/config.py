"""`diplo config`: the settings in effect, and where each one comes from.
"""
from __future__ import annotations

import json

import click

from ..errors import UsageError
from ..model import SEVERITIES
from .common import pack_options, settings_for, width_option


def where_from(settings) -> str:
    """One line: which configuration file applies, and how it was chosen."""
    from ..config import CONFIG_NAME
    if settings.config_origin == "--no-config":
        return "Configuration file: none (--no-config)"
    if settings.config is None:
        return (f"Configuration file: none found ({CONFIG_NAME}, or pyproject.toml with "
                f"[tool.diplo], in {settings.start} or a folder above it)")
    how = "" if settings.config_origin == "found" else f" ({settings.config_origin})"
    return f"Configuration file: {settings.config.name}{how}"


@click.command("config")
@pack_options
@click.option("--fail-on", type=click.Choice(SEVERITIES),
              help="As for `diplo assess`: show the settings with this --fail-on.")
@click.option("--waivers", "waivers_file", metavar="FILE",
              help="As for `diplo assess`: show the settings with this waivers file.")
@click.option("--no-waivers", is_flag=True,
              help="As for `diplo assess`: show the settings without a waivers file.")
@click.option("--format", "format_name", type=click.Choice(["table", "json"]),
              default="table", show_default=True,
              help="How to print the settings (the format setting itself comes from the "
                   "configuration file).")
@width_option
@click.option("--check", is_flag=True,
              help="Also load the packs with these settings and read the waivers file, "
                   "so that a setting they refuse fails here (exit 2).")
def config(packs, params, fail_on, waivers_file, no_waivers, format_name, check):
    """Show the settings `diplo assess` would run with: each value and where it comes
    from (the command line, the configuration file and line, or the default).

    The configuration file is diplo.toml, or a pyproject.toml with a [tool.diplo] table,
    in the working directory or the nearest folder above it (`diplo --config FILE`
    names one, `diplo --no-config` ignores it). The options are those of `diplo assess`,
    to see what a command line would give.

    Exit status: 0 shown (and with --check, the packs load), 2 an invalid configuration
    file, option, pack or waivers file, 3 an internal error.
    """
    if waivers_file is not None and no_waivers:
        raise UsageError("--waivers and --no-waivers cannot be used together",
                         path="--waivers")
    settings = settings_for(packs=packs, params=params, fail_on=fail_on,
                         waivers=waivers_file, no_waivers=no_waivers)
    checked = None
    if check:
        from ..review.waivers import load_waivers
        pack = settings.load_pack()
        waivers = settings.waivers_file()
        if waivers is not None:
            load_waivers(waivers, found_in=settings.waivers_found_in())
        checked = (f"the packs load ({', '.join(f'{p.name} {p.version}' for p in pack.packs)}"
                   f"; {len(pack.rules)} rules)"
                   + (f" and the waivers file {waivers} is valid" if waivers else ""))
    if format_name == "json":
        data = settings.to_dict()
        if check:
            data["check"] = checked
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    from ..formats.terminal import fit_lines, fit_table
    click.echo("\n".join(fit_lines([where_from(settings)])))
    click.echo(fit_table(settings.rows(), ("setting", "value", "source"), wrap=(1, 2)))
    if checked:
        click.echo(f"Checked: {checked}.")
