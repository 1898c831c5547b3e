"""`diplo assess --executor ADDRESS` and `diplo sweep --executor ADDRESS`: a batch or a sweep on
the workers of a real Dask distributed cluster, started here on the loopback interface, gives
the output it gives in one process; the packs reach the workers as their files' bytes, never as
a path, and a sweep's case as data."""
from __future__ import annotations

import shutil

import pytest

distributed = pytest.importorskip(
    "distributed", reason="Dask distributed is not installed: pip install \"diplo[distributed]\"")

from engine import cluster as on_cluster  # noqa: E402
from engine import load_case, load_pack  # noqa: E402
from engine.api import assess_files, sweep  # noqa: E402
from engine.cluster import pack_content  # noqa: E402

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
    shipped = pack_content(pack)
    assert shipped["named"] == ["my-pack"]
    assert all(not name.startswith("/") and ".." not in name for name in shipped["files"])
    assert str(tmp_path) not in repr({k: v for k, v in shipped.items() if k != "files"})
    here = [r.to_json() for r in assess_files(CASES, pack)]
    there = [r.to_json() for r in assess_files(CASES, pack,
                                               executor=cluster.scheduler_address)]
    assert there == here
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
        loaded = client.run(lambda: [str(p.packs[0].root) for p, _ in
                                     __import__("engine.cluster").cluster._worker_packs.values()])
    roots = [root for found in loaded.values() for root in found]
    assert roots and all(str(folder) not in root and "diplo-packs-" in root for root in roots)


def test_a_worker_of_another_version_refuses_the_batch(cluster, in_repo):
    # as a worker with another diplo installed would see what this one sends
    pack = load_pack()
    shipped = dict(pack_content(pack), diplo="0.0.1", digest="another version")
    with pytest.raises(on_cluster.UsageError, match="runs diplo .*, this is diplo 0.0.1"):
        on_cluster.worker_pack(shipped)


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


# --- sweeps and ranges ---------------------------------------------------------------------------

ALLY = "cases/ally-trims-exercises.yaml"
SWEEPS = [
    # switches found in several rounds, invalid steps, downwards, a pack parameter
    (ALLY, "--vary", "line_items.multinational-exercises.amount", "--from", "-20", "--to",
     "150", "--steps", "5"),
    (ALLY, "--vary", "transparency.secret_share_pct", "--from", "12", "--to", "0", "--steps",
     "6", "--param", "deep_cut_pct=60"),
    ("cases/control-steady.yaml", "--vary", "inflation_pct", "--from", "25", "--to", "-2",
     "--steps", "9"),
]


@pytest.mark.parametrize("args", SWEEPS)
def test_a_sweep_on_the_cluster_is_the_sweep_in_one_process(cluster, in_repo, args):
    for form in ("json", "table"):
        here = _outcome(run_cli("sweep", *args, "--format", form))
        there = _outcome(run_cli("sweep", *args, "--format", form, "--executor",
                                 cluster.scheduler_address))
        assert here[0] == 0
        assert "Switches (by bisection" in here[1] or '"exact": true' in here[1]
        assert there == here


def test_a_sweep_with_parameters_sends_the_packs_it_sweeps_with(cluster, in_repo, monkeypatch):
    pack = load_pack()
    case = load_case(ALLY, pack)
    path = "line_items.multinational-exercises.amount"
    here = sweep(case, pack, path, 80, 160, 8, {"deep_cut_pct": 10})
    assert here.to_json() != sweep(case, pack, path, 80, 160, 8).to_json()
    # every point is assessed on the workers: this process could not assess one
    from engine.analysis import sweep as module

    def not_here(*args):
        raise AssertionError("a point of the sweep was assessed in this process")
    monkeypatch.setattr(module, "points_of", not_here)
    there = sweep(case, pack, path, 80, 160, 8, {"deep_cut_pct": 10},
                  executor=cluster.scheduler_address)
    assert there.to_json() == here.to_json()


def test_a_worker_of_another_version_refuses_a_sweep_and_a_batch(cluster, in_repo):
    shipped = dict(pack_content(load_pack()), diplo="0.0.1", digest="another version")
    case = {"data": {}, "source": ALLY}
    from engine.api import _assess_remote
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
        for task, args in ((on_cluster._sweep_points, (case, "inflation_pct", [1.0])),
                           (_assess_remote, ([(ALLY, b"id: x\n")], {}))):
            future = client.submit(task, shipped, *args, pure=False)
            with pytest.raises(on_cluster.UsageError, match="this is diplo 0.0.1"):
                future.result()


def _closed_port() -> str:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize("command", [("sweep", ALLY, "--vary", "inflation_pct", "--from", "0",
                                      "--to", "5"), ("assess", ALLY)])
def test_an_unreachable_scheduler_is_one_line_and_exit_2(monkeypatch, in_repo, command):
    monkeypatch.setattr(on_cluster, "CONNECT_TIMEOUT", "1s")   # nothing listens: no need to wait
    address = _closed_port()
    result = run_cli(*command, "--executor", address)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith(f"diplo: error: --executor: cannot reach the Dask "
                                    f"scheduler at {address}: ")
    assert result.stderr.count("\n") == 1


def test_a_bad_sweep_says_so_before_reaching_for_the_cluster(in_repo):
    result = run_cli("sweep", ALLY, "--vary", "line_items.multinational-exercises.amout",
                     "--from", "0", "--to", "1", "--executor", _closed_port())
    assert (result.exit_code, result.stdout) == (2, "")
    assert "did you mean 'amount'" in result.stderr and "Dask" not in result.stderr


def test_ranges_are_analysed_on_the_workers(cluster, in_repo, monkeypatch):
    # range analysis is part of assessing a case: a batch of cases with ranges runs it where
    # the cases are assessed, and this process could not have run it
    batch = ["cases/calibration/japan-fy2024-gcap-phasing.yaml",
             "cases/calibration/pakistan-2023-24-inflation.yaml", CASES[0]]
    here = [r.to_json() for r in assess_files(batch, load_pack())]
    from engine.analysis import robustness

    def not_here(*args, **kwargs):
        raise AssertionError("range analysis ran in this process")
    monkeypatch.setattr(robustness, "robustness", not_here)
    there = [r.to_json() for r in assess_files(batch, load_pack(),
                                               executor=cluster.scheduler_address)]
    assert there == here
    assert '"robustness": {' in here[0] and '"switches": [\n' in here[0]
