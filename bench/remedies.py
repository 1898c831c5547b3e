"""What `diplo explain --remedies` costs as a case grows: seconds and assessments for generated
cases of N cut lines, beside one plain assessment of the same case.

    python bench/remedies.py [--lines 50 100 200] [--commitments 5] [--all] [--json FILE]

Each case cuts every line by 30% in real terms across the default pack's categories, with a
few commitments that depend on some of them, so that most lines carry risks to remedy. The
search re-assesses changed cases; the figure to watch is how its time grows with the lines
(twice the lines should cost about twice the time, not four times).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import load_pack  # noqa: E402
from engine.analysis import remedies as remedies_module  # noqa: E402
from engine.analysis.remedies import remedies  # noqa: E402
from engine.core import run  # noqa: E402
from engine.model import Case  # noqa: E402


def cut_case(lines: int, commitments: int, categories: list[str]) -> Case:
    items = [{"id": f"line-{i}", "category": categories[i % len(categories)],
              "amount": 70.0 + (i % 7), "prior": 100.0} for i in range(lines)]
    depends = [categories[(3 * k) % len(categories)] for k in range(commitments)]
    return Case.model_validate({
        "id": f"cut-{lines}", "title": f"{lines} cut lines", "country": "Country B",
        "fiscal_year": 2027, "currency": "USD", "inflation_pct": 2.0,
        "threat_environment": "elevated", "gdp": 50_000.0 * max(1, lines // 10),
        "line_items": items,
        "commitments": [{"id": f"pact-{k}", "kind": "alliance", "status": "active",
                         "depends_on": [depends[k]]} for k in range(commitments)]})


def measure(lines: int, commitments: int, pack) -> dict:
    case = cut_case(lines, commitments, list(pack.categories))
    started = time.perf_counter()
    report = run.assess(case, pack, explain=True)
    one = time.perf_counter() - started
    calls = 0

    def counted(changed, pack_):
        nonlocal calls
        calls += 1
        return run.assess(changed, pack_)
    started = time.perf_counter()
    found = remedies(case, pack, report, assess=counted)
    seconds = time.perf_counter() - started
    risks = sum(f.kind == "risk" for f in report.findings)
    return {"lines": lines, "risks": risks, "assessments": calls,
            "remedies": sum(len(r.remedies) for r in found),
            "verified": sum(x.verified for r in found for x in r.remedies),
            "seconds": round(seconds, 2), "one_assessment_ms": round(one * 1000, 1),
            "seconds_per_risk": round(seconds / max(risks, 1), 3)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--commitments", type=int, default=5)
    parser.add_argument("--all", action="store_true",
                        help="search every risk (lift the limit of risks searched in one run)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.all and hasattr(remedies_module, "MAX_SEARCHED"):
        remedies_module.MAX_SEARCHED = 10 ** 9
    pack = load_pack()
    rows = [measure(n, args.commitments, pack) for n in args.lines]
    print(f"{'lines':>6} {'risks':>6} {'assessments':>12} {'remedies':>9} {'verified':>9} "
          f"{'seconds':>8} {'s/risk':>7} {'one assess ms':>14}")
    for row in rows:
        print(f"{row['lines']:>6} {row['risks']:>6} {row['assessments']:>12} "
              f"{row['remedies']:>9} {row['verified']:>9} {row['seconds']:>8} "
              f"{row['seconds_per_risk']:>7} {row['one_assessment_ms']:>14}")
    searched = getattr(remedies_module, "MAX_SEARCHED", None)
    if searched is not None and searched < 10 ** 9:
        print(f"(one run searches the {searched} most serious risks; --all searches every one)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
