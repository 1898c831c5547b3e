"""Hostile inputs that used to hang, exhaust memory or end in an internal error, each now
refused in bounded time with one line and exit 2, or handled. The inputs too big to commit
run in a process of their own under test_bounded's time and memory limits; the corpus entries
of tests/bad_inputs (YAML number forms, huge round() decimals, hostile globs, the engine's
network limits, a case whose joins multiply) are checked there and in test_bad_inputs.
docs/security.md points here.
"""
from __future__ import annotations

import gc
import os
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from engine import CaseError, assess, load_case, load_pack
from engine.cli import main

from conftest import BASE_CASE, ROOT, param, rule, write_pack
from test_bounded import MEMORY, TIMEOUT, run_forked

CATEGORIES = list(yaml.safe_load((ROOT / "rules" / "defense-diplomacy" / "pack.yaml")
                                 .read_text(encoding="utf-8"))["categories"])


def _one_line_exit_2(out, *words):
    assert out.status is not None, f"still running after {TIMEOUT} s"
    assert "MemoryError" not in out.stderr, f"ran out of {MEMORY >> 20} MB"
    assert out.status == 2, (out.status, out.stderr[-1000:])
    assert out.stdout == ""
    assert out.stderr.startswith("diplo: error: ") and out.stderr.count("\n") == 1, out.stderr
    missing = [w for w in words if w.lower() not in out.stderr.lower()]
    assert not missing, f"{missing} not in: {out.stderr}"


# --- work and memory bounded before they are spent ---------------------------------------------

def test_a_case_within_every_limit_whose_joins_multiply_is_refused_before_running(tmp_path):
    # the largest case docs/limits.md allows: 2,000 cut lines and 500 alliances that depend on
    # the categories of all of them, under a severe threat. It once took 30 s and 4 GB
    items = [{"id": f"line-{i}", "category": ("joint_exercises", "presence_abroad")[i % 2],
              "amount": 50, "prior": 100} for i in range(2000)]
    alliances = [{"id": f"alliance-{i}", "kind": "alliance", "status": "active",
                  "depends_on": ["joint_exercises", "presence_abroad"]} for i in range(500)]
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(
        {**BASE_CASE, "line_items": items, "commitments": alliances, "inflation_pct": 5,
         "threat_environment": "severe", "gdp": 1e6}), encoding="utf-8")
    out = run_forked(["assess", "case.yaml"], tmp_path)
    _one_line_exit_2(out, "combinations of facts", "limit of 100,000", "line items (line-0",
                     "commitments (alliance-0")


def test_a_join_that_never_fires_is_refused_before_the_engine_tries_it(tmp_path):
    # three line items joined by a condition that never holds: no result to count, but 2,000
    # lines would have the engine try 8 x 10^9 combinations
    pack = write_pack(tmp_path / "pack", [rule("J-001", [
        {"fact": "line_item", "as": "a"}, {"fact": "line_item", "as": "b"},
        {"fact": "line_item", "as": "c", "where": "amount > a.amount + b.amount + 1000000"}],
        report={})])
    items = [{"id": f"line-{i}", "category": "personnel", "amount": 1} for i in range(2000)]
    (tmp_path / "case.yaml").write_text(yaml.safe_dump({**BASE_CASE, "line_items": items}),
                                        encoding="utf-8")
    out = run_forked(["assess", "case.yaml", "--pack", str(pack)], tmp_path)
    _one_line_exit_2(out, "combinations of facts", "rule J-001", "2,000 line_item facts")


def test_a_case_within_the_bound_that_yields_too_many_results_is_refused(tmp_path):
    # the bound counts what the rules could try; the results limit what they give: 110 lines
    # paired two by two make 12,100 combinations (within the bound) and 11,990 findings
    pack = write_pack(tmp_path / "pack", [rule("P-001", [
        {"fact": "line_item", "as": "a"}, {"fact": "line_item", "as": "b",
                                           "where": "id != a.id"}], report={})])
    items = [{"id": f"line-{i}", "category": "personnel", "amount": 1} for i in range(110)]
    (tmp_path / "case.yaml").write_text(yaml.safe_dump({**BASE_CASE, "line_items": items}),
                                        encoding="utf-8")
    out = run_forked(["assess", "case.yaml", "--pack", str(pack)], tmp_path)
    _one_line_exit_2(out, "more than 10,000 findings and derived facts")


def test_an_ordinary_large_case_is_not_refused():
    # 400 lines, each in one of the pack's categories and cut: the bound must not refuse what
    # assesses in well under a second
    items = [{"id": f"line-{i}", "category": CATEGORIES[i % len(CATEGORIES)],
              "amount": 70 + i % 7, "prior": 100} for i in range(400)]
    case = load_case_from({**BASE_CASE, "line_items": items, "threat_environment": "elevated"})
    assert assess(case).findings


def load_case_from(data: dict):
    from engine.model import Case
    return Case.model_validate(data)


@pytest.mark.parametrize("name", ["rules-glob-many-stars", "rules-glob-deep"])
@pytest.mark.parametrize("command", [["rules", "list", "--pack"], ["pack", "lint"]],
                         ids=["load", "lint"])
def test_hostile_rule_globs_neither_hang_loading_nor_lint(name, command):
    out = run_forked([*command, f"packs/{name}"], Path(__file__).parent / "bad_inputs")
    assert out.status is not None, f"still running after {TIMEOUT} s"
    assert out.status in (1, 2) and "Traceback" not in out.stderr, out.stderr[-500:]
    assert "no rule files match" in out.stderr + out.stdout


