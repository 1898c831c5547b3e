"""A pack of thousands of generated rules: it loads, gives the same results run to run, and
what a case costs with it, as a ratio to the default pack measured in the same run.

    python bench/big_pack.py [--rules 4000] [--cases 200] [--seed 1] [--json FILE]

The rules are generated the way a large pack is written: groups of a few rules, each group
deriving a fact from line items of one category above a threshold and reporting on it
alone or with a commitment that depends on the category, with thresholds spread over many
distinct values (more than one engine ruleset can hold, so the compiler splits the pack).
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from bench import generate_cases, machine  # noqa: E402
from engine import assess, load_pack  # noqa: E402

DEFAULT = ROOT / "rules" / "defense-diplomacy"
QUOTE = "Reduced funding may restrict the frequency and scale of military exercises"
GROUP = 4   # rules per group: one derives, three use what it derives


def write_big_pack(folder: Path, rules: int, seed: int) -> Path:
    """A pack of `rules` rules in groups of four, over the default pack's categories."""
    rng = random.Random(seed)
    manifest = yaml.safe_load((DEFAULT / "pack.yaml").read_text(encoding="utf-8"))
    categories = list(manifest["categories"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rules").mkdir(exist_ok=True)
    (folder / "guidance.txt").write_bytes((DEFAULT / "guidance.txt").read_bytes())
    body = {"name": "generated", "version": "1.0.0",
            "description": "Generated rules for a benchmark.",
            "guidance": manifest["guidance"], "categories": manifest["categories"],
            "concerns": {"generated": {"kind": "risk", "description": "A generated concern"}},
            "rules": ["rules/*.json"]}
    (folder / "pack.yaml").write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    citation = {"section": "cuts-engagement", "quote": QUOTE}
    generated = []
    for g in range(rules // GROUP):
        category = categories[g % len(categories)]
        kind = f"cut_{g}"
        cut = round(rng.uniform(1, 60), 1)
        generated.append({
            "id": f"G{g:04d}-D", "title": f"Cut {g}",
            "when": [{"fact": "line_item", "as": "item",
                      "where": f"category == '{category}' and real_change_pct <= -{cut}"}],
            "derive": {"fact": kind, "fields": {"line": "item.id", "pct": "item.real_change_pct",
                                                "amount": "item.amount"}},
            "citation": citation})
        for r, severity in enumerate(("low", "medium", "high")):
            when = [{"fact": kind, "as": "cut",
                     "where": f"amount >= {round(rng.uniform(0, 400), 1)}"}]
            if r == 2:
                when.append({"fact": "dependency", "as": "dep",
                             "where": f"category == '{category}' and status == 'active'"})
            generated.append({
                "id": f"G{g:04d}-{r}", "title": f"Generated {g}.{r}", "when": when,
                "report": {"kind": "risk", "severity": severity, "concern": "generated",
                           "message": "{cut.line} falls {cut.pct|abs|pct}."},
                "citation": citation})
    per_file = 500
    for i in range(0, len(generated), per_file):
        (folder / "rules" / f"r{i // per_file:03d}.json").write_text(
            json.dumps({"rules": generated[i:i + per_file]}), encoding="utf-8")
    return folder


def per_case(pack, cases, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for case in cases:
            assess(case, pack)
        times.append((time.perf_counter() - start) / len(cases))
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", type=int, default=4000)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_big_pack(Path(tmp) / "generated", args.rules, args.seed)
        start = time.perf_counter()
        big = load_pack(folder)
        load_seconds = time.perf_counter() - start
        default = load_pack(DEFAULT)
        cases = generate_cases(args.cases, args.seed, default)
        first = [assess(case, big).to_json() for case in cases]
        again = load_pack(folder)          # a second load: a new compilation, new sessions
        second = [assess(case, again).to_json() for case in reversed(cases)][::-1]
        identical = first == second
        findings = sum(len(json.loads(r)["findings"]) for r in first) / len(cases)
        big_cost = per_case(big, cases)
        default_cost = per_case(default, cases)
    out = {
        "machine": machine(),
        "rules": len(big.rules), "rulesets": len(big.compiled.shards),
        "load_seconds": round(load_seconds, 2),
        "cases": len(cases), "identical_run_to_run": identical,
        "findings_per_case": round(findings, 1),
        "ms_per_case": round(big_cost * 1000, 2),
        "default_pack_ms_per_case": round(default_cost * 1000, 2),
        "ratio_to_default_pack": round(big_cost / default_cost, 2),
    }
    width = max(len(k) for k in out)
    for key, value in out.items():
        if key != "machine":
            print(f"{key:<{width}}  {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    if not identical:
        print("FAIL: the results differ between two runs", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
