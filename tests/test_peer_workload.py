"""The peer benchmark's workload (bench/peers/) is the same workload in every engine: the
diplo pack and the hand-written Python reference (and CLIPS and zen-engine, when installed)
give identical derived facts and flags, and every one of the 50 rules produces something
on the generated cases. Timings are never asserted here: bench/peers.py measures them and
docs/performance.md reports a run."""
from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from engine import assess, load_pack
from engine.model import Case

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PACK = BENCH / "peers" / "pack"
N_COVERAGE = 200      # every rule must produce a result on one of these cases
N_PEERS = 30          # cases checked against CLIPS and zen-engine


def _import(name: str):
    # bench/ on the path for the import only; no __pycache__ left in the source tree
    writes, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCH))
        sys.dont_write_bytecode = writes


@pytest.fixture(scope="module")
def workload():
    return _import("peers.workload")


@pytest.fixture(scope="module")
def reference():
    return _import("peers.python_impl")


@pytest.fixture(scope="module")
def pack():
    return load_pack(str(PACK))


@pytest.fixture(scope="module")
def cases(workload):
    return workload.generate_cases(N_COVERAGE, 11)


@pytest.fixture(scope="module")
def diplo_results(workload, pack, cases):
    """(canonical results, rules that produced something) of diplo through its public API."""
    results, rules = [], set()
    for case in cases:
        report = assess(Case.model_validate(case), pack, explain=True)
        results.append(workload.canonical([f.id for f in report.facts],
                                          [f.id for f in report.findings]))
        rules.update(f.rule for f in report.facts)
        rules.update(f.rule for f in report.findings)
    return results, rules


def test_the_pack_has_50_rules_in_three_layers(workload, pack):
    rules = {r.id: r for r in pack.rules}
    assert list(rules) == list(workload.RULE_IDS)
    layer1 = [r for r in pack.rules if r.derive_kind in workload.LAYER1_KINDS]
    layer2 = [r for r in pack.rules if r.derive_kind in workload.LAYER2_KINDS]
    flags = [r for r in pack.rules if r.report is not None]
    assert (len(layer1), len(layer2), len(flags)) == (30, 15, 5)
    for rule in layer1:
        assert {p.kind for p in rule.patterns} <= {"line_item", "case"}
    for rule in layer2:
        kinds = [p.kind for p in rule.patterns if not p.negated]
        assert kinds[0] in workload.LAYER1_KINDS and kinds[1] == "dependency"
    negating = [r.id for r in layer2 if any(p.negated for p in r.patterns)]
    assert len(negating) == 7
    assert sum(any(p.negated and p.kind == "transparency" for p in r.patterns)
               for r in layer2) == 5
    for rule in flags:
        assert [p.kind for p in rule.patterns] and \
            all(p.kind in workload.LAYER2_KINDS for p in rule.patterns)
        assert len(rule.patterns) == 2


def test_the_pack_parameters_are_the_specification(workload, pack):
    params = {name: spec.value for name, spec in pack.parameters["peer-bench"].items()}
    assert params == workload.PARAMS


def test_generated_cases_are_deterministic_and_shaped_as_specified(workload, cases):
    assert workload.generate_cases(20, 11) == cases[:20]
    assert workload.generate_cases(20, 12) != cases[:20]
    for case in cases:
        assert len(case["line_items"]) == 30
        assert {i["category"] for i in case["line_items"]} == set(workload.CATEGORIES)
        assert 1 <= len(case["commitments"]) <= 5
        assert "amount" in case["total"]
    items = [i for c in cases for i in c["line_items"]]
    assert any("prior" not in i for i in items)            # no prior stated
    assert any(i.get("prior") == 0 for i in items)         # new lines
    assert any(i["amount"] == 0 for i in items)            # unfunded lines


def test_diplo_and_the_python_reference_agree_on_every_case(workload, reference, cases,
                                                            diplo_results):
    results, _ = diplo_results
    for case, got in zip(cases, results):
        expected = reference.assess(case, full=True)
        assert got == expected, (case["id"], sorted(got - expected)[:5],
                                 sorted(expected - got)[:5])
        assert workload.flags_only(got) == reference.assess(case)


