"""How an assessment grows with the size of a case: time per line item and peak memory of one
assessment at 100, 500 and 2,000 line items (by default), with the default pack.

    python bench/size.py [--lines 100,500,2000] [--repeat 7] [--seed 1] [--json FILE]

Each size is one seeded case (lines across the pack's categories, most with a prior, a few
commitments depending on categories, no stated total: the form in which every line's share
of the total rests on every line's amount), built once as a `Case`. A round assesses each size
in turn (the sizes interleaved, so that a change of load reaches all of them), timing
`assess(case, pack)` and, apart, building its facts; the figures are medians over the rounds.
Memory is tracemalloc's peak during one assessment (Python objects only: the rule engine's C
heap is not seen), after a first assessment of the same case, so that nothing loaded once per
process (the pack's variant for the case's fiscal year) is counted. The ratios compare each
size's time per line with the smallest size's, in the same run.
"""
from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from bench import _item_amounts, machine  # noqa: E402
from engine import Case, assess, load_pack  # noqa: E402
from engine.core.facts import case_facts  # noqa: E402
from engine.core.run import for_year  # noqa: E402


def sized_case(lines: int, seed: int, pack, total: bool = False) -> Case:
    rng = random.Random(seed * 100_003 + lines)
    categories = sorted(pack.categories)
    items = []
    for i in range(lines):
        category = categories[i % len(categories)]
        amount, prior = _item_amounts(rng, rng.uniform(5, 500))
        item = {"id": f"line-{i:05d}", "category": category, "amount": amount}
        if prior is not None:
            item["prior"] = prior
        items.append(item)
    commitments = [{"id": f"commitment-{j}", "kind": "alliance", "partners": ["Country B"],
                    "depends_on": rng.sample(categories, 2), "status": "active"}
                   for j in range(4)]
    data = {"id": f"size-{lines}", "title": f"{lines} line items", "country": "Country A",
            "fiscal_year": 2027, "currency": "EUR", "unit": "million", "inflation_pct": 2.0,
            "gdp": 200_000.0, "threat_environment": "elevated", "line_items": items,
            "commitments": commitments}
    if total:
        data["total"] = {"amount": round(sum(i["amount"] for i in items) + 1, 2)}
    return Case.model_validate(data)


def peak_bytes(func) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", default="100,500,2000",
                        help="the sizes, comma-separated (the first is the reference)")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.lines.split(",")]
    pack = load_pack()
    cases = {n: sized_case(n, args.seed, pack) for n in sizes}
    variant = for_year(pack, 2027)
    findings = {}
    for n, case in cases.items():   # warm: the year's variant, caches of the first case
        findings[n] = len(assess(case, pack).findings)
    times: dict[int, list[float]] = {n: [] for n in sizes}
    facts_times: dict[int, list[float]] = {n: [] for n in sizes}
    clock = time.perf_counter
    for _ in range(args.repeat):
        for n, case in cases.items():
            gc.collect()
            start = clock()
            assess(case, pack)
            times[n].append(clock() - start)
            start = clock()
            case_facts(case, variant.groups, variant.compiled.kinds)
            facts_times[n].append(clock() - start)
    peaks = {n: peak_bytes(lambda case=case: assess(case, pack)) for n, case in cases.items()}
    base = sizes[0]
    per_line = {n: statistics.median(times[n]) / n for n in sizes}
    facts_per_line = {n: statistics.median(facts_times[n]) / n for n in sizes}
    rows = []
    for n in sizes:
        rows.append({
            "lines": n, "findings": findings[n],
            "ms_per_case": round(statistics.median(times[n]) * 1e3, 2),
            "us_per_line": round(per_line[n] * 1e6, 1),
            "per_line_vs_smallest": round(per_line[n] / per_line[base], 2),
            "facts_us_per_line": round(facts_per_line[n] * 1e6, 1),
            "facts_per_line_vs_smallest": round(facts_per_line[n] / facts_per_line[base], 2),
            "peak_mb": round(peaks[n] / 1e6, 2),
            "peak_kb_per_line": round(peaks[n] / n / 1e3, 2),
        })
    out = {"machine": machine(), "repeat": args.repeat, "seed": args.seed, "sizes": rows}
    header = list(rows[0])
    widths = [max(len(h), *(len(str(r[h])) for r in rows)) for h in header]
    print("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    for row in rows:
        print("  ".join(str(row[h]).rjust(w) for h, w in zip(header, widths)))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
