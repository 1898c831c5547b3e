"""Run one workload through diplo, hand-written Python, CLIPS (clipspy) and zen-engine, check
that all give the same results on every case, and compare their speed on one core.

    python bench/peers.py [--cases N] [--seed S] [--repeat R] [--engines diplo,python,clips,zen]
                          [--block B] [--warmup W] [--cpu K] [--check-cases M] [--json FILE]
                          [--fail-on-target]

The workload, its rules and the canonical form of a result are specified once, in
bench/peers/workload.py. Each engine is timed from the case dict to its canonical flags,
conversion included. Absolute timings move with the load of a shared machine; the ratios,
taken between engines within each pass, move much less. Exit status: 0 results identical
(and, with --fail-on-target, both targets met); 1 an engine's results differ from the
reference on some case (the first such case is printed); 2 bad arguments; 3 a target missed
with --fail-on-target. See docs/performance.md, "Against other rule engines".
"""
from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))      # the peers/ package next to this script

from peers import python_impl, workload  # noqa: E402

from engine import assess, load_pack  # noqa: E402
from engine.model import Case  # noqa: E402

PACK = HERE / "peers" / "pack"
TARGET_PYTHON_RATIO = 40.0
ENGINE_CHOICES = ("diplo", "python", "clips", "zen")


@dataclass
class Runner:
    name: str                            # row label
    func: Callable                       # one input -> frozenset of ("flag", id)
    inputs: list                         # one per case
    peer: bool = False                   # clips or zen: a comparison point for diplo
    diplo: bool = False
    batch: Callable | None = None        # list of inputs -> list of results, if a batch API
    note: str = ""
    checked: bool = True                 # its results are flags to check against the reference
    seconds: list[float] = field(default_factory=list)   # one per pass


# --- the engines ---------------------------------------------------------------------------------

def diplo_runners(cases: list[dict], pack) -> list[Runner]:
    def flags(report) -> frozenset:
        return frozenset(("flag", f.id) for f in report.findings)

    def from_dict(case: dict) -> frozenset:
        return flags(assess(Case.model_validate(case), pack))

    def prebuilt(case: Case) -> frozenset:
        return flags(assess(case, pack))

    runners = [
        Runner("diplo", from_dict, cases, diplo=True,
               note="Case.model_validate(dict) + assess(case, pack), per case"),
        Runner("diplo, Case prebuilt", prebuilt, [Case.model_validate(c) for c in cases],
               diplo=True, note="assess(case, pack) on Case objects built before timing"),
    ]
    import engine
    many = getattr(engine, "assess_many", None)
    if callable(many):
        def batch(block: list[dict]) -> list[frozenset]:
            reports = list(many([Case.model_validate(c) for c in block], pack))
            return [flags(r) for r in reports]
        try:   # a batch entry point of another shape is reported, not guessed at
            probe = batch(cases[:2])
            assert len(probe) == len(cases[:2])
        except Exception as exc:  # noqa: BLE001
            print(f"diplo, assess_many: skipped, engine.assess_many(cases, pack) failed: "
                  f"{exc!r}")
        else:
            runners.append(Runner("diplo, assess_many", None, cases, diplo=True, batch=batch,
                                  note="engine.assess_many([Case.model_validate(d) ...], "
                                       "pack), per block of cases"))
    return runners


# the native calls diplo's compiled pack makes (engine/core/compile.py), and which argument of
# each is text that the replay sends as recorded
_REPLAYED = {"assert_facts": 1, "assert_fact": 1, "retract_facts": 1, "delete_state": 1,
             "start_action_for_state": None, "complete_and_start_action": None}


