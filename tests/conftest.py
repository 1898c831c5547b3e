"""Shared builders: tiny packs written to a temporary folder, and cases built from dicts."""
from __future__ import annotations

import copy
import os
import textwrap
from pathlib import Path

import pytest
import yaml

from engine.model import Case

# The command line keeps compiled packs in a cache (engine.core.cache): tests load packs
# afresh, so that a pack (or a limit a test lowers) never answers for another test's.
# tests/test_cache.py uses the cache, in a folder of its own. Worker processes inherit this.
os.environ.setdefault("DIPLO_NO_CACHE", "1")

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PACK = ROOT / "rules" / "defense-diplomacy"

# A quote and section that exist in the shipped guidance, for rules that need any citation.
CITE = {"section": "cuts-engagement",
        "quote": "Reduced funding may restrict the frequency and scale of military exercises"}


def write_pack(folder: Path, rules: list[dict] | str, *, name: str = "test-pack",
               parameters: dict | None = None, categories: dict | None = None,
               concerns: dict | None = None) -> Path:
    """A pack with the default pack's guidance and categories unless told otherwise."""
    default = yaml.safe_load((DEFAULT_PACK / "pack.yaml").read_text(encoding="utf-8"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rules").mkdir(exist_ok=True)
    (folder / "guidance.txt").write_bytes((DEFAULT_PACK / "guidance.txt").read_bytes())
    manifest = {
        "name": name, "version": "1.0.0", "description": "A pack built by a test.",
        "guidance": default["guidance"],
        "categories": categories if categories is not None else default["categories"],
        "concerns": concerns if concerns is not None else default["concerns"],
        "parameters": parameters or {},
    }
    (folder / "pack.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False),
                                      encoding="utf-8")
    text = rules if isinstance(rules, str) else yaml.safe_dump({"rules": rules},
                                                               sort_keys=False)
    (folder / "rules" / "rules.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def param(value, unit="percent"):
    return {"value": value, "unit": unit, "description": "A test parameter.",
            "source": "Chosen for the test."}


def rule(id, when, *, derive=None, report=None, let=None, title=None):
    body = {"id": id, "title": title or f"Rule {id}", "when": when}
    if let:
        body["let"] = let
    if derive is not None:
        body["derive"] = derive
    if report is not None:
        body["report"] = {"kind": "risk", "severity": "medium", "concern": "engagement_limited",
                          "message": f"{id} fired", **report}
    body["citation"] = CITE
    return body


BASE_CASE = {
    "id": "test-case", "title": "Test case", "country": "Country T", "fiscal_year": 2027,
    "currency": "USD", "inflation_pct": 2.0,
    "line_items": [
        {"id": "exercises", "category": "joint_exercises", "amount": 80, "prior": 100},
        {"id": "people", "category": "personnel", "amount": 500, "prior": 480},
    ],
}


def make_case(**changes) -> Case:
    data = copy.deepcopy(BASE_CASE)
    data.update(changes)
    return Case.model_validate(data)


def run_cli(*args):
    """The `diplo` command in-process; stdout and stderr stay apart (click 8.2 and later)."""
    from click.testing import CliRunner
    from engine.cli import main
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def in_repo(monkeypatch):
    # reports name cases by the path given; relative paths keep them short and stable
    monkeypatch.chdir(ROOT)


# One valid rule that reports, for tests that build a pack around it or break one part of it.
ONE_RULE = textwrap.dedent("""\
    rules:
      - id: S-001
        title: A cut
        when:
          - fact: line_item
            as: item
            where: category == 'joint_exercises'
        report:
          kind: risk
          severity: medium
          concern: engagement_limited
          message: "{item.id} is cut"
        citation:
          section: cuts-engagement
          quote: Reduced funding may restrict the frequency and scale of military exercises
    """)


@pytest.fixture
def tmp_pack(tmp_path):
    def build(rules, **kwargs):
        from engine import load_pack
        return load_pack(write_pack(tmp_path / kwargs.pop("folder", "pack"), rules, **kwargs))
    return build


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch):
    # a developer's DIPLO_CONFIG must not change what the suite's commands do
    monkeypatch.delenv("DIPLO_CONFIG", raising=False)
