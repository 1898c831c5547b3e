"""`diplo pack lint`: each flawed pack in tests/lint_packs gets the diagnostics its expected.yaml
lists, and nothing else; the shipped pack and the clean base pack get no error or warning.

The data is the test: a case is a folder of files laid over tests/lint_packs/_base (a small
clean pack), with an expected.yaml:

    lint: child              # optional: the folder to lint, inside the case (default: itself)
    with: ["."]              # optional: packs loaded with it as context (--with)
    ignore: [untested-rule]  # optional: codes left out (--ignore)
    delete: [rules/x.yaml]   # optional: files of the base to remove
    diagnostics:             # every diagnostic, in any order
      - {code: ..., level: ..., file: rules/extra.yaml, line: 6, rule: X-001,
         words: [...], hint: [...]}   # words the message and the hint must contain

Add a folder, never another function.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from engine.authoring import lint
from engine.authoring.lint import CODES, Diagnostic, LintReport, lint_pack

from conftest import DEFAULT_PACK, ROOT, param, rule, run_cli, write_pack

HERE = Path(__file__).parent / "lint_packs"
CASES = sorted(p.name for p in HERE.iterdir() if p.is_dir() and not p.name.startswith("_"))
LINE = re.compile(r"^(?P<where>\S+?): (?P<level>error|warning|info) (?P<code>[a-z-]+) (?P<msg>.+)$")


def expected(name: str) -> dict:
    return yaml.safe_load((HERE / name / "expected.yaml").read_text(encoding="utf-8")) or {}


def build(name: str, tmp_path: Path) -> Path:
    """The case's files over the base pack, in a fresh folder."""
    spec = expected(name)
    folder = tmp_path / name
    shutil.copytree(HERE / "_base", folder)
    shutil.copytree(HERE / name, folder, dirs_exist_ok=True)
    (folder / "expected.yaml").unlink()
    for rel in spec.get("delete", []):
        (folder / rel).unlink()
    return folder


def lint_case(name: str, tmp_path: Path) -> tuple[LintReport, Path]:
    spec = expected(name)
    folder = build(name, tmp_path)
    report = lint_pack(folder / spec.get("lint", "."),
                       context=[folder / c for c in spec.get("with", [])])
    return report.without(spec.get("ignore", [])), folder


def relative(diagnostic: Diagnostic, folder: Path) -> str:
    return Path(diagnostic.file).resolve().relative_to(folder.resolve()).as_posix()


def test_corpus_is_complete():
    assert (HERE / "_base" / "pack.yaml").is_file()
    for name in CASES:
        assert (HERE / name / "expected.yaml").is_file(), f"{name} has no expected.yaml"
    # every code is shown by at least one case
    shown = {d["code"] for name in CASES for d in expected(name)["diagnostics"]}
    assert shown == set(CODES), f"codes no case shows: {sorted(set(CODES) - shown)}"


@pytest.mark.parametrize("name", CASES)
def test_lint_case(name, tmp_path):
    report, folder = lint_case(name, tmp_path)
    wanted = expected(name)["diagnostics"]
    found = list(report)
    unmatched = []
    for want in wanted:
        hit = next((d for d in found if d.code == want["code"] and d.level == want["level"]
                    and relative(d, folder) == want["file"] and d.line == want["line"]
                    and d.rule == want.get("rule")
                    and all(w.lower() in d.message.lower() for w in want.get("words", []))
                    and all(w.lower() in d.hint.lower() for w in want.get("hint", []))), None)
        if hit is None:
            unmatched.append(want)
        else:
            found.remove(hit)
    shown = "\n".join(f"  {relative(d, folder)}:{d.line} {d.level} {d.code} [{d.rule}] {d.message}"
                      f"\n    hint: {d.hint}" for d in report)
    assert not unmatched, f"not reported: {unmatched}\nreported:\n{shown}"
    assert not found, "reported, not expected:\n" + "\n".join(
        f"  {relative(d, folder)}:{d.line} {d.level} {d.code} [{d.rule}] {d.message}"
        for d in found)
    assert report.fails() == any(d["level"] == "error" for d in wanted)