def native_replay_runner(pack, cases: list[dict]) -> Runner:
    """durable's native calls alone, as diplo made them for each case, replayed on rulesets
    created from the same definitions: the floor of any assessment built on durable-rules
    with diplo's encoding, timed in the same passes as the peers. The calls are recorded in
    one untimed run of diplo over the cases; the replay is then checked to return, call for
    call, the action messages the recording saw, before it is timed."""
    import engine.core.compile as compiled
    from engine.model import Case
    native = compiled._native
    ops: list[list[tuple]] = []
    current: list[tuple] = []

    class Recording:
        def __getattr__(self, name):
            func = getattr(native, name)
            if name not in _REPLAYED:
                return func
            text = _REPLAYED[name]

            def call(*args):
                result = func(*args)
                seen = result if name in ("start_action_for_state",
                                          "complete_and_start_action") else None
                current.append((name, args[0], args[text] if text else None, seen))
                return result
            return call
    compiled._native = Recording()
    try:
        for case in cases:
            assess(Case.model_validate(case), pack)
            ops.append(list(current))
            current.clear()
    finally:
        compiled._native = native
    # the same definitions, created anew: one ruleset for each one the recording used
    handles: dict[int, int] = {}
    for packset in [pack, *pack.year_variants.values()]:
        for shard in packset.compiled.shards:
            definition = {key: {k: v for k, v in entry.items() if k != "run"}
                          for key, entry in shard.definition.items()}
            handles[shard.handle] = native.create_ruleset(
                f"replay_{len(handles)}_{shard.name}", json.dumps(definition, ensure_ascii=False))
    calls = {name: getattr(native, name) for name in _REPLAYED}

    def replay(index: int, check: bool = False) -> frozenset:
        state = None
        for name, handle, text, seen in ops[index]:
            func, h = calls[name], handles[handle]
            if text is not None:
                result = func(h, text)
                if name != "delete_state":
                    state = result[1]
            else:
                result = func(h, state)
                if check and result != seen:
                    raise SystemExit(f"the replay of case {index} differs from the recording "
                                     f"at {name}: {result!r} != {seen!r}")
        return frozenset()
    for index in range(len(cases)):   # checked once, untimed
        replay(index, check=True)
    return Runner("durable native calls, replayed", replay, list(range(len(cases))),
                  checked=False, note="the native calls diplo made for each case, replayed "
                                      "alone (no Python of diplo's): the floor on durable")


def diplo_full(case: dict, pack, rules: set[str]) -> frozenset:
    """Every derived fact and flag (assess with explain=True), for the check pass; adds the
    rules that produced them to `rules`."""
    report = assess(Case.model_validate(case), pack, explain=True)
    rules.update(f.rule for f in report.facts)
    rules.update(f.rule for f in report.findings)
    return workload.canonical([f.id for f in report.facts], [f.id for f in report.findings])


def load_peer(name: str):
    """The peer's workload object, or the reason it cannot run."""
    try:
        if name == "clips":
            from peers.clips_impl import ClipsWorkload
            return ClipsWorkload(), None
        from peers.zen_impl import ZenWorkload
        return ZenWorkload(), None
    except ImportError as exc:
        package = {"clips": "clipspy", "zen": "zen-engine"}[name]
        return None, f"{package} is not installed ({exc}); pip install -e '.[bench]'"


# --- measuring -----------------------------------------------------------------------------------

def pin_to_one_core(cpu: int | None) -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned: os.sched_setaffinity is not available on this platform"
    allowed = sorted(os.sched_getaffinity(0))
    chosen = allowed[-1] if cpu is None else cpu
    if chosen not in allowed:
        raise SystemExit(f"--cpu {cpu}: this process may run on CPUs {allowed} only")
    os.sched_setaffinity(0, {chosen})
    return f"pinned to CPU {chosen} (of {len(allowed)} allowed: {allowed})"


def timed_pass(runners: list[Runner], n: int, block: int, rotation: int,
               outputs: dict[str, list]) -> dict[str, float]:
    """One pass over all cases, in blocks; within a block every engine runs on the same
    cases, in an order that rotates from block to block, so that a change of load on the
    machine reaches all engines alike while each keeps its code and data warm for a block.
    The collector is run between blocks, untimed, so that no engine pays for another's
    garbage."""
    seconds = {r.name: 0.0 for r in runners}
    clock = time.perf_counter
    for b, start in enumerate(range(0, n, block)):
        end = min(n, start + block)
        k = (b + rotation) % len(runners)
        for runner in runners[k:] + runners[:k]:
            inputs = runner.inputs[start:end]
            gc.collect()
            if runner.batch is not None:
                t0 = clock()
                out = runner.batch(inputs)
                t1 = clock()
            else:
                func = runner.func
                out = []
                append = out.append
                t0 = clock()
                for x in inputs:
                    append(func(x))
                t1 = clock()
            seconds[runner.name] += t1 - t0
            outputs[runner.name][start:end] = out
    return seconds


