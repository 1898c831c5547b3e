"""Files and text that someone else controls: links beside the cases, links in reviewed folders,
output files that are not plain files, and case or waiver text that tries to change what an
output says. Each test makes the real thing (symbolic links, a named pipe, a read-only file,
standard output by name) in a temporary folder. docs/security.md points here.
"""
from __future__ import annotations

import datetime
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import engine.review.waivers
from engine.cli import main
from engine.config import find_config
from engine.errors import ConfigError, WaiverError
from engine.formats.escape import md_code, md_text, one_line, workflow_data, workflow_property
from engine.inputs.expand import expand_cases
from engine.review.waivers import conventional_file

ROOT = Path(__file__).resolve().parent.parent
ALLY = ROOT / "cases" / "ally-trims-exercises.yaml"        # critical and high risks
BALANCED = ROOT / "cases" / "balanced-partner.yaml"        # no risk at or above high
SECRET = "TOKEN-c4e1a7b05f"
# what a terminal or a viewer acts on rather than shows; no output may carry one
CONTROLS = [chr(c) for c in (*range(0x00, 0x09), 0x0b, 0x0c, *range(0x0e, 0x20), 0x7f,
                             *range(0x80, 0xa0))] + ["\u2028", "\u2029", "\u202e", "\u2066"]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(engine.review.waivers, "today", lambda: datetime.date(2027, 3, 15))
    for name in ("GITHUB_STEP_SUMMARY", "GITHUB_WORKSPACE", "DIPLO_CONFIG"):
        monkeypatch.delenv(name, raising=False)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_error_line(result, *words):
    assert result.exit_code == 2, (result.exit_code, result.stderr, result.exception)
    assert result.stdout == ""
    assert result.stderr.startswith("diplo: error: ") and result.stderr.count("\n") == 1, \
        result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
    assert SECRET not in result.stderr


def secret_file(root: Path, name="credentials") -> Path:
    path = root / name
    path.write_text(f"token = \"{SECRET}\"\n", encoding="utf-8")
    return path


def case_copy(folder: Path, source: Path = BALANCED, name: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(source, folder / (name or source.name)))


def risk_ids(case: Path) -> list[str]:
    result = run("assess", case, "--format", "json", "--no-waivers")
    return [f["id"] for f in json.loads(result.stdout)["findings"] if f["kind"] == "risk"]


def waiver(finding: str, owner="j.smith", reason="Agreed at the summit",
           expires="2027-06-30") -> dict:
    return {"finding": finding, "reason": reason, "owner": owner, "expires": expires}


def write_waivers(path: Path, *entries: dict) -> Path:
    path.write_text(yaml.safe_dump({"waivers": list(entries)}), encoding="utf-8")
    return path


# --- files diplo finds by itself --------------------------------------------------------------

def test_a_waivers_file_beside_the_cases_that_links_outside_is_refused_unread(tmp_path):
    case = case_copy(tmp_path / "proposals", ALLY)
    outside = write_waivers(tmp_path / "elsewhere.yaml", waiver(risk_ids(case)[0]))
    (case.parent / "diplo-waivers.yaml").symlink_to(outside)
    one_error_line(run("assess", case), "proposals/diplo-waivers.yaml",
                   "link to a file outside its folder", "--waivers", "--no-waivers")
    with pytest.raises(WaiverError):
        conventional_file(case)
    # the operator may still use it: by name, or not at all
    named = run("assess", case, "--waivers", case.parent / "diplo-waivers.yaml",
                "--format", "json")
    assert json.loads(named.stdout)["waivers"]["applied"]
    assert run("assess", case, "--no-waivers").exit_code == 1
    # a link to a credentials file shows nothing of it
    (case.parent / "diplo-waivers.yaml").unlink()
    (case.parent / "diplo-waivers.yaml").symlink_to(secret_file(tmp_path))
    one_error_line(run("assess", case, "--format", "json"), "link to a file outside")


def test_a_waivers_link_inside_the_folder_is_read_but_its_errors_quote_nothing(tmp_path):
    case = case_copy(tmp_path / "proposals", ALLY)
    (case.parent / "review").mkdir()
    kept = write_waivers(case.parent / "review" / "2027.yaml", waiver(risk_ids(case)[0]))
    (case.parent / "diplo-waivers.yaml").symlink_to("review/2027.yaml")
    result = run("assess", case, "--format", "json")
    assert result.stderr == ""
    report = json.loads(result.stdout)
    assert report["waivers"]["source"] == str(case.parent / "diplo-waivers.yaml")
    assert [w["finding"] for w in report["waivers"]["applied"]] == [risk_ids(case)[0]]
    assert kept.is_file()
    # a link to a file nobody reviewed (an untracked .env in the same folder)
    secret_file(case.parent, ".env")
    (case.parent / "diplo-waivers.yaml").unlink()
    (case.parent / "diplo-waivers.yaml").symlink_to(".env")
    one_error_line(run("assess", case), "proposals/diplo-waivers.yaml:1:1:", "not valid",
                   "nothing of it is shown", "name it with --waivers")


