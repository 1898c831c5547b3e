"""`diplo schema NAME`: JSON Schemas of every file a user writes or reads, generated from the
pydantic models that validate them: the case and the report (the two public contracts), a
pack's manifest, its rule files and rule tests, a waivers file and the project configuration,
so that editors check each of them as it is typed."""
from __future__ import annotations

import json

import click

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

TITLES = {
    "case": "diplo case (case format, version 1.1)",
    "report": "diplo assessment report (report format, version 2)",
    "pack": "diplo rule pack manifest (pack.yaml)",
    "rules": "diplo rule file (a pack's rules/*.yaml)",
    "tests": "diplo rule tests (a pack's rules/*.test.yaml)",
    "waivers": "diplo waivers file (diplo-waivers.yaml)",
    "config": "diplo project configuration (diplo.toml, or [tool.diplo] in pyproject.toml)",
}

def _model(name: str):
    """The model that validates (or, for the report, serialises) the file `name`."""
    if name in ("case", "report"):
        from ..model import Case, Report
        return Case if name == "case" else Report
    if name in ("pack", "rules"):
        from ..lang.spec import Manifest, RuleFile
        return Manifest if name == "pack" else RuleFile
    if name == "tests":
        from ..authoring.packtest import TestFile
        return TestFile
    if name == "waivers":
        from ..review.waivers import WaiversFile
        return WaiversFile
    from ..config import ConfigModel
    return ConfigModel


def schema(name: str) -> dict:
    """The JSON Schema of file `name` (one of TITLES): what the model that validates it
    accepts; for the report, what `diplo assess --format json` prints."""
    if name not in TITLES:
        raise ValueError(f"no schema named {name!r}; schemas are {', '.join(TITLES)}")
    model = _model(name)
    body = model.model_json_schema(mode="serialization" if name == "report" else "validation")
    body.pop("title", None)
    return {"$schema": JSON_SCHEMA_DIALECT, "title": TITLES[name], **body}


@click.command("schema")
@click.argument("contract", metavar="NAME", type=click.Choice(list(TITLES)))
def schema_command(contract):
    """Print the JSON Schema of a file diplo reads or writes. NAME is one of: case (a case
    file), report (the output of `assess --format json`), pack (a pack's pack.yaml), rules (a
    pack's rule files), tests (a pack's rule tests, *.test.yaml), waivers
    (diplo-waivers.yaml), config (diplo.toml).

    Editors check a file as it is typed with it, e.g. in VS Code with the YAML extension:
    `# yaml-language-server: $schema=case.schema.json` at the top of a case. What a schema
    cannot know is checked when diplo reads the file: category names (they come from the
    rule packs: `diplo rules categories`), expressions in rules, links between fields.
    """
    click.echo(json.dumps(schema(contract), indent=2, ensure_ascii=False))