def first_difference(name: str, got: list, expected: list, cases: list[dict]) -> str | None:
    for i, (a, b) in enumerate(zip(got, expected)):
        if a != b:
            only_engine = sorted(x[1] if x[0] == "flag" else f"fact {x[1]}" for x in a - b)
            only_ref = sorted(x[1] if x[0] == "flag" else f"fact {x[1]}" for x in b - a)
            differing = sum(1 for x, y in zip(got, expected) if x != y)
            return (f"{name}: results differ from the hand-written Python reference on "
                    f"{differing} of {len(expected)} cases; the first is case "
                    f"{cases[i]['id']} (index {i}):\n"
                    f"  only from {name} ({len(only_engine)}): {only_engine[:12]}\n"
                    f"  only from the reference ({len(only_ref)}): {only_ref[:12]}\n"
                    f"  case: {json.dumps(cases[i])[:2000]}")
    return None


def describe(cases: list[dict], full: list[frozenset], rules_producing: set[str] | None,
             checked: int) -> dict:
    """What the cases hold and produce; `full` holds the reference results of the first
    len(full) cases."""
    n = len(cases)
    facts = [len(r) - sum(1 for x in r if x[0] == "flag") for r in full]
    flags = [sum(1 for x in r if x[0] == "flag") for r in full]
    peer_facts = []
    for c in cases:
        head, lines, commitments, deps, t = workload.case_values(c)
        peer_facts.append(1 + len(lines) + len(commitments) + len(deps) + 1)
    return {
        "cases": n, "results_sample": len(full), "rules_sample": checked,
        "facts_per_case_mean": statistics.mean(peer_facts),
        "facts_per_case_min": min(peer_facts), "facts_per_case_max": max(peer_facts),
        "derived_per_case_mean": statistics.mean(facts), "derived_per_case_max": max(facts),
        "flags_per_case_mean": statistics.mean(flags), "flags_per_case_max": max(flags),
        "share_of_cases_with_flags": sum(1 for f in flags if f) / len(flags),
        "rules_producing": None if rules_producing is None else len(rules_producing),
        "rules_never_producing": None if rules_producing is None else
        [r for r in workload.RULE_IDS if r not in rules_producing],
    }


def machine() -> dict:
    info: dict = {}
    try:  # bench.py's description of the machine, when it loads
        spec = importlib.util.spec_from_file_location("diplo_bench", HERE / "bench.py")
        module = importlib.util.module_from_spec(spec)
        writes, sys.dont_write_bytecode = sys.dont_write_bytecode, True
        try:
            spec.loader.exec_module(module)
        finally:
            sys.dont_write_bytecode = writes
        info = module.machine()
    except Exception as exc:  # noqa: BLE001 - a description, never a reason to stop
        info = {"platform": platform.platform(), "python": sys.version.split()[0],
                "implementation": platform.python_implementation(),
                "cpu_count": os.cpu_count(), "cpu_model": None,
                "loadavg_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
                "bench_py_machine": f"unavailable: {exc!r}"}
    from importlib.metadata import PackageNotFoundError, version
    for dist in ("clipspy", "zen-engine", "diplo"):
        try:
            info[dist] = version(dist)
        except PackageNotFoundError:
            info[dist] = None
    return info


# --- reporting -----------------------------------------------------------------------------------

def fmt_ratio(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x:,.2f}x" if x < 10 else f"{x:,.1f}x"


