"""`diplo schema case|report`: JSON Schemas of the two public contracts, generated from the
pydantic models, for editors that validate case files as they are typed and for tools that
read reports."""
from __future__ import annotations

import json

import click

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

TITLES = {
    "case": "diplo case (case format, version 1)",
    "report": "diplo assessment report (report format, version 1)",
}


def schema(name: str) -> dict:
    """The JSON Schema of the case (what a case file may hold: the model validates it) or of
    the report (what `diplo assess --format json` prints: the model serialises it)."""
    from ..model import Case, Report
    if name == "case":
        body = Case.model_json_schema(mode="validation")
    elif name == "report":
        body = Report.model_json_schema(mode="serialization")
    else:
        raise ValueError(f"no schema named {name!r}; schemas are {', '.join(TITLES)}")
    body.pop("title", None)
    return {"$schema": JSON_SCHEMA_DIALECT, "title": TITLES[name], **body}


@click.command("schema")
@click.argument("contract", type=click.Choice(sorted(TITLES)))
def schema_command(contract):
    """Print the JSON Schema of a CONTRACT: `case` (the input file) or `report` (the
    output of `assess --format json`).

    Editors validate case files as they are typed with it, e.g. in VS Code with the YAML
    extension: `# yaml-language-server: $schema=case.schema.json` at the top of a case.
    Category names are not in the schema: they come from the rule packs (`diplo rules
    categories`), and `diplo assess` checks them.
    """
    click.echo(json.dumps(schema(contract), indent=2, ensure_ascii=False))
