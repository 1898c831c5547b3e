"""A terminal that fits: every command's default output within 80 columns for the example cases
(`--width 80`, as an 80-column terminal gives), ids kept; colour by severity on a terminal,
honouring NO_COLOR and FORCE_COLOR; nothing changed in a pipe; shell completion of pack names
and rule ids."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.formats import short_ids

ROOT = Path(__file__).resolve().parent.parent
CASES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "cases").glob("*.yaml"))
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(autouse=True)
def _plain(monkeypatch):
    monkeypatch.chdir(ROOT)
    for name in ("COLUMNS", "NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)


def run(*args, env=None):
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def widest(text: str) -> int:
    return max(len(ANSI.sub("", line)) for line in text.splitlines())


@pytest.mark.parametrize("case", CASES)
def test_assess_fits_80_columns_and_keeps_every_id(case):
    status, out, err = run("assess", case, "--width", "80", "--exit-zero")
    assert status == 0, err
    assert widest(out) <= 80
    report = json.loads(run("assess", case, "--format", "json", "--exit-zero")[1])
    for finding_id, shown in short_ids([f["id"] for f in report["findings"]]).items():
        assert re.search(rf"^\d+\s+{re.escape(shown)}\s", out, re.M), shown
    assert "Verdict: " + report["verdict"].upper() in out


@pytest.mark.parametrize("args", [
    ("rules", "list"),
    ("rules", "categories"),
    ("rules", "show", "DD-COM-014"),
    ("pack", "list"),
    ("config",),
    ("explain", "cases/ally-trims-exercises.yaml"),
    ("explain", "cases/peacekeeping-drawdown.yaml", "--remedies"),
    ("explain", "cases/ally-trims-exercises.yaml", "--rule", "DD-ENG-003"),
    ("assess", "cases/ally-trims-exercises.yaml", "--details", "--explain", "--near-miss",
     "--exit-zero"),
    ("assess", "cases/", "--summary", "--exit-zero"),
    ("whatif", "cases/ally-trims-exercises.yaml", "--set", "line_items[3].amount=120",
     "--exit-zero"),
    ("compare", "cases/control-steady.yaml", "cases/ally-trims-exercises.yaml", "--exit-zero"),
    ("sweep", "cases/ally-trims-exercises.yaml", "--vary", "line_items[3].amount", "--from",
     "50", "--to", "200", "--steps", "4"),
], ids=lambda a: " ".join(a[:2]))
def test_every_command_fits_80_columns(args):
    status, out, err = run(*args, "--width", "80")
    assert status in (0, 1), err
    assert out.strip()
    assert widest(out) <= 80, next(line for line in out.splitlines()
                                   if len(ANSI.sub("", line)) > 80)


def test_a_batch_summary_fits_too():
    status, out, _ = run("assess", "cases/", "--exit-zero", "--width", "80")
    assert status == 0
    assert widest(out) <= 80
    assert out.rstrip().splitlines()[-1].startswith("Batch: FAIL (17 cases")


def test_a_pipe_keeps_its_full_width_and_no_colour():
    # what scripts and the golden files read: unchanged unless a width is asked for
    status, out, _ = run("assess", "cases/ally-trims-exercises.yaml", "--exit-zero")
    assert widest(out) > 80 and "\x1b[" not in out
    # an exported COLUMNS is the terminal's, not the pipe's
    assert run("assess", "cases/ally-trims-exercises.yaml", "--exit-zero",
               env={"COLUMNS": "100"})[1] == out
    assert widest(run("assess", "cases/ally-trims-exercises.yaml", "--exit-zero", "--width",
                      "120")[1]) <= 120 < widest(out)


def test_colour_by_severity_when_forced_and_never_with_no_color(tmp_path):
    _, out, _ = run("assess", "cases/ally-trims-exercises.yaml", "--exit-zero",
                    env={"FORCE_COLOR": "1"})
    assert "\x1b[1;31mcritical\x1b[0m" in out and "\x1b[31mhigh\x1b[0m" in out
    assert "Verdict: \x1b[1;31mFAIL (" in out
    assert ANSI.sub("", out) == run("assess", "cases/ally-trims-exercises.yaml",
                                    "--exit-zero")[1]
    # on a real terminal colour is on unless NO_COLOR is set; a file never gets it
    script = ("import os, pty, sys\n"
              "pid, fd = pty.fork()\n"
              "if pid == 0:\n"
              "    os.execvp(sys.executable, [sys.executable, '-m', 'engine', 'assess',\n"
              "              'cases/ally-trims-exercises.yaml', '--exit-zero', '--width', '80'])\n"
              "out = b''\n"
              "while True:\n"
              "    try:\n"
              "        chunk = os.read(fd, 65536)\n"
              "    except OSError:\n"
              "        break\n"
              "    if not chunk:\n"
              "        break\n"
              "    out += chunk\n"
              "os.waitpid(pid, 0)\n"
              "sys.stdout.write(out.decode())\n")
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    on_tty = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120).stdout
    assert "\x1b[1;31mcritical" in on_tty
    assert widest(on_tty.replace("\r", "")) <= 80
    no_color = subprocess.run([sys.executable, "-c", script], cwd=ROOT,
                              env={**env, "NO_COLOR": "1"}, capture_output=True, text=True,
                              timeout=120).stdout
    assert "\x1b[" not in no_color and "critical" in no_color
    status, _, _ = run("assess", "cases/ally-trims-exercises.yaml", "--exit-zero", "-o",
                       str(tmp_path / "out.txt"), env={"FORCE_COLOR": "1"})
    assert "\x1b[" not in (tmp_path / "out.txt").read_text()


def test_proof_trees_wrap_under_their_branches():
    from engine.formats.terminal import fit_lines
    lines = fit_lines(["├─ credibility_at_risk:northern-alliance/presence_abroad+forward-"
                       "presence  (derived credibility_at_risk)",
                       "│    fields: commitment = northern-alliance, line = "
                       "multinational-exercises, category = joint_exercises"], 50)
    assert lines == ["├─ credibility_at_risk:northern-alliance/",
                     "│    presence_abroad+forward-presence  (derived",
                     "│    credibility_at_risk)",
                     "│    fields: commitment = northern-alliance, line",
                     "│      = multinational-exercises, category =",
                     "│      joint_exercises"]


def test_the_width_option_refuses_a_width_too_narrow_to_read():
    status, out, err = run("rules", "list", "--width", "10")
    assert (status, out) == (2, "")
    assert "--width" in err and "10 is not in the range x>=40" in err


# --- shell completion ----------------------------------------------------------------------------

def test_completion_of_pack_names_and_rule_ids():
    from engine.cli.complete import pack_names, rule_ids
    assert [i.value for i in pack_names(None, None, "tr")] == ["transparency-plus"]
    ids = [i.value for i in rule_ids(_Context({}), None, "dd-com-01")]
    assert "DD-COM-014" in ids and all(i.startswith("DD-COM-01") for i in ids)


class _Context:
    def __init__(self, params, parent=None):
        self.params, self.parent = params, parent


def test_the_shell_completes_through_diplo_itself():
    env = {**os.environ, "_DIPLO_COMPLETE": "bash_complete"}
    done = subprocess.run([sys.executable, "-c", "from engine.cli import main; main(prog_name='diplo')"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**env, "COMP_WORDS": "diplo rules show DD-TRA-00",
                               "COMP_CWORD": "3"})
    assert "plain,DD-TRA-005" in done.stdout.splitlines()
    done = subprocess.run([sys.executable, "-c", "from engine.cli import main; main(prog_name='diplo')"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**env, "COMP_WORDS": "diplo assess --pack transp",
                               "COMP_CWORD": "3"})
    assert done.stdout.splitlines() == ["plain,transparency-plus"]