def print_report(out: dict) -> None:
    from tabulate import tabulate
    m = out["machine"]
    a = out["args"]
    print("== Machine ==")
    load_start = m.get("loadavg_start")
    print(tabulate([
        ["platform", m.get("platform")],
        ["python", f"{m.get('python')} ({m.get('implementation')})"],
        ["cpu", f"{m.get('cpu_count')} x {m.get('cpu_model') or '?'}"],
        ["pinning", out["pinning"]],
        ["load average at start (1, 5, 15 min)",
         ", ".join(f"{x:.2f}" for x in load_start) if load_start else "n/a"],
        ["load average at end", ", ".join(f"{x:.2f}" for x in out["loadavg_end"])
         if out["loadavg_end"] else "n/a"],
        ["diplo, durable-rules, pydantic",
         f"{m.get('diplo')}, {m.get('durable_rules')}, {m.get('pydantic')}"],
        ["clipspy, zen-engine", f"{m.get('clipspy') or 'not installed'}, "
                                f"{m.get('zen-engine') or 'not installed'}"],
        ["arguments", " ".join(f"--{k.replace('_', '-')} {v}" for k, v in a.items()
                               if k not in ("json", "fail_on_target") and v is not None)],
    ], tablefmt="plain"))

    g = out["workload"]
    print("\n== Workload (bench/peers/workload.py) ==")
    print(tabulate([
        ["cases (seed)", f"{g['cases']:,} ({a['seed']})"],
        ["rules", "50: 30 on line items, 15 joining commitments (7 negate a fact), "
                  "5 flags from pairs"],
        ["facts per case as the peers see them, mean (min-max)",
         f"{g['facts_per_case_mean']:.1f} ({g['facts_per_case_min']}-"
         f"{g['facts_per_case_max']})"],
        ["derived facts per case, mean (max)",
         f"{g['derived_per_case_mean']:.1f} ({g['derived_per_case_max']})"],
        ["flags per case, mean (max); share of cases with a flag",
         f"{g['flags_per_case_mean']:.1f} ({g['flags_per_case_max']}); "
         f"{g['share_of_cases_with_flags']:.0%}"],
        [f"rules that produced a result on some of {g['rules_sample']:,} cases",
         "n/a (diplo not run)" if g["rules_producing"] is None else
         f"{g['rules_producing']} of 50" + (f" (never: {', '.join(g['rules_never_producing'])})"
                                             if g["rules_never_producing"] else "")],
    ], tablefmt="plain"))

    print("\n== Results ==")
    for line in out["checks"]:
        print(line)
    for name, why in out["skipped"].items():
        print(f"{name}: skipped, {why}")

    t = out["timing"]
    print(f"\n== Throughput on one core (median of {a['repeat']} passes over "
          f"{g['cases']:,} cases, blocks of {a['block']}) ==")
    rows = []
    for name, row in t.items():
        rows.append([name, f"{row['cases_per_s']:,.0f}", f"{row['us_per_case']:,.1f}",
                     fmt_ratio(row["vs_fastest_peer"]), fmt_ratio(row["python_over"])])
    print(tabulate(rows, headers=["engine", "cases/s", "us/case", "x fastest peer",
                                  "Python faster by"], disable_numparse=True,
                   colalign=("left", "right", "right", "right", "right")))
    print("x fastest peer: the engine's cases/s over the faster of clips and zen in the same "
          "pass;\nPython faster by: hand-written Python's cases/s over the engine's in the same "
          "pass; both medians over passes.")
    for name, row in t.items():
        if row.get("note"):
            print(f"  {name}: {row['note']}")

    floor = out.get("native_floor")
    if floor:
        calls = ", ".join(f"{k} {v:,.0f}" for k, v in floor["calls_us_per_case"].items())
        print(f"\nInside durable's native calls: {floor['us_per_case']:,.0f} us per case "
              f"({floor['share_of_assess']:.0%} of diplo's assess; {calls}), measured on "
              f"{floor['cases']:,} cases with the calls wrapped in timers"
              + (f"; {floor['vs_fastest_peer_case']:.2f}x the fastest peer's whole case"
                 if "vs_fastest_peer_case" in floor else ""))
    print("\n== Targets ==")
    for line in out["target_lines"]:
        print(line)
    print(f"\nTotal bench time: {out['elapsed_s']:.0f} s")


