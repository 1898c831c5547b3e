"""`diplo assess --jobs N` leaves no worker behind when it is killed, however it is killed.

A batch runs for real in a subprocess; once its workers are up, the command is sent SIGKILL
(nothing of it can then tell the workers to stop) or SIGTERM, and every process it started
must be gone within a bounded wait. docs/security.md points here.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(),
                                reason="finding a process's children needs Linux's /proc")

WAIT = 15   # seconds for the workers to notice; they end within a fraction of one


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name is in parentheses and may hold spaces: the fields follow it
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"   # a zombie has ended


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_workers_end_when_the_command_is_killed(sig, tmp_path):
    batch = tmp_path / "batch"
    batch.mkdir()
    for i in range(400):
        shutil.copy(ROOT / "cases" / "ally-trims-exercises.yaml", batch / f"case-{i:03d}.yaml")
    command = subprocess.Popen(
        [sys.executable, "-m", "engine", "assess", str(batch), "--jobs", "3", "--exit-zero",
         "--format", "json"], cwd=tmp_path, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 60
        workers: set[int] = set()
        while len(workers) < 2 and time.monotonic() < deadline and command.poll() is None:
            workers = {pid for pid in _children(command.pid)
                       if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()}
            time.sleep(0.05)
        assert command.poll() is None, "the batch ended before its workers were seen"
        assert len(workers) >= 2, "no workers started"
        started = _children(command.pid)     # the workers, and any helper process
        command.send_signal(sig)
        command.wait(timeout=WAIT)
        deadline = time.monotonic() + WAIT
        while any(_alive(pid) for pid in started) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in started if _alive(pid)], "workers outlived the command"
    finally:
        if command.poll() is None:
            command.kill()
            command.wait()
