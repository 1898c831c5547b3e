"""`diplo pack init`: the pack it writes loads, and its tests pass as written."""
from __future__ import annotations

import pytest
import yaml

from engine import load_pack
from engine.authoring.packtest import run_pack_tests, untested_rules, collect
from engine.authoring.scaffold import FILES, init_pack

from conftest import run_cli


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_init_writes_a_pack_whose_tests_pass(here):
    result = run_cli("pack", "init", "my-ministry")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.startswith("Created rule pack 'my-ministry' in my-ministry:\n")
    for relative in FILES:
        assert (here / "my-ministry" / relative).is_file()
        assert relative in result.stdout
    tested = run_cli("test", "my-ministry")
    assert (tested.exit_code, tested.stdout, tested.stderr) == (0, "3 passed, 0 failed\n", "")
    pack = load_pack("my-ministry")
    assert untested_rules(pack, collect(here / "my-ministry")) == []
    manifest = yaml.safe_load((here / "my-ministry" / "pack.yaml").read_text())
    assert manifest["name"] == "my-ministry" and manifest["version"] == "0.1.0"
    pyproject = (here / "my-ministry" / "pyproject.toml").read_text()
    assert 'my-ministry = "diplo_pack_my_ministry"' in pyproject


def test_init_with_extends_uses_the_base_and_avoids_its_names(here):
    result = run_cli("pack", "init", "stricter", "--extends", "defense-diplomacy")
    assert result.exit_code == 0, result.stderr
    pack = load_pack(here / "stricter")
    assert [p.name for p in pack.packs] == ["defense-diplomacy", "stricter"]
    outcomes = run_pack_tests([here / "stricter"])
    assert len(outcomes) == 3 and all(o.passed for o in outcomes)
    own = pack.packs[1].manifest
    assert set(own.parameters).isdisjoint(pack.packs[0].manifest.parameters)


def test_init_extending_a_folder_writes_a_relative_path(here):
    init_pack("base-pack")
    init_pack("top", "nested/top", extends="base-pack")
    manifest = yaml.safe_load((here / "nested" / "top" / "pack.yaml").read_text())
    assert manifest["extends"] == {"pack": "../../base-pack", "version": "~=0.1"}
    outcomes = run_pack_tests([here / "nested" / "top"])
    assert outcomes and all(o.passed for o in outcomes)


@pytest.mark.parametrize("args, words", [
    (["Bad_Name"], ["NAME", "not a pack name"]),
    (["x", "--extends", "no-such-pack"], ["no-such-pack", "no such rule pack"]),
])
def test_init_refuses_bad_names(here, args, words):
    result = run_cli("pack", "init", *args)
    assert result.exit_code == 2 and result.stdout == ""
    for word in words:
        assert word in result.stderr
    assert list(here.iterdir()) == []


def test_init_never_writes_into_a_folder_with_files(here):
    (here / "taken").mkdir()
    (here / "taken" / "notes.txt").write_text("mine")
    result = run_cli("pack", "init", "taken")
    assert result.exit_code == 2 and "already exists" in result.stderr
    assert [p.name for p in (here / "taken").iterdir()] == ["notes.txt"]
    (here / "empty").mkdir()
    assert run_cli("pack", "init", "fresh", "--dir", "empty").exit_code == 0
    assert (here / "empty" / "pack.yaml").is_file()
    assert sorted(p.name for p in here.iterdir()) == ["empty", "taken"]   # no staging left
