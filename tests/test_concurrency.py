"""Many different cases assessed at once, from threads sharing one compiled pack and from
worker processes (forked, and spawned fresh), give exactly the reports each case gets alone,
and nothing of one case reaches another's report."""
from __future__ import annotations

import importlib.util
import multiprocessing
import random
import re
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest

from engine import assess, load_pack
from engine.model import Case

from conftest import ROOT

N_CASES = 200
SEED = 20270
# every id a case carries starts with its own tag, so any id of another case in a report is
# found by one pattern, with no risk of one id being a prefix of another's
TAG = re.compile(r"k(\d{3})x-")


def _bench():
    spec = importlib.util.spec_from_file_location("diplo_bench", ROOT / "bench" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tagged(data: dict, index: int) -> dict:
    tag = f"k{index:03d}x-"
    for item in data["line_items"]:
        item["id"] = tag + item["id"]
    for commitment in data.get("commitments", []):
        commitment["id"] = tag + commitment["id"]
    data["id"] = tag + data["id"]
    return data


@pytest.fixture(scope="module")
def pack():
    return load_pack()


@pytest.fixture(scope="module")
def case_dicts(pack):
    bench = _bench()
    rng = random.Random(SEED)
    categories, groups = list(pack.categories), pack.groups
    return [_tagged(bench.generate_case(rng, i, categories, groups), i) for i in range(N_CASES)]


@pytest.fixture(scope="module")
def alone(pack, case_dicts):
    # explain=True so that derived facts, where a leak between sessions would show first,
    # are compared too
    return [assess(Case.model_validate(d), pack, explain=True).to_json() for d in case_dicts]


def _foreign_tags(index: int, text: str) -> set[int]:
    return {int(found) for found in TAG.findall(text)} - {index}


def test_the_generated_cases_are_varied_and_self_contained(case_dicts, alone):
    # guards the tests below against passing vacuously on cases that find nothing
    assert len({d["id"] for d in case_dicts}) == N_CASES
    assert sum('"kind": "risk"' in text for text in alone) > N_CASES // 2
    assert sum('"commitment_at_risk' in text for text in alone) > 10
    for i, text in enumerate(alone):
        assert f"k{i:03d}x-" in text
        assert not _foreign_tags(i, text)


def test_threads_sharing_one_pack_give_the_reports_of_cases_assessed_alone(pack, case_dicts,
                                                                            alone):
    cases = [Case.model_validate(d) for d in case_dicts]
    # each thread gets cases in a different order from its neighbours, so different cases
    # are in flight together than in a plain sequential pass
    order = list(range(N_CASES))
    random.Random(SEED).shuffle(order)
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = dict(zip(order, pool.map(
            lambda i: assess(cases[i], pack, explain=True).to_json(), order)))
    for i in range(N_CASES):
        assert not _foreign_tags(i, together[i]), f"case {i} mentions another case's ids"
        assert together[i] == alone[i], f"case {i} differs from its report alone"


_WORKER_PACK = None


def _assess_in_worker(data: dict) -> str:
    """Runs in a pool worker: the pack is loaded once per worker process, then reused."""
    global _WORKER_PACK
    if _WORKER_PACK is None:
        _WORKER_PACK = load_pack()
    return assess(Case.model_validate(data), _WORKER_PACK, explain=True).to_json()


@pytest.mark.parametrize("start_method", [None, "spawn"], ids=["default", "spawn"])
def test_worker_processes_give_the_reports_of_cases_assessed_alone(case_dicts, alone,
                                                                   start_method):
    context = multiprocessing.get_context(start_method)
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        together = list(pool.map(_assess_in_worker, case_dicts, chunksize=10))
    for i in range(N_CASES):
        assert not _foreign_tags(i, together[i]), f"case {i} mentions another case's ids"
        assert together[i] == alone[i], f"case {i} differs from its report alone"