def test_a_configuration_file_found_upwards_that_links_outside_is_refused(tmp_path):
    project = tmp_path / "project"
    case = case_copy(project / "proposals")
    secret_file(tmp_path)
    (project / "diplo.toml").symlink_to(tmp_path / "credentials")
    os.chdir(project / "proposals")
    one_error_line(run("assess", case.name), "../diplo.toml", "link to a file outside its folder",
                   "--config", "--no-config")
    with pytest.raises(ConfigError) as caught:
        find_config(project / "proposals")
    assert SECRET not in str(caught.value)
    assert run("--no-config", "assess", case.name).exit_code == 0
    # a pyproject.toml too, whatever it holds
    (project / "diplo.toml").unlink()
    (project / "pyproject.toml").symlink_to(tmp_path / "credentials")
    one_error_line(run("assess", case.name), "../pyproject.toml", "outside its folder")


def test_a_configuration_link_inside_its_folder_is_read_but_its_errors_quote_nothing(tmp_path):
    project = tmp_path / "project"
    case = case_copy(project, ALLY)
    (project / "config").mkdir()
    (project / "config" / "diplo.toml").write_text('fail-on = "critical"\n', encoding="utf-8")
    (project / "diplo.toml").symlink_to("config/diplo.toml")
    os.chdir(project)
    result = run("config", "--format", "json")
    assert json.loads(result.stdout)["fail-on"]["value"] == "critical"
    (project / "diplo.toml").unlink()
    secret_file(project, ".env")
    (project / "diplo.toml").symlink_to(".env")
    one_error_line(run("assess", case.name), "diplo.toml:1:1:", "not valid",
                   "nothing of it is shown", "--config")
    # named by the operator, it is read and quoted as any file the command line names
    named = run("--config", "diplo.toml", "assess", case.name)
    assert named.exit_code == 2 and "unknown key 'token'" in named.stderr


def test_a_waivers_file_named_by_a_found_configuration_quotes_nothing_from_outside(tmp_path):
    project = tmp_path / "project"
    case = case_copy(project)
    secret_file(tmp_path)
    (project / "diplo.toml").write_text('waivers = "../credentials"\n', encoding="utf-8")
    os.chdir(project)
    one_error_line(run("assess", case.name), "credentials:1:1:", "nothing of it is shown")
    one_error_line(run("config", "--check"), "credentials:1:1:", "nothing of it is shown")
    # inside the configuration's folder it is the project's own file, quoted as it is
    (project / "waivers.yaml").write_text("waivers: {}\n", encoding="utf-8")
    (project / "diplo.toml").write_text('waivers = "waivers.yaml"\n', encoding="utf-8")
    one_error_line(run("assess", case.name), "waivers.yaml:1:", "expected a list")


# --- folders and patterns ---------------------------------------------------------------------

def _reviewed_folder(tmp_path: Path) -> Path:
    """proposals/ with one case of its own, a link to a case outside and a link to a folder
    of cases outside; the cases outside are valid and carry the secret in their titles."""
    outside = tmp_path / "outside"
    stolen = case_copy(outside)
    stolen.write_text(stolen.read_text(encoding="utf-8").replace(
        "title: ", f"title: {SECRET} ", 1), encoding="utf-8")
    case_copy(outside / "deeper")
    folder = tmp_path / "proposals"
    case_copy(folder, ALLY)
    (folder / "leak.yaml").symlink_to(stolen)
    (folder / "regions").symlink_to(outside)
    (folder / "sub").mkdir()
    (folder / "sub" / "up").symlink_to("..")
    return folder


@pytest.mark.parametrize("argument", ["proposals", "proposals/*", "proposals/*.yaml",
                                      "proposals/**/*.yaml", "proposals/**", "proposals/*/*",
                                      "**/*.yaml"])
def test_folders_and_patterns_never_follow_a_link_out_of_the_folder(tmp_path, argument):
    _reviewed_folder(tmp_path)
    if argument == "**/*.yaml":
        shutil.rmtree(tmp_path / "outside")   # ** from here would reach it by its own name
        (tmp_path / "outside").mkdir()
    result = run("assess", argument, "--format", "json", "--exit-zero")
    assert SECRET not in result.stdout + result.stderr
    reports = json.loads(result.stdout) if result.stdout.startswith("[") \
        else [json.loads(result.stdout)] if result.stdout else []
    assert [r["case"]["source"] for r in reports] == (
        [] if argument == "proposals/*/*" else ["proposals/ally-trims-exercises.yaml"])