@pytest.mark.parametrize("name", CASES)
def test_every_diagnostic_has_a_hint_and_a_place(name, tmp_path):
    report, _ = lint_case(name, tmp_path)
    for d in report:
        assert d.hint.strip() and d.message.strip(), d
        assert d.file and d.line, d
        assert d.level == CODES[d.code].level or d.code == "untested-rule", d


def test_the_base_pack_is_clean():
    report = lint_pack(HERE / "_base")
    assert list(report) == [], report.diagnostics


def test_the_shipped_pack_has_no_error_or_warning():
    report = lint_pack(DEFAULT_PACK)
    assert report.pack == "defense-diplomacy"
    assert [d for d in report if d.level != "info"] == []


def test_diagnostics_are_sorted_by_file_line_and_code(tmp_path):
    report, _ = lint_case("invalid-pack-many", tmp_path)
    keys = [(d.file, d.line or 0, d.column or 0, d.code) for d in report]
    assert keys == sorted(keys)


def test_a_parameter_override_decides_a_contradiction(tmp_path):
    band = rule("P-001", [{"fact": "line_item", "where": "amount > $low and amount < $high"}],
                derive={"fact": "band", "fields": {"n": 1}})
    folder = write_pack(tmp_path / "p", [band], parameters={"low": param(10), "high": param(20)},
                        concerns={})
    assert not [d for d in lint_pack(folder) if d.code == "contradictory-condition"]
    found = [d for d in lint_pack(folder, params={"low": "30"})
             if d.code == "contradictory-condition"]
    assert len(found) == 1 and "($low = 30)" in found[0].message


# --- engine limits, with the limits lowered so that a small pack reaches them -------------------

def test_near_the_per_field_and_side_by_side_limits(tmp_path, monkeypatch):
    import engine.core.network
    import engine.core.translate
    monkeypatch.setattr(engine.core.translate, "MAX_TESTS_PER_FIELD", 10)
    monkeypatch.setattr(engine.core.network, "MAX_STACK", 12)
    # 9 distinct values tested on line_item.amount, all of which one fact can pass at once
    rules = [rule(f"L-{i}", [{"fact": "line_item", "where": f"amount > {i}"}],
                  report={"severity": "low"}) for i in range(9)]
    folder = write_pack(tmp_path / "p", rules)
    found = [d for d in lint_pack(folder) if d.code == "near-engine-limit"]
    assert any("line_item.amount against 9 different values" in d.message
               and "allows 10" in d.message and d.rule == "L-0" for d in found), found
    assert any("one line_item fact could pass 10 tests at once" in d.message
               and "follows 12" in d.message for d in found), found


def test_near_the_rule_count_limit(tmp_path, monkeypatch):
    import engine.lang.spec
    monkeypatch.setattr(engine.lang.spec, "MAX_RULES", 5)
    rules = [rule(f"N-{i}", [{"fact": "line_item"}], report={}) for i in range(5)]
    found = [d for d in lint_pack(write_pack(tmp_path / "p", rules))
             if d.code == "near-engine-limit"]
    assert len(found) == 1 and "5 rules are loaded" in found[0].message
    assert found[0].file.endswith("pack.yaml")


# --- the library's report --------------------------------------------------------------------

def test_report_counts_fails_and_ignores(tmp_path):
    report, _ = lint_case("dead-chain", tmp_path)
    assert report.summary == {"errors": 0, "warnings": 8, "infos": 2}
    assert not report.fails() and report.fails(strict=True)
    quieter = report.without(["untested-rule", "needs-unproduced-fact"])
    assert {d.code for d in quieter} == {"contradictory-condition"}
    with pytest.raises(lint.UsageError, match="unknown lint code 'untested'; did you mean"):
        report.without(["untested"])


