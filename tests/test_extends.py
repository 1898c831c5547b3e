"""Packs that extend packs, changes to rules from callers, and packs found by name through the
`diplo.packs` entry point group (a distribution installed in a temporary folder)."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from engine import PackError, assess, load_pack
from engine.lang import registry

from conftest import DEFAULT_PACK, ROOT, make_case, run_cli

AUDIT_QUOTE = ("conducting regular audits can ensure that defense expenditures align with "
               "strategic objectives.")


def write_extension(folder: Path, manifest: dict, rules: list[dict] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    body = {"name": "ext", "version": "1.2.0", "description": "An extension built by a test.",
            **manifest}
    if rules is not None:
        (folder / "rules").mkdir(exist_ok=True)
        (folder / "rules" / "main.yaml").write_text(yaml.safe_dump({"rules": rules}),
                                                    encoding="utf-8")
    else:
        body.setdefault("rules", [])
    (folder / "pack.yaml").write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return folder


NO_AUDIT = {"id": "EXT-001", "title": "No audit at all, stricter",
            "when": [{"fact": "transparency", "where": "external_audit == 'none'"}],
            "report": {"kind": "risk", "severity": "critical", "concern": "transparency_gap",
                       "message": "No external audit; the threshold is {$cut_pct|pct}."},
            "citation": {"section": "transparency", "quote": AUDIT_QUOTE}}


def findings(report, rule_id):
    return [f for f in report.findings if f.rule == rule_id]


def test_an_extension_uses_the_base_vocabulary_and_changes_its_rules(tmp_path):
    folder = write_extension(tmp_path / "ext", {
        "extends": {"pack": "defense-diplomacy", "version": ">=2.0,<3"},
        "disable": ["DD-TRA-004"],
        "overrides": {"severity": {"DD-TRA-005": "high"},
                      "parameters": {"cut_pct": {"value": 5, "source": "A stricter reading"}}},
    }, [NO_AUDIT])
    pack = load_pack(folder)
    assert [p.name for p in pack.packs] == ["defense-diplomacy", "ext"]
    case = make_case(transparency={"external_audit": "none"})
    report = assess(case, pack)
    assert [p.model_dump() for p in report.packs] == [
        {"name": "defense-diplomacy", "version": "2.0.1", "extends": None,
         "disabled": ["DD-TRA-004"]},
        {"name": "ext", "version": "1.2.0", "extends": "defense-diplomacy", "disabled": []}]
    assert not findings(report, "DD-TRA-004")
    [own] = findings(report, "EXT-001")
    # the base's parameter, read by the extension's rule, with the extension's value
    assert own.parameters == {"cut_pct": 5} and "5%" in own.message
    audit = assess(make_case(transparency={"external_audit": "financial"}), pack)
    [changed] = findings(audit, "DD-TRA-005")
    assert changed.severity == "high"
    assert changed.severity_override.model_dump() == {"default": "low", "by": "pack ext"}
    source = pack.parameters["defense-diplomacy"]["cut_pct"].source
    assert "A stricter reading" in source and "set by pack ext" in source


def test_the_default_pack_alone_is_unchanged_by_an_extension_loaded_elsewhere(tmp_path):
    folder = write_extension(tmp_path / "ext", {
        "extends": "defense-diplomacy", "overrides": {"severity": {"DD-TRA-005": "high"}}})
    load_pack(folder)
    report = assess(make_case(transparency={"external_audit": "financial"}), load_pack())
    [finding] = findings(report, "DD-TRA-005")
    assert finding.severity == "low" and finding.severity_override is None


def test_a_base_named_twice_is_loaded_once(tmp_path):
    folder = write_extension(tmp_path / "ext", {"extends": str(DEFAULT_PACK)})
    pack = load_pack("defense-diplomacy", folder, DEFAULT_PACK)
    assert [p.name for p in pack.packs] == ["defense-diplomacy", "ext"]


def test_a_folder_base_is_relative_to_the_extension(tmp_path, monkeypatch):
    write_extension(tmp_path / "base", {"extends": "defense-diplomacy"})
    (tmp_path / "base" / "pack.yaml").write_text(
        (tmp_path / "base" / "pack.yaml").read_text().replace("name: ext", "name: middle"))
    folder = write_extension(tmp_path / "top", {"extends": "../base"})
    monkeypatch.chdir(ROOT)   # nowhere near the packs
    pack = load_pack(folder)
    assert [p.name for p in pack.packs] == ["defense-diplomacy", "middle", "ext"]
    assert [p.extends for p in pack.packs] == [None, "defense-diplomacy", "middle"]


def test_caller_changes_name_who_made_them():
    pack = load_pack(disable={"DD-TRA-004": "diplo.toml:3"},
                     severity={"DD-TRA-005": ("medium", "diplo.toml:5"),
                               "DD-TRA-002": "critical"})
    # one case for each rule: the default pack folds transparency failures into one finding
    report = assess(make_case(transparency={"external_audit": "financial"}), pack)
    by_rule = {f.rule: f for f in report.findings}
    assert by_rule["DD-TRA-005"].severity_override.model_dump() == {
        "default": "low", "by": "diplo.toml:5"}
    aggregate = assess(make_case(transparency={"budget_publication": "aggregate"}), pack)
    by_rule = {f.rule: f for f in aggregate.findings}
    assert by_rule["DD-TRA-002"].severity == "critical"
    assert by_rule["DD-TRA-002"].severity_override.by == "command line"
    assert report.packs[0].disabled == ["DD-TRA-004"]
    assert pack.disabled == {"DD-TRA-004": "diplo.toml:3"}


def test_setting_a_rule_to_its_own_severity_is_no_override():
    pack = load_pack(severity={"DD-TRA-005": "low"})
    report = assess(make_case(transparency={"external_audit": "financial"}), pack)
    assert findings(report, "DD-TRA-005")[0].severity_override is None


@pytest.mark.parametrize("kwargs, words", [
    ({"disable": ["DD-TRA-999"]}, ["--disable DD-TRA-999", "no rule 'DD-TRA-999'",
                                  "did you mean"]),
    ({"severity": {"DD-TRA-999": "low"}}, ["--severity DD-TRA-999", "no rule"]),
    ({"severity": {"DD-TRA-005": "urgent"}}, ["--severity DD-TRA-005", "'urgent'"]),
    ({"severity": {"DD-ENG-001": "high"}}, ["DD-ENG-001", "derives a fact"]),
    ({"disable": ["DD-ENG-001"]}, ["DD-ENG-001", "only disabled rules derive",
                                   "--disable DD-ENG-001"]),
])
def test_bad_caller_changes_are_named(kwargs, words):
    with pytest.raises(PackError) as caught:
        load_pack(**kwargs)
    for word in words:
        assert word in str(caught.value)


def test_the_command_line_changes_rules():
    result = run_cli("assess", "cases/aggregate-publication.yaml", "--format", "json",
                     "--severity", "DD-TRA-005=critical", "--disable", "DD-TRA-002",
                     "--exit-zero")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    rules = {f["rule"]: f for f in report["findings"]}
    assert "DD-TRA-002" not in rules
    assert rules["DD-TRA-005"]["severity"] == "critical"
    assert rules["DD-TRA-005"]["severity_override"] == {"default": "low",
                                                        "by": "command line"}


# --- installed packs ---------------------------------------------------------------------------

def install_fake_distribution(site: Path, dist: str, entries: dict[str, str],
                              packs: dict[str, Path]) -> None:
    """What pip leaves in site-packages for a pack distribution: the package folder with the
    pack's files and a .dist-info with the entry points."""
    import shutil
    for relative, source in packs.items():
        shutil.copytree(source, site / relative)
    info = site / f"{dist.replace('-', '_')}-0.3.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3.0\n")
    (info / "entry_points.txt").write_text(
        "[diplo.packs]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items()))


@pytest.fixture
def site(tmp_path, monkeypatch):
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    registry.installed_packs.cache_clear()
    yield folder
    registry.installed_packs.cache_clear()


def test_an_installed_pack_is_found_by_name_without_running_its_code(site, tmp_path):
    ext = write_extension(tmp_path / "src", {"extends": "defense-diplomacy"}, [NO_AUDIT])
    install_fake_distribution(site, "diplo-pack-ext", {"ext": "diplo_pack_ext"},
                              {"diplo_pack_ext": ext})
    # code in the package would run on import; finding the pack must not import it
    (site / "diplo_pack_ext" / "__init__.py").write_text("raise SystemExit('imported!')\n")
    registry.installed_packs.cache_clear()
    pack = load_pack("ext")
    assert [p.name for p in pack.packs] == ["defense-diplomacy", "ext"]
    assert "diplo_pack_ext" not in sys.modules
    listing = {item.name: item for item in registry.available_packs()}
    assert listing["ext"].origin == "diplo-pack-ext 0.3.0"
    assert listing["ext"].version == "1.2.0" and listing["ext"].extends == "defense-diplomacy"
    assert listing["defense-diplomacy"].origin.startswith("diplo ")


def test_pack_list_shows_every_installed_pack(site, tmp_path):
    ext = write_extension(tmp_path / "src", {"extends": "defense-diplomacy"}, [NO_AUDIT])
    install_fake_distribution(site, "diplo-pack-ext", {"ext": "diplo_pack_ext:packs/ext",
                                                       "broken": "diplo_pack_ext:nowhere"},
                              {"diplo_pack_ext/packs/ext": ext})
    registry.installed_packs.cache_clear()
    result = run_cli("pack", "list", "--format", "json")
    assert result.exit_code == 0 and result.stderr == ""
    listing = {item["name"]: item for item in json.loads(result.stdout)}
    assert {"defense-diplomacy", "transparency-plus", "ext", "broken"} <= set(listing)
    assert listing["ext"]["folder"].endswith("packs/ext")
    assert "no folder with a pack.yaml" in listing["broken"]["problem"]
    table = run_cli("pack", "list")
    assert "UNUSABLE" in table.stdout and "diplo-pack-ext 0.3.0" in table.stdout


def test_a_name_registered_twice_is_an_error_naming_both(site, tmp_path):
    ext = write_extension(tmp_path / "src", {"extends": "defense-diplomacy"}, [NO_AUDIT])
    install_fake_distribution(site, "first-dist", {"ext": "first_pkg"}, {"first_pkg": ext})
    install_fake_distribution(site, "second-dist", {"ext": "second_pkg"}, {"second_pkg": ext})
    registry.installed_packs.cache_clear()
    with pytest.raises(PackError) as caught:
        load_pack("ext")
    assert "first-dist" in str(caught.value) and "second-dist" in str(caught.value)


def test_a_pack_registered_under_another_name_is_flagged(site, tmp_path):
    ext = write_extension(tmp_path / "src", {"extends": "defense-diplomacy"}, [NO_AUDIT])
    install_fake_distribution(site, "dist", {"other": "pkg"}, {"pkg": ext})
    registry.installed_packs.cache_clear()
    [item] = [i for i in registry.available_packs() if i.name == "other"]
    assert "names 'ext'" in item.problem


@pytest.mark.parametrize("value, words", [
    ("not a value!", ["not PACKAGE"]),
    ("no_such_package_anywhere", ["not installed"]),
    ("engine:../../etc", ["inside the package"]),
])
def test_bad_entry_point_values(value, words):
    with pytest.raises(PackError) as caught:
        registry.locate(value)
    for word in words:
        assert word in str(caught.value)


def test_the_default_pack_is_registered_like_any_other():
    [own] = [p for p in registry.installed_packs() if p.name == "defense-diplomacy"]
    assert own.distribution == "diplo" and own.value == "engine:_packs/defense-diplomacy"
    assert (own.folder / "pack.yaml").is_file()


def test_an_installed_pack_from_a_subprocess(site, tmp_path):
    """`pip install` of a pack distribution: a fresh process finds it by name."""
    ext = write_extension(tmp_path / "src", {"extends": "defense-diplomacy"}, [NO_AUDIT])
    install_fake_distribution(site, "diplo-pack-ext", {"ext": "diplo_pack_ext"},
                              {"diplo_pack_ext": ext})
    case = tmp_path / "case.yaml"
    case.write_text(textwrap.dedent("""\
        id: c
        title: No audit
        country: X
        fiscal_year: 2027
        currency: USD
        line_items: [{id: p, category: personnel, amount: 10, prior: 10}]
        transparency: {external_audit: none}
        """))
    done = subprocess.run([sys.executable, "-m", "engine", "assess", "--pack", "ext",
                           str(case), "--format", "json", "--exit-zero"],
                          env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [p["name"] for p in report["packs"]] == ["defense-diplomacy", "ext"]
    assert any(f["rule"] == "EXT-001" for f in report["findings"])