def test_a_link_loop_neither_hangs_an_expansion_nor_gives_a_file_twice(tmp_path):
    case_copy(tmp_path / "c")
    case_copy(tmp_path / "c" / "sub", ALLY)
    (tmp_path / "c" / "l1").symlink_to(".")
    (tmp_path / "c" / "sub" / "l2").symlink_to("..")
    (tmp_path / "c" / "sub" / "self").symlink_to("self")   # a link to itself
    both = ["c/balanced-partner.yaml", "c/sub/ally-trims-exercises.yaml"]
    for pattern in ("c/**/*.yaml", "c/**", "c/**/**/*", "**/*.yaml"):
        assert expand_cases([pattern]) == both, pattern
    assert expand_cases(["c", "c/*", "c/*/*"]) == both
    # the same file by two arguments is assessed once; standard input stays where it is
    assert expand_cases(["c/**/*.yaml", "-", "c/*.yaml"]) == [*both, "-"]
    result = run("assess", "c/**", "--format", "json", "--exit-zero")
    assert [r["case"]["source"] for r in json.loads(result.stdout)] == both


def test_what_the_operator_names_may_be_a_link(tmp_path):
    case_copy(tmp_path / "real", ALLY)
    (tmp_path / "real" / "leak.yaml").symlink_to(secret_file(tmp_path))
    (tmp_path / "named").symlink_to("real")
    for argument in ("named", "named/*.yaml", "named/**/*.yaml"):
        assert expand_cases([argument]) == [os.path.join("named", "ally-trims-exercises.yaml")]
    assert expand_cases(["named/leak.yaml"]) == ["named/leak.yaml"]   # a file named outright


