"""docs/writing-packs.md is run, step by step, as a user would: every command in it runs here
and must print what the document shows.

The document's blocks, in order:
- ```yaml file=PATH``` (or toml, text): write the block to PATH;
- ```console```: lines starting with `$ ` are commands, the lines after each its expected
  output (stdout, then stderr). A line `...` stands for any number of lines, and `...` inside a
  line for any text; `[exit status N]` as the last line says the command exits with N (else 0).

Commands run in one temporary folder, shown in the document as ~/budgets. `diplo` runs in a
new process (`python -m engine`). `pip install FOLDER` installs into a folder of this test
(`--target`, without build isolation or dependencies, so that it needs no network) that the
later commands see on their path, as if installed in the user's environment.

After changing the document, `DIPLO_UPDATE_TUTORIAL=1 python -m pytest tests/test_tutorial.py`
prints each command's actual output for pasting; review it before committing.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

DOC = ROOT / "docs" / "writing-packs.md"
HOME = "~/budgets"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```$", re.M | re.S)
UPDATE = os.environ.get("DIPLO_UPDATE_TUTORIAL", "") not in ("", "0")


def steps(text: str):
    for match in FENCE.finditer(text):
        language, info, body = match.group(1), match.group(2).strip(), match.group(3)
        if info.startswith("file="):
            yield "file", info.removeprefix("file="), body
        elif language == "console":
            command, expected = None, []
            for line in body.splitlines():
                if line.startswith("$ "):
                    if command is not None:
                        yield "run", command, expected
                    command, expected = line[2:], []
                else:
                    expected.append(line)
            if command is not None:
                yield "run", command, expected


def matches(expected: list[str], actual: list[str]) -> bool:
    if not expected:
        return not actual
    head = expected[0]
    if head == "...":
        return any(matches(expected[1:], actual[i:]) for i in range(len(actual) + 1))
    if not actual:
        return False
    pattern = ".*".join(re.escape(part) for part in head.split("..."))
    return re.fullmatch(pattern, actual[0]) is not None and matches(expected[1:], actual[1:])


def run(command: str, work: Path, site: Path) -> tuple[list[str], int]:
    argv = shlex.split(command)
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "100"}
    env.pop("DIPLO_CONFIG", None)
    if argv[0] == "diplo":
        argv = [sys.executable, "-m", "engine", *argv[1:]]
    elif argv[:2] == ["pip", "install"]:
        argv = [sys.executable, "-m", "pip", "install", "--quiet", "--no-build-isolation",
                "--no-deps", "--no-index", "--target", str(site), *argv[2:]]
    else:
        raise AssertionError(f"the tutorial runs only diplo and pip install: {command}")
    done = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=120)
    output = (done.stdout + done.stderr).replace(str(work), HOME)
    # pip's own notes about the machine's index configuration are not the tutorial's output
    lines = [line.rstrip() for line in output.splitlines()
             if not line.startswith(("WARNING: Location", "DEPRECATION:"))]
    return lines, done.returncode


def test_the_tutorial_runs_as_written(tmp_path):
    text = DOC.read_text(encoding="utf-8")
    work, site = tmp_path / "budgets", tmp_path / "site"
    work.mkdir()
    site.mkdir()
    ran = 0
    report = []
    for kind, what, body in steps(text):
        if kind == "file":
            path = work / what
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body, encoding="utf-8")
            continue
        status = 0
        expected = list(body)
        while expected and not expected[-1].strip():
            expected.pop()
        if expected and (found := re.fullmatch(r"\[exit status (\d+)\]", expected[-1])):
            status = int(found.group(1))
            expected.pop()
        actual, code = run(what, work, site)
        ran += 1
        if UPDATE:
            report.append(f"$ {what}\n" + "\n".join(actual)
                          + (f"\n[exit status {code}]" if code else ""))
            continue
        assert code == status, f"`{what}` exited with {code}, not {status}:\n" + "\n".join(actual)
        assert matches(expected, actual), (
            f"`{what}` printed:\n" + "\n".join(actual) + "\n\nthe tutorial shows:\n"
            + "\n".join(expected))
    if UPDATE:
        print("\n\n".join(report))
        pytest.skip("printed the tutorial's actual outputs")
    assert ran >= 10, "the tutorial should show its commands"