# --- main ----------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="generated cases (10000)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (1)")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes, median (3)")
    parser.add_argument("--engines", default=",".join(ENGINE_CHOICES),
                        help="comma-separated, of diplo,python,clips,zen (all); 'diplo' runs "
                             "every diplo row")
    parser.add_argument("--block", type=int, default=250,
                        help="cases per block; engines alternate block by block (250)")
    parser.add_argument("--warmup", type=int, default=200,
                        help="untimed cases per engine before the passes (200)")
    parser.add_argument("--cpu", type=int, default=None,
                        help="the CPU to pin to (default: the last one allowed)")
    parser.add_argument("--check-cases", type=int, default=None,
                        help="cases whose derived facts are checked too (default: all); flags "
                             "are checked on every case of every pass")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--fail-on-target", action="store_true",
                        help="exit 3 when a target is missed")
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINE_CHOICES]
    if unknown or not engines:
        parser.error(f"--engines: expected some of {','.join(ENGINE_CHOICES)}, "
                     f"found {args.engines!r}")
    if args.cases < 1 or args.repeat < 1 or args.block < 1 or args.warmup < 0:
        parser.error("--cases, --repeat and --block must be at least 1, --warmup at least 0")

    started = time.perf_counter()
    pinning = pin_to_one_core(args.cpu)
    info = machine()
    cases = workload.generate_cases(args.cases, args.seed)
    n = len(cases)
    check_n = n if args.check_cases is None else max(0, min(n, args.check_cases))

    runners: list[Runner] = []
    skipped: dict[str, str] = {}
    pack = None
    if "diplo" in engines:
        pack = load_pack(str(PACK))
        runners += diplo_runners(cases, pack)
        runners.append(native_replay_runner(pack, cases))
    if "python" in engines:
        runners.append(Runner("python", python_impl.assess, cases,
                              note="hand-written (bench/peers/python_impl.py)"))
    peers = {}
    for name in ("clips", "zen"):
        if name in engines:
            peer, why = load_peer(name)
            if peer is None:
                skipped[name] = why
            else:
                peers[name] = peer
                runners.append(Runner(name, peer.assess, cases, peer=True))
    runners.sort(key=lambda r: (not r.diplo, r.name != "python", r.name))
    if not runners:
        print("no engine to run: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
        return 2

    # the check pass: every derived fact and every flag, against the reference
    checks: list[str] = []
    reference_full = [python_impl.assess(c, full=True) for c in cases[:check_n]]
    reference = [python_impl.assess(c) for c in cases]
    full_engines: dict[str, Callable] = {name: (lambda c, p=peer: p.assess(c, full=True))
                                         for name, peer in peers.items()}
    rules_producing: set[str] | None = None
    if pack is not None and check_n:
        rules_producing = set()
        full_engines = {"diplo": lambda c: diplo_full(c, pack, rules_producing)} | full_engines
    failed = False
    for name, full in full_engines.items():
        got = [full(c) for c in cases[:check_n]]
        difference = first_difference(name, got, reference_full, cases)
        if difference:
            print(difference)
            failed = True
        else:
            checks.append(f"{name}: every derived fact and flag identical to the reference on "
                          f"{check_n:,} of {n:,} cases")
    if failed:
        return 1

    # warm-up, then the timed passes
    for runner in runners:
        inputs = runner.inputs[:args.warmup]
        if runner.batch is not None and inputs:
            runner.batch(inputs)
        else:
            for x in inputs:
                runner.func(x)
    outputs = {r.name: [None] * n for r in runners}
    gc.freeze()   # the cases, the engines' set-up and the reference: out of every collection
    per_pass: list[dict[str, float]] = []
    for rep in range(args.repeat):
        seconds = timed_pass(runners, n, args.block, rep, outputs)
        per_pass.append(seconds)
        for runner in (r for r in runners if r.checked):
            difference = first_difference(runner.name, outputs[runner.name], reference, cases)
            if difference:
                print(f"pass {rep + 1}: {difference}")
                return 1
    for runner in runners:
        if not runner.checked:
            checks.append(f"{runner.name}: every action message identical to the recording "
                          f"on all {n:,} cases (checked once, before timing)")
            continue
        checks.append(f"{runner.name}: flags identical to the reference on all {n:,} cases in "
                      f"each of {args.repeat} timed passes")

    # figures: medians over passes; ratios taken within a pass, then their median
    peer_names = [r.name for r in runners if r.peer]
    timing: dict[str, dict] = {}
    for runner in runners:
        cps = [n / p[runner.name] for p in per_pass]
        vs_peer = None
        if peer_names:
            vs_peer = statistics.median(
                (n / p[runner.name]) / max(n / p[q] for q in peer_names) for p in per_pass)
        python_over = None
        if "python" in per_pass[0]:
            python_over = statistics.median(p[runner.name] / p["python"] for p in per_pass)
        timing[runner.name] = {
            "cases_per_s": statistics.median(cps),
            "us_per_case": statistics.median(p[runner.name] / n * 1e6 for p in per_pass),
            "vs_fastest_peer": vs_peer, "python_over": python_over,
            "passes_cases_per_s": cps, "note": runner.note,
        }

    floor = native_floor(pack, cases[:1000]) if pack is not None else None
    if floor is not None and peer_names:
        fastest = min(timing[q]["us_per_case"] for q in peer_names)
        floor["vs_fastest_peer_case"] = floor["us_per_case"] / fastest
    target_lines, targets_met = targets(timing, skipped)
    stats_sample = reference_full or [python_impl.assess(c, True) for c in cases[:2000]]
    try:
        load_end = os.getloadavg()
    except (OSError, AttributeError):
        load_end = None
    out = {
        "machine": info, "pinning": pinning, "loadavg_end": load_end,
        "args": {k: v for k, v in vars(args).items()},
        "workload": describe(cases, stats_sample, rules_producing, check_n),
        "checks": checks, "skipped": skipped, "timing": timing, "native_floor": floor,
        "target_lines": target_lines, "targets_met": targets_met,
        "elapsed_s": time.perf_counter() - started,
    }
    print_report(out)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    if args.fail_on_target and targets_met is False:
        return 3
    return 0


def native_floor(pack, cases: list[dict]) -> dict:
    """Time spent inside durable's native calls per case (assert, retract, the action loop),
    measured by wrapping them for one untimed pass: what diplo costs with no Python at all
    around the engine, the floor of any diplo built on durable-rules."""
    import engine.core.compile as compiled
    from engine.model import Case
    prebuilt = [Case.model_validate(c) for c in cases]
    spent: dict[str, float] = {}
    native = compiled._native

    class Timed:
        def __getattr__(self, name):
            func = getattr(native, name)

            def timed(*args):
                start = time.perf_counter()
                try:
                    return func(*args)
                finally:
                    spent[name] = spent.get(name, 0.0) + time.perf_counter() - start
            return timed
    compiled._native = Timed()
    try:
        start = time.perf_counter()
        for case in prebuilt:
            assess(case, pack)
        total = time.perf_counter() - start
    finally:
        compiled._native = native
    inside = sum(spent.values())
    return {"cases": len(prebuilt), "us_per_case": inside / len(prebuilt) * 1e6,
            "share_of_assess": inside / total,
            "calls_us_per_case": {k: v / len(prebuilt) * 1e6 for k, v in
                                  sorted(spent.items(), key=lambda kv: -kv[1])}}


def targets(timing: dict, skipped: dict) -> tuple[list[str], bool | None]:
    """The two targets, judged on the row 'diplo' (from the case dict, one case at a time);
    other diplo rows are shown for information."""
    lines: list[str] = []
    met: list[bool] = []
    missing = [p for p in ("clips", "zen") if p not in timing]
    for name, row in timing.items():
        if not name.startswith("diplo"):
            continue
        judged = name == "diplo"
        info = "" if judged else "(info) "
        if missing:
            why = "; ".join(f"{p} " + (f"skipped ({skipped[p]})" if p in skipped
                                       else "not selected") for p in missing)
            lines.append(f"{info}NOT JUDGED  {name} >= the faster of clips and zen: {why}")
        else:
            fastest = max(("clips", "zen"), key=lambda p: timing[p]["cases_per_s"])
            ok = row["vs_fastest_peer"] >= 1.0
            lines.append(f"{info}{'PASS' if ok else 'FAIL'}  {name} >= the faster of clips and "
                         f"zen: {row['cases_per_s']:,.0f} vs {fastest} "
                         f"{timing[fastest]['cases_per_s']:,.0f} cases/s (ratio "
                         f"{row['vs_fastest_peer']:.3f} within passes, needs >= 1)")
            if judged:
                met.append(ok)
        if row["python_over"] is None:
            lines.append(f"{info}NOT JUDGED  {name} within {TARGET_PYTHON_RATIO:.0f}x of "
                         "hand-written Python: python not selected")
        else:
            ok = row["python_over"] <= TARGET_PYTHON_RATIO
            lines.append(f"{info}{'PASS' if ok else 'FAIL'}  {name} within "
                         f"{TARGET_PYTHON_RATIO:.0f}x of hand-written Python: Python is "
                         f"{row['python_over']:.1f}x faster (needs <= "
                         f"{TARGET_PYTHON_RATIO:.0f})")
            if judged:
                met.append(ok)
    if "diplo" not in timing:
        lines.append("NOT JUDGED  both targets: diplo not selected")
    return lines, (all(met) if len(met) == 2 else None)


if __name__ == "__main__":
    sys.exit(main())
