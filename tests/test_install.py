"""What a user gets from `pip install .`: the command, the default pack from any directory,
and a clear refusal on interpreters the rule engine does not support."""
from __future__ import annotations

import subprocess
import sys
import tomllib

from conftest import ROOT


def test_default_pack_is_found_from_any_directory(tmp_path):
    # Run from a folder with no rules/ in sight: the pack must come from the installed package.
    case = ROOT / "cases" / "balanced-partner.yaml"
    result = subprocess.run([sys.executable, "-m", "engine", "assess", str(case)],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Verdict: PASS" in result.stdout
    where = subprocess.run([sys.executable, "-c",
                            "from engine.lang.manifest import builtin_packs_dir; print(builtin_packs_dir())"],
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert where.strip().endswith(("engine/_packs", "rules"))


def test_supported_pythons_are_declared_for_pip():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    # durable-rules does not import on 3.13: pip must refuse it before installing anything
    assert project["requires-python"] == ">=3.11,<3.13"
    assert "durable-rules==2.0.28" in project["dependencies"]
