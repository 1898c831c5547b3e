"""What `--jobs N` gives on a batch: the speed-up of N processes over one, measured in the
same run, with the reports checked identical; and the same on a short batch (`--small`, 100
cases), where starting workers must not make the batch slower than one process.

    python bench/jobs.py [--cases 4000] [--small 100] [--jobs 2] [--seed 1] [--repeat 3]
                         [--json FILE]

The cases are generated as bench/bench.py generates them (the default pack), written as
case files, and assessed with `engine.api.assess_files(paths, pack, jobs=N)`, the function
`diplo assess --jobs N` calls, from the files to the reports. With jobs=2 this process
assesses too, beside one worker process, which starts Python and loads the packs first.
The speed-up can only reach 2 on a machine with two idle cores. Beside it, the run measures
the machine's own ceiling: two processes over one for plain CPU work with nothing shared,
before and after each round (on a virtual machine whose two CPUs share a physical core, or
with other load, it is well under 2). The load average at the start and end is printed too.
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
from engine import load_pack  # noqa: E402
from engine.api import assess_files  # noqa: E402


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def ceiling(n: int = 3_000_000) -> float:
    """What two processes give over one on this machine right now, for plain CPU work with
    nothing shared: the most --jobs 2 could give at the same moment."""
    import multiprocessing
    start = time.perf_counter()
    _spin(n)
    _spin(n)
    one = time.perf_counter() - start
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_spin, [1000, 1000])          # started before the clock
        start = time.perf_counter()
        pool.map(_spin, [n, n])
        two = time.perf_counter() - start
    return one / two


def timed(paths, pack, jobs: int) -> tuple[float, list[str]]:
    start = time.perf_counter()
    reports = assess_files(paths, pack, jobs=jobs)
    return time.perf_counter() - start, [r.to_json() for r in reports]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=4000)
    parser.add_argument("--small", type=int, default=100,
                        help="the short batch: the first SMALL of the cases (0: none)")
    parser.add_argument("--jobs", type=int, default=2, help="N for the batches in parallel")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    load_start = os.getloadavg()
    pack = load_pack()
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for case in generate_cases(args.cases, args.seed, pack):
            path = Path(tmp) / f"{case.id}.json"
            path.write_text(case.model_dump_json(exclude={"source"}), encoding="utf-8")
            paths.append(str(path))
        one, two, ceilings, identical = [], [], [], True
        small_one, small_n = [], []
        small = paths[:args.small] if args.small else []
        for _ in range(args.repeat):   # alternate, so that a change of load hits both
            ceilings.append(ceiling())
            seconds, serial = timed(paths, pack, 1)
            one.append(seconds)
            seconds, parallel = timed(paths, pack, args.jobs)
            two.append(seconds)
            identical = identical and serial == parallel
            if small:
                seconds, serial = timed(small, pack, 1)
                small_one.append(seconds)
                seconds, parallel = timed(small, pack, args.jobs)
                small_n.append(seconds)
                identical = identical and serial == parallel
            ceilings.append(ceiling())
    out = {
        "machine": machine(), "cpus": os.cpu_count(), "jobs": args.jobs,
        "cases": len(paths), "repeat": args.repeat,
        "one_process_s": round(statistics.median(one), 2),
        "n_processes_s": round(statistics.median(two), 2),
        "speedup": round(statistics.median(a / b for a, b in zip(one, two)), 2),
        "machine_ceiling": round(statistics.median(ceilings), 2),
    }
    if small:
        out.update({
            "small_cases": len(small),
            "small_one_process_s": round(statistics.median(small_one), 3),
            "small_n_processes_s": round(statistics.median(small_n), 3),
            # above 1: N processes were slower than one on the short batch
            "small_n_over_one": round(statistics.median(b / a for a, b in
                                                        zip(small_one, small_n)), 2),
        })
    out.update({
        "identical_reports": identical,
        "loadavg_start": [round(x, 2) for x in load_start],
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
    })
    for key, value in out.items():
        if key != "machine":
            print(f"{key:<16} {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
