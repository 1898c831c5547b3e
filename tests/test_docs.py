"""The documentation's examples run, and its reference tables match the code."""
from __future__ import annotations

import re

import yaml

from engine import assess, load_pack
from engine.facts import BASE_SCHEMAS

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
