"""`diplo rules`: the loaded rules, one rule in full, and the categories a case may use."""
from __future__ import annotations

import click

from .. import formats
from .common import _rule_ids, format_option, load_packs, pack_options, width_option


@click.group()
def rules():
    """Inspect the loaded rule packs."""


@rules.command("list")
@pack_options
@format_option()
def rules_list(packs, params, format_name):
    """List the loaded rules: id, kind, severity, concern, citation, tags."""
    from ..core.run import list_rules
    pack = load_packs(packs, params)
    click.echo(formats.get(format_name).rules(list_rules(pack)), nl=False)


@rules.command("show")
@click.argument("rule_id", metavar="RULE", shell_complete=_rule_ids)
@pack_options
@format_option()
def rules_show(rule_id, packs, params, format_name):
    """Show one rule in full: its conditions, message and remedy as written, the parameters
    it reads with their values and sources, the guidance it cites, its file and line, and the
    tests of the loaded packs that name it."""
    from ..authoring.rule_detail import rule_detail
    render = formats.renderer(format_name, "rule")
    pack = load_packs(packs, params)
    click.echo(render(rule_detail(pack, rule_id)), nl=False)


@rules.command("categories")
@pack_options
@width_option
def rules_categories(packs, params):
    """List the categories that line items and commitments may use."""
    from ..formats.terminal import fit_table
    pack = load_packs(packs, params)
    rows = [(name, spec.group, spec.description) for name, spec in pack.categories.items()]
    click.echo(fit_table(rows, ("category", "group", "description"), wrap=(2,)))
