"""Each known failure of the rule engine that diplo's design can reach, provoked on purpose.

Without its containment (named in each test), each of these would crash the process, hang,
or give a wrong answer silently. Tests that could crash run in a subprocess."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from engine import EngineFailure, PackError, assess, load_pack
from engine.core.facts import INT64_LIMIT, clean_number

from conftest import ROOT, make_case, param, rule, write_pack

# The default pack's dated parameter values compile a pack of their own for each fiscal year
# that needs other values; with the schedule set for the run, one compiled pack serves every
# case, so that its sessions are the ones these tests look at.
ONE_YEAR = {"nato_path_pct": 2.0}


def run_python(code: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_sessions_where_no_rule_fires_are_deleted_safely(tmp_path):
    # Containment: the guard rule. Deleting a session in which no action ran frees an
    # uninitialised pointer (SIGSEGV).
    folder = write_pack(tmp_path / "p", [rule("T-NEVER", [
        {"fact": "line_item", "as": "i", "where": "amount > 999999999"}], report={})])
    result = run_python(f"""
        import sys; sys.path.insert(0, 'tests')
        from conftest import make_case
        from engine import assess, load_pack
        pack = load_pack({str(folder)!r})
        for i in range(300):
            assert assess(make_case(id=f"c{{i}}"), pack).findings == []
        print("ok")
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_more_cases_than_the_engine_can_hold_open(tmp_path):
    # Containment: every session is deleted in `finally`, one open at a time. Without it,
    # session 1025 raises MemoryError and the process then segfaults.
    result = run_python("""
        import sys; sys.path.insert(0, 'tests')
        from conftest import make_case
        import engine.lang.expr
        from engine import EngineFailure, assess, load_pack
        pack = load_pack()
        original = engine.lang.expr.evaluate
        def flaky(node, lookup, params, _n=[0]):
            _n[0] += 1
            if _n[0] % 7 == 0:
                raise RuntimeError("provoked")
            return original(node, lookup, params)
        failures = 0
        for i in range(1100):
            engine.lang.expr.evaluate = flaky if i % 2 else original
            try:
                assess(make_case(id=f"c{i}"), pack)
            except EngineFailure:
                failures += 1
        engine.lang.expr.evaluate = original
        assert failures > 0
        assess(make_case(), pack)
        print("ok", failures)
    """, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("ok")


def test_action_errors_are_raised_not_swallowed(monkeypatch):
    # Containment: actions catch and record; the engine itself would store the traceback in
    # the session state and carry on with a partial result.
    import engine.lang.expr
    pack = load_pack(params=ONE_YEAR)

    def boom(*args, **kwargs):
        raise ValueError("provoked")
    monkeypatch.setattr(engine.lang.expr, "evaluate", boom)
    with pytest.raises(EngineFailure, match="provoked"):
        assess(make_case(), pack)
    monkeypatch.undo()
    assert assess(make_case(), pack).findings  # the pack still works afterwards


def _definitions(pack) -> str:
    return json.dumps(pack.compiled.definition, default=lambda f: "<action>")


def test_no_integer_division_is_compiled(tmp_pack):
    # Containment: '/' by a constant becomes a multiplication. The engine's $div truncates
    # integers (10/4 -> 2) and kills the process on a zero divisor (SIGFPE).
    pack = tmp_pack([rule("T-DIV", [{"fact": "line_item", "as": "i",
                                     "where": "amount / 4 > prior / 8 and amount * 2 > 1"}],
                          report={})])
    assert "$div" not in _definitions(pack)
    assert "$div" not in _definitions(load_pack())
    # 80/4 = 20 > 100/8 = 12.5; 500/4 = 125 > 480/8 = 60: both fire, as in exact arithmetic
    assert len(assess(make_case(), pack).findings) == 2


@pytest.mark.parametrize("where, words", [
    ("amount / prior > 2", "divide"),
    ("amount > prior / 0", "division by zero"),
    ("amount > prior / $zero", "division by zero"),
    ("amount * prior > 2", "multiplies or divides"),
])
def test_division_by_fields_or_zero_is_refused(tmp_pack, where, words):
    with pytest.raises(PackError, match=words):
        tmp_pack([rule("T-DIV", [{"fact": "line_item", "where": where}], report={})],
                 parameters={"zero": param(0)})


def test_numbers_are_never_sent_in_exponent_form():
    # Containment: clean_number. The engine rejects 1e-05 and 1e+16 (error 204) and
    # saturates integers beyond int64.
    assert clean_number(0.00001) == 0.0
    assert clean_number(1e16) == 10**16 and isinstance(clean_number(1e16), int)
    assert clean_number(1e30) == INT64_LIMIT
    assert clean_number(-(10**30)) == -INT64_LIMIT
    from engine.core.compile import _dumps
    for value in (1e-4, 2.5e-3, 123456.789, 999999999999999.9):
        assert "e" not in json.dumps(clean_number(value))
        assert "e" not in _dumps(clean_number(value))


def test_the_engine_gets_the_same_numbers_as_the_standard_json_would_send():
    # the fast encoder must print every number clean_number lets through as json does
    import random
    from engine.core.compile import _dumps
    rng = random.Random(5)
    for _ in range(20_000):
        value = clean_number(rng.uniform(-1, 1) * 10 ** rng.uniform(-6, 16))
        assert _dumps(value) == json.dumps(value)
    for value in (0.0, -0.0, 1e-4, 0.1, 1 / 3, 2 ** 53 + 1, INT64_LIMIT, -INT64_LIMIT, True,
                  "Café ✓", None):
        assert json.loads(_dumps(value)) == value


def test_tiny_constants_in_conditions_are_refused(tmp_pack):
    with pytest.raises(PackError, match="closer to zero than 0.0001"):
        tmp_pack([rule("T-TINY", [{"fact": "line_item", "where": "amount > 0.00001"}],
                       report={})])


def test_a_parameter_override_cannot_smuggle_an_unrepresentable_number(tmp_path):
    folder = write_pack(tmp_path / "p", [rule("T-P", [
        {"fact": "line_item", "where": "amount > $limit"}], report={})],
        parameters={"limit": param(5)})
    with pytest.raises(PackError, match="closer to zero"):
        load_pack(folder, params={"limit": "0.000001"})
    with pytest.raises(PackError, match="finite number"):
        load_pack(folder, params={"limit": "inf"})


DERIVE_X = rule("T-X", [{"fact": "line_item", "as": "item"}],
                derive={"fact": "x", "fields": {"amount": "item.amount"}})


def test_many_distinct_thresholds_are_split_across_rulesets_or_refused(tmp_path):
    # Containment: a count of distinct tests per field. With more than 512 under one node the
    # engine's ruleset creation never returns; the subprocess timeout turns a hang into a fail.
    # Independent rules go to several rulesets; rules that share a derived fact cannot be
    # split, and are refused.
    independent = [rule(f"T-{i}", [{"fact": "line_item", "where": f"amount == {i}"}],
                        report={}) for i in range(520)]
    shared = [DERIVE_X] + [rule(f"T-{i}", [{"fact": "x", "where": f"amount == {i}"}],
                                report={}) for i in range(520)]
    split = write_pack(tmp_path / "split", independent)
    refused = write_pack(tmp_path / "refused", shared)
    result = run_python(f"""
        import sys; sys.path.insert(0, 'tests')
        from conftest import make_case
        from engine import PackError, assess, load_pack
        pack = load_pack({str(split)!r})
        case = make_case(line_items=[{{"id": "a", "category": "personnel", "amount": 7}},
                                     {{"id": "b", "category": "personnel", "amount": 515}}])
        print("rulesets:", len(pack.compiled.shards))
        print("fired:", sorted(f.rule for f in assess(case, pack).findings))
        try:
            load_pack({str(refused)!r})
        except PackError as exc:
            print("refused:", exc)
    """, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "rulesets: 2" in result.stdout
    assert "fired: ['T-515', 'T-7']" in result.stdout
    assert "refused:" in result.stdout and "different values" in result.stdout


def test_too_many_patterns_in_one_rule_are_refused(tmp_pack):
    when = [{"fact": "line_item", "as": f"i{n}"} for n in range(13)]
    with pytest.raises(PackError, match="at most 12"):
        tmp_pack([rule("T-WIDE", when, report={})])


def test_many_rules_sharing_a_condition_are_spread_over_lanes(tmp_pack):
    # durable: error 108 past 256 patterns ending on one identical condition. Past 200, the
    # compiler gives further patterns a test every fact passes, a node of their own
    shared = [DERIVE_X] + [rule(f"T-{i}", [{"fact": "case"},
                                           {"fact": "x", "where": f"amount == {i}"}], report={})
                           for i in range(300)]
    pack = tmp_pack(shared)
    assert len(pack.compiled.shards) == 1
    report = assess(make_case(line_items=[{"id": "a", "category": "personnel", "amount": 3},
                                          {"id": "b", "category": "personnel",
                                           "amount": 299}]), pack)
    assert sorted(f.rule for f in report.findings) == ["T-299", "T-3"]


def test_tests_one_fact_passes_side_by_side_are_split_or_refused(tmp_pack):
    # durable: error 303 while a case runs when one fact passes more than 64 tests at once
    independent = [rule(f"T-{i}", [{"fact": "line_item", "where": f"amount > {i}"}],
                        report={}) for i in range(200)]
    pack = tmp_pack(independent, folder="split")
    assert len(pack.compiled.shards) > 1
    report = assess(make_case(line_items=[{"id": "a", "category": "personnel",
                                           "amount": 150}]), pack)
    assert len(report.findings) == 150
    shared = [DERIVE_X] + [rule(f"T-{i}", [{"fact": "x", "where": f"amount > {i}"}],
                                report={}) for i in range(70)]
    with pytest.raises(PackError, match="side by side.*at most|cannot follow more than 64"):
        tmp_pack(shared, folder="refused")


def test_types_are_checked_because_the_engine_compares_loosely(tmp_pack):
    # The engine treats true == 1 and '3' < 5 as true.
    for where in ("legislative_review == 1", "secret_share_pct < '5'"):
        with pytest.raises(PackError, match="cannot compare"):
            tmp_pack([rule("T-T", [{"fact": "transparency", "where": where}], report={})])


def test_the_same_pack_loads_twice_with_different_parameters(tmp_path):
    # Ruleset names can never be reused in the engine; every compilation gets its own.
    folder = write_pack(tmp_path / "p", [rule("T-P", [
        {"fact": "line_item", "as": "i", "where": "amount > $limit"}], report={})],
        parameters={"limit": param(100)})
    low, high = load_pack(folder), load_pack(folder, params={"limit": "1000"})
    assert len(assess(make_case(), low).findings) == 1
    assert assess(make_case(), high).findings == []
    assert low.compiled.name != high.compiled.name


def test_a_join_on_a_field_the_other_fact_lacks_does_not_abort_the_case(tmp_pack):
    # Containment: the fact a join reads from must have the field. Without it the engine
    # aborts the whole batch with error 311 when one fact lacks the field.
    pack = tmp_pack([rule("T-J", [{"fact": "line_item", "as": "a", "where": "category == 'personnel'"},
                                  {"fact": "line_item", "as": "b",
                                   "where": "amount < a.prior and id != a.id"}],
                          report={"message": "{b.id} under {a.id}'s prior"})])
    without_prior = make_case(line_items=[
        {"id": "people", "category": "personnel", "amount": 500},
        {"id": "exercises", "category": "joint_exercises", "amount": 80, "prior": 100}])
    assert assess(without_prior, pack).findings == []
    assert [f.message for f in assess(make_case(), pack).findings] == [
        "exercises under people's prior"]


def test_each_case_has_a_session_of_its_own_and_order_does_not_matter():
    # Containment: a case runs in a session of its own, deleted when the case is done.
    # Reusing one session with each case's facts retracted walked frames the engine never
    # cleans up (valgrind: reads of freed memory); a fact left behind would have joined the
    # next case's facts.
    from engine.model import Case
    pack = load_pack(params={"cut_pct": 10, **ONE_YEAR})   # its own compiled pack, not the shared one
    cases = [load_case_file(path) for path in sorted((ROOT / "cases").glob("*.yaml"))]
    forward = {c.id: assess(c, pack).to_json() for c in cases}
    [shard] = pack.compiled.shards
    assert shard.session.sid is None
    backward = {c.id: assess(c, pack).to_json() for c in reversed(cases)}
    assert backward == forward
    fresh = load_pack(params={"cut_pct": 10, **ONE_YEAR})
    # the same case alone in a new compiled pack gives the same report as after all the others
    assert all(assess(c, fresh).to_json() == forward[c.id] for c in cases[::5])
    assert isinstance(cases[0], Case)


def test_a_failed_case_gives_up_its_session(monkeypatch):
    import engine.lang.expr
    pack = load_pack(params={"cut_pct": 10, **ONE_YEAR})
    assess(make_case(), pack)
    [shard] = pack.compiled.shards

    def boom(*args, **kwargs):
        raise ValueError("provoked")
    monkeypatch.setattr(engine.lang.expr, "evaluate", boom)
    with pytest.raises(EngineFailure):
        assess(make_case(), pack)
    monkeypatch.undo()
    assert shard.session.sid is None   # deleted, never reused with the failed case's facts
    assert assess(make_case(), pack).findings


def load_case_file(path):
    from engine import load_case
    return load_case(path)


def test_more_kinds_of_fact_than_one_ruleset_holds_are_split(tmp_path):
    # Containment: every condition starts with a test of the fact's kind, so more than 512
    # kinds in one ruleset hang its creation, as distinct values of any field do.
    rules = []
    for g in range(450):
        rules.append(rule(f"K-{g}-D", [{"fact": "line_item", "as": "item",
                                        "where": f"amount > {g}"}],
                          derive={"fact": f"over_{g}", "fields": {"line": "item.id"}}))
        rules.append(rule(f"K-{g}-R", [{"fact": f"over_{g}", "as": "o"}],
                          report={"message": "{o.line}"}))
    folder = write_pack(tmp_path / "p", rules)
    result = run_python(f"""
        import sys; sys.path.insert(0, 'tests')
        from conftest import make_case
        from engine import assess, load_pack
        pack = load_pack({str(folder)!r})
        case = make_case(line_items=[{{"id": "a", "category": "personnel", "amount": 3}}])
        print("rulesets:", len(pack.compiled.shards))
        print("fired:", sorted(f.rule for f in assess(case, pack).findings))
    """, timeout=120)
    assert result.returncode == 0, result.stderr
    # (the thresholds split them further: one fact passes many of them at once)
    assert int(result.stdout.split("rulesets:")[1].split()[0]) >= 2
    assert "fired: ['K-0-R', 'K-1-R', 'K-2-R']" in result.stdout


def test_every_session_is_deleted_and_a_compiled_pack_that_goes_deletes_its_rulesets(
        monkeypatch):
    # Containment: a case's session is deleted when the case is done (its handle and id are
    # never seen again), and the rulesets of a compiled pack go with it: a program that loads
    # many packs (a sweep over parameters) would otherwise keep them forever.
    import gc
    import engine.core.compile as compiled
    native = compiled._native
    created, deleted, released = [], [], []

    class Recording:
        def __getattr__(self, name):
            return getattr(native, name)

        def assert_facts(self, handle, text):
            created.append((handle, json.loads(text)[0]["sid"]))
            return native.assert_facts(handle, text)

        def delete_state(self, handle, sid):
            deleted.append((handle, sid))
            return native.delete_state(handle, sid)

        def delete_ruleset(self, handle):
            released.append(handle)
            return native.delete_ruleset(handle)
    monkeypatch.setattr(compiled, "_native", Recording())
    pack = load_pack(params={"cut_pct": 10, **ONE_YEAR})
    for _ in range(3):
        assess(make_case(), pack)
    [shard] = pack.compiled.shards
    handle = shard.handle
    sessions = list(dict.fromkeys(created))
    assert len(sessions) == 3 and sessions == deleted
    del pack, shard
    gc.collect()
    assert handle in released    # (other tests' packs may go in the same collection)
