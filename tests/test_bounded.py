"""Every bad input fails within a bounded time and memory, with exit 2 and one line on stderr.

tests/test_bad_inputs.py checks what each error says; this module checks what it costs. Each
input runs the real command in a subprocess of its own, under a wall-clock timeout and an
address-space limit, so that a hang or a runaway allocation shows up as a failed test instead
of a stuck or killed test run. Besides the corpus of tests/bad_inputs/, it builds inputs too
big to commit: a 50 MB case, an alias bomb, deep nesting, 100,000 line items, 5,000 rules, and
files just under the size limit that are costly to parse. docs/security.md points here.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
import yaml

from engine.inputs.source import MAX_FILE_BYTES

from conftest import BASE_CASE, ROOT, rule, write_pack
from test_bad_inputs import EXPECTED, GENERATED, HERE

TIMEOUT = 20                        # seconds; the slowest refusal takes well under 2
MEMORY = 1536 * 1024 * 1024         # bytes of address space; an assessment needs ~150 MB


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


@dataclass
class Outcome:
    status: int | None          # None: killed at the timeout
    stdout: str
    stderr: str
    seconds: float


def run_cli(args: list[str], cwd: Path) -> Outcome:
    """`python -m engine ARGS` in a subprocess: the command exactly as a user runs it."""
    start = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", "engine", *args], cwd=cwd,
                              capture_output=True, timeout=TIMEOUT, preexec_fn=_limit_memory,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    except subprocess.TimeoutExpired as exc:
        return Outcome(None, (exc.stdout or b"").decode("utf-8", "replace"),
                       (exc.stderr or b"").decode("utf-8", "replace"),
                       time.monotonic() - start)
    return Outcome(done.returncode, done.stdout.decode("utf-8", "replace"),
                   done.stderr.decode("utf-8", "replace"), time.monotonic() - start)


# Importing diplo takes most of a second, and the corpus has well over a hundred inputs: each
# input runs in a process forked from a server that has imported it once, under the same
# timeout and memory limit as run_cli (test_the_forked_runner_agrees_with_the_command checks
# that the two see the same thing). The child's code is handed over as text because the server
# cannot import this module (it does not see the tests folder on Python 3.11), and importing it
# in every child would cost what the server saves.
_FORKS = multiprocessing.get_context("forkserver")
_FORKS.set_forkserver_preload(["engine.cli"])

_CHILD = """
import os, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
os.chdir(cwd)
for fd, path in ((1, out), (2, err)):
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(handle, fd)
    os.close(handle)
from engine.cli import main
sys.argv = ["diplo", *args]
status = 0
try:
    main(prog_name="diplo")
except SystemExit as exc:
    status = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
finally:
    sys.stdout.flush()
    sys.stderr.flush()