def test_patterns_match_what_glob_matches_where_there_are_no_links(tmp_path):
    for path in ("a/1.yaml", "a/b/2.yml", "a/b/c/3.json", "a/.hidden.yaml", ".h/4.yaml",
                 "top.yaml", "a/[x].yaml", "a/b/notes.txt"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x", encoding="utf-8")
    for pattern in ("*", "**", "**/*", "a/**/*.y*ml", "a/*", "*/b/*", "a/?/*", ".*/*",
                    "a/[[]x].yaml", "./a/*.yaml", "a/**/", f"{tmp_path}/a/*"):
        expected = []
        for match in sorted(glob.glob(pattern, recursive=True)):
            found = expand_cases([match]) if os.path.isdir(match) else (
                [match] if match.endswith((".yaml", ".yml", ".json")) else [])
            expected += [f for f in found if f not in expected]
        got = expand_cases([pattern])
        assert [str(x) for x in got] == (expected or [str(got[0])]), pattern


# --- the output file --------------------------------------------------------------------------

def test_output_refuses_an_empty_name():
    one_error_line(run("assess", BALANCED, "-o", ""), "--output", "empty")


@pytest.mark.parametrize("which", ["case", "waivers", "baseline", "configuration"])
def test_output_never_replaces_an_input_of_the_run(tmp_path, which):
    case = case_copy(tmp_path / "proposals", ALLY)
    waivers = write_waivers(tmp_path / "waivers.yaml", waiver(risk_ids(case)[0]))
    baseline = tmp_path / "baseline.json"
    baseline.write_text(run("assess", case, "--format", "json", "--no-waivers").stdout,
                        encoding="utf-8")
    config = tmp_path / "diplo.toml"
    config.write_text('fail-on = "critical"\n', encoding="utf-8")
    target = {"case": case, "waivers": waivers, "baseline": baseline,
              "configuration": config}[which]
    before = {p: p.read_bytes() for p in (case, waivers, baseline, config)}
    result = run("assess", case, "--waivers", waivers, "--baseline", baseline, "-o", target)
    one_error_line(result, "of this run", "never replaces an input")
    assert {p: p.read_bytes() for p in before} == before
    # through a link to it, too
    (tmp_path / "alias").symlink_to(target)
    one_error_line(run("assess", case, "--waivers", waivers, "--baseline", baseline,
                       "-o", tmp_path / "alias"), "never replaces an input")


def test_output_to_a_read_only_file_is_refused_and_the_file_kept(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("kept\n", encoding="utf-8")
    target.chmod(0o444)
    one_error_line(run("assess", BALANCED, "--format", "json", "-o", target), "read-only")
    assert target.read_text(encoding="utf-8") == "kept\n"
    assert target.stat().st_mode & 0o777 == 0o444
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_output_through_a_link_replaces_the_file_it_leads_to_and_keeps_the_link(tmp_path):
    (tmp_path / "reports").mkdir()
    real = tmp_path / "reports" / "latest.json"
    real.write_text("old\n", encoding="utf-8")
    (tmp_path / "latest.json").symlink_to("reports/latest.json")
    result = run("assess", BALANCED, "--format", "json", "-o", "latest.json")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    assert (tmp_path / "latest.json").is_symlink()
    assert json.loads(real.read_text(encoding="utf-8"))["verdict"] == "pass"
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["latest.json"]


def test_output_to_a_character_device_writes_to_it_and_replaces_nothing(tmp_path):
    (tmp_path / "sink").symlink_to(os.devnull)
    result = run("assess", BALANCED, "--format", "json", "-o", "sink")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    assert (tmp_path / "sink").is_symlink() and os.readlink(tmp_path / "sink") == os.devnull
    assert Path(os.devnull).is_char_device()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sink"]


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_output_to_a_named_pipe_streams_into_it(tmp_path, fmt):
    fifo = tmp_path / "reports.pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = run("assess", ALLY, BALANCED, "--format", fmt, "-o", fifo, "--exit-zero")
    reader.join(timeout=60)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    assert fifo.is_fifo()
    expected = run("assess", ALLY, BALANCED, "--format", fmt, "--exit-zero").stdout_bytes
    assert received == [expected]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports.pipe"]


@pytest.mark.parametrize("name", ["/dev/stdout", "/proc/self/fd/1", "/dev/fd/1"])
def test_output_to_standard_output_by_name_writes_to_the_stream_as_it_is(tmp_path, name):
    if not os.path.exists(name):
        pytest.skip(f"{name} does not exist on this system")
    command = [sys.executable, "-m", "engine", "assess", str(BALANCED), "--format", "json",
               "-o", name]
    piped = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert (piped.returncode, piped.stderr) == (0, "")
    assert json.loads(piped.stdout)["verdict"] == "pass"
    # standard output appending to a log: the log is appended to, not replaced
    log = tmp_path / "log.txt"
    log.write_text("earlier lines\n", encoding="utf-8")
    with open(log, "a", encoding="utf-8") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.PIPE, text=True,
                              timeout=120)
    assert done.returncode == 0, done.stderr
    text = log.read_text(encoding="utf-8")
    assert text.startswith("earlier lines\n{") and json.loads(text.split("\n", 1)[1])


def test_output_with_a_name_at_the_file_system_limit(tmp_path):
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    name = "r" * (limit - len(".json")) + ".json"
    result = run("assess", BALANCED, "--format", "json", "-o", name)
    assert (result.exit_code, result.stderr) == (0, "")
    assert [p.name for p in tmp_path.iterdir()] == [name]
    assert json.loads((tmp_path / name).read_text(encoding="utf-8"))["verdict"] == "pass"


# --- text that tries to change what an output says --------------------------------------------

FORGED = ("Budget\nVerdict: PASS (no risks; 9 strengths) [defense-diplomacy 2.0.0]\r\n"
          "\x1b[2J\x1b]0;owned\x07\u202egnp.exe\u2028\x85# Heading\v\f\x1c done")


def hostile_case(tmp_path: Path) -> Path:
    data = yaml.safe_load(ALLY.read_text(encoding="utf-8"))
    data["title"] = FORGED
    data["notes"] = FORGED
    data["sources"] = [FORGED, "<script>alert(1)</script>"]
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=False), encoding="utf-8")
    return path


# `<` that a Markdown renderer would read as the start of HTML: not escaped by a backslash,
# and outside a code span (which shows its text as it is)
UNESCAPED_HTML = re.compile(r"(?<!\\)<(script|b)\b")
CODE_SPAN = re.compile(r"(`+).+?\1")


def markup(text: str) -> str:
    """Markdown without its code spans: what a renderer reads as markup."""
    return CODE_SPAN.sub("", text)


def assert_no_control(text: str):
    found = sorted({f"U+{ord(c):04X}" for c in text if c in CONTROLS or c == "\r"})
    assert not found, found


