"""docs/calibration.md shows, for each of the default pack's thresholds, a `diplo sweep` of a
calibration case and where its findings switch. The switches shown are those the command
prints today: this test runs every sweep the page shows and compares. After a deliberate change
to the pack, regenerate the page's outputs with `DIPLO_UPDATE_DOCS=1 python -m pytest
tests/test_calibration_doc.py` and review the diff."""
from __future__ import annotations

import os
import re
import shlex

import pytest
from click.testing import CliRunner

from engine.cli import main

from conftest import ROOT

PAGE = ROOT / "docs" / "calibration.md"
BLOCK = re.compile(r"```sh\n\$ (diplo sweep [^\n]+)\n```\n\n```text\n(.*?)```", re.S)
UPDATE = os.environ.get("DIPLO_UPDATE_DOCS", "") not in ("", "0")


def switches(command: str) -> str:
    result = CliRunner().invoke(main, shlex.split(command)[1:])
    assert result.exit_code == 0, (command, result.stderr)
    text = result.stdout
    start = text.index("Switches")
    return text[start:]


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch):
    monkeypatch.chdir(ROOT)


def test_every_threshold_section_shows_a_sweep():
    page = PAGE.read_text(encoding="utf-8")
    assert len(BLOCK.findall(page)) >= 8


def test_the_switches_shown_are_those_the_sweeps_find():
    page = PAGE.read_text(encoding="utf-8")
    if UPDATE:
        page = BLOCK.sub(lambda m: f"```sh\n$ {m.group(1)}\n```\n\n```text\n"
                                   f"{switches(m.group(1))}```", page)
        PAGE.write_text(page, encoding="utf-8")
    for command, shown in BLOCK.findall(page):
        assert switches(command) == shown, f"{command}: regenerate with DIPLO_UPDATE_DOCS=1"


def test_every_parameter_of_the_pack_is_in_the_page():
    import yaml
    manifest = yaml.safe_load((ROOT / "rules" / "defense-diplomacy" / "pack.yaml")
                              .read_text(encoding="utf-8"))
    page = PAGE.read_text(encoding="utf-8")
    missing = [name for name in manifest["parameters"] if f"`{name}`" not in page]
    assert missing == []
