"""Measure diplo's speed and memory in one run, as ratios against references run alongside.

    python bench/bench.py [--cases N] [--seed S] [--repeat R] [--memory-cases M]
                          [--warmup W] [--cold-runs K] [--cold-start-only] [--json FILE]

Absolute timings move with the load of a shared machine; ratios measured in the same run
(engine vs a plain-Python check, cold start vs bare import) move much less. See
docs/performance.md for what each figure means.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

from tabulate import tabulate

from engine import assess, load_pack
from engine.inputs.case import check_case
from engine.core.facts import case_facts
from engine.model import Case
from engine.api import case_notes
from engine.core.coverage import coverage
from engine.core.run import build_report, for_year
from engine.inputs import plausibility

ROOT = Path(__file__).resolve().parent.parent
COLD_CASE = "cases/balanced-partner.yaml"
BARE_IMPORT = "import durable.engine, pydantic, click, tabulate, yaml"
# `import pydantic` alone imports little: pydantic loads its model machinery when a model is
# first defined. This reference defines and validates one constrained model, the least any use
# of pydantic pays (diplo's case and report are pydantic models).
ONE_MODEL = (BARE_IMPORT + "\nfrom pydantic import BaseModel, Field\n"
             "class M(BaseModel):\n    x: float = Field(ge=0)\nM(x=1)")
# One `diplo assess` in a fresh process, its CPU time (time.process_time, which another job on
# the machine disturbs less than the clock) split where start-up spends it. The first pydantic
# model comes before diplo's own, so that diplo's share leaves out pydantic's machinery.
COLD_PHASES = """
import contextlib, io, json, sys, time
marks = [time.process_time()]
import durable.engine, pydantic, click, tabulate, yaml
marks.append(time.process_time())
from pydantic import BaseModel, Field
class M(BaseModel):
    x: float = Field(ge=0)
M(x=1)
marks.append(time.process_time())
import gc
gc.disable()   # as the diplo command starts (engine.__main__.run)
from engine.cli import main
gc.freeze()
gc.enable()
marks.append(time.process_time())
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main(["assess", sys.argv[1]], prog_name="diplo")
    except SystemExit:
        pass
