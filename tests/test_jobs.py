"""How many processes a batch uses: `--jobs 0` is one per CPU this process may run on, a batch
never starts more processes than it has files, and a batch too short to pay for a worker's
start stays in one process. The speed itself is measured by bench/jobs.py, never here."""
from __future__ import annotations

import os

import pytest

from engine import api
from engine.api import assess_files, available_cpus, processes_for
from engine.errors import UsageError

from conftest import ROOT, run_cli

CASES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "cases").glob("*.yaml"))


def test_jobs_zero_is_the_cpus_this_process_may_use(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert available_cpus() == 1
    assert processes_for(0, 100) == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 5}, raising=False)
    assert processes_for(0, 100) == 4


def test_without_an_affinity_the_machines_count(monkeypatch):
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert available_cpus() == 6
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert available_cpus() == 1


def test_never_more_processes_than_files(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert processes_for(8, 3) == 3
    assert processes_for(0, 5) == 5
    assert processes_for(2, 1) == 1
    assert processes_for(1, 1000) == 1
    assert processes_for(3, 0) == 1
    with pytest.raises(UsageError, match="jobs must be 0"):
        processes_for(-1, 10)


def test_a_short_batch_stays_in_one_process(monkeypatch, in_repo):
    def refuse(*args, **kwargs):
        raise AssertionError("workers started for a batch shorter than their start")
    monkeypatch.setattr(api, "_assess_in_workers", refuse)
    monkeypatch.setattr(api, "WORKER_START_SECONDS", 3600.0)
    one = [r.to_json() for r in assess_files(CASES, jobs=1)]
    done: list[int] = []
    assert [r.to_json() for r in assess_files(CASES, jobs=4, progress=done.append)] == one
    assert done == list(range(1, len(CASES) + 1))


def test_a_long_batch_starts_workers_for_what_follows_the_first_files(monkeypatch, in_repo):
    # a worker "starting" in no time on an idle machine: every batch longer than the probe
    # uses workers
    monkeypatch.setattr(api, "WORKER_START_SECONDS", 0.0)
    monkeypatch.setattr(api, "idle_cpus", lambda: 8)
    given: list[tuple[int, int]] = []
    real = api._assess_in_workers

    def spy(paths, pack, jobs, options, progress):
        given.append((len(paths), jobs))
        return real(paths, pack, jobs, options, progress)
    monkeypatch.setattr(api, "_assess_in_workers", spy)
    one = [r.to_json() for r in assess_files(CASES, jobs=1)]
    done: list[int] = []
    assert [r.to_json() for r in assess_files(CASES, jobs=2, progress=done.append)] == one
    assert given == [(len(CASES) - api.PROBE_FILES, 2)]
    assert sorted(done) == done and done[-1] == len(CASES)


def test_jobs_zero_starts_no_workers_on_a_busy_machine(monkeypatch, in_repo):
    def refuse(*args, **kwargs):
        raise AssertionError("workers started with no idle CPU to run them")
    monkeypatch.setattr(api, "_assess_in_workers", refuse)
    monkeypatch.setattr(api, "WORKER_START_SECONDS", 0.0)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (2.5, 2.0, 2.0))
    assert api.idle_cpus() == 0
    assert len(assess_files(CASES, jobs=0)) == len(CASES)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.2, 0.2, 0.2))
    assert api.idle_cpus() == 1    # this process keeps one busy


def test_the_command_line_passes_jobs_zero_to_the_library(monkeypatch, in_repo):
    seen = []
    monkeypatch.setattr(api, "processes_for",
                        lambda jobs, files: seen.append((jobs, files)) or 1)
    result = run_cli("assess", *CASES[:3], "--jobs", "0", "--exit-zero")
    assert result.exit_code == 0, result.stderr
    assert seen == [(0, 3)]
