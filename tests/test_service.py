"""`diplo serve`, a real server on the loopback interface (tests/serve_helpers.py): the same
bytes as the command line for every format and under concurrent requests, errors as problem
details with the command line's messages, limits (body, time, queue), the bearer token, CORS,
the access log, the OpenAPI description against real answers, and a graceful shutdown."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from serve_helpers import HOW_TO, ROOT, Server

httpx = pytest.importorskip("httpx", reason=HOW_TO)
pytest.importorskip("starlette", reason=HOW_TO)
pytest.importorskip("uvicorn", reason=HOW_TO)

from engine.cli import main  # noqa: E402

CASE = "cases/ally-trims-exercises.yaml"
CASES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "cases").glob("*.yaml"))
BAD = ROOT / "tests" / "bad_inputs" / "cases"


def cache_dir(factory) -> Path:
    return factory.getbasetemp() / "diplo-serve-cache"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # a queue long enough for 32 clients at once (the default, 4 per worker, refuses some)
    with Server("--workers", "2", "--queue", "64", cache_dir=cache_dir(tmp_path_factory),
                log_file=tmp_path_factory.mktemp("log") / "serve.log") as running:
        yield running


def cli(*args: str, cwd: Path = ROOT) -> tuple[int, str, str]:
    import os
    here = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    finally:
        os.chdir(here)
    return result.exit_code, result.stdout, result.stderr


def post(server, path: str, body: bytes | None = None, **kwargs) -> httpx.Response:
    return httpx.post(server.url + path, content=body, timeout=120, **kwargs)


def case_bytes(path: str = CASE) -> bytes:
    return (ROOT / path).read_bytes()


# --- the same answers as the command line -------------------------------------------------------

@pytest.mark.parametrize("name", ["json", "table", "markdown", "sarif", "junit", "github",
                                  "jsonl", "html"])
def test_every_format_gives_the_command_lines_bytes(server, name):
    answer = post(server, "/v1/assess", case_bytes(),
                  params={"format": name, "source": CASE})
    status, out, _ = cli("assess", CASE, "--format", name, "--exit-zero")
    assert (answer.status_code, status) == (200, 0)
    assert answer.text == out
    assert answer.headers["Diplo-Verdict"] == "fail" and answer.headers["Diplo-Gate"] == "fail"


def test_the_format_by_accept_and_the_options_of_assess(server):
    answer = post(server, "/v1/assess", case_bytes(), params={"source": CASE, "explain": "true",
                                                              "near_miss": "1"},
                  headers={"Accept": "text/markdown;q=0.5, application/sarif+json"})
    assert answer.headers["content-type"] == "application/sarif+json"
    answer = post(server, "/v1/assess", case_bytes(),
                  params={"source": CASE, "explain": "true", "near_miss": "true",
                          "fail_on": "critical"})
    _, out, _ = cli("assess", CASE, "--format", "json", "--explain", "--near-miss",
                    "--exit-zero")
    assert answer.text == out and "near_misses" in answer.json()
    assert answer.headers["Diplo-Gate"] == "fail"
    balanced = post(server, "/v1/assess", case_bytes("cases/balanced-partner.yaml"),
                    params={"fail_on": "critical"})
    assert balanced.headers["Diplo-Gate"] == "pass" and balanced.json()["verdict"] == "pass"
    assert balanced.json()["case"]["source"] == "<request>"


def test_a_json_body_is_read_as_json(server):
    data = json.loads(cli("assess", CASE, "--format", "json", "--exit-zero")[1])
    # a case in JSON, converted from the YAML case: the same findings
    from engine.inputs.source import read_document
    case = read_document(ROOT / CASE).data
    answer = post(server, "/v1/assess", json.dumps(case).encode(),
                  headers={"Content-Type": "application/json"}, params={"source": CASE})
    assert answer.json()["findings"] == data["findings"]
    broken = post(server, "/v1/assess", b'{"id": 1,', headers={"Content-Type":
                                                             "application/json"})
    assert broken.status_code == 422
    assert broken.json()["detail"] == ("<request>:1:10: invalid JSON: Expecting property name "
                                       "enclosed in double quotes")


def test_many_requests_at_once_give_each_case_its_own_report(server):
    from engine import assess, load_case, load_pack
    pack = load_pack()
    expected = {path: assess(load_case(path, pack), pack).to_json() for path in
                [str(ROOT / c) for c in CASES]}
    jobs = [path for path in expected for _ in range(3)]

    def one(path: str) -> tuple[str, str, int]:
        answer = post(server, "/v1/assess", Path(path).read_bytes(), params={"source": path})
        return path, answer.text, answer.status_code

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(one, jobs))
    assert len(results) == 3 * len(CASES) > 40
    for path, text, status in results:
        assert status == 200
        assert text == expected[path], path


def test_explain_whatif_compare_sweep_are_the_commands(server):
    finding = json.loads(cli("assess", CASE, "--format", "json", "--exit-zero")[1])[
        "findings"][1]["id"]
    pairs = [
        ("/v1/explain", {"format": "json", "finding": finding, "remedies": "true"},
         ["explain", CASE, finding, "--remedies", "--format", "json"]),
        ("/v1/explain", {"rule": "DD-COM-010", "format": "table"},
         ["explain", CASE, "--rule", "DD-COM-010"]),
        ("/v1/whatif", {"set": "line_items.multinational-exercises.amount=150",
                        "format": "markdown"},
         ["whatif", CASE, "--set", "line_items.multinational-exercises.amount=150",
          "--format", "markdown", "--exit-zero"]),
        ("/v1/sweep", {"vary": "line_items.multinational-exercises.amount", "from": "90",
                       "to": "150", "steps": "4"},
         ["sweep", CASE, "--vary", "line_items.multinational-exercises.amount", "--from",
          "90", "--to", "150", "--steps", "4", "--format", "json"]),
    ]
    for path, params, args in pairs:
        answer = post(server, path, case_bytes(), params={**params, "source": CASE})
        status, out, err = cli(*args)
        assert (answer.status_code, status, err) == (200, 0, ""), (path, answer.text)
        assert answer.text == out, path
    with open(ROOT / "cases/balanced-partner.yaml", "rb") as base, \
            open(ROOT / CASE, "rb") as proposal:
        answer = httpx.post(server.url + "/v1/compare", params={"format": "table"}, timeout=60,
                            files={"base": ("cases/balanced-partner.yaml", base),
                                   "proposal": (CASE, proposal)})
    _, out, _ = cli("compare", "cases/balanced-partner.yaml", CASE, "--exit-zero")
    assert answer.status_code == 200 and answer.text == out
    assert answer.headers["Diplo-Gate"] == "fail"


def test_packs_and_rules_are_those_loaded(server):
    packs = httpx.get(server.url + "/v1/packs").json()
    assert [p["name"] for p in packs] == ["defense-diplomacy"]
    for path, args in (("/v1/rules", ["rules", "list", "--format", "json"]),
                       ("/v1/rules?format=markdown", ["rules", "list", "--format", "markdown"]),
                       ("/v1/rules/DD-COM-014", ["rules", "show", "DD-COM-014", "--format",
                                                 "json"])):
        answer = httpx.get(server.url + path)
        assert (answer.status_code, answer.text) == (200, cli(*args)[1]), path
    missing = httpx.get(server.url + "/v1/rules/DD-COM-01")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no rule 'DD-COM-01' is loaded; did you mean 'DD-COM-021'?"


def test_a_spreadsheet_with_its_mapping(server, tmp_path):
    pytest.importorskip("openpyxl", reason='pip install "diplo[spreadsheets]"')
    from test_spreadsheets import MAPPING, make_workbook
    make_workbook(tmp_path / "budget.xlsx")
    (tmp_path / "map.yaml").write_text(MAPPING)
    status, out, err = cli("assess", "budget.xlsx", "--map", "map.yaml", "--format", "json",
                           "--exit-zero", cwd=tmp_path)
    assert status == 0, err
    answer = httpx.post(server.url + "/v1/assess", timeout=60, files={
        "case": ("budget.xlsx", (tmp_path / "budget.xlsx").read_bytes(),
                 "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        "mapping": ("map.yaml", MAPPING.encode())})
    assert answer.status_code == 200, answer.text
    assert answer.text == out
    broken = httpx.post(server.url + "/v1/assess", timeout=60, files={
        "case": ("budget.xlsx", (tmp_path / "budget.xlsx").read_bytes()),
        "mapping": ("map.yaml", MAPPING.replace("sheets:", "sheet:").encode())})
    assert broken.status_code == 422
    assert broken.json()["detail"].startswith("map.yaml:9:1: sheet: unknown key 'sheet'; did "
                                                "you mean 'sheets'?")


# --- errors: the command line's messages, as problem details ------------------------------------

@pytest.mark.parametrize("name", ["invalid-yaml-syntax.yaml", "bad-indentation.yaml",
                                  "duplicate-yaml-key.yaml", "not-utf8.yaml", "binary-nul.yaml",
                                  "top-level-list.yaml", "invalid-json.json",
                                  "duplicate-item-id.yaml", "bad-currency.yaml"])
def test_an_invalid_case_is_422_with_every_line_the_command_line_prints(server, name):
    path = f"tests/bad_inputs/cases/{name}"
    status, _, err = cli("assess", path)
    assert status == 2
    expected = [line.removeprefix("diplo: error: ") for line in err.splitlines()
                if line.startswith("diplo: error: ")]
    answer = post(server, "/v1/assess", (ROOT / path).read_bytes(), params={"source": path})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    found = answer.json()
    assert found["type"] == "tag:diplo,2026:problem/invalid-case" and found["status"] == 422
    details = [item["detail"] for item in found["errors"]]
    if found["more"]:
        details.append(f"{path}: {found['more']} more problem{'s' * (found['more'] > 1)} not "
                       f"shown (the first {len(found['errors'])} are)")
    assert details == expected
    first = found["errors"][0]
    assert found["detail"].startswith(first["detail"])
    where = f"{first['file']}" + (f":{first['line']}" if first["line"] else "") + \
        (f":{first['column']}" if first.get("column") else "")
    assert first["detail"].startswith(where) and first["message"] in first["detail"]
    assert "Traceback" not in answer.text


@pytest.mark.parametrize("path, params, body, headers, status, words", [
    ("/v1/assess", {"format": "nope"}, None, {}, 400, "format: unknown format 'nope'"),
    ("/v1/assess", {"explain": "maybe"}, None, {}, 400, "explain: expected true or false"),
    ("/v1/assess", {"fail_on": "hgh"}, None, {}, 400, "did you mean 'high'"),
    ("/v1/assess", {"margin": "11"}, None, {}, 400, "margin: expected a number from 0 to 10"),
    ("/v1/assess", {"explian": "1"}, None, {}, 400, "unknown option 'explian'; did you mean "
                                                    "'explain'"),
    ("/v1/assess", {"summary": "true"}, None, {}, 400,
     "summary: format json does not take it; it is for the markdown and table formats"),
    ("/v1/whatif", {}, None, {}, 400, "set: nothing to change"),
    ("/v1/whatif", {"set": "nonsense"}, None, {}, 400, "--set: expected PATH=VALUE"),
    ("/v1/whatif", {"set": "gdp=1", "param": "cut_pct=5"}, None, {}, 400,
     "param: the service changes case fields only"),
    ("/v1/whatif", {"set": "line_items.nope.amount=1"}, None, {}, 400, "no entry 'nope'"),
    ("/v1/sweep", {"vary": "gdp", "from": "1"}, None, {}, 400, "to: required"),
    ("/v1/compare", {}, None, {}, 400, "give the cases as parts base and proposal"),
    ("/v1/explain", {"finding": "nope"}, None, {}, 400, "nope"),
    ("/v1/assess", {}, b"\x89PNG", {"Content-Type": "image/png"}, 415,
     "a case cannot be read from image/png content"),
    ("/v1/assess", {}, None, {"Accept": "image/png"}, 406, "this endpoint answers in"),
])
def test_bad_requests_are_problems_naming_the_option(server, path, params, body, headers,
                                                    status, words):
    answer = post(server, path, body if body is not None else case_bytes(), params=params,
                  headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    found = answer.json()
    assert set(found) >= {"type", "title", "status", "detail"} and found["status"] == status
    assert words in found["detail"]
    assert "Traceback" not in answer.text


def test_unknown_paths_and_methods_are_problems_too(server):
    for method, path, status in (("GET", "/nope", 404), ("GET", "/v1/assess", 405),
                                 ("GET", "/page/secret.txt", 404), ("DELETE", "/v1/rules", 405)):
        answer = httpx.request(method, server.url + path)
        assert answer.status_code == status
        assert answer.json()["status"] == status and "Traceback" not in answer.text


def test_health_and_readiness(server):
    assert httpx.get(server.url + "/healthz").json()["status"] == "ok"
    ready = httpx.get(server.url + "/readyz").json()
    assert ready["status"] == "ready" and ready["workers"] == 2


def test_no_cors_by_default_and_the_access_log_holds_no_case(server):
    answer = post(server, "/v1/assess", case_bytes(), params={"source": "secret-name.yaml"},
                  headers={"Origin": "https://elsewhere.example"})
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers
    preflight = httpx.options(server.url + "/v1/assess", headers={
        "Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers
    post(server, "/v1/whatif", case_bytes(), params={
        "set": "line_items.multinational-exercises.amount=123.456"})
    time.sleep(0.2)
    log = server.log()
    assert re.search(r'"POST /v1/assess" 200 \d+ [\d.]+ms', log)
    assert '"POST /v1/whatif" 200' in log
    for private in ("secret-name", "123.456", "northern-alliance", "multinational"):
        assert private not in log


def test_the_openapi_description_matches_real_answers(server):
    jsonschema = pytest.importorskip("jsonschema")
    document = httpx.get(server.url + "/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {"/v1/assess", "/v1/explain", "/v1/whatif",
                                      "/v1/compare", "/v1/sweep", "/v1/packs", "/v1/rules",
                                      "/v1/rules/{rule_id}", "/healthz", "/readyz"}

    def check(instance, ref: str) -> None:
        schema = {"$ref": ref, "components": document["components"]}
        jsonschema.validate(instance, schema, cls=jsonschema.Draft202012Validator)

    operations = document["paths"]
    report_ref = operations["/v1/assess"]["post"]["responses"]["200"]["content"][
        "application/json"]["schema"]["$ref"]
    report = post(server, "/v1/assess", case_bytes(), params={"explain": "1",
                                                              "near_miss": "1"}).json()
    check(report, report_ref)
    with pytest.raises(jsonschema.ValidationError):
        check({**report, "verdict": "maybe"}, report_ref)
    # the report's schema is the one `diplo schema report` prints
    from engine.model import Report
    own = Report.model_json_schema(mode="serialization")
    assert document["components"]["schemas"][report_ref.rsplit("/", 1)[1]]["properties"] \
        .keys() == own["properties"].keys()
    comparison = post(server, "/v1/whatif", case_bytes(), params={"set": "gdp=700000"})
    check(comparison.json(), operations["/v1/whatif"]["post"]["responses"]["200"]["content"][
        "application/json"]["schema"]["$ref"])
    problem = post(server, "/v1/assess", b"id: [")
    check(problem.json(), operations["/v1/assess"]["post"]["responses"]["422"]["content"][
        "application/problem+json"]["schema"]["$ref"])
    case_ref = operations["/v1/assess"]["post"]["requestBody"]["content"]["application/json"][
        "schema"]["$ref"]
    from engine.inputs.source import read_document
    check(read_document(ROOT / CASE).data, case_ref)


# --- limits, token, CORS, shutdown: a server of its own -----------------------------------------

@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    folder = tmp_path_factory.mktemp("strict")
    (folder / "token").write_text("s3cret-token-of-this-server\n")
    with Server("--workers", "1", "--queue", "0", "--time-limit", "2", "--max-body", "20000",
                "--token-file", str(folder / "token"), "--cors-origin",
                "https://review.example.org", cache_dir=cache_dir(tmp_path_factory),
                log_file=folder / "serve.log") as running:
        running.headers = {"Authorization": "Bearer s3cret-token-of-this-server"}
        yield running


def test_the_bearer_token(strict):
    assert post(strict, "/v1/assess", case_bytes()).status_code == 401
    wrong = post(strict, "/v1/assess", case_bytes(), headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
    assert wrong.json()["detail"] == "the bearer token is not this server's"
    assert post(strict, "/v1/assess", case_bytes(), headers=strict.headers).status_code == 200
    assert httpx.get(strict.url + "/v1/rules").status_code == 401
    for open_path in ("/healthz", "/readyz", "/", "/openapi.json"):
        assert httpx.get(strict.url + open_path).status_code == 200, open_path


def test_a_body_over_the_limit_is_413(strict):
    big = case_bytes() + b"\n# " + b"x" * 20_000 + b"\n"
    answer = post(strict, "/v1/assess", big, headers=strict.headers)
    assert answer.status_code == 413
    assert answer.json()["detail"] == f"the body is {len(big):,} bytes; the limit is 20,000"

    def chunks():   # no Content-Length: refused as the bytes pass the limit
        for start in range(0, len(big), 4096):
            yield big[start:start + 4096]
    answer = post(strict, "/v1/assess", chunks(), headers=strict.headers)
    assert answer.status_code == 413
    assert answer.json()["detail"] == "the body is larger than the limit of 20,000 bytes"


def _serves_again(strict, deadline: float) -> None:
    """The server answers an assessment again before `deadline` (a worker was replaced)."""
    while time.monotonic() < deadline:
        answer = post(strict, "/v1/assess", case_bytes(), headers=strict.headers)
        if answer.status_code == 200:
            break
        time.sleep(0.2)
    assert answer.status_code == 200


def test_the_time_limit_and_a_full_queue(strict):
    slow = {"vary": "line_items.multinational-exercises.amount", "from": "0", "to": "150",
            "steps": "1000"}
    results = {}

    def long_request():
        results["slow"] = post(strict, "/v1/sweep", case_bytes(), params=slow,
                               headers=strict.headers)
    worker = threading.Thread(target=long_request)
    worker.start()
    deadline = time.monotonic() + 10
    while httpx.get(strict.url + "/readyz").json()["busy"] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    # one worker, no queue: a second request while it works is refused at once
    busy = post(strict, "/v1/assess", case_bytes(), headers=strict.headers)
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"
    assert busy.json()["type"] == "tag:diplo,2026:problem/saturated"
    worker.join()
    slow_answer = results["slow"]
    assert slow_answer.status_code == 504
    assert slow_answer.json()["detail"] == ("the request took longer than the limit of 2 s; "
                                            "its worker was stopped")
    # the worker was replaced: the server serves again
    _serves_again(strict, time.monotonic() + 60)


def test_a_worker_that_dies_is_a_500_without_a_traceback_and_is_replaced(strict):
    import os
    import signal

    def ready() -> dict:
        return httpx.get(strict.url + "/readyz").json()
    deadline = time.monotonic() + 60
    while (ready().get("workers") != 1 or ready().get("busy")) and time.monotonic() < deadline:
        time.sleep(0.1)
    results = {}

    def long_request():
        results["answer"] = post(strict, "/v1/sweep", case_bytes(), headers=strict.headers,
                                 params={"vary": "line_items.multinational-exercises.amount",
                                         "from": "0", "to": "150", "steps": "1000"})
    request = threading.Thread(target=long_request)
    request.start()
    while ready()["busy"] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    [worker] = [pid for pid in strict.workers()
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    os.kill(worker, signal.SIGKILL)   # as a crash of the rule engine would end it
    request.join()
    answer = results["answer"]
    assert answer.status_code == 500
    assert answer.json()["type"] == "tag:diplo,2026:problem/internal-error"
    assert answer.json()["detail"].startswith("an internal error occurred: a bug in diplo")
    assert "Traceback" not in answer.text and "File " not in answer.text
    _serves_again(strict, deadline)


def test_cors_for_the_origin_given_only(strict):
    allowed = httpx.options(strict.url + "/v1/assess", headers={
        "Origin": "https://review.example.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization"})
    assert allowed.headers["access-control-allow-origin"] == "https://review.example.org"
    other = httpx.options(strict.url + "/v1/assess", headers={
        "Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in other.headers


def test_shutdown_finishes_the_requests_in_flight(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shutdown")
    server = Server("--workers", "1", cache_dir=cache_dir(tmp_path_factory),
                    log_file=folder / "serve.log").start()
    try:
        _shutdown_while_busy(server)
    finally:
        server.stop()


def _shutdown_while_busy(server):
    # the worker, and multiprocessing's resource tracker
    workers = server.workers()
    assert len(workers) >= 1 and httpx.get(server.url + "/readyz").json()["workers"] == 1
    results = {}

    def long_request():
        results["answer"] = post(server, "/v1/sweep", case_bytes(), params={
            "vary": "line_items.multinational-exercises.amount", "from": "0", "to": "150",
            "steps": "60", "format": "table"})
    request = threading.Thread(target=long_request)
    request.start()
    deadline = time.monotonic() + 10
    while httpx.get(server.url + "/readyz").json()["busy"] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    server.stop()
    request.join()
    answer = results["answer"]
    assert answer.status_code == 200 and answer.text.startswith("Sweep of line_items")
    assert server.process.returncode in (0, -15)
    assert "Shutting down" in server.log() and "Traceback" not in server.log()
    # the worker and multiprocessing's resource tracker end with the server (the tracker as
    # soon as its pipe closes): none is left behind
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_running(pid) for pid in workers):
        time.sleep(0.1)
    assert [pid for pid in workers if _running(pid)] == []


def _running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "zombie" not in status


# --- start-up ---------------------------------------------------------------------------------

def test_diplo_assess_imports_nothing_of_the_service():
    code = ("import contextlib, io, json, sys\nfrom engine.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n        main(['assess', 'cases/balanced-partner.yaml'], "
            "prog_name='diplo')\n    except SystemExit:\n        pass\n"
            "print(json.dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    assert "engine.cli.serve" in modules   # the command is there, its stack is not
    for name in ("engine.service", "starlette", "uvicorn", "httpx", "multipart"):
        assert not any(m == name or m.startswith(name + ".") for m in modules), name


def test_serve_without_its_extra_says_how_to_install_it(tmp_path):
    (tmp_path / "starlette").mkdir()
    (tmp_path / "starlette" / "__init__.py").write_text("raise ImportError('not installed')\n")
    done = subprocess.run([sys.executable, "-m", "engine", "serve"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "PYTHONPATH": str(tmp_path)})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith('diplo: error: serve: diplo serve needs its extra: pip '
                                  'install "diplo[serve]"')


# --- the load test ------------------------------------------------------------------------------

def test_bench_serve_runs_bounded_and_checks_every_answer(tmp_path):
    """bench/serve.py at a tiny size (figures: docs/service.md); no timing is asserted."""
    out = tmp_path / "serve.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "serve.py"), "--workers", "1",
                           "--clients", "1,4", "--requests", "12", "--seconds", "60",
                           "--json", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**__import__("os").environ,
                                            "PYTHONDONTWRITEBYTECODE": "1"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert [r["clients"] for r in figures["served"]] == [1, 4]
    for level in figures["served"]:
        assert level["requests"] == level["ok"] == 12 and level["errors"] == {}
        assert level["different_from_api"] == 0
        assert level["p50"] <= level["p95"] <= level["p99"]
    assert figures["api"]["requests"] == 12 and figures["api_after"]["requests"] == 12
    assert "p99 ms" in done.stdout and "diplo serve" in done.stdout
