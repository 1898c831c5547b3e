"""The rule engine knows a fact in a session by a 32-bit FNV-1 hash of its id alone, and drops
a second fact whose id hashes alike (its assert returns code 2). These tests use real
colliding pairs of ids, found by a birthday search, and check that no fact is lost."""
from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest

from engine import Case, assess, load_pack
from engine.core import compile as compiled
from engine.core.compile import engine_hash
from engine.core.facts import case_facts

SELECTION_PACK = Path(__file__).parent / "selection_pack"
_PRIME, _MASK = 16777619, 0xFFFFFFFF


def _fnv1(data: bytes, h: int = 0x811C9DC5) -> int:
    # written apart from engine_hash, so that the search also checks the engine's model
    for byte in data:
        h = ((h ^ (byte if byte < 0x80 else byte | 0xFFFFFF00)) * _PRIME) & _MASK
    return h


def colliding_ids(prefix: str, alphabet: str = "abcd", length: int = 12) -> tuple[str, str]:
    """Two ids whose facts' ids (`prefix` + id) hash alike: a birthday search over the ids of
    `length` letters of `alphabet`, in a fixed order (so always the same pair)."""
    base = _fnv1(prefix.encode())
    letters = alphabet.encode()
    seen: dict[int, bytes] = {}
    for head in itertools.product(letters, repeat=length - 2):
        h0 = _fnv1(bytes(head), base)
        for c in letters:
            hc = ((h0 ^ c) * _PRIME) & _MASK
            for d in letters:
                h = ((hc ^ d) * _PRIME) & _MASK
                found = seen.get(h)
                text = bytes(head) + bytes((c, d))
                if found is not None:
                    return found.decode(), text.decode()
                seen[h] = text
    raise AssertionError("no colliding pair in the search space")


def _case(first: str, second: str, category: str = "exercises") -> Case:
    return Case.model_validate({
        "id": "collision", "title": "Two lines cut deeply", "country": "Country X",
        "fiscal_year": 2027, "currency": "EUR", "unit": "million", "inflation_pct": 0,
        "line_items": [
            {"id": first, "category": category, "amount": 70, "prior": 100},
            {"id": second, "category": category, "amount": 60, "prior": 100}]})


@pytest.fixture
def codes(monkeypatch):
    """The result code of every batch the engine is given."""
    seen: list[int] = []
    native = compiled._native.assert_facts

    def spy(handle, batch):
        result = native(handle, batch)
        seen.append(result[0])
        return result
    monkeypatch.setattr(compiled._native, "assert_facts", spy)
    return seen


def test_the_hash_is_the_engines():
    a, b = colliding_ids("line_item:")
    assert a != b
    assert engine_hash(f"line_item:{a}") == engine_hash(f"line_item:{b}")
    assert engine_hash("a") == 0xE40C292C   # FNV-1 32 of "a", the published test vector


def test_colliding_case_facts_are_both_assessed(codes):
    a, b = colliding_ids("line_item:")
    pack = load_pack(SELECTION_PACK)
    report = assess(_case(a, b), pack, explain=True)
    # the engine really took the two for one: the first batch of the case came back with 2
    assert 2 in codes
    assert sorted(f.id for f in report.findings) == sorted([f"S-ENG-003:{a}", f"S-ENG-003:{b}"])
    assert sorted(f.id for f in report.facts) == sorted([f"exercise_cut:{a}",
                                                         f"exercise_cut:{b}"])
    # the report is the one of two ids that do not collide, but for the names
    plain = assess(_case("first", "second"), pack, explain=True).to_json()
    assert report.to_json().replace(a, "first").replace(b, "second") == plain


def test_colliding_derived_facts_are_both_kept(codes):
    a, b = colliding_ids("exercise_cut:")
    assert engine_hash(f"line_item:{a}") != engine_hash(f"line_item:{b}")
    report = assess(_case(a, b), load_pack(SELECTION_PACK), explain=True)
    assert 2 in codes
    assert sorted(f.id for f in report.facts) == sorted([f"exercise_cut:{a}",
                                                         f"exercise_cut:{b}"])
    assert len(report.findings) == 2


def test_non_ascii_ids_hash_as_the_engine_reads_them(codes):
    # bytes above 127 are signed chars in the engine's hash: a pair found with that model
    # must collide in the engine too. Case files allow only ASCII ids, so the facts are
    # given to the compiled pack directly
    a, b = colliding_ids("line_item:é-")
    pack = load_pack(SELECTION_PACK)
    facts = case_facts(_case("first", "second"), pack.groups, pack.compiled.kinds)
    keys = iter((f"é-{a}", f"é-{b}"))
    facts = [dataclasses.replace(f, key=(key := next(keys)), fields={**f.fields, "id": key})
             if f.kind == "line_item" else f for f in facts]
    outcome = pack.compiled.run(facts, {"unit": "million", "currency": "EUR"})
    assert 2 in codes
    assert sorted(r.id for r in outcome.derived) == sorted([f"exercise_cut:é-{a}",
                                                            f"exercise_cut:é-{b}"])


def test_the_session_serves_the_next_case_after_a_collision(codes):
    a, b = colliding_ids("line_item:")
    pack = load_pack(SELECTION_PACK)
    first = assess(_case("first", "second"), pack).to_json()
    assess(_case(a, b), pack)
    assert assess(_case("first", "second"), pack).to_json() == first


def test_a_drop_that_renaming_cannot_explain_fails_loudly(monkeypatch):
    # an engine that reports a dropped fact on every batch: the case fails with a message
    # that says so, never a report that silently lacks a fact
    native = compiled._native.assert_facts
    monkeypatch.setattr(compiled._native, "assert_facts",
                        lambda handle, batch: (2, native(handle, batch)[1]))
    with pytest.raises(compiled.EngineFailure, match="dropped a fact of this case"):
        assess(_case("first", "second"), load_pack(SELECTION_PACK))
