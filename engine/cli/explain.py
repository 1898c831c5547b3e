"""`diplo explain`: proof trees, why a rule did not fire, and the changes that clear a risk."""
from __future__ import annotations

import click

from .common import _rule_ids, load_packs, pack_options, width_option


@click.command()
@click.argument("case", metavar="CASE")
@click.argument("finding_id", required=False, metavar="[FINDING_ID]")
@click.option("--rule", "rule_id", metavar="RULE_ID", shell_complete=_rule_ids,
              help="Say why this rule did or did not fire: which condition failed, and by "
                   "how much for a numeric one.")
@click.option("--remedies", is_flag=True,
              help="For each risk (or FINDING_ID), the smallest change to one amount, "
                   "total, GDP, inflation or share that clears it, verified by assessing "
                   "the changed case.")
@pack_options
@click.option("--format", "format_name", type=click.Choice(["table", "json"]),
              default="table", show_default=True, help="Output format.")
@width_option
def explain(case, finding_id, rule_id, remedies, packs, params, format_name):
    """Explain the findings of CASE: each one's proof tree down to the case fields and
    parameters it used, with the guidance quoted at every rule."""
    from ..analysis.explain import explain_case, render_explanation
    from ..core.run import load_case
    pack = load_packs(packs, params)
    result = explain_case(load_case(case, pack), pack, finding_id=finding_id, rule=rule_id,
                          with_remedies=remedies)
    if format_name == "json":
        click.echo(result.to_json(), nl=False)
    else:
        from ..formats.terminal import fit_text
        click.echo(fit_text(render_explanation(result)), nl=False)
