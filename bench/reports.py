"""Every report of a set of cases, in one JSON file, to compare two versions of diplo: a
change meant to be faster or leaner must leave them byte for byte the same.

    python bench/reports.py OUT.json [--cases N] [--seed S]

The cases: N generated ones (bench.py's generator, seeded) and every case file under cases/
(the calibration cases included), each assessed with the default pack, with its derived facts
(`--explain`) and near misses. Run it on two checkouts and compare the files:

    PYTHONPATH=/path/to/old python bench/reports.py old.json
    python bench/reports.py new.json
    cmp old.json new.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench import generate_cases  # noqa: E402
from engine import assess, load_case, load_pack  # noqa: E402
from engine.errors import DiploError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--cases", type=int, default=400)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    pack = load_pack()
    reports: dict[str, object] = {}
    for index, case in enumerate(generate_cases(args.cases, args.seed, pack)):
        reports[f"generated-{index}"] = assess(case, pack, explain=True,
                                               near_miss=0.2).model_dump(mode="json")
    for path in sorted((ROOT / "cases").glob("**/*.yaml")):
        name = str(path.relative_to(ROOT))
        try:
            case = load_case(path, pack)
        except DiploError as error:   # a deliberately broken example: its error is its report
            reports[name] = str(error)
            continue
        reports[name] = assess(case, pack, explain=True, near_miss=0.2).model_dump(mode="json")
    Path(args.out).write_text(json.dumps(reports, sort_keys=True), encoding="utf-8")
    print(f"{len(reports)} reports written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
