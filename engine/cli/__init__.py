"""The `diplo` command: each command group in a module of its own, each command parsing its
arguments, calling the library, rendering and mapping the exit status.

This package sits on top: it may import every other part of diplo; nothing imports it.
"""
from __future__ import annotations

import click

from .. import __version__
from ..errors import UsageError
from .common import Guarded


@click.group(cls=Guarded, context_settings={"help_option_names": ["-h", "--help"]})
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


def _add_commands() -> None:
    from . import assess, case, config, docs, explain, packs, rules, schema, spreadsheet, whatif
    for command in (assess.assess, packs.run_rule_tests, rules.rules, explain.explain,
                    whatif.compare, whatif.whatif, whatif.sweep, schema.schema_command,
                    config.config, packs.pack_group, docs.docs_command, case.case_group,
                    spreadsheet.import_command, spreadsheet.export_command):
        main.add_command(command)
    from .serve import serve
    main.add_command(serve)
    from .cache import cache_group
    main.add_command(cache_group)


_add_commands()
