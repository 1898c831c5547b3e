"""`diplo assess --executor ADDRESS`: a batch on the workers of a real Dask distributed cluster,
started here on the loopback interface, gives the output `--jobs 1` gives; the packs reach the
workers as their files' bytes, never as a path."""
from __future__ import annotations

import shutil

import pytest

distributed = pytest.importorskip(
    "distributed", reason="Dask distributed is not installed: pip install \"diplo[distributed]\"")

from engine import load_pack  # noqa: E402
from engine.api import _pack_content, assess_files  # noqa: E402

from conftest import DEFAULT_PACK, ROOT, run_cli  # noqa: E402

CASES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "cases").glob("*.yaml"))
BAD = ["tests/bad_inputs/cases/invalid-yaml-syntax.yaml", "tests/bad_inputs/cases/empty.yaml",
       "no-such-case.yaml"]


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  silence_logs=50) as local:
        yield local


def _outcome(result):
    return result.exit_code, result.stdout, result.stderr


def test_a_batch_on_the_cluster_is_the_batch_in_one_process(cluster, in_repo):
    batch = CASES[:9] + BAD[:2] + CASES[9:] + BAD[2:]
    for form in ("json", "table"):
        here = _outcome(run_cli("assess", *batch, "--format", form, "--jobs", "1"))
        there = _outcome(run_cli("assess", *batch, "--format", form, "--executor",
                                 cluster.scheduler_address))
        assert here[0] == 2 and "no-such-case.yaml" in here[2]
        assert there == here


def test_packs_go_to_the_workers_by_content(cluster, tmp_path, in_repo):
    folder = tmp_path / "my-pack"
    shutil.copytree(DEFAULT_PACK, folder)
    pack = load_pack(folder, params={"cut_pct": 20})
    shipped = _pack_content(pack)
    assert shipped["named"] == ["my-pack"]
    assert all(not name.startswith("/") and ".." not in name for name in shipped["files"])
    assert str(tmp_path) not in repr({k: v for k, v in shipped.items() if k != "files"})
    here = [r.to_json() for r in assess_files(CASES, pack)]
    there = [r.to_json() for r in assess_files(CASES, pack,
                                               executor=cluster.scheduler_address)]
    assert there == here
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
        loaded = client.run(lambda: [str(p.packs[0].root) for p, _ in
                                     __import__("engine.api").api._cluster_packs.values()])
    roots = [root for found in loaded.values() for root in found]
    assert roots and all(str(folder) not in root and "diplo-packs-" in root for root in roots)


def test_a_worker_of_another_version_refuses_the_batch(cluster, in_repo):
    # as a worker with another diplo installed would see what this one sends
    from engine import api
    pack = load_pack()
    shipped = dict(_pack_content(pack), diplo="0.0.1", digest="another version")
    with pytest.raises(api.UsageError, match="runs diplo .*, this is diplo 0.0.1"):
        api._cluster_pack(shipped)


def test_without_dask_the_option_says_what_to_install(monkeypatch, in_repo):
    import builtins
    real = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name == "distributed":
            raise ImportError("no distributed")
        return real(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_dask)
    result = run_cli("assess", CASES[0], "--executor", "tcp://127.0.0.1:8786")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == ("diplo: error: --executor needs Dask distributed: pip install "
                             "\"diplo[distributed]\"\n")