def test_not_a_pack_is_an_error_not_a_report(tmp_path):
    with pytest.raises(lint.PackError, match="no such rule pack folder"):
        lint_pack(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(lint.PackError, match="no pack.yaml"):
        lint_pack(tmp_path / "empty")


def test_every_code_is_documented():
    text = (ROOT / "docs" / "linting.md").read_text(encoding="utf-8")
    for code in CODES:
        assert f"### `{code}`" in text, f"docs/linting.md does not describe {code}"


# --- the command -------------------------------------------------------------------------------

def test_cli_text_output_of_the_shipped_pack(monkeypatch):
    monkeypatch.chdir(ROOT)
    result = run_cli("pack", "lint", "rules/defense-diplomacy")
    assert (result.exit_code, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"0 errors, 0 warnings, \d+ infos?", lines[-1]), lines[-1]
    for first, second in zip(lines[:-1:2], lines[1:-1:2]):   # the pack is edited: no lines pinned
        match = LINE.match(first)
        assert match and match.group("level") == "info", first
        assert re.match(r"rules/defense-diplomacy/\S+:\d+:\d+$", match.group("where")), first
        assert second.startswith("  hint: "), second


def test_cli_text_lines_are_diagnostics_then_hints_then_a_count(tmp_path):
    folder = build("invalid-pack-many", tmp_path)
    result = run_cli("pack", "lint", folder)
    assert (result.exit_code, result.stderr) == (1, "")
    lines = result.stdout.splitlines()
    assert lines[-1] == "7 errors, 0 warnings, 0 infos"
    for first, second in zip(lines[:-1:2], lines[1:-1:2]):
        match = LINE.match(first)
        assert match and re.match(r".+:\d+:\d+$", match.group("where")), first
        assert second.startswith("  hint: ") and len(second) > len("  hint: "), second


def test_cli_json_output(tmp_path):
    folder = build("unused", tmp_path)
    result = run_cli("pack", "lint", folder, "--format", "json")
    assert (result.exit_code, result.stderr) == (0, "")
    data = json.loads(result.stdout)
    assert data["pack"] == "lint-base" and data["root"] == str(folder)
    assert data["summary"] == {"errors": 0, "warnings": 3, "infos": 1}
    first = data["diagnostics"][0]
    assert set(first) == {"level", "code", "message", "hint", "file", "line", "column", "rule"}
    assert first["code"] == "uncited-section" and first["line"] == 10


def test_cli_strict_fails_on_warnings(tmp_path):
    folder = build("unused", tmp_path)
    assert run_cli("pack", "lint", folder).exit_code == 0
    result = run_cli("pack", "lint", folder, "--strict")
    assert (result.exit_code, result.stderr) == (1, "")
    result = run_cli("pack", "lint", folder, "--strict", "--ignore", "unused-parameter",
                     "--ignore", "unused-concern", "--ignore", "unused-derived-fact")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.endswith("0 errors, 0 warnings, 1 info\n")


def test_cli_with_and_param(tmp_path):
    folder = build("with-context", tmp_path)
    alone = run_cli("pack", "lint", folder / "other")
    assert alone.exit_code == 1 and "unknown-fact" in alone.stdout
    assert "--with" in alone.stdout
    together = run_cli("pack", "lint", folder / "other", "--with", folder)
    assert (together.exit_code, together.stderr) == (0, "")
    assert "1 warning" in together.stdout


@pytest.mark.parametrize("args, words", [
    (["pack", "lint", "no/such/folder"], ["no/such/folder", "no such rule pack folder"]),
    (["pack", "lint", "tests"], ["tests", "no pack.yaml"]),
    (["pack", "lint", "rules/defense-diplomacy", "--ignore", "unused-param"],
     ["--ignore", "unknown lint code 'unused-param'", "did you mean 'unused-parameter'"]),
    (["pack", "lint", "rules/defense-diplomacy", "--param", "cut_percent=5"],
     ["--param cut_percent", "unknown parameter"]),
    (["pack", "lint", "rules/defense-diplomacy", "--with", "no-such-pack"],
     ["no-such-pack"]),
    (["pack", "lint", "rules/defense-diplomacy", "--format", "xml"], ["xml"]),
])
def test_cli_usage_errors(args, words, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = run_cli(*args)
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 or "Usage:" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