marks.append(time.process_time())
print(json.dumps([(b - a) * 1000 for a, b in zip(marks, marks[1:])]))
"""
PHASES = ["bare import of dependencies", "pydantic's model machinery (one model)",
          "import engine.cli.common (the command line, the models)",
          "the assess command: imports on first use, pack, case, report"]


# --- generated cases ----------------------------------------------------------------------------

KINDS = ["alliance", "security_agreement", "aid_program", "peacekeeping_mandate",
         "industry_partnership", "pooled_fund"]
THREATS = ["low", "moderate", "elevated", "severe"]


def _maybe(rng: random.Random, p: float, value):
    return value if rng.random() < p else None


def _item_amounts(rng: random.Random, base: float) -> tuple[float, float | None]:
    """This year's and last year's amount, so cuts, flat lines, rises, new and unfunded lines
    and missing priors all occur."""
    roll = rng.random()
    if roll < 0.20:
        factor = rng.uniform(0.55, 0.97)          # cut
    elif roll < 0.30:
        factor = 1.0                               # flat in nominal terms
    elif roll < 0.93:
        factor = rng.uniform(1.0, 1.25)            # rise
    else:
        factor = None                              # new line
    amount = 0.0 if rng.random() < 0.03 else round(base, 2)
    if rng.random() < 0.10:
        return amount, None                        # prior not stated
    if factor is None:
        return amount, 0.0
    return amount, round(base / factor, 2)


def generate_case(rng: random.Random, index: int, categories: list[str],
                  groups: dict[str, str]) -> dict:
    core = [c for c in categories if groups[c] == "core"]
    other = [c for c in categories if groups[c] != "core"]
    size = 10 ** rng.uniform(2.5, 5.0)             # budget scale, in the case's unit
    fiscal_year = rng.randint(2024, 2030)
    n_items = rng.randint(5, 30)
    n_core = min(n_items, rng.randint(2, 5))
    chosen = [rng.choice(core) for _ in range(n_core)]
    chosen += [rng.choice(other) for _ in range(n_items - n_core)]
    rng.shuffle(chosen)

    items, seen = [], {}
    for category in chosen:
        seen[category] = seen.get(category, 0) + 1
        share = rng.uniform(0.08, 0.35) if groups[category] == "core" else \
            rng.uniform(0.002, 0.04)
        amount, prior = _item_amounts(rng, size * share)
        item = {"id": f"{category.replace('_', '-')}-{seen[category]}", "category": category,
                "amount": amount}
        if prior is not None:
            item["prior"] = prior
        if rng.random() < 0.3:
            item["partners"] = [f"Country {rng.randint(1, 60)}"
                                for _ in range(rng.randint(1, 3))]
        items.append(item)

    case: dict = {
        "id": f"bench-{index:05d}", "title": f"Generated case {index}",
        "country": f"Country {rng.randint(1, 60)}", "fiscal_year": fiscal_year,
        "currency": rng.choice(["USD", "EUR", "GBP", "XDR"]), "unit": "million",
        "line_items": items,
    }
    amount_sum = sum(i["amount"] for i in items)
    inflation = _maybe(rng, 0.85, round(rng.uniform(-0.5, 8.0), 2))
    if inflation is not None:
        case["inflation_pct"] = inflation
    gdp_share = rng.uniform(0.6, 4.5)
    if rng.random() < 0.7 and amount_sum > 0:
        case["gdp"] = round(amount_sum / gdp_share * 100.0, 2)
    threat = _maybe(rng, 0.85, rng.choice(THREATS))
    if threat:
        case["threat_environment"] = threat
    if rng.random() < 0.4:
        # a stated total is never below the sum of its lines (check_case refuses that)
        total = {"amount": round(amount_sum * rng.uniform(1.0, 1.05) + 0.01, 2)}
        priors = [i["prior"] for i in items if "prior" in i]
        if rng.random() < 0.7:
            total["prior"] = round(sum(priors) * rng.uniform(1.0, 1.05) + 0.01, 2)
        case["total"] = total

    present = sorted({i["category"] for i in items})
    commitments = []
    for j in range(rng.randint(0, 4)):
        depends: list[str] = []
        for _ in range(rng.randint(1, 3)):
            pool = present if rng.random() < 0.9 else categories   # absent ones too
            category = rng.choice(pool)
            if category not in depends:
                depends.append(category)
        commitment = {"id": f"commitment-{j + 1}", "kind": rng.choice(KINDS),
                      "partners": [f"Country {rng.randint(1, 60)}"
                                   for _ in range(rng.randint(0, 3))],
                      "depends_on": depends,
                      "status": rng.choices(["active", "proposed", "ending"], [7, 2, 1])[0]}
        if rng.random() < 0.3:
            commitment["ends_year"] = fiscal_year + rng.randint(0, 6)
        commitments.append(commitment)
    if commitments:
        case["commitments"] = commitments

    transparency = {
        "budget_publication": rng.choice(["disaggregated", "aggregate", "none"]),
        "legislative_review": rng.random() < 0.7,
        "external_audit": rng.choices(["none", "financial", "financial_and_performance"],
                                      [1, 4, 3])[0],
        "audit_reports_published": rng.random() < 0.6,
        "secret_share_pct": round(rng.choices([rng.uniform(0, 3), rng.uniform(3, 8),
                                               rng.uniform(8, 20)], [5, 3, 1])[0], 1),
        "off_budget_share_pct": round(rng.uniform(0, 10), 1),
        "in_year_reporting": rng.random() < 0.6,
        "civil_society_oversight": rng.random() < 0.5,
    }
    case["transparency"] = {k: v for k, v in transparency.items() if rng.random() < 0.75}

    years = sorted(rng.sample(range(1, 9), rng.randint(0, 5)))
    history, level = [], max(amount_sum, 1.0)
    for back in years:
        level = level / rng.uniform(0.85, 1.2)
        history.append({"fiscal_year": fiscal_year - back, "total": round(level, 2)})
    if history:
        case["history"] = history
    return case


def generate_cases(n: int, seed: int, pack) -> list[Case]:
    rng = random.Random(seed)
    categories = list(pack.categories)
    groups = pack.groups
    cases = []
    for i in range(n):
        case = Case.model_validate(generate_case(rng, i, categories, groups))
        check_case(case, pack.categories)   # a generator bug should stop here, not mid-timing
        cases.append(case)
    return cases


# --- the plain-Python reference ---------------------------------------------------------------

def plain_engagement_cuts(case: Case, engagement: frozenset, cut_pct: float) -> int:
    """How many engagement lines fall cut_pct or more in real terms: the test DD-ENG-001
    makes, written by hand. A reference point for cost, not an equivalent of the assessment."""
    if case.inflation_pct is None:
        return 0     # without inflation the pack makes no real-terms judgement
    deflator = 1.0 + case.inflation_pct / 100.0
    count = 0
    for item in case.line_items:
        if item.category in engagement and item.prior:
            if (item.amount / (item.prior * deflator) - 1.0) * 100.0 <= -cut_pct:
                count += 1
    return count


ENGAGEMENT_CUT_RULES = ("DD-ENG-002", "DD-ENG-003", "DD-ENG-004")


def engagement_findings(report) -> int:
    """The engagement cuts a report holds at any tier, those folded into another finding by
    their common cause included: what the plain check counts."""
    return sum(f.rule in ENGAGEMENT_CUT_RULES for f in report.findings) + sum(
        e.rule in ENGAGEMENT_CUT_RULES for f in report.findings for e in f.effects)


# --- measuring ---------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _latency_summary(latencies: list[float]) -> dict:
    return {"cases_per_s": len(latencies) / sum(latencies),
            "median_us": statistics.median(latencies) * 1e6,
            "p95_us": percentile(latencies, 95) * 1e6}


def timed_pass(engine_func, plain_func, cases) -> tuple[dict, dict]:
    """Time both functions per call, alternating case by case, so a change of load on the
    machine reaches both alike: a pass of the plain check alone lasts a few milliseconds and
    would catch the load of one moment only. The collector runs as in real use, from a clean
    heap at the start of each pass."""
    gc.collect()
    engine_lat, plain_lat = [], []
    clock = time.perf_counter
    for case in cases:
        t0 = clock()
        engine_func(case)
        t1 = clock()
        plain_func(case)
        t2 = clock()
        engine_lat.append(t1 - t0)
        plain_lat.append(t2 - t1)
    return _latency_summary(engine_lat), _latency_summary(plain_lat)


def solo_pass(func, cases) -> dict:
    """func alone in a tight loop, its code and data warm in the caches."""
    gc.collect()
    latencies = []
    clock = time.perf_counter
    for case in cases:
        t0 = clock()
        func(case)
        latencies.append(clock() - t0)
    return _latency_summary(latencies)


def throughput(engine_func, plain_func, cases, repeat: int) -> dict:
    """Medians over the passes; each ratio is taken within a pass, then its median."""
    engine_runs, plain_runs, solo_runs = [], [], []
    for _ in range(repeat):
        engine, plain = timed_pass(engine_func, plain_func, cases)
        engine_runs.append(engine)
        plain_runs.append(plain)
        solo_runs.append(solo_pass(plain_func, cases))

    def summary(runs):
        return {key: statistics.median(r[key] for r in runs) for key in runs[0]} | {
            "runs": runs}

    def ratios(reference):
        def ratio(key, slower=lambda e, p: e / p):
            return statistics.median(slower(e[key], p[key])
                                     for e, p in zip(engine_runs, reference))
        return {"median_us": ratio("median_us"), "p95_us": ratio("p95_us"),
                "cases_per_s": ratio("cases_per_s", lambda e, p: p / e)}
    return {"engine": summary(engine_runs), "plain": summary(plain_runs),
            "plain_solo": summary(solo_runs), "ratio": ratios(plain_runs),
            "ratio_solo": ratios(solo_runs)}


# the stages of engine.api.assess: the case checked (and the pack's variant for its fiscal
# year found), its facts built, the rules run, the core's report built, and what the API adds
# (plausibility warnings, coverage, the case's notes)
STAGES = ("check", "facts", "engine", "report", "additions")


def stage_pass(pack, cases, repeat: int) -> dict:
    """Run the stages of assess() one by one, per case, to count activations and facts and
    to see where the time goes. Each case keeps its fastest time over the repetitions:
    the minimum is the least disturbed by other work on the machine."""
    clock = time.perf_counter
    n = len(cases)
    best = {s: [float("inf")] * n for s in STAGES}
    activations, n_facts, n_derived, n_findings, verdicts = [], [], [], [], {}
    idle, n_fields = [], []
    for r in range(repeat):
        gc.collect()
        for i, case in enumerate(cases):
            # as engine.core.run.assess does: the pack's variant for the case's fiscal year,
            # and facts with only the kinds and fields its rules read
            t0 = clock()
            variant = for_year(pack, case.fiscal_year)
            compiled = variant.compiled
            check_case(case, variant.categories)
            t1 = clock()
            facts = case_facts(case, variant.groups, compiled.kinds, compiled.history,
                               compiled.read)
            t2 = clock()
            outcome = compiled.run(facts, {"unit": case.unit, "currency": case.currency})
            t3 = clock()
            report = build_report(case, variant, outcome, explain=False)
            t4 = clock()
            # what engine.api.assess adds to the core's report
            plausibility.check(case)
            coverage(case, pack)
            case_notes(case)
            t5 = clock()
            for stage, dt in (("check", t1 - t0), ("facts", t2 - t1), ("engine", t3 - t2),
                              ("report", t4 - t3), ("additions", t5 - t4)):
                if dt < best[stage][i]:
                    best[stage][i] = dt
            if r == 0:
                activations.append(outcome.activations)
                n_facts.append(len(facts))
                n_fields.append(_fields(facts))
                n_derived.append(len(outcome.derived))
                n_findings.append(len(outcome.findings))
                # the guard's one activation aside, an activation that neither derived nor
                # reported repeated an earlier one (e.g. both branches of an 'or' held)
                idle.append(outcome.activations - len(outcome.derived)
                            - len(outcome.findings) - 1)
                verdicts[report.verdict] = verdicts.get(report.verdict, 0) + 1
    # one more pass with durable's native calls timed: how much of the engine stage they are
    native: list[float] = []
    spent: dict[str, float] = {}
    with _timed_native(spent):
        for case in cases:
            variant = for_year(pack, case.fiscal_year)
            compiled = variant.compiled
            facts = case_facts(case, variant.groups, compiled.kinds, compiled.history,
                               compiled.read)
            spent.clear()
            compiled.run(facts, {"unit": case.unit, "currency": case.currency})
            native.append(spent.get("native", 0.0) * 1e6)
    return {
        "native_median_us": statistics.median(native),
        "activations_mean": statistics.mean(activations), "activations_max": max(activations),
        "activations_min": min(activations),
        "facts_mean": statistics.mean(n_facts), "facts_max": max(n_facts),
        "fields_mean": statistics.mean(n_fields),
        "derived_mean": statistics.mean(n_derived),
        "findings_mean": statistics.mean(n_findings), "verdicts": verdicts,
        "idle_activations_mean": statistics.mean(idle),
        "cases_with_idle_activations": sum(1 for x in idle if x > 0),
        "stage_median_us": {s: statistics.median(v) * 1e6 for s, v in best.items()},
        "engine_mean_us": statistics.mean(best["engine"]) * 1e6,
    }


def _lines_case(n: int, category: str, prior: float | None = None) -> Case:
    items = [{"id": f"l{i}", "category": category, "amount": 10.0} for i in range(n)]
    if prior is not None:
        for item in items:
            item["prior"] = prior
    return Case.model_validate({"id": "probe", "title": "Probe", "country": "X",
                                "fiscal_year": 2027, "currency": "USD", "line_items": items})


def _fields(facts) -> int:
    return sum(len(f.fields) for f in facts)


def engine_cost_model(runs: int, lines: int = 30) -> dict:
    """The engine's costs, from four controlled cases run through a fresh compiled pack:

    * small: 1 personnel line, no prior; narrow: `lines` such lines. No rule matches a
      personnel line, so the difference is the cost of asserting facts that match nothing;
    * wide: `lines` personnel lines with a prior, so each fact carries the change fields
      too. Against narrow, the cost of a field; with it, narrow gives the cost of a fact
      apart from its fields;
    * pool: `lines` pooled_fund lines, no prior. DD-STR-002 reports every one, so against
      narrow it gives the cost of an activation.

    A second pass wraps diplo's action code and the session calls to split the costs."""
    pack = load_pack("defense-diplomacy")
    probes = {"small": _lines_case(1, "personnel"), "narrow": _lines_case(lines, "personnel"),
              "wide": _lines_case(lines, "personnel", prior=10.0),
              "pool": _lines_case(lines, "pooled_fund")}
    prepared = {key: (case_facts(case, pack.groups), {"unit": case.unit,
                                                       "currency": case.currency})
                for key, case in probes.items()}
    times: dict = {key: [] for key in probes}
    counts: dict = {}
    clock = time.perf_counter
    gc.collect()
    for _ in range(runs):
        for key, (facts, ctx) in prepared.items():   # interleaved against load spikes
            t0 = clock()
            outcome = pack.compiled.run(facts, ctx)
            times[key].append(clock() - t0)
            counts[key] = {"facts": len(facts), "fields": _fields(facts),
                           "activations": outcome.activations}
    if counts["wide"]["activations"] != counts["narrow"]["activations"]:
        raise SystemExit("bench: a rule now matches personnel lines; adjust the cost model")

    def diff(key, base, what):
        return counts[key][what] - counts[base][what]

    # differences within one round, then their median: load that changes from round to round
    # moves both sides of a difference alike
    per_field, per_fact, per_activation = [], [], []
    for t in zip(*(times[k] for k in ("small", "narrow", "wide", "pool"))):
        small, narrow, wide, pool = (x * 1e6 for x in t)
        field = (wide - narrow) / diff("wide", "narrow", "fields")
        fact = (narrow - small - field * diff("narrow", "small", "fields")) / diff(
            "narrow", "small", "facts")
        activation = (pool - narrow - field * diff("pool", "narrow", "fields")
                      - fact * diff("pool", "narrow", "facts")) / diff(
            "pool", "narrow", "activations")
        per_field.append(field)
        per_fact.append(fact)
        per_activation.append(activation)

    # instance attributes shadow the methods, so the engine's code stays as it is
    spent: dict[str, float] = {}

    def timer(name, inner):
        def timed(*args, **kwargs):
            t0 = clock()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + clock() - t0
        return timed

    # the rule engine's native calls, and diplo's action code (every rule's action), timed
    # by wrapping them; the engine module and the actions are restored afterwards
    compiled = pack.compiled
    saved = [dict(shard.runs) for shard in compiled.shards]
    for shard in compiled.shards:
        for key, action in list(shard.runs.items()):
            shard.runs[key] = timer("actions", action)
    calls: dict = {key: {} for key in ("small", "narrow", "pool")}
    try:
        with _timed_native(spent):
            for _ in range(runs):
                for key in calls:
                    spent.clear()
                    compiled.run(*prepared[key])
                    for name, seconds in spent.items():
                        calls[key].setdefault(name, []).append(seconds * 1e6)
    finally:
        for shard, runs_before in zip(compiled.shards, saved):
            shard.runs.clear()
            shard.runs.update(runs_before)
    inside = {key: {name: statistics.median(v) for name, v in by_name.items()}
              for key, by_name in calls.items()}
    action_per_activation = (inside["pool"]["actions"] - inside["narrow"]["actions"]) / diff(
        "pool", "narrow", "activations")

    def spread(values):
        return {"median": statistics.median(values), "p25": percentile(values, 25),
                "p75": percentile(values, 75)}
    return {
        "runs": runs,
        "cases": {key: counts[key] | {"min_us": min(times[key]) * 1e6,
                                      "median_us": statistics.median(times[key]) * 1e6}
                  for key in probes},
        "smallest_case_us": statistics.median(times["small"]) * 1e6,
        "smallest_case_min_us": min(times["small"]) * 1e6,
        "smallest_case": counts["small"],
        "per_fact_us": spread(per_fact), "per_field_us": spread(per_field),
        "per_activation_us": spread(per_activation),
        "action_code_per_activation_us": action_per_activation,
        "native_small_us": inside["small"]["native"],
    }


