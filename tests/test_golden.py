"""Golden reports: the exact JSON report of every example case, so that any change to what a
case reports shows up as a diff to review.

`tests/golden/NAME.json` is the output of `diplo assess cases/NAME.yaml --format json` run from
the repository root. After a deliberate change to the rules or the cases, regenerate them with
`DIPLO_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py` (which also deletes golden files
whose case is gone) and review the diff before committing it.
"""
from __future__ import annotations

import difflib
import os

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.cli.common import CASE_SUFFIXES

from conftest import ROOT

GOLDEN = ROOT / "tests" / "golden"
UPDATE = os.environ.get("DIPLO_UPDATE_GOLDEN", "") not in ("", "0")
REGENERATE = "DIPLO_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py"
DIFF_LINES = 60


def _cases() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "cases").iterdir()):
        if path.is_file() and path.suffix.lower() in CASE_SUFFIXES:
            found.setdefault(path.stem, []).append(f"cases/{path.name}")
    return found


CASES = _cases()
NAMES = sorted(set(CASES) | {p.stem for p in GOLDEN.glob("*.json")})


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch):
    # the report names its case by the path given: relative to the root, as documented
    monkeypatch.chdir(ROOT)


def assess_json(case: str) -> bytes:
    result = CliRunner().invoke(main, ["assess", case, "--format", "json"])
    assert result.exit_code in (0, 1) and result.stderr == "", (
        f"diplo assess {case} exited with {result.exit_code}: {result.stderr}")
    return result.stdout_bytes


def describe_difference(expected: bytes, actual: bytes, golden: str, command: str) -> str:
    old, new = expected.decode("utf-8", "replace"), actual.decode("utf-8", "replace")
    diff = list(difflib.unified_diff(old.splitlines(keepends=True),
                                     new.splitlines(keepends=True),
                                     fromfile=golden, tofile=command))
    if not diff or old.splitlines() == new.splitlines():
        text = "the bytes differ where a diff does not show it (line endings, encoding)\n"
    else:
        text = "".join(line if line.endswith("\n") else line + "\n"
                       for line in diff[:DIFF_LINES])
        if len(diff) > DIFF_LINES:
            text += f"... ({len(diff) - DIFF_LINES} more lines of diff)\n"
    return (f"{command} differs from {golden}:\n{text}"
            f"If the change is intended, regenerate with {REGENERATE} and review the diff.")


@pytest.mark.parametrize("name", NAMES)
def test_golden_report(name):
    golden = GOLDEN / f"{name}.json"
    shown = f"tests/golden/{name}.json"
    cases = CASES.get(name, [])
    if not cases:
        if UPDATE:
            golden.unlink()
            return
        pytest.fail(f"{shown} has no case in cases/: delete it, or regenerate with {REGENERATE}",
                    pytrace=False)
    if len(cases) > 1:
        pytest.fail(f"{' and '.join(cases)} would share {shown}: rename one", pytrace=False)
    command = f"diplo assess {cases[0]} --format json"
    actual = assess_json(cases[0])
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        if not golden.is_file() or golden.read_bytes() != actual:
            golden.write_bytes(actual)
        return
    if not golden.is_file():
        pytest.fail(f"{cases[0]} has no golden report {shown}; create it with {REGENERATE}",
                    pytrace=False)
    expected = golden.read_bytes()
    if expected != actual:
        pytest.fail(describe_difference(expected, actual, shown, command), pytrace=False)


def test_a_difference_is_shown_as_a_unified_diff_of_at_most_60_lines():
    expected = "".join(f"line {i}\n" for i in range(100)).encode()
    actual = expected.replace(b"line ", b"LINE ")
    text = describe_difference(expected, actual, "golden.json", "diplo assess x")
    diff = text.split(":\n", 1)[1].split("\nIf the change")[0].splitlines()
    assert diff[:3] == ["--- golden.json", "+++ diplo assess x", "@@ -1,100 +1,100 @@"]
    assert len(diff) == DIFF_LINES + 1
    assert diff[-1] == f"... ({203 - DIFF_LINES} more lines of diff)"
    crlf = describe_difference(b"a\n", b"a\r\n", "g", "c")
    assert "line endings" in crlf
