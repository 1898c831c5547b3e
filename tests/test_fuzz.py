"""Minutes of generated hostile inputs against the commands: no case, pack or option may end
in an internal error (exit 3), a traceback, or an error of more than one line per problem.

Not in the default run (marker `fuzz`, deselected in pyproject.toml):

    DIPLO_FUZZ_SECONDS=60 python -m pytest -m fuzz tests/test_fuzz.py -s

Each test generates for DIPLO_FUZZ_SECONDS (default 60) and prints what it ran: how many
inputs, and the exit statuses they got. Hypothesis shrinks a failure to a small input.
"""
from __future__ import annotations

import collections
import os
import re
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.cli import main

from conftest import BASE_CASE, CITE, ROOT, write_pack

pytestmark = pytest.mark.fuzz

SECONDS = float(os.environ.get("DIPLO_FUZZ_SECONDS", "60"))
PACK = yaml.safe_load((ROOT / "rules" / "defense-diplomacy" / "pack.yaml")
                      .read_text(encoding="utf-8"))
CATEGORIES = list(PACK["categories"])
PARAMETERS = list(PACK.get("parameters", {}))
FORMATS = ["table", "json", "jsonl", "markdown", "sarif", "junit", "github"]
SEVERITIES = ["info", "low", "medium", "high", "critical"]

# --- hostile values ---------------------------------------------------------------------------

WEIRD_TEXT = ["\u2028", "\x85", "\x0b", "\x1c", "\x1b[2J", "{case.__class__}", "{{x}}",
              "${HOME}", "$cut_pct", "0100", "1:30", "yes", "no", "null", "~", "", " ",
              "a" * 600, "é✓\U0001F600", "line\nbreak", "tab\there", "\x00"]
NUMBERS = st.one_of(
    st.integers(min_value=-10 ** 40, max_value=10 ** 40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -0.0, 1e15, 1e15 + 1, 10 ** 15, 2 ** 63, 1e-300, 1e308, 5e-5,
                     -1, 100, 99.999999, 1e-4]))
TEXT = st.one_of(st.sampled_from(WEIRD_TEXT),
                 st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]),
                         max_size=40))
SCALARS = st.one_of(NUMBERS, TEXT, st.booleans(), st.none())
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=3)), max_leaves=8)
# number forms YAML 1.1 reads otherwise than a person means them, and other raw scalars
RAW_NUMBERS = ["0100", "1:30", "0x1F", "0b101", "1_000", ".inf", "-.inf", ".nan", "1e400",
               "+5", "-0", "9" * 40, "9" * 5000, "1e3", "0o17", "00", "1:30.5"]


def _line(i: int, category: str, amount, prior):
    line = {"id": f"line-{i}", "category": category, "amount": amount}
    if prior is not None:
        line["prior"] = prior
    return line


@st.composite
def cases(draw, most_lines: int = 40):
    """A valid case, then a few hostile changes to it: values replaced, keys added or
    removed, raw number forms written into the text."""
    n = draw(st.integers(1, most_lines))
    lines = [_line(i, draw(st.sampled_from(CATEGORIES)),
                   draw(st.floats(0, 2000, allow_nan=False)),
                   draw(st.one_of(st.none(), st.floats(0, 2000, allow_nan=False))))
             for i in range(n)]
    commitments = [{"id": f"pact-{k}", "kind": draw(st.sampled_from(
        ["alliance", "security_agreement", "aid_program", "peacekeeping_mandate"])),
        "status": draw(st.sampled_from(["active", "proposed", "ending"])),
        "depends_on": draw(st.lists(st.sampled_from(CATEGORIES), max_size=4, unique=True))}
        for k in range(draw(st.integers(0, 8)))]
    data = {**BASE_CASE, "line_items": lines, "commitments": commitments,
            "threat_environment": draw(st.sampled_from(["low", "moderate", "elevated",
                                                        "severe"])),
            "inflation_pct": draw(st.floats(-50, 1000, allow_nan=False)),
            "gdp": draw(st.one_of(st.none(), st.floats(1, 1e7, allow_nan=False)))}
    if data["gdp"] is None:
        del data["gdp"]
    for _ in range(draw(st.integers(0, 3))):
        target = draw(st.sampled_from(["top", "line", "commitment"]))
        node = data if target == "top" else draw(st.sampled_from(
            lines if target == "line" or not commitments else commitments))
        key = draw(st.one_of(st.sampled_from(sorted(node)), TEXT))
        if draw(st.booleans()):
            node[key] = draw(VALUES)
        else:
            node.pop(key, None)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=draw(st.booleans()))
    if draw(st.booleans()):
        numbers = list(re.finditer(r"(?<=: )-?\d+(\.\d+)?(?=\n)", text))
        if numbers:
            spot = draw(st.sampled_from(numbers))
            text = text[:spot.start()] + draw(st.sampled_from(RAW_NUMBERS)) + text[spot.end():]
    return text


