"""bench/bench.py runs end to end at tiny sizes. Timings are never asserted: they depend on
the machine and its load, and docs/performance.md reports them from a full run."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADINGS = ["== Machine ==", "== Generated cases ==", "== Throughput", "== Activations",
            "== Engine cost model", "== Memory ==", "== Cold start"]


def test_bench_runs_at_tiny_sizes(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench.py"), "--cases", "20", "--repeat", "1",
         "--warmup", "10", "--memory-cases", "50", "--cold-runs", "1", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    for heading in HEADINGS:
        assert heading in done.stdout
    figures = json.loads(out.read_text())
    assert set(figures) >= {"machine", "generated", "throughput", "stages", "cost_model",
                            "memory", "cold_start"}
    assert figures["generated"]["cases"] == 20
    assert figures["stages"]["activations_mean"] >= 1     # the guard fires in every case
    assert figures["cold_start"]["runs"] == 1


def _bench_module():
    # loaded by path: a plain "import bench" could find the bench/ folder as a namespace
    spec = importlib.util.spec_from_file_location("diplo_bench", ROOT / "bench" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    # no bench/__pycache__ left behind in the source tree
    writes, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = writes
    return module


def test_generation_is_deterministic_and_varied():
    from engine import load_pack
    bench = _bench_module()
    pack = load_pack()
    cases = bench.generate_cases(60, 7, pack)
    assert [c.model_dump() for c in cases] == \
        [c.model_dump() for c in bench.generate_cases(60, 7, pack)]
    assert [c.model_dump() for c in cases] != \
        [c.model_dump() for c in bench.generate_cases(60, 8, pack)]
    items = [i for c in cases for i in c.line_items]
    assert any(i.prior is None for i in items)
    assert any(i.prior and i.amount < i.prior for i in items)
    assert any(i.prior and i.amount > i.prior for i in items)
    assert any(c.total is None for c in cases) and any(c.total for c in cases)
    assert any(c.inflation_pct is None for c in cases)
    assert any(not c.commitments for c in cases)
    present = [{i.category for i in c.line_items} for c in cases]
    assert any(set(m.depends_on) - cats for c, cats in zip(cases, present)
               for m in c.commitments)
