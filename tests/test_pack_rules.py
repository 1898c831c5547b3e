"""The rule tests of every pack under rules/ (`*.test.yaml` beside the rules), each one a pytest
test of its own: the same tests `diplo test` runs, with the same output on failure.

Each pack is loaded on its own, as `diplo test rules/NAME` loads it (with the packs it
extends). Every rule file has its test file, and every rule a test where it fires and one where
it must not, but for a rule that derives a fact on every case (listed below, and checked to do
so in every test).
"""
from __future__ import annotations

import functools

import pytest

from engine import load_pack

from engine.authoring import packtest
from engine.errors import DiploError

from conftest import ROOT

PACKS = sorted(p for p in (ROOT / "rules").iterdir() if (p / "pack.yaml").is_file())
# one compilation per distinct parameter override, shared by every test of the session
COMPILED = packtest.PackCache()
# rules that derive a fact on every case, so that no test can find them silent
ALWAYS_DERIVED = {
    "DD-TRA-071": "counts the five checks on defence spending, each of which derives a fact, "
                  "failing or holding, on every case",
}


@functools.cache
def pack_of(pack_dir):
    return load_pack(pack_dir)


def _tests() -> list:
    params = []
    for pack_dir in PACKS:
        try:
            tests = packtest.collect(pack_dir)
        except DiploError as exc:
            # an invalid test file fails one test here instead of the whole suite's collection
            params.append(pytest.param(pack_dir, exc, id=f"{pack_dir.name}: invalid test file"))
            continue
        params.extend(pytest.param(pack_dir, test, id=test.id) for test in tests)
    return params


@pytest.mark.parametrize("pack_dir, test", _tests())
def test_rule(pack_dir, test):
    if isinstance(test, DiploError):
        pytest.fail(str(test), pytrace=False)
    try:
        outcome = packtest.run_test(test, pack_of(pack_dir), COMPILED)
    except DiploError as exc:  # a test that is wrong in itself: its one-line error says where
        pytest.fail(str(exc), pytrace=False)
    if not outcome.passed:
        pytest.fail(packtest.format_failure(outcome), pytrace=False)
    loaded = {rule.id for rule in pack_of(pack_dir).rules}
    for rule_id in ALWAYS_DERIVED.keys() & loaded:
        assert any(line.startswith(f"{rule_id} [") for line in outcome.findings), \
            f"{rule_id} is exempt from a test where it must not fire, but did not fire here"


@pytest.mark.parametrize("pack_dir", PACKS, ids=[p.name for p in PACKS])
def test_every_rule_file_has_its_test_file(pack_dir):
    rule_files = {p.name.removesuffix(".yaml") for p in (pack_dir / "rules").glob("*.yaml")
                  if not p.name.endswith(".test.yaml")}
    test_files = {p.name.removesuffix(".test.yaml")
                  for p in (pack_dir / "rules").glob("*.test.yaml")}
    assert rule_files and rule_files == test_files


@pytest.mark.parametrize("pack_dir", PACKS, ids=[p.name for p in PACKS])
def test_every_rule_has_a_test_where_it_fires_and_one_where_it_must_not(pack_dir):
    pack = pack_of(pack_dir)
    # a pack that extends another brings the base's rules along; those are the base's to test
    own = [p.name for p in pack.packs if p.root.resolve() == pack_dir.resolve()]
    missing = packtest.untested_rules(pack, packtest.collect(pack_dir), own)
    rules = {rule.id: rule for rule in pack.rules}
    for rule_id in ALWAYS_DERIVED.keys() & rules.keys():
        assert rules[rule_id].report is None, rule_id
        missing = [m for m in missing if not (
            m.startswith(f"{rule_id} (") and m.endswith("no test where it must not fire (absent)")
            and "where it fires" not in m)]
    assert not missing, (f"{len(missing)} rule(s) of {pack_dir.name} lack tests:\n"
                         + "\n".join(missing))
