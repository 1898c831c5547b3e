"""What a Dask cluster gives a batch: `assess_files(paths, pack, executor=ADDRESS)` against one
process (`jobs=1`) on the same case files, alternately, with the reports checked identical.
With --sweep, what it gives sweeps: `engine.api.sweep(..., executor=ADDRESS)` of every example
case in cases/ over its inflation from 0 to 30% in --steps steps, against the same sweeps in one
process, alternately, with the sweeps checked identical.

    python bench/cluster.py [--cases 2000] [--workers 2] [--seed 1] [--repeat 3] [--json FILE]
    python bench/cluster.py --sweep [--steps 30] [--workers 2] [--repeat 3] [--json FILE]

The cluster is a LocalCluster of `--workers` processes with one thread each, on the loopback
interface, started before the clock (a real cluster is running before a batch is sent to it).
The time of a batch on the cluster includes connecting to its scheduler, sending the packs'
files (broadcast to every worker, which loads them once) and every case file's bytes, and
getting the reports back. Beside it, the machine's own ceiling for plain CPU work in as many
processes (bench/jobs.py's), measured in the same run. Needs `pip install -e ".[distributed]"`.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from bench import generate_cases, machine  # noqa: E402
from jobs import ceiling  # noqa: E402

from engine import load_case, load_pack  # noqa: E402
from engine.api import assess_files, sweep  # noqa: E402


def timed(paths, pack, **how) -> tuple[float, list[str]]:
    start = time.perf_counter()
    reports = assess_files(paths, pack, **how)
    return time.perf_counter() - start, [r.to_json() for r in reports]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--sweep", action="store_true",
                        help="Sweeps of the example cases instead of a batch.")
    parser.add_argument("--steps", type=int, default=30, help="With --sweep: steps a sweep.")
    args = parser.parse_args(argv)
    try:
        import distributed
    except ImportError:
        print("Dask distributed is not installed: pip install -e \".[distributed]\"")
        return 2
    load_start = os.getloadavg()
    pack = load_pack()
    if args.sweep:
        return sweeps(args, pack, load_start, distributed)
    with tempfile.TemporaryDirectory() as tmp, distributed.LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None, silence_logs=50) as cluster:
        paths = []
        for case in generate_cases(args.cases, args.seed, pack):
            path = Path(tmp) / f"{case.id}.json"
            path.write_text(case.model_dump_json(exclude={"source"}), encoding="utf-8")
            paths.append(str(path))
        address = cluster.scheduler_address
        timed(paths[:50], pack, executor=address)   # the workers' first load of the packs
        one, many, ceilings, identical = [], [], [], True
        for _ in range(args.repeat):   # alternate, so that a change of load hits both
            ceilings.append(ceiling())
            seconds, serial = timed(paths, pack, jobs=1)
            one.append(seconds)
            seconds, spread = timed(paths, pack, executor=address)
            many.append(seconds)
            identical = identical and serial == spread
    out = {
        "machine": machine(), "cpus": os.cpu_count(), "workers": args.workers,
        "cases": len(paths), "repeat": args.repeat,
        **_against_one(one, many, ceilings, "identical_reports", identical, load_start),
    }
    return report(out, args, identical)


def _against_one(one, many, ceilings, same: str, identical: bool, load_start) -> dict:
    """The cluster's times against one process's, alternated round by round, and the
    machine's two-process ceiling measured between them."""
    return {
        "one_process_s": round(statistics.median(one), 2),
        "cluster_s": round(statistics.median(many), 2),
        "speedup": round(statistics.median(a / b for a, b in zip(one, many)), 2),
        "machine_ceiling_2_processes": round(statistics.median(ceilings), 2),
        same: identical,
        "loadavg_start": [round(x, 2) for x in load_start],
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
    }


def report(out: dict, args, identical: bool) -> int:
    for key, value in out.items():
        if key != "machine":
            print(f"{key:<28} {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0 if identical else 1


SWEPT = "inflation_pct"


def swept(cases, pack, steps, **how) -> tuple[float, list[str]]:
    start = time.perf_counter()
    found = [sweep(case, pack, SWEPT, 0, 30, steps, **how).to_json() for case in cases]
    return time.perf_counter() - start, found


def sweeps(args, pack, load_start, distributed) -> int:
    """The example cases swept in one process and on the cluster, alternately."""
    from engine.analysis import sweep as module
    cases = [load_case(path, pack) for path in sorted((ROOT / "cases").glob("*.yaml"))]
    # what the cluster is given: the points of every sweep, and the batches (rounds) they
    # come in, counted on the sweeps in one process (the cluster is given the same)
    calls = []

    def counted(case, pack, path):
        evaluate = module.here(case, pack, path)
        return lambda values: calls.append(len(values)) or evaluate(values)
    for case in cases:
        module.sweep(case, pack, SWEPT, 0, 30, args.steps, evaluator=counted)
    # a point's two parts, in one process: making the variant (where the workers make it)
    # and assessing it; and what a case weighs as the data that is sent
    import pickle

    from engine.analysis.edit import case_data, changed_case
    from engine.core import run
    making, assessing, weights = [], [], []
    for case in cases:
        data = case_data(case)
        weights.append(len(pickle.dumps(data)))
        for i in range(30):
            start = time.perf_counter()
            variant = changed_case(data, {SWEPT: i / 1.0}, case.source)
            making.append(time.perf_counter() - start)
            start = time.perf_counter()
            run.assess(variant, pack)
            assessing.append(time.perf_counter() - start)
    with distributed.LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None, silence_logs=50) as cluster:
        address = cluster.scheduler_address
        swept(cases[:2], pack, 4, executor=address)   # the workers' first load of the packs
        # what a round costs beyond its work: a task that does nothing, there and back
        with distributed.Client(address, set_as_default=False) as client:
            trips = []
            for _ in range(60):
                start = time.perf_counter()
                client.submit(len, (), pure=False).result()
                trips.append(time.perf_counter() - start)
        one, many, ceilings, identical = [], [], [], True
        for _ in range(args.repeat):   # alternate, so that a change of load hits both
            ceilings.append(ceiling())
            seconds, here = swept(cases, pack, args.steps)
            one.append(seconds)
            seconds, there = swept(cases, pack, args.steps, executor=address)
            many.append(seconds)
            identical = identical and here == there
    out = {
        "machine": machine(), "cpus": os.cpu_count(), "workers": args.workers,
        "sweeps": len(cases), "steps": args.steps, "points": sum(calls),
        "batches": len(calls), "repeat": args.repeat,
        "round_trip_ms": round(statistics.median(trips[10:]) * 1000, 1),
        "variant_ms": round(statistics.mean(making) * 1000, 2),
        "assess_ms": round(statistics.mean(assessing) * 1000, 2),
        "case_pickled_bytes": round(statistics.median(weights)),
        **_against_one(one, many, ceilings, "identical_sweeps", identical, load_start),
    }
    return report(out, args, identical)


if __name__ == "__main__":
    sys.exit(main())
