"""A real `diplo serve` for the service's tests, its documented examples and bench/serve.py:
started in a new process on a free port of the loopback interface, waited for on /readyz, and
stopped at the end (SIGTERM, as a service manager stops it)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOW_TO = 'the service needs its extra and httpx: pip install ".[test]" (or "diplo[serve]" httpx)'


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """`python -m engine serve ARGS` on 127.0.0.1 and a free port; its log (standard error)
    goes to a file, read by `log()`."""

    def __init__(self, *args: str, cwd: Path = ROOT, log_file: Path | None = None,
                 cache_dir: Path | None = None):
        self.args = list(args)
        self.cwd = cwd
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_file = log_file or Path(os.environ.get("TMPDIR", "/tmp")) / \
            f"diplo-serve-{self.port}.log"
        self.env = {**os.environ}
        self.env.pop("DIPLO_CONFIG", None)
        if cache_dir is not None:
            # compiled packs kept between the servers of a test run: each after the first
            # starts in seconds (the tests' own DIPLO_NO_CACHE is for packs they change)
            self.env.pop("DIPLO_NO_CACHE", None)
            self.env["DIPLO_CACHE_DIR"] = str(cache_dir)
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 240.0) -> "Server":
        import httpx
        log = open(self.log_file, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "engine", "serve", "--port", str(self.port), *self.args],
            cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"diplo serve ended with {self.process.returncode}:\n"
                                   + self.log())
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("diplo serve was not ready in time:\n" + self.log())

    def log(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def workers(self) -> list[int]:
        """The process ids of the server's children (its workers, and the resource tracker
        of multiprocessing)."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    status = (entry / "status").read_text()
                except OSError:
                    continue
                for line in status.splitlines():
                    if line.startswith("PPid:") and int(line.split()[1]) == self.process.pid:
                        found.append(int(entry.name))
        return found

    def stop(self, timeout: float = 60.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
