"""bench/size.py and bench/cluster.py run at tiny sizes and say what they measure; no timing is
asserted (figures belong to their own runs, docs/performance.md and docs/scaling.md)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT


def _run(script: str, *args: str, tmp_path) -> dict:
    out = tmp_path / "out.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args, "--json",
                           str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(out.read_text())


def test_size_measures_each_size_against_the_smallest(tmp_path):
    out = _run("size.py", "--lines", "20,60", "--repeat", "1", tmp_path=tmp_path)
    rows = out["sizes"]
    assert [r["lines"] for r in rows] == [20, 60]
    assert rows[0]["per_line_vs_smallest"] == 1.0
    assert all(r["peak_mb"] > 0 and r["us_per_line"] > 0 and r["findings"] > 0 for r in rows)


def test_cluster_compares_a_local_cluster_with_one_process(tmp_path):
    pytest.importorskip("distributed", reason="pip install \"diplo[distributed]\"")
    out = _run("cluster.py", "--cases", "20", "--repeat", "1", "--workers", "1",
               tmp_path=tmp_path)
    assert out["identical_reports"] is True and out["cases"] == 20
    assert out["speedup"] > 0