def test_case_text_cannot_forge_a_line_or_reach_the_terminal(tmp_path):
    case = hostile_case(tmp_path)
    for args in ([], ["--details"], ["--explain"], ["--summary"]):
        result = run("assess", case, "--exit-zero", *args)
        assert result.exit_code == 0, result.stderr
        assert_no_control(result.stdout + result.stderr)
        lines = result.stdout.splitlines()
        assert [l for l in lines if l.startswith("Verdict:")] == [
            next(l for l in lines if l.startswith("Verdict: FAIL"))], args
        assert lines[0].startswith("Budget Verdict: PASS") and "\\x1b[2J" in lines[0]
    explained = run("explain", case)
    assert explained.exit_code == 0, explained.stderr
    assert_no_control(explained.stdout + explained.stderr)


def test_case_text_is_escaped_in_every_format(tmp_path):
    case = hostile_case(tmp_path)
    out = {fmt: run("assess", case, "--format", fmt, "--exit-zero").stdout
           for fmt in ("markdown", "github", "junit", "sarif", "json")}
    for fmt, text in out.items():
        if fmt != "json":
            assert_no_control(text)
    memo = out["markdown"].splitlines()
    assert [l for l in memo if l.startswith("**Verdict")] == [memo[2]]
    assert not [l for l in memo if l.startswith("# Heading") or UNESCAPED_HTML.search(markup(l))]
    assert all(l.startswith(("::", "diplo: ")) for l in out["github"].splitlines())
    root = ET.fromstring(out["junit"].split("\n", 1)[1])
    title = root.find("testsuite/properties/property[@name='title']").get("value")
    assert "\n" not in title and title.startswith("Budget Verdict: PASS")
    sarif = json.loads(out["sarif"])
    for result in sarif["runs"][0]["results"]:
        assert "\n" not in result["message"]["text"]
    # JSON carries the text as it is: it is data, and JSON escapes it
    assert json.loads(out["json"])["case"]["title"] == FORGED


def test_waiver_fields_cannot_add_markup_or_lines(tmp_path):
    case = case_copy(tmp_path, ALLY)
    first, second, *_ = risk_ids(case)
    hostile = "# Heading\n**Gate (--fail-on high): PASS**\n<script>alert(1)</script> [x](y) `z`"
    waivers = write_waivers(
        tmp_path / "waivers.yaml",
        waiver(first, owner=hostile, reason=hostile),
        waiver(second, owner=hostile, expires="2020-01-01"),
        waiver("DD-GONE-001:x `y` <b>", owner=hostile))
    memo = run("assess", case, "--waivers", waivers, "--format", "markdown", "--exit-zero")
    assert memo.exit_code == 0, memo.stderr
    lines = memo.stdout.splitlines()
    assert not UNESCAPED_HTML.search(markup(memo.stdout))
    assert "``DD-GONE-001:x `y` <b>``" in memo.stdout   # a stale waiver's target, as code
    assert not [l for l in lines if l.startswith(("# Heading", "**Gate"))]
    assert not [l for l in lines if "[x](y)" in l]   # a link, where `\[x\](y)` is text
    table = run("assess", case, "--waivers", waivers, "--exit-zero")
    gate_lines = [l for l in table.stdout.splitlines() if l.startswith("Gate (")]
    assert gate_lines == [gate_lines[-1]] and "FAIL" in gate_lines[0]
    assert_no_control(table.stdout)
    for fmt in ("junit", "github", "sarif"):
        text = run("assess", case, "--waivers", waivers, "--format", fmt, "--exit-zero").stdout
        assert "\n**Gate" not in text and "%0A**Gate" not in text, fmt


# --- the helpers, one per syntax --------------------------------------------------------------

@pytest.mark.parametrize("char", ["\n", "\r", "\r\n", "\t", "\v", "\f", "\x1c", "\x1d", "\x1e",
                                  "\x85", "\u2028", "\u2029"])
def test_one_line_makes_every_line_break_a_space(char):
    assert one_line(f"a{char}b") == "a b"
    assert len(one_line(f"a{char}b").splitlines()) == 1


def test_one_line_shows_control_characters_as_escapes():
    assert one_line("a\x1b[2Jb\x07\x00\x7f\x9b\u202e") == "a\\x1b[2Jb\\x07\\x00\\x7f\\x9b\\u202e"
    plain = "Country A, FY2027 — défense: 4,600 (−3.2 %) ✓"
    assert one_line(plain) == plain


def test_markdown_and_workflow_helpers():
    assert md_text("# x") == "\\# x" and md_text("1. x") == "1\\. x"
    assert md_text("<script>") == "\\<script>" and md_text("a\nb") == "a b"
    assert md_text("a|b:c", strict=True) == "a\\|b\\:c"
    assert md_code("a`b") == "``a`b``" and md_code("x\ny") == "`x y`"
    assert workflow_data("a\nb%\x1b") == "a%0Ab%25\\x1b"
    assert workflow_property("t: a,b\nc") == "t%3A a%2Cb c"
