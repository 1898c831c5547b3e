"""Starting and feeding cases: `diplo case new` writes a commented case that passes validation
(and --strict), `diplo assess -` reads a case from standard input, and `diplo schema` publishes
a JSON Schema for every file a user writes, which the shipped files satisfy."""
from __future__ import annotations

import json
import tomllib

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from engine import load_case
from engine.cli import main
from engine.cli.schema import TITLES, schema
from engine.inputs.template import case_template

from conftest import ROOT

DEFAULT_PACK = ROOT / "rules" / "defense-diplomacy"


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


# --- diplo case new -----------------------------------------------------------------------

@pytest.mark.parametrize("country", ["Country A", "Côte d'Ivoire", "Yes", "A: B # C",
                                     "\"Quoted\" [land]", "  Spaced\n  name "])
def test_the_template_passes_validation_and_strict_for_any_country(country, tmp_path):
    result = run("case", "new", "--country", country, "--year", 2031)
    assert (result.exit_code, result.stderr) == (0, "")
    path = tmp_path / "case.yaml"
    path.write_text(result.stdout, encoding="utf-8")
    case = load_case(path)
    assert case.country == " ".join(country.split())
    assert case.fiscal_year == 2031 and case.id.endswith("-fy2031")
    assessed = run("assess", path, "--strict", "--exit-zero", "--no-waivers")
    assert (assessed.exit_code, assessed.stderr) == (0, "")


def test_the_template_is_commented_and_shows_the_format_1_1_fields():
    text = case_template("Country A", 2031)
    for words in ("# ", "funded_by:", "programme:", "change_reason:", "financing:",
                  "guidelines:", "memberships:", "sources:", "range: [", "2031-32"):
        assert words in text, words
    data = yaml.safe_load(text)
    assert data["line_items"][4]["amount"] == {"value": 120, "range": [110, 130]}


def test_case_new_writes_a_file_and_never_over_one(tmp_path):
    target = tmp_path / "new.yaml"
    first = run("case", "new", "-o", target, "--year", 2030)
    assert (first.exit_code, first.stdout) == (0, "") and target.read_text().startswith("#")
    again = run("case", "new", "-o", target)
    assert again.exit_code == 2 and again.stdout == ""
    assert again.stderr == ("diplo: error: --output: the file exists; diplo case new never "
                            "writes over a file\n")
    assert run("case", "new", "--year", 99).exit_code == 2


# --- diplo assess - ------------------------------------------------------------------------

def test_assess_reads_a_case_from_standard_input(in_repo):
    text = (ROOT / "cases" / "balanced-partner.yaml").read_text(encoding="utf-8")
    piped = run("assess", "-", "--format", "json", "--exit-zero", input=text)
    filed = run("assess", "cases/balanced-partner.yaml", "--format", "json", "--exit-zero")
    assert (piped.exit_code, piped.stderr) == (0, "")
    report, expected = json.loads(piped.stdout), json.loads(filed.stdout)
    assert report["case"]["source"] == "<stdin>"
    report["case"]["source"] = expected["case"]["source"]
    assert report == expected


def test_an_invalid_case_on_standard_input_is_named_stdin():
    result = run("assess", "-", input="id: x\ntitle: T\n")
    assert result.exit_code == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 4 and all(line.startswith("diplo: error: <stdin>:") for line in lines)


def test_standard_input_with_other_cases_and_workers(in_repo):
    text = (ROOT / "cases" / "balanced-partner.yaml").read_text(encoding="utf-8")
    result = run("assess", "-", "cases/control-steady.yaml", "--jobs", 2, "--exit-zero",
                 "--format", "json", input=text)
    assert result.exit_code == 0, result.stderr
    assert [r["case"]["source"] for r in json.loads(result.stdout)] == [
        "<stdin>", "cases/control-steady.yaml"]


# --- diplo schema ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(TITLES))
def test_every_schema_is_a_valid_json_schema(name):
    result = run("schema", name)
    assert (result.exit_code, result.stderr) == (0, "")
    printed = json.loads(result.stdout)
    assert printed == schema(name) and printed["title"] == TITLES[name]
    jsonschema.Draft202012Validator.check_schema(printed)


def _valid(name: str, data) -> list[str]:
    validator = jsonschema.Draft202012Validator(
        schema(name), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(data)]


def test_the_shipped_packs_satisfy_the_pack_rules_and_tests_schemas():
    for pack in (ROOT / "rules").iterdir():
        assert _valid("pack", yaml.safe_load((pack / "pack.yaml").read_text())) == []
        for path in sorted((pack / "rules").glob("*.yaml")):
            kind = "tests" if path.name.endswith(".test.yaml") else "rules"
            assert _valid(kind, yaml.safe_load(path.read_text())) == [], path


def test_the_schemas_refuse_what_diplo_refuses():
    assert _valid("pack", {"name": "x", "version": "1.0.0", "descripton": "typo"})
    assert _valid("rules", {"rules": []})
    assert _valid("tests", {"tests": [{"name": "t", "expect": [{"rul": "X"}]}]})
    waiver = {"rule": "DD-ENG-002", "reason": "accepted", "owner": "team",
              "expires": "2030-01-01"}
    assert _valid("waivers", {"waivers": [waiver]}) == []
    assert _valid("waivers", {"waivers": [{**waiver, "expires": "soon"}]})
    config = tomllib.loads('fail-on = "medium"\npacks = ["defense-diplomacy"]\n'
                           'params = {cut_pct = 12}\n')
    assert _valid("config", config) == []
    assert _valid("config", {"fail_on": "medium"})     # the key is fail-on
    assert _valid("case", yaml.safe_load(case_template("Country A", 2031))) == []
    assert _valid("case", {**yaml.safe_load(case_template("Country A", 2031)),
                           "fiscal_year": "2031-33x"})