@contextlib.contextmanager
def _timed_native(spent: dict):
    """durable's native calls, each timed into spent["native"] while the block runs."""
    import engine.core.compile as compile_module
    native = compile_module._native
    clock = time.perf_counter

    class TimedNative:
        def __getattr__(self, name):
            inner = getattr(native, name)

            def timed(*args):
                t0 = clock()
                try:
                    return inner(*args)
                finally:
                    spent["native"] = spent.get("native", 0.0) + clock() - t0
            return timed
    compile_module._native = TimedNative()
    try:
        yield
    finally:
        compile_module._native = native


def rss_mb() -> tuple[float | None, float | None]:
    """(current RSS, peak RSS) in MB."""
    current = peak = None
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    current = int(line.split()[1]) / 1024
                elif line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) / 1024
    except OSError:
        pass
    if peak is None:
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux
    return current, peak


def memory_pass(pack, cases, warmup: int, more: int) -> dict:
    def run(count, offset):
        for k in range(count):
            assess(cases[(offset + k) % len(cases)], pack)

    run(warmup, 0)
    gc.collect()
    before, _ = rss_mb()
    run(more, warmup)
    gc.collect()
    after, peak = rss_mb()

    tracemalloc.start()
    assess(cases[0], pack)
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    assess(cases[0], pack)
    traced_peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()

    growth = (after - before) if before is not None and after is not None else None
    return {"warmup": warmup, "assessments": more, "rss_after_warmup_mb": before,
            "rss_after_mb": after, "growth_mb": growth,
            "growth_bytes_per_assessment": growth * 1024 * 1024 / more if growth is not None
            and more else None,
            "peak_rss_mb": peak, "tracemalloc_peak_kb_one_assessment": traced_peak / 1024}