os._exit(status)
"""


_STATUS_LOST = 255


def run_forked(args: list[str], cwd: Path) -> Outcome:
    with tempfile.TemporaryDirectory() as scratch:
        out, err = Path(scratch, "stdout"), Path(scratch, "stderr")
        names = {"args": list(args), "cwd": str(cwd), "out": str(out), "err": str(err),
                 "memory": MEMORY}
        child = _FORKS.Process(target=exec, args=(_CHILD, names))
        start = time.monotonic()
        child.start()
        child.join(TIMEOUT)
        status = child.exitcode
        if child.is_alive():
            child.kill()
            child.join()
            status = None
        seconds = time.monotonic() - start
        if status == _STATUS_LOST:
            # multiprocessing reports 255 when it could not read the child's status from the
            # fork server (seen under load in CI); diplo itself never exits 255, so the real
            # command is run instead of blaming the input for the harness's loss.
            return run_cli(args, cwd)
        read = lambda p: p.read_text("utf-8", "replace") if p.exists() else ""  # noqa: E731
        return Outcome(status, read(out), read(err), seconds)


@dataclass
class Input:
    args: Callable[[Path], list[str]]        # the command, given the folder it runs in
    words: list[str]                         # what the one line must say
    build: Callable[[Path], None] | None = None
    slow: bool = False                       # started first, so that the pool ends together
    statuses: tuple[int, ...] = (2,)         # valid input may also be assessed (0 or 1)
    lines: int = 1                           # a case file with several problems: one each


def _corpus_args(key: str, extra: list[str]) -> Callable[[Path], list[str]]:
    def args(cwd: Path) -> list[str]:
        if "packs/" not in key:
            return ["assess", key, *extra]
        path = cwd / key
        members = sorted(p for p in path.iterdir() if (p / "pack.yaml").is_file()) \
            if path.is_dir() and not (path / "pack.yaml").exists() else []
        out = ["rules", "list"]
        for pack in members or [path]:
            out += ["--pack", str(pack.relative_to(cwd))]
        return out
    return args


def _corpus() -> dict[str, Input]:
    inputs = {}
    for key, spec in EXPECTED.items():
        spec = spec if isinstance(spec, dict) else {"words": spec}
        build = None
        if key in GENERATED:
            build = GENERATED[key]
        inputs[key] = Input(_corpus_args(key, spec.get("args", [])), spec["words"], build,
                            lines=spec.get("lines", 1))
    return inputs


# --- inputs too big to commit -----------------------------------------------------------------

def _case_text(**changes) -> str:
    return yaml.safe_dump({**BASE_CASE, **changes}, sort_keys=False)


def _huge_case(path: Path):
    # real bytes, not a sparse file: parsing this would take minutes and gigabytes
    item = "  - {id: item, category: personnel, amount: 1, prior: 1}\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(_case_text().split("line_items:")[0] + "line_items:\n")
        block = item * 10_000
        while f.tell() < 50 * 1024 * 1024:
            f.write(block)


def _alias_bomb(path: Path, head: str | None = None):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    path.write_text((_case_text() if head is None else head) + "\n".join(lines) + "\n",
                    encoding="utf-8")


def _nested_yaml(path: Path):
    path.write_text(_case_text() + "history: " + "[" * 10_000 + "]" * 10_000 + "\n",
                    encoding="utf-8")


def _nested_json(path: Path):
    data = json.dumps(BASE_CASE)
    path.write_text(data[:-1] + ', "history": ' + "[" * 10_000 + "]" * 10_000 + "}",
                    encoding="utf-8")


def _many_items_json(path: Path):
    items = [{"id": f"i{i}", "category": "personnel", "amount": 1} for i in range(30_000)]
    path.write_text(json.dumps({**BASE_CASE, "line_items": items}), encoding="utf-8")
    assert path.stat().st_size < MAX_FILE_BYTES  # so the model's limit, not the size, refuses it


def _many_rules(folder: Path):
    rules = [rule(f"R-{i:05d}", [{"fact": "line_item", "as": "item", "where": "amount > 1"}],
                  derive={"fact": "big", "fields": {"line": "item.id"}}) for i in range(5_000)]
    write_pack(folder, rules, name="many-rules")


def _just_under_the_limit(unit: str, opening: str = "", closing: str = ""):
    # the most values a file under the size limit can hold: every one costs a parser node
    def build(path: Path):
        count = (MAX_FILE_BYTES - len(opening) - len(closing) - 64) // len(unit)
        path.write_text(opening + unit * count + closing, encoding="utf-8")
        assert path.stat().st_size <= MAX_FILE_BYTES
    return build


def _device(path: Path):
    path.symlink_to("/dev/zero")


def _fifo(path: Path):
    os.mkfifo(path)


GENERATED_HERE: dict[str, Input] = {
    "big/case-50mb.yaml": Input(lambda cwd: ["assess", "big/case-50mb.yaml"],
                                ["file is 52,", "the limit is 2,097,152"], _huge_case),
    "big/alias-bomb-10-levels.yaml": Input(lambda cwd: ["assess", "big/alias-bomb-10-levels.yaml"],
                                           ["200,000 values"], _alias_bomb),
    "big/nested-10000.yaml": Input(lambda cwd: ["assess", "big/nested-10000.yaml"],
                                   ["nesting is deeper than 64"], _nested_yaml),
    "big/nested-10000.json": Input(lambda cwd: ["assess", "big/nested-10000.json"],
                                   ["nesting is deeper than 64"], _nested_json),
    "big/line-items-30000.json": Input(lambda cwd: ["assess", "big/line-items-30000.json"],
                                        ["line_items", "at most 2000"], _many_items_json,
                                        slow=True),
    "big/rules-5000": Input(lambda cwd: ["rules", "list", "--pack", "big/rules-5000"],
                            ["5000 rules", "same facts", "4000"], _many_rules, slow=True),
    # 2 MB of `{}, ` is half a million values; a limit that counts values after building them
    # all has already spent the time and memory it was meant to save
    "big/flow-mappings-2mb.yaml": Input(lambda cwd: ["assess", "big/flow-mappings-2mb.yaml"],
                                         [], _just_under_the_limit("{}, ", "[", "{}]"),
                                         slow=True),
    "big/zeros-2mb.json": Input(lambda cwd: ["assess", "big/zeros-2mb.json"], [],
                                 _just_under_the_limit("0,", "[", "0]"), slow=True),
    # a case path is not always a regular file: a link in a reviewed folder can point anywhere
    "big/dev-zero.yaml": Input(lambda cwd: ["assess", "big/dev-zero.yaml"], [], _device),
    "big/fifo.yaml": Input(lambda cwd: ["assess", "big/fifo.yaml"], [], _fifo, slow=True),
}

def _amplifying_pack(folder: Path):
    # text parameters have no length limit of their own, and a template may name one many
    # times: a pack file under the size limit asks for hundreds of megabytes per finding
    size = MAX_FILE_BYTES * 9 // 10
    body = rule("A-001", [{"fact": "line_item", "as": "item"}], report={"message": "{$big}" * 330})
    write_pack(folder, [body], name="amplifying",
               parameters={"big": {"value": "x" * size, "unit": "text",
                                   "description": "Long text.", "source": "The test."}})
    assert (folder / "pack.yaml").stat().st_size <= MAX_FILE_BYTES
    items = [{"id": f"i{i}", "category": "personnel", "amount": 1} for i in range(20)]
    (folder / "case.yaml").write_text(_case_text(line_items=items), encoding="utf-8")


def _many_joins(path: Path):
    # valid and far inside every limit of docs/limits.md: 200 line items, all cut, and 40
    # active commitments that depend on every category. The default pack joins cuts with
    # dependencies and with presence cuts, so derived facts multiply
    categories = list(yaml.safe_load((ROOT / "rules" / "defense-diplomacy" / "pack.yaml")
                                     .read_text(encoding="utf-8"))["categories"])
    items = [{"id": f"i{i}", "category": categories[i % len(categories)], "amount": 50,
              "prior": 100} for i in range(200)]
    commitments = [{"id": f"c{i}", "kind": "alliance", "depends_on": categories}
                   for i in range(40)]
    path.write_text(_case_text(line_items=items, commitments=commitments, inflation_pct=5,
                               threat_environment="elevated", gdp=1e6), encoding="utf-8")


GENERATED_HERE.update({
    "big/amplifying-pack": Input(
        lambda cwd: ["assess", "big/amplifying-pack/case.yaml", "--pack", "big/amplifying-pack",
                     "--format", "json"], [], _amplifying_pack, statuses=(0, 1, 2)),
    "big/valid-case-many-joins.yaml": Input(
        lambda cwd: ["assess", "big/valid-case-many-joins.yaml", "--format", "json"],
        ["combinations of facts", "100,000"], _many_joins, slow=True),
    "big/pack-alias-bomb": Input(
        lambda cwd: ["rules", "list", "--pack", "big/pack-alias-bomb"], ["200,000 values"],
        lambda folder: (write_pack(folder, [rule("B-001", [{"fact": "line_item"}],
                                                 report={"message": "m"})], name="bomb"),
                        _alias_bomb(folder / "rules" / "bomb.yaml", head=""))),
})

CORPUS = _corpus()
INPUTS = {**CORPUS, **GENERATED_HERE}


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory) -> dict[str, Outcome]:
    """Runs the selected inputs two at a time (each is a whole interpreter)."""
    wanted = [item.callspec.params["key"] for item in request.session.items
              if item.module is request.module and hasattr(item, "callspec")
              and "key" in item.callspec.params]
    generated = tmp_path_factory.mktemp("bounded")
    jobs = {}
    for key in wanted:
        spec = INPUTS[key]
        cwd = generated if key in GENERATED or key in GENERATED_HERE else HERE
        if spec.build is not None:
            (cwd / key).parent.mkdir(parents=True, exist_ok=True)
            spec.build(cwd / key)
        jobs[key] = (spec.args(cwd), cwd)
    order = sorted(jobs, key=lambda k: not INPUTS[k].slow)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {key: pool.submit(run_forked, *jobs[key]) for key in order}
        return {key: future.result() for key, future in futures.items()}


@pytest.mark.parametrize("key", list(INPUTS))
def test_bad_input_fails_fast_and_small(key, outcomes):
    out = outcomes[key]
    assert out.status is not None, f"still running after {TIMEOUT} s: {out.stderr[-500:]}"
    assert "MemoryError" not in out.stderr, f"ran out of {MEMORY >> 20} MB: {out.stderr[-500:]}"
    assert out.status in INPUTS[key].statuses, (out.status, out.stderr[-1000:])
    assert "Traceback" not in out.stderr
    if out.status != 2:
        return  # assessed within the bounds: that is an answer too
    assert out.stdout == ""
    assert out.stderr.startswith("diplo: error: "), out.stderr
    assert out.stderr.count("\n") == INPUTS[key].lines, out.stderr
    missing = [w for w in INPUTS[key].words if w.lower() not in out.stderr.lower()]
    assert not missing, f"{missing} not in: {out.stderr}"


def test_the_limits_leave_room_for_real_work(tmp_path):
    # a bound that a valid run cannot meet would make every test above pass for nothing
    out = run_cli(["assess", "cases/ally-trims-exercises.yaml", "--explain", "--format",
                   "json", "--exit-zero"], ROOT)
    assert (out.status, out.stderr) == (0, ""), out.stderr[-1000:]
    assert json.loads(out.stdout)["findings"]
    assert out.seconds < TIMEOUT / 2


def test_the_forked_runner_agrees_with_the_command(tmp_path):
    _alias_bomb(tmp_path / "bomb.yaml")
    args = ["assess", "bomb.yaml"]
    forked, real = run_forked(args, tmp_path), run_cli(args, tmp_path)
    assert (forked.status, forked.stdout, forked.stderr) == (real.status, real.stdout,
                                                            real.stderr)
    assert real.status == 2 and "200,000 values" in real.stderr


# --- every limit of docs/limits.md, one input just past it -------------------------------------

def _case_with(**changes):
    def build(folder: Path) -> list[str]:
        (folder / "case.yaml").write_text(_case_text(**changes), encoding="utf-8")
        return ["assess", str(folder / "case.yaml")]
    return build


def _pack_with(rules: list, files: int = 1):
    def build(folder: Path) -> list[str]:
        per_file = -(-len(rules) // files)
        pack = write_pack(folder / "pack", rules[:per_file], name="limits")
        for k in range(1, files):
            chunk = rules[k * per_file:(k + 1) * per_file]
            (pack / "rules" / f"more-{k}.yaml").write_text(yaml.safe_dump({"rules": chunk}),
                                                           encoding="utf-8")
        return ["rules", "list", "--pack", str(pack)]
    return build


def _where(expr: str, *, extra_patterns: int = 0):
    when = [{"fact": "line_item", "as": f"p{i}"} for i in range(extra_patterns)]
    when.append({"fact": "line_item", "as": "item", "where": expr})
    return [rule("L-001", when, report={"message": "m"})]


def _side_file(option: str, text: str | None = None, *, oversize: bool = False):
    def build(folder: Path) -> list[str]:
        path = folder / "side.yaml"
        if oversize:
            with open(path, "wb") as f:
                f.truncate(MAX_FILE_BYTES + 1)
        else:
            path.write_text(text, encoding="utf-8")
        return ["assess", str(ROOT / "cases" / "ally-trims-exercises.yaml"), option, str(path)]
    return build


DERIVE_SEEN = rule("S-000", [{"fact": "line_item", "as": "item"}],
                   derive={"fact": "seen", "fields": {"amount": "item.amount"}})
WAIVER = "  - {rule: DD-ENG-002, reason: Accepted, owner: someone, expires: 2099-01-01}\n"
ITEM = {"id": "x", "category": "personnel", "amount": 1}
LIMITS = {
    "waivers-file-over-size": (_side_file("--waivers", oversize=True), ["the limit is"]),
    "baseline-file-over-size": (_side_file("--baseline", oversize=True), ["the limit is"]),
    "waivers-10001": (_side_file("--waivers", "waivers:\n" + WAIVER * 10_001),
                      ["waivers", "at most 10000"]),
    "line-items-2001": (_case_with(line_items=[dict(ITEM, id=f"i{i}") for i in range(2001)]),
                        ["line_items", "at most 2000"]),
    "commitments-501": (_case_with(commitments=[{"id": f"c{i}", "kind": "alliance"}
                                                for i in range(501)]),
                        ["commitments", "at most 500"]),
    "history-201": (_case_with(history=[{"fiscal_year": 1800 + i, "total": 1}
                                        for i in range(201)]), ["history", "at most 200"]),
    "amount-over-1e15": (_case_with(line_items=[dict(ITEM, amount=2e15)]), ["1e+15"]),
    # rules that derive one fact cannot be split across the engine's rulesets
    "one-fact-4001-rules": (_pack_with([rule(f"R-{i:05d}", [{"fact": "line_item", "as": "item"}],
                                             derive={"fact": "big", "fields": {"line": "item.id"}})
                                        for i in range(4001)], files=36),
                            ["4001 rules", "same facts", "4000"]),
    "patterns-13": (_pack_with(_where("amount > 1", extra_patterns=12)), ["at most 12"]),
    "expression-2001-chars": (_pack_with(_where("amount > 1" + " " * 1991)), ["2000"]),
    "expression-33-levels": (_pack_with(_where("(" * 33 + "amount > 1" + ")" * 33)),
                             ["deeper than 32"]),
    "list-101-values": (_pack_with(_where(
        "amount in [" + ", ".join(str(i) for i in range(101)) + "]")), ["at most 100"]),
    "template-2001-chars": (_pack_with([rule("L-001", [{"fact": "line_item", "as": "item"}],
                                             report={"message": "x" * 2001})]),
                            ["longer than 2000"]),
    "cross-fact-comparisons-26": (_pack_with(_where(" and ".join(
        f"amount != p0.amount + {i}" for i in range(26)), extra_patterns=1)), ["26", "25"]),
    # independent rules are split across rulesets; rules that share a derived fact cannot be
    "distinct-constants-401": (_pack_with([DERIVE_SEEN] + [rule(f"K-{i:03d}", [
        {"fact": "seen", "as": "item", "where": f"amount == {i + 1}"}],
        report={"message": "m"}) for i in range(401)]), ["400"]),
    "tests-side-by-side-65": (_pack_with([DERIVE_SEEN] + [rule(f"J-{i:03d}", [
        {"fact": "seen", "as": "a", "where": f"amount > {i + 1}"}],
        report={"message": "m"}) for i in range(65)]), ["side by side", "64"]),
    "pattern-groups-32": (_pack_with(_where(" and ".join(f"not (amount == {i})"
                                                       for i in range(15)))), ["31"]),
}


@pytest.mark.parametrize("name", list(LIMITS))
def test_each_documented_limit_is_enforced_quickly(name, tmp_path):
    build, words = LIMITS[name]
    args = build(tmp_path)
    out = run_forked(args, tmp_path)
    assert out.status is not None, f"still running after {TIMEOUT} s"
    assert out.status == 2, (out.status, out.stderr[-1000:])
    assert out.stdout == ""
    assert out.stderr.startswith("diplo: error: ") and out.stderr.count("\n") == 1, out.stderr
    missing = [w for w in words if w.lower() not in out.stderr.lower()]
    assert not missing, f"{missing} not in: {out.stderr}"


def test_a_long_parameter_cannot_make_a_long_message(tmp_path):
    from engine import assess, load_case, load_pack
    from engine.lang.template import MAX_MESSAGE_CHARS, MAX_VALUE_CHARS
    body = rule("A-001", [{"fact": "line_item", "as": "item"}],
                report={"message": "{$big}|", "remediation": "{$small}" * 240})
    folder = write_pack(tmp_path / "pack", [body], name="amplifying", parameters={
        "big": {"value": "x" * 100_000, "unit": "text", "description": "Long.",
                "source": "The test."},
        "small": {"value": "y" * (MAX_VALUE_CHARS - 1), "unit": "text",
                  "description": "Just under the value limit.", "source": "The test."}})
    (tmp_path / "case.yaml").write_text(_case_text(), encoding="utf-8")
    pack = load_pack(folder)
    finding = assess(load_case(tmp_path / "case.yaml", pack), pack).findings[0]
    assert len(finding.message) <= MAX_VALUE_CHARS + 1
    assert len(finding.remediation) <= MAX_MESSAGE_CHARS
