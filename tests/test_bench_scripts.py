"""The benchmark scripts run (at tiny sizes) and check what they claim to check; no timing is
asserted here: figures belong to the scripts' own runs (docs/performance.md)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import ROOT


def run(script: str, *args: str, tmp_path) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / "out.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args, "--json",
                           str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          # no __pycache__ left in bench/ of the source tree
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done, json.loads(out.read_text())


def test_peers_checks_every_engine_against_the_reference(tmp_path):
    done, out = run("peers.py", "--cases", "30", "--repeat", "1", "--warmup", "5",
                    "--block", "10", "--engines", "diplo,python", tmp_path=tmp_path)
    assert "diplo: every derived fact and flag identical to the reference on 30 of 30" \
        in done.stdout
    assert {"diplo", "python"} <= set(out["timing"])
    assert out["native_floor"]["cases"] == 30 and out["native_floor"]["us_per_case"] > 0


def test_jobs_compares_one_and_two_processes(tmp_path):
    _, out = run("jobs.py", "--cases", "12", "--repeat", "1", tmp_path=tmp_path)
    assert out["identical_reports"] is True and out["cases"] == 12
    assert out["speedup"] > 0 and out["machine_ceiling"] > 0


def test_big_pack_loads_and_is_identical_run_to_run(tmp_path):
    _, out = run("big_pack.py", "--rules", "40", "--cases", "6", tmp_path=tmp_path)
    assert out["rules"] == 40 and out["rulesets"] == 1
    assert out["identical_run_to_run"] is True


def test_reports_writes_every_report_the_same_twice(tmp_path):
    outs = []
    for name in ("a.json", "b.json"):
        done = subprocess.run([sys.executable, str(ROOT / "bench" / "reports.py"),
                               str(tmp_path / name), "--cases", "3"], cwd=ROOT,
                              capture_output=True, text=True, timeout=300,
                              env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
        assert done.returncode == 0, done.stderr[-2000:]
        outs.append((tmp_path / name).read_bytes())
    assert outs[0] == outs[1]
    reports = json.loads(outs[0])
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "cases").glob("**/*.yaml"))
    assert sorted(reports) == sorted([f"generated-{i}" for i in range(3)] + files)
    assert all(isinstance(r, dict) and "findings" in r for r in reports.values())
