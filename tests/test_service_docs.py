"""docs/service.md is run as written against a real `diplo serve` on the loopback interface:
each ```console command (curl) must print what the page shows under it, and each ```python
block (httpx) what the ```text block after it shows (`...` as in tests/test_tutorial.py: any
lines, or any text within a line). The page's address, http://127.0.0.1:8000, is the test
server's."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from serve_helpers import HOW_TO, ROOT, Server
from test_tutorial import matches

pytest.importorskip("httpx", reason=HOW_TO)
pytest.importorskip("starlette", reason=HOW_TO)

DOC = ROOT / "docs" / "service.md"
SHOWN = "http://127.0.0.1:8000"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with Server("--workers", "2", cache_dir=tmp_path_factory.getbasetemp() / "diplo-serve-cache",
                log_file=tmp_path_factory.mktemp("log") / "serve.log") as running:
        yield running


def blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(DOC.read_text(encoding="utf-8"))]


def commands() -> list[tuple[str, list[str]]]:
    found = []
    for language, body in blocks():
        if language != "console":
            continue
        for line in body.splitlines():
            if line.startswith("$ "):
                found.append((line[2:], []))
            else:
                found[-1][1].append(line)
    return found


def programs() -> list[tuple[str, list[str]]]:
    found = blocks()
    return [(body, found[i + 1][1].splitlines()) for i, (language, body) in enumerate(found)
            if language == "python"]


def test_the_page_shows_curl_and_httpx():
    assert len(commands()) >= 6 and all(c.startswith(("curl ", "printf ")) for c, _ in
                                        commands())
    assert len(programs()) >= 3


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("index", range(len(commands())))
def test_each_curl_command_prints_what_the_page_shows(server, index):
    command, expected = commands()[index]
    done = subprocess.run(["bash", "-c", "set -o pipefail; " + command.replace(SHOWN, server.url)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    actual = [line.rstrip() for line in (done.stdout + done.stderr).splitlines()]
    assert done.returncode == 0 or "| head" in command, done.stderr
    assert matches(expected, actual), "\n".join(actual)


@pytest.mark.parametrize("index", range(len(programs())))
def test_each_httpx_example_prints_what_the_page_shows(server, index):
    code, expected = programs()[index]
    done = subprocess.run([sys.executable, "-c", code.replace(SHOWN, server.url)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    actual = [line.rstrip() for line in done.stdout.splitlines()]
    assert matches(expected, actual), "\n".join(actual)