OPTIONS = st.lists(st.one_of(
    st.tuples(st.just("--format"), st.sampled_from(FORMATS)),
    st.tuples(st.just("--fail-on"), st.sampled_from(SEVERITIES)),
    st.just(("--explain",)), st.just(("--details",)), st.just(("--summary",)),
    st.just(("--near-miss",)), st.just(("--exit-zero",)),
    st.tuples(st.just("--margin"), st.sampled_from(["0.01", "0.2", "0.5"])),
    st.tuples(st.just("--param"), st.builds(
        lambda name, value: f"{name}={value}",
        st.sampled_from(PARAMETERS or ["cut_pct"]) | TEXT,
        st.sampled_from(RAW_NUMBERS + WEIRD_TEXT) | NUMBERS.map(str))),
    st.tuples(st.just("--severity"), st.builds(lambda r, s: f"{r}={s}", st.sampled_from(
        ["DD-COM-010", "DD-ENG-001", "NOPE"]) | TEXT, st.sampled_from(SEVERITIES) | TEXT)),
    st.tuples(st.just("--disable"), st.sampled_from(["DD-COM-010", "DD-ENG-001"]) | TEXT),
    st.tuples(st.just("--select"), st.sampled_from(["DD-COM", "concern:x", "tag:cuts"])
              | TEXT)), max_size=4)


# --- running and judging -----------------------------------------------------------------------

class Tally:
    def __init__(self, name: str):
        self.name = name
        self.runs = 0
        self.statuses: collections.Counter = collections.Counter()

    def report(self) -> None:
        print(f"\nfuzz {self.name}: {self.runs} inputs in {SECONDS:.0f} s, exit statuses "
              f"{dict(sorted(self.statuses.items()))}")


def invoke(args: list[str], tally: Tally):
    result = CliRunner().invoke(main, args)
    tally.runs += 1
    tally.statuses[result.exit_code] += 1
    context = f"{args}: exit {result.exit_code}\n{result.stderr[-2000:]}"
    assert result.exit_code in (0, 1, 2), context
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), (context, repr(result.exception))
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, context
    for line in result.stderr.splitlines():
        assert line.startswith(("diplo: error: ", "diplo: warning: ")) or not \
            line.startswith("diplo"), context
    if result.exit_code == 2 and not result.stderr.startswith("Usage: "):
        # (click's own usage errors print its usage text, as documented)
        assert result.stderr.startswith("diplo: error: "), context
        assert all(line.startswith("diplo: ") for line in result.stderr.splitlines()), context
    return result