def cold_start(runs: int) -> dict:
    py = sys.executable
    commands = {
        "python -m engine assess": [py, "-m", "engine", "assess", COLD_CASE],
    }
    script = Path(py).parent / "diplo"
    if not script.exists():
        found = shutil.which("diplo")
        script = Path(found) if found else None
    if script is not None:
        commands["diplo assess (console script)"] = [str(script), "assess", COLD_CASE]
        # the packs read and compiled afresh, not taken from the cache of compiled packs
        commands["diplo assess --no-cache"] = [str(script), "assess", "--no-cache", COLD_CASE]
    commands["python -c 'import engine'"] = [py, "-c", "import engine"]
    commands["bare import of dependencies"] = [py, "-c", BARE_IMPORT]
    commands["bare import + one pydantic model"] = [py, "-c", ONE_MODEL]
    commands["python -c pass"] = [py, "-c", "pass"]
    # as an installation runs: with bytecode caches, which the warm-up writes for a module
    # whose cache is missing or older than its source (PYTHONDONTWRITEBYTECODE would have every
    # run compile such a module again, and time the compiler rather than the start-up)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def once(argv):
        t0 = time.perf_counter()
        done = subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, env=env)
        elapsed = time.perf_counter() - t0
        if done.returncode not in (0, 1):   # 1 is diplo's "a risk was found", still a run
            raise SystemExit(f"bench: {' '.join(argv)} exited {done.returncode}: "
                             f"{done.stderr.decode(errors='replace').strip()}")
        return elapsed

    for argv in commands.values():   # untimed: bytecode caches and the page cache warm up
        once(argv)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():   # interleaved, so a load spike hits all alike
            times[name].append(once(argv))
    bare = times["bare import of dependencies"]
    phases = []
    for _ in range(runs):
        done = subprocess.run([py, "-c", COLD_PHASES, COLD_CASE], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=True)
        phases.append(json.loads(done.stdout.strip().splitlines()[-1]))
    # ratio within each round, then the median: a round shares the machine's load
    return {"runs": runs,
            "cpu_phases_ms": {name: statistics.median(p[i] for p in phases)
                              for i, name in enumerate(PHASES)},
            "median_ms": {name: statistics.median(t) * 1000 for name, t in times.items()},
            "min_ms": {name: min(t) * 1000 for name, t in times.items()},
            "ratio_to_bare_import": {name: statistics.median(x / b for x, b in zip(t, bare))
                                     for name, t in times.items()}}