def test_every_rule_produces_something(workload, reference, cases, diplo_results):
    results, rules = diplo_results
    assert set(workload.RULE_IDS) - rules == set()
    # and the results are not trivial: many facts and flags, and cases without flags too
    flags = [len(workload.flags_only(r)) for r in results]
    assert sum(len(r) for r in results) / len(results) > 20
    assert 0 < sum(1 for f in flags if f) < len(results)


def test_keys_drop_repeated_atoms(workload):
    assert workload.join_key("a", "c1/x") == "a+c1/x"
    assert workload.join_key("a+c1/x", "a+c1/x") == "a+c1/x"
    assert workload.join_key("a+c1/x+c1", "b+c2/x") == "a+c1/x+c1+b+c2/x"
    assert workload.join_key("", "a") == "a"


@pytest.mark.parametrize("peer", ["clips", "zen"])
def test_the_peers_agree_with_the_reference(peer, workload, reference, cases):
    pytest.importorskip({"clips": "clips", "zen": "zen"}[peer])
    if peer == "clips":
        engine = _import("peers.clips_impl").ClipsWorkload()
    else:
        engine = _import("peers.zen_impl").ZenWorkload()
    for case in cases[:N_PEERS]:
        expected = reference.assess(case, full=True)
        got = engine.assess(case, full=True)
        assert got == expected, (peer, case["id"], sorted(got - expected)[:5],
                                 sorted(expected - got)[:5])
        assert engine.assess(case) == workload.flags_only(expected)


def _peers_script():
    spec = importlib.util.spec_from_file_location("diplo_peers_bench", BENCH / "peers.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module         # dataclasses look their module up there
    writes, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    path = list(sys.path)                   # the script puts bench/ on it
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = writes
        sys.path[:] = path
    return module


def test_a_difference_is_reported_with_the_first_differing_case():
    script = _peers_script()
    cases = [{"id": "a"}, {"id": "b"}, {"id": "c"}]
    same = [frozenset({("flag", "F:x")})] * 3
    assert script.first_difference("e", same, same, cases) is None
    other = same[:1] + [frozenset({("flag", "F:y")})] * 2
    text = script.first_difference("e", other, same, cases)
    assert "2 of 3 cases" in text and "case b (index 1)" in text
    assert "F:y" in text and "F:x" in text


def test_targets_are_not_judged_without_both_peers():
    script = _peers_script()
    row = {"cases_per_s": 100.0, "vs_fastest_peer": None, "python_over": 10.0}
    timing = {"diplo": row, "python": dict(row, python_over=1.0),
              "zen": dict(row, cases_per_s=50.0)}
    lines, met = script.targets(timing, {"clips": "clipspy is not installed"})
    assert met is None
    assert any(line.startswith("NOT JUDGED") and "clipspy is not installed" in line
               for line in lines)
    assert any(line.startswith("PASS") and "40x" in line for line in lines)


def test_the_script_runs_end_to_end_at_tiny_sizes(tmp_path):
    out = tmp_path / "peers.json"

    def run():
        # faulthandler: a death by a signal inside the engine's native code shows where
        return subprocess.run(
            [sys.executable, "-X", "faulthandler", str(BENCH / "peers.py"), "--cases", "12",
             "--repeat", "1", "--block", "6", "--warmup", "2", "--json", str(out)],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
            env={**__import__("os").environ, "PYTHONDONTWRITEBYTECODE": "1"})
    done = run()
    if done.returncode < 0:
        # In two of five full CI runs this script died of signal 11 here, in its replay of
        # diplo's native calls, while those still retracted each case's facts (reading memory
        # the engine no longer used; a case now has a session of its own). Should it happen
        # again, the death is reported with its trace and the script must then run through;
        # a second death fails the test.
        warnings.warn(f"bench/peers.py died of signal {-done.returncode}; run again. "
                      f"stderr: {done.stderr[-3000:]}")
        done = run()
    assert done.returncode == 0, done.stdout + done.stderr
    for heading in ("== Machine ==", "== Workload", "== Results ==", "== Throughput",
                    "== Targets =="):
        assert heading in done.stdout
    figures = json.loads(out.read_text())
    assert {"diplo", "diplo, Case prebuilt", "python"} <= set(figures["timing"])
    assert figures["workload"]["cases"] == 12
    assert all("identical" in line for line in figures["checks"])