def test_a_join_reading_a_field_a_fact_lacks_does_not_fail_the_case(tmp_path):
    # the engine reads a comparison with another fact's field on its own and failed the case
    # (error 311) when the matched fact lacked an own field it reads (`prior`, here)
    pack = load_pack(write_pack(tmp_path / "pack", [rule("J-002", [
        {"fact": "line_item", "as": "first"},
        {"fact": "line_item", "as": "item", "where": "amount + prior > first.amount"}],
        report={"message": "{item.id} over {first.id}"})]))
    case = load_case_from({**BASE_CASE, "line_items": [
        {"id": "no-prior", "category": "personnel", "amount": 5},
        {"id": "with-prior", "category": "personnel", "amount": 7, "prior": 5}]})
    assert [f.message for f in assess(case, pack).findings] == ["with-prior over no-prior"]


# --- values that used to overflow or end in an internal error ---------------------------------

def _pack_with_let(tmp_path, expression: str, **parameters):
    return write_pack(tmp_path / "pack", [rule("V-001", [{"fact": "line_item", "as": "item"}],
                                               let={"y": expression},
                                               report={"message": "{y|round} {y|pct} "
                                                                  "{y|money} {y}"})],
                      parameters={name: param(value, unit="number")
                                  for name, value in parameters.items()})


def test_an_overflowed_value_reads_n_a(tmp_path):
    huge = " * ".join(["item.amount"] + ["1000000000000000"] * 24)
    pack = load_pack(_pack_with_let(tmp_path, f"{huge} - {huge}"))
    case = load_case_from(BASE_CASE)
    messages = {f.message for f in assess(case, pack).findings}
    assert messages == {"n/a n/a n/a n/a"}


def test_round_to_a_case_value_of_decimals_refuses_the_case_naming_the_rule(tmp_path):
    folder = _pack_with_let(tmp_path, "round(item.amount, item.amount * 1000)")
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(BASE_CASE), encoding="utf-8")
    result = CliRunner().invoke(main, ["assess", str(tmp_path / "case.yaml"), "--pack",
                                       str(folder)])
    assert result.exit_code == 2, (result.stderr, result.exception)
    assert result.stdout == "" and result.stderr.count("\n") == 1
    assert "rule V-001" in result.stderr and "-15 to 15" in result.stderr
    with pytest.raises(CaseError, match="round"):
        assess(load_case(tmp_path / "case.yaml", load_pack(folder)), load_pack(folder))


def test_quotients_and_sums_of_huge_whole_numbers_do_not_fail(tmp_path):
    # whole numbers past 2**63 are computed as floats: a quotient of two huge ones, which
    # Python refuses as whole numbers, is a number (or n/a when it overflows)
    pack = load_pack(_pack_with_let(tmp_path, "(item.amount * $big * $big * $big * $big) / 3",
                                    big=10 ** 15))
    messages = [f.message for f in assess(load_case_from(BASE_CASE), pack).findings]
    assert messages and all(re.fullmatch(r"[\d,]+(\.\d+)?", m.split()[0]) for m in messages)


# --- configuration files -----------------------------------------------------------------------

def _config_error(tmp_path, monkeypatch) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DIPLO_CONFIG", raising=False)
    result = CliRunner().invoke(main, ["config"])
    assert result.exit_code == 2, (result.exit_code, result.stderr, result.exception)
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.startswith("diplo: error: ") and result.stderr.count("\n") == 1
    return result.stderr


@pytest.mark.parametrize("digits", [40, 5000])
def test_a_configuration_integer_of_thousands_of_digits(tmp_path, monkeypatch, digits):
    (tmp_path / "diplo.toml").write_text("[params]\ncut_pct = " + "9" * digits + "\n",
                                         encoding="utf-8")
    err = _config_error(tmp_path, monkeypatch)
    assert f"{digits:,} characters" in err and "diplo.toml:2:" in err
    assert "9" * 30 not in err


@pytest.mark.parametrize("links", [["diplo.toml"], ["other.toml", "diplo.toml"]],
                         ids=["itself", "two"])
def test_a_configuration_file_in_a_link_loop(tmp_path, monkeypatch, links):
    names = ["diplo.toml"] + [n for n in links if n != "diplo.toml"]
    for name, target in zip(names, names[1:] + names[:1]):
        os.symlink(target, tmp_path / name)
    err = _config_error(tmp_path, monkeypatch)
    assert "diplo.toml" in err


# --- engine memory -----------------------------------------------------------------------------

def test_a_compiled_pack_that_goes_deletes_its_rulesets(monkeypatch, tmp_path):
    import engine.core.compile as compiled
    native = compiled._native
    deleted = []

    class Recording:
        def __getattr__(self, name):
            return getattr(native, name)

        def delete_ruleset(self, handle):
            deleted.append(handle)
            return native.delete_ruleset(handle)
    monkeypatch.setattr(compiled, "_native", Recording())
    pack = load_pack(write_pack(tmp_path / "p", [rule("M-001", [{"fact": "line_item"}],
                                                      report={})]))
    assess(load_case_from(BASE_CASE), pack)
    handles = [shard.handle for shard in pack.compiled.shards]
    del pack
    gc.collect()
    assert handles and set(handles) <= set(deleted)   # (and any other pack that went)


def test_whatif_and_sweep_reuse_a_pack_with_the_same_parameter_values():
    from engine.analysis.whatif import MAX_VARIANTS, with_params
    base = load_pack(params={"cut_pct": 10})
    first = with_params(base, {"cut_pct": 12})
    assert with_params(base, {"cut_pct": 12}) is first
    for value in range(20, 20 + MAX_VARIANTS):
        with_params(base, {"cut_pct": value})
    assert with_params(base, {"cut_pct": 12}) is not first   # the oldest went
    assert len(base.report_parts["variants"]) == MAX_VARIANTS