# --- output ----------------------------------------------------------------------------------

def machine() -> dict:
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    cpu_model = None
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import durable
    import pydantic
    return {"platform": platform.platform(), "python": sys.version.split()[0],
            "implementation": platform.python_implementation(), "cpu_count": os.cpu_count(),
            "cpu_model": cpu_model, "loadavg_start": load,
            "durable_rules": getattr(durable, "__version__", None) or _dist_version(
                "durable_rules"),
            "pydantic": pydantic.VERSION}


def _dist_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def fmt(value, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def print_machine(out: dict) -> None:
    m = out["machine"]
    a = out["args"]
    print("== Machine ==")
    print(tabulate([
        ["platform", m["platform"]], ["python", f"{m['python']} ({m['implementation']})"],
        ["cpu", f"{m['cpu_count']} x {m['cpu_model'] or '?'}"],
        ["load average at start (1, 5, 15 min)",
         ", ".join(f"{x:.2f}" for x in m["loadavg_start"]) if m["loadavg_start"] else "n/a"],
        ["load average at end", ", ".join(f"{x:.2f}" for x in out["loadavg_end"])
         if out["loadavg_end"] else "n/a"],
        ["durable-rules, pydantic", f"{m['durable_rules']}, {m['pydantic']}"],
        ["arguments", " ".join(f"--{k.replace('_', '-')}" + ("" if v is True else f" {v}")
                               for k, v in a.items() if k != "json" and v is not False)],
    ], tablefmt="plain"))


def print_report(out: dict) -> None:
    print_machine(out)
    a = out["args"]

    g = out["generated"]
    print("\n== Generated cases ==")
    print(tabulate([
        ["pack", f"{', '.join(out['pack']['packs'])}, {out['pack']['rules']} rules"],
        ["cases (seed)", f"{g['cases']} ({a['seed']})"],
        ["line items per case, mean (min-max)",
         f"{g['line_items_mean']:.1f} ({g['line_items_min']}-{g['line_items_max']})"],
        ["lines cut in real terms / rising / prior missing / new",
         f"{g['share_lines_cut']:.0%} / {g['share_lines_rising']:.0%} / "
         f"{g['share_lines_no_prior']:.0%} / {g['share_lines_new']:.0%}"],
        ["cases with a stated total / GDP / inflation / threat",
         f"{g['share_total']:.0%} / {g['share_gdp']:.0%} / {g['share_inflation']:.0%} / "
         f"{g['share_threat']:.0%}"],
        ["commitments, history years per case (mean)",
         f"{g['commitments_mean']:.2f}, {g['history_mean']:.2f}"],
        ["verdicts pass / warn / fail",
         " / ".join(str(out['stages']['verdicts'].get(v, 0)) for v in ('pass', 'warn', 'fail'))],
        ["plain check agrees with DD-ENG-002/003/004 findings", f"{g['plain_agrees']} of {g['cases']}"],
    ], tablefmt="plain"))

    t = out["throughput"]
    e, p, solo = t["engine"], t["plain"], t["plain_solo"]
    print(f"\n== Throughput (median of {a['repeat']} passes over {g['cases']} cases) ==")

    def ratio_row(label, r):
        return [label, f"{r['cases_per_s']:,.0f}x slower", f"{r['median_us']:,.0f}x",
                f"{r['p95_us']:,.0f}x"]
    print(tabulate([
        ["assess() with the default pack", fmt(e["cases_per_s"], 0), fmt(e["median_us"]),
         fmt(e["p95_us"])],
        ["plain check, alternating with assess()", fmt(p["cases_per_s"], 0),
         fmt(p["median_us"], 2), fmt(p["p95_us"], 2)],
        ["plain check, in a loop of its own", fmt(solo["cases_per_s"], 0),
         fmt(solo["median_us"], 2), fmt(solo["p95_us"], 2)],
        ratio_row("ratio assess / plain alternating", t["ratio"]),
        ratio_row("ratio assess / plain in its own loop", t["ratio_solo"]),
    ], headers=["", "cases/s", "median us/case", "p95 us/case"], disable_numparse=True))
    print(f"The plain check makes the test of one of the pack's {out['pack']['rules']} rules "
          "and builds no report: a reference point for cost, not an equivalent of assess().")

    s = out["stages"]
    st = s["stage_median_us"]
    print("\n== Activations and where the time goes (per case) ==")
    print(tabulate([
        ["engine activations, mean / max", f"{s['activations_mean']:.2f} / "
                                           f"{s['activations_max']}"],
        ["facts asserted, mean / max", f"{s['facts_mean']:.1f} / {s['facts_max']}"],
        ["fields of those facts, mean", f"{s['fields_mean']:.0f}"],
        ["derived facts, findings (mean)", f"{s['derived_mean']:.2f}, "
                                           f"{s['findings_mean']:.2f}"],
        ["activations that added nothing: mean, cases with any",
         f"{s['idle_activations_mean']:.3f}, {s['cases_with_idle_activations']}"],
        ["median us: " + " / ".join(STAGES), " / ".join(fmt(st[k]) for k in STAGES)],
        ["- of the engine stage, inside durable's native calls (median)",
         f"{fmt(s['native_median_us'])} us"],
        ["engine share of the five stages", f"{st['engine'] / sum(st.values()):.0%}"],
    ], tablefmt="plain"))

    cm = out["cost_model"]
    small = cm["smallest_case"]
    per_fact, per_field, per_act = (cm["per_fact_us"], cm["per_field_us"],
                                    cm["per_activation_us"])
    estimate = (cm["smallest_case_us"]
                + per_fact["median"] * (s["facts_mean"] - small["facts"])
                + per_field["median"] * (s["fields_mean"] - small["fields"])
                + per_act["median"] * (s["activations_mean"] - small["activations"]))

    def spread(x):
        return f"{fmt(x['median'], 2)} us (IQR {fmt(x['p25'], 2)}-{fmt(x['p75'], 2)})"
    print(f"\n== Engine cost model (controlled cases, {cm['runs']} interleaved rounds, "
          "medians) ==")
    print(tabulate([
        [f"smallest case ({small['facts']} facts, {small['fields']} fields, "
         f"{small['activations']} activations)",
         f"{fmt(cm['smallest_case_us'])} us (fastest {fmt(cm['smallest_case_min_us'])})"],
        ["- of which inside the engine's native calls", f"{fmt(cm['native_small_us'])} us"],
        ["per extra fact that no rule matches, apart from its fields", spread(per_fact)],
        ["per extra field", spread(per_field)],
        ["per extra activation (a report rule)", spread(per_act)],
        ["- of which diplo's action code",
         fmt(cm["action_code_per_activation_us"]) + " us"],
        ["- of which the engine around it",
         fmt(per_act["median"] - cm["action_code_per_activation_us"]) + " us"],
        ["model for the mean generated case / measured mean",
         f"{fmt(estimate, 0)} / {fmt(s['engine_mean_us'], 0)} us"],
    ], tablefmt="plain"))

    mem = out["memory"]
    print("\n== Memory ==")
    print(tabulate([
        [f"RSS after {mem['warmup']} warm-up assessments", fmt(mem["rss_after_warmup_mb"]) +
         " MB"],
        [f"RSS after {mem['assessments']} more", fmt(mem["rss_after_mb"]) + " MB"],
        ["growth", f"{fmt(mem['growth_mb'], 2)} MB = "
                   f"{fmt(mem['growth_bytes_per_assessment'], 0)} bytes per assessment"],
        ["peak RSS of this process (all phases)", fmt(mem["peak_rss_mb"]) + " MB"],
        ["tracemalloc peak, one assessment (Python heap only)",
         fmt(mem["tracemalloc_peak_kb_one_assessment"]) + " KB"],
    ], tablefmt="plain"))

    print_cold_start(out)
    print(f"\nTotal bench time: {out['elapsed_s']:.0f} s")


def print_cold_start(out: dict) -> None:
    c = out["cold_start"]
    print(f"\n== Cold start (fresh process, median of {c['runs']} interleaved runs) ==")
    print(tabulate([[name, fmt(ms), fmt(c["min_ms"][name]),
                     f"{c['ratio_to_bare_import'][name]:.2f}"]
                    for name, ms in c["median_ms"].items()],
                   headers=["command", "median ms", "min ms", "/ bare import, per round"],
                   disable_numparse=True))
    phases = c["cpu_phases_ms"]
    bare_cpu = phases[PHASES[0]]
    print(f"\nCPU time of `diplo assess {COLD_CASE}` by phase, in one process (median of "
          f"{c['runs']}):")
    print(tabulate([[name, fmt(ms), f"{ms / bare_cpu:.2f}"] for name, ms in phases.items()]
                   + [["total", fmt(sum(phases.values())),
                       f"{sum(phases.values()) / bare_cpu:.2f}"]],
                   headers=["phase", "CPU ms", "/ bare import"], disable_numparse=True))


def describe(cases: list[Case], plain_counts: list[int], eng_counts: list[int]) -> dict:
    lines = [i for c in cases for i in c.line_items]

    def real_pct(case, item):
        deflator = 1.0 + (case.inflation_pct or 0.0) / 100.0
        return (item.amount / (item.prior * deflator) - 1.0) * 100.0

    with_prior = [(c, i) for c in cases for i in c.line_items if i.prior]
    n = len(cases)
    return {
        "cases": n,
        "line_items_mean": len(lines) / n,
        "line_items_min": min(len(c.line_items) for c in cases),
        "line_items_max": max(len(c.line_items) for c in cases),
        "share_lines_cut": sum(real_pct(c, i) < 0 for c, i in with_prior) / len(lines),
        "share_lines_rising": sum(real_pct(c, i) > 0 for c, i in with_prior) / len(lines),
        "share_lines_no_prior": sum(i.prior is None for i in lines) / len(lines),
        "share_lines_new": sum(i.prior == 0 for i in lines) / len(lines),
        "share_total": sum(c.total is not None for c in cases) / n,
        "share_gdp": sum(c.gdp is not None for c in cases) / n,
        "share_inflation": sum(c.inflation_pct is not None for c in cases) / n,
        "share_threat": sum(c.threat_environment is not None for c in cases) / n,
        "commitments_mean": sum(len(c.commitments) for c in cases) / n,
        "history_mean": sum(len(c.history) for c in cases) / n,
        "plain_agrees": sum(p == e for p, e in zip(plain_counts, eng_counts)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000, help="generated cases (2000)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (1)")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes, median (3)")
    parser.add_argument("--memory-cases", type=int, default=5000,
                        help="assessments between the two RSS readings (5000)")
    parser.add_argument("--warmup", type=int, default=500,
                        help="assessments before the first RSS reading (500)")
    parser.add_argument("--cold-runs", type=int, default=10,
                        help="runs of each cold-start command, median (10)")
    parser.add_argument("--cold-start-only", action="store_true",
                        help="measure the cold start alone (with the machine's description)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if args.cases < 1 or args.repeat < 1 or args.cold_runs < 1 or args.memory_cases < 1 \
            or args.warmup < 0:
        parser.error("--cases, --repeat, --cold-runs and --memory-cases must be at least 1")

    started = time.perf_counter()
    info = machine()
    if args.cold_start_only:
        cold = cold_start(args.cold_runs)
        try:
            load_end = os.getloadavg()
        except OSError:
            load_end = None
        out = {"machine": info, "loadavg_end": load_end,
               "args": {"cold_runs": args.cold_runs, "cold_start_only": True, "json": args.json},
               "cold_start": cold,
               "elapsed_s": time.perf_counter() - started}
        print_machine(out)
        print_cold_start(out)
        print(f"\nTotal bench time: {out['elapsed_s']:.0f} s")
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
        return 0
    pack = load_pack()
    params = pack.parameters["defense-diplomacy"]
    engagement = frozenset(params["engagement_categories"].value)
    cut_pct = float(params["cut_pct"].value)
    cases = generate_cases(args.cases, args.seed, pack)

    # once before timing: the first assessment pays for lazy imports and caches
    assess(cases[0], pack)
    speed = throughput(lambda c: assess(c, pack),
                       lambda c: plain_engagement_cuts(c, engagement, cut_pct), cases,
                       args.repeat)
    stages = stage_pass(pack, cases, args.repeat)
    cost_model = engine_cost_model(200)

    plain_counts = [plain_engagement_cuts(c, engagement, cut_pct) for c in cases]
    eng_counts = [engagement_findings(assess(c, pack)) for c in cases]
    generated = describe(cases, plain_counts, eng_counts)

    memory = memory_pass(pack, cases, args.warmup, args.memory_cases)
    cold = cold_start(args.cold_runs)
    try:
        load_end = os.getloadavg()
    except OSError:
        load_end = None

    out = {
        "machine": info, "loadavg_end": load_end,
        "args": {k: v for k, v in vars(args).items()},
        "pack": {"packs": [f"{p.name} {p.version}" for p in pack.packs],
                 "rules": len(pack.rules)},
        "generated": generated,
        "throughput": speed,
        "stages": stages, "cost_model": cost_model, "memory": memory, "cold_start": cold,
        "elapsed_s": time.perf_counter() - started,
    }
    print_report(out)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
