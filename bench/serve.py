"""A load test of `diplo serve` on the loopback interface: requests per second, latency (p50,
p95, p99) and errors at 1, 8 and 32 concurrent clients, against the same assessments through
the Python API in the same run.

    python bench/serve.py [--workers 2] [--clients 1,8,32] [--requests 300] [--seconds 60]
                          [--json FILE]

A real server is started (`python -m engine serve --workers N --queue 64`, on 127.0.0.1 and a
free port; tests/serve_helpers.py) and stopped at the end. Each client sends the example cases
(cases/*.yaml) in turn to POST /v1/assess and reads the JSON report; each level sends at most
--requests requests and stops after --seconds whatever it has sent, so the run is bounded in
count and in time. Every answer is compared with the report the Python API gives for its case
(`engine.api.read_case` and `assess`, then `Report.to_json()`), which is also timed, one case
after another in this process, for the same number of assessments. The clients run in this
process too (one asyncio loop, httpx), on the same machine as the server: on two cores they
take part of the CPU the workers would have.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from bench import machine  # noqa: E402
from serve_helpers import Server  # noqa: E402


def percentiles(latencies: list[float]) -> dict[str, float | None]:
    if not latencies:
        return {"p50": None, "p95": None, "p99": None}
    ordered = sorted(latencies)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000
    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99)}


async def load(url: str, cases: list[tuple[str, bytes]], expected: dict[str, str],
               clients: int, requests: int, seconds: float) -> dict:
    import httpx
    latencies: list[float] = []
    errors: dict[str, int] = {}
    sent = 0
    different = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:
        async def one_client():
            nonlocal sent, different
            while sent < requests and time.monotonic() < deadline:
                name, body = cases[sent % len(cases)]
                sent += 1
                start = time.perf_counter()
                try:
                    answer = await client.post("/v1/assess", content=body,
                                               params={"source": name})
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    continue
                took = time.perf_counter() - start
                if answer.status_code != 200:
                    errors[str(answer.status_code)] = errors.get(str(answer.status_code), 0) + 1
                    continue
                latencies.append(took)
                different += answer.text != expected[name]
        start = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        elapsed = time.perf_counter() - start
    return {"clients": clients, "requests": sent, "ok": len(latencies), "errors": errors,
            "different_from_api": different, "seconds": elapsed,
            "per_second": len(latencies) / elapsed if elapsed else None,
            **percentiles(latencies)}


def through_api(cases: list[tuple[str, bytes]], count: int, seconds: float
                ) -> tuple[dict, dict[str, str]]:
    """The same assessments through the Python API, one after another in this process."""
    from engine.api import assess, read_case
    from engine.core.run import load_pack
    pack = load_pack()
    expected = {name: assess(read_case(body, pack, name=name), pack).to_json()
                for name, body in cases}   # also warms up
    latencies = []
    deadline = time.monotonic() + seconds
    start = time.perf_counter()
    for i in range(count):
        if time.monotonic() > deadline:
            break
        name, body = cases[i % len(cases)]
        began = time.perf_counter()
        assess(read_case(body, pack, name=name), pack).to_json()
        latencies.append(time.perf_counter() - began)
    elapsed = time.perf_counter() - start
    return ({"clients": 1, "requests": len(latencies), "ok": len(latencies), "errors": {},
             "different_from_api": 0, "seconds": elapsed,
             "per_second": len(latencies) / elapsed if elapsed else None,
             **percentiles(latencies)}, expected)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--requests", type=int, default=300, help="at most, per level")
    parser.add_argument("--seconds", type=float, default=60.0, help="at most, per level")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.clients.split(",") if x.strip()]
    cases = [(str(p.relative_to(ROOT)), p.read_bytes())
             for p in sorted((ROOT / "cases").glob("*.yaml"))]
    out = {"machine": machine(), "args": vars(args), "cases": len(cases)}
    api, expected = through_api(cases, args.requests, args.seconds)
    cache = Path(os.environ.get("TMPDIR", "/tmp")) / "diplo-bench-serve-cache"
    with Server("--workers", str(args.workers), "--queue", "64", "--no-access-log",
                cache_dir=cache) as server:
        served = [asyncio.run(load(server.url, cases, expected, n, args.requests,
                                   args.seconds)) for n in levels]
    # the API again once the server has gone: on a shared machine the load moves, and the
    # two measures of the same thing show by how much
    api_after, _ = through_api(cases, args.requests, args.seconds)
    try:
        out["loadavg_end"] = os.getloadavg()
    except OSError:
        out["loadavg_end"] = None
    out["api"], out["api_after"], out["served"] = api, api_after, served
    from tabulate import tabulate
    m = out["machine"]
    print("== Machine ==")
    print(f"{m['cpu_count']} x {m['cpu_model'] or '?'}, Python {m['python']}; load average "
          f"{', '.join(f'{x:.2f}' for x in m['loadavg_start'] or ())} at start, "
          f"{', '.join(f'{x:.2f}' for x in out['loadavg_end'] or ())} at end")
    print(f"== POST /v1/assess, {args.workers} workers, {len(cases)} example cases in turn ==")
    rows = [[f"Python API, one process ({when})", r["clients"], r["requests"], "-",
             r["per_second"], r["p50"], r["p95"], r["p99"], "-"]
            for when, r in (("before", api), ("after", api_after))]
    rows += [["diplo serve", r["clients"], r["requests"],
              sum(r["errors"].values()) and json.dumps(r["errors"]) or 0, r["per_second"],
              r["p50"], r["p95"], r["p99"], r["different_from_api"]] for r in served]
    print(tabulate(rows, headers=["", "clients", "requests", "errors", "per second",
                                  "p50 ms", "p95 ms", "p99 ms", "differing"],
                   floatfmt=".1f"))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 1 if any(r["different_from_api"] for r in served) else 0


if __name__ == "__main__":
    sys.exit(main())