def run_for(seconds: float, strategy, check) -> None:
    """Hypothesis runs of a few examples each, until the time is up: every run draws new
    examples, and a failing one is shrunk before it is reported."""
    @settings(max_examples=5, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def once(value):
        check(value)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        once()


# --- the tests ---------------------------------------------------------------------------------

def test_fuzz_cases_and_assess_options():
    tally = Tally("cases x assess options")
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "case.yaml"

        def check(drawn):
            text, options = drawn
            path.write_text(text, encoding="utf-8")
            invoke(["assess", str(path), *[part for option in options for part in option]],
                   tally)
        run_for(SECONDS, st.tuples(cases(), OPTIONS), check)
    tally.report()


def test_fuzz_cases_through_explain_whatif_and_sweep():
    tally = Tally("cases x explain, whatif, sweep")
    paths = ["line_items[0].amount", "gdp", "inflation_pct", "total.amount",
             "transparency.secret_share_pct", "line_items[0].category", "nope", "commitments"]
    commands = st.one_of(
        st.just(["explain", "{case}"]),
        st.just(["explain", "{case}", "--remedies"]),
        st.tuples(st.just("whatif"), st.just("{case}"), st.just("--set"), st.builds(
            lambda p, v: f"{p}={v}", st.sampled_from(paths), st.sampled_from(
                RAW_NUMBERS + WEIRD_TEXT) | NUMBERS.map(str))).map(list),
        st.tuples(st.just("sweep"), st.just("{case}"), st.just("--vary"),
                  st.sampled_from(paths), st.just("--from"), NUMBERS.map(str),
                  st.just("--to"), NUMBERS.map(str), st.just("--steps"),
                  st.sampled_from(["1", "3", "0", "-1", "100000"])).map(list))
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "case.yaml"

        def check(drawn):
            text, command = drawn
            path.write_text(text, encoding="utf-8")
            invoke([part.replace("{case}", str(path)) for part in command], tally)
        # small cases: a remedy search re-assesses each of them hundreds of times
        run_for(SECONDS, st.tuples(cases(most_lines=6), commands), check)
    tally.report()


# rule packs: conditions, lets and derived fields written from a small grammar, with the
# numbers, functions and templates that once hung or overflowed

FIELDS = ["amount", "prior", "real_change_pct", "change_pct", "share_of_total_pct",
          "category", "partner_count", "nope"]
OPERATORS = ["==", "!=", "<", "<=", ">", ">="]


@st.composite
def numbers_text(draw):
    return draw(st.sampled_from(["0", "1", "-1", "0.5", "1e15", "1000000000000000",
                                 "99999999999999999999", "0.00001", "1e400", "$cut",
                                 "-$cut", "2.5"]))


@st.composite
def values(draw, depth=0):
    """A number-valued expression over the item's fields."""
    if depth > 2 or draw(st.booleans()):
        return draw(st.one_of(numbers_text(), st.sampled_from(
            ["item.amount", "item.prior", "item.real_change_pct", "item.partner_count"])))
    kind = draw(st.sampled_from(["op", "call", "neg"]))
    if kind == "op":
        return f"({draw(values(depth + 1))} {draw(st.sampled_from('+-*/'))} " \
               f"{draw(values(depth + 1))})"
    if kind == "neg":
        return f"-{draw(values(depth + 1))}"
    name = draw(st.sampled_from(["abs", "min", "max", "round", "sqrt"]))
    count = draw(st.integers(0, 3))
    args = [draw(values(depth + 1)) for _ in range(count)]
    if name == "round" and count == 2 and draw(st.booleans()):
        args[1] = draw(st.sampled_from(["-999999999999999", "15", "16", "-16", "1.5",
                                        "item.amount", "$cut"]))
    return f"{name}({', '.join(args)})"


@st.composite
def conditions(draw, depth=0):
    if depth > 2 or draw(st.booleans()):
        field = draw(st.sampled_from(FIELDS))
        if field == "category":
            return f"category {draw(st.sampled_from(['==', '!=']))} " \
                   f"'{draw(st.sampled_from(CATEGORIES + ['nope']))}'"
        right = draw(st.one_of(numbers_text(), st.sampled_from(["first.amount",
                                                                "first.prior"])))
        return f"{field} {draw(st.sampled_from(OPERATORS))} {right}"
    op = draw(st.sampled_from(["and", "or", "not"]))
    if op == "not":
        return f"not ({draw(conditions(depth + 1))})"
    return f"({draw(conditions(depth + 1))}) {op} ({draw(conditions(depth + 1))})"


@st.composite
def packs(draw):
    rules = []
    for i in range(draw(st.integers(1, 6))):
        when = []
        if draw(st.booleans()):
            when.append({"fact": "line_item", "as": "first"})
        when.append({"fact": "line_item", "as": "item",
                     "where": draw(conditions()).replace("first.", "first." if when
                                                          else "item.")})
        if draw(st.booleans()):
            when.append({"not": {"fact": "commitment"}})
        body = {"id": f"F-{i:03d}", "title": f"Rule {i}", "when": when, "citation": CITE,
                "let": {"v": draw(values())}}
        template = draw(st.sampled_from(["{v}", "{v|round}", "{v|pct}", "{v|money}",
                                         "{v|num} {item.id}", "{$cut|pct}", "{v|abs|pct}"]))
        body["report"] = {"kind": "risk", "severity": draw(st.sampled_from(SEVERITIES[1:])),
                          "concern": "engagement_limited", "message": template}
        rules.append(body)
    cut = draw(st.sampled_from([10, 0, 10 ** 15, -5, 2.5]))
    return rules, cut


def test_fuzz_packs():
    tally = Tally("packs x cases")
    with tempfile.TemporaryDirectory() as scratch:
        case_path = Path(scratch) / "case.yaml"

        def check(drawn):
            (rules, cut), text = drawn
            folder = Path(tempfile.mkdtemp(dir=scratch))
            write_pack(folder, rules, name="fuzz", parameters={"cut": {
                "value": cut, "unit": "percent", "description": "A threshold.",
                "source": "The fuzz test."}})
            case_path.write_text(text, encoding="utf-8")
            invoke(["rules", "list", "--pack", str(folder)], tally)
            invoke(["assess", str(case_path), "--pack", str(folder), "--format", "json"],
                   tally)
            invoke(["pack", "lint", str(folder)], tally)
        run_for(SECONDS, st.tuples(packs(), cases()), check)
    tally.report()
