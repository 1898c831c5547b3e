"""The documentation's examples run, and its reference tables match the code."""
from __future__ import annotations

import re

import yaml

from engine import assess, load_pack
from engine.lang.kinds import BASE_SCHEMAS

from conftest import DEFAULT_PACK, ROOT, make_case

RULE_LANGUAGE = (ROOT / "docs" / "rule-language.md").read_text(encoding="utf-8")


def yaml_blocks(text: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", text, re.S)


def test_the_example_pack_in_the_rule_language_guide_loads_and_runs(tmp_path):
    blocks = yaml_blocks(RULE_LANGUAGE)
    manifest = yaml.safe_load(blocks[0])
    first, second = yaml.safe_load(blocks[1]), yaml.safe_load("rules:\n" + blocks[2])
    folder = tmp_path / "my-pack"
    (folder / "rules").mkdir(parents=True)
    (folder / "guidance.txt").write_bytes((DEFAULT_PACK / "guidance.txt").read_bytes())
    (folder / "pack.yaml").write_text(yaml.safe_dump(manifest), encoding="utf-8")
    (folder / "rules" / "a.yaml").write_text(
        yaml.safe_dump({"rules": first["rules"] + second["rules"]}), encoding="utf-8")
    pack = load_pack(folder)
    case = make_case(line_items=[{"id": "exercises", "category": "joint_exercises",
                                  "amount": 80, "prior": 100}])
    report = assess(case, pack)
    assert [f.rule for f in report.findings] == ["MY-ENG-002"]
    assert report.findings[0].message == "exercises falls 21.6% in real terms."


def test_the_fact_reference_names_every_field_the_code_provides():
    table = RULE_LANGUAGE.split("## Facts every case provides")[1].split("## Patterns")[0]
    for kind, fields in BASE_SCHEMAS.items():
        row = next(line for line in table.splitlines() if line.startswith(f"| `{kind}`"))
        for name, typ in fields.items():
            shown = f"`{name}?`" if typ.endswith("?") else f"`{name}`"
            assert shown in row, f"{kind}.{name} should appear as {shown}"


def _section(text: str, heading: str) -> str:
    return text.split(f"## {heading}\n")[1].split("\n## ")[0]


def test_the_extension_example_loads_and_changes_the_default_pack(tmp_path):
    block = yaml_blocks(_section(RULE_LANGUAGE, "Extending a pack"))[0]
    folder = tmp_path / "stricter-audit"
    folder.mkdir()
    (folder / "pack.yaml").write_text(block, encoding="utf-8")
    pack = load_pack(folder)
    assert [p.name for p in pack.packs] == ["defense-diplomacy", "stricter-audit"]
    report = assess(make_case(transparency={"external_audit": "financial"}), pack)
    [finding] = [f for f in report.findings if f.rule == "DD-TRA-005"]
    assert finding.severity == "medium"
    assert finding.severity_override.by == "pack stricter-audit"
    assert pack.parameters["defense-diplomacy"]["secret_high_pct"].value == 5


def test_the_manifest_reference_shows_every_key_the_loader_accepts():
    from engine.lang import spec as packs
    shown = _section(RULE_LANGUAGE, "A pack") + _section(RULE_LANGUAGE, "Extending a pack")
    keys = set(re.findall(r"^\s*([a-z_]+):", "\n".join(yaml_blocks(shown)), re.M))
    keys |= set(re.findall(r"\{([a-z_]+):", shown)) | set(re.findall(r", ([a-z_]+):", shown))
    for model in (packs.Manifest, packs.GuidanceSpec, packs.SectionSpec, packs.CategorySpec,
                  packs.ConcernSpec, packs.ParameterSpec, packs.ExtendsSpec,
                  packs.OverridesSpec, packs.ParameterOverride):
        for name, info in model.model_fields.items():
            assert (info.alias or name) in keys, f"{model.__name__}.{name} is not documented"


def test_the_expression_reference_names_every_function_and_filter():
    from engine.lang.expr import FUNCTIONS
    from engine.lang.template import FILTERS
    expressions = _section(RULE_LANGUAGE, "Expressions")
    for name in FUNCTIONS:
        assert f"{name}(" in expressions, f"function {name} is not documented"
    findings = _section(RULE_LANGUAGE, "Findings")
    for name in FILTERS:
        assert f"`{name}`" in findings, f"filter {name} is not documented"
