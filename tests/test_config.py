"""The project configuration file (diplo.toml or [tool.diplo]): discovery, precedence, errors,
and what it changes in each command. docs/configuration.md describes it."""
from __future__ import annotations

import json
import re
import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.config import (ConfigModel, effective_settings, find_config, read_config)
from engine.errors import ConfigError, UsageError
from engine.inputs.source import MAX_FILE_BYTES

from conftest import ONE_RULE, ROOT, write_pack

CASES = ROOT / "cases"
NEW_PARTNERSHIP = "new-partnership.yaml"    # passes; DD-TRA-005 (low) among its findings
PEACEKEEPING = "peacekeeping-drawdown.yaml"  # fails at high; nothing critical
ALLY = "ally-trims-exercises.yaml"          # one critical risk


@pytest.fixture(autouse=True)
def no_config_from_environment(monkeypatch):
    monkeypatch.delenv("DIPLO_CONFIG", raising=False)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def case(folder: Path, name: str) -> str:
    """A copy of an example case in `folder` (reports name cases by the path given)."""
    shutil.copy(CASES / name, folder / name)
    return name


def findings(result) -> dict[str, str]:
    assert result.stderr == "", result.stderr
    return {f["id"]: f["severity"] for f in json.loads(result.stdout)["findings"]}


def one_line_error(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    err = result.stderr
    assert "Traceback" not in err
    assert err.startswith("diplo: error: ") and err.count("\n") == 1, err
    return err


# --- the test suite itself --------------------------------------------------------------------

def test_no_configuration_applies_to_the_test_suite():
    # CLI tests that do not change folder run in the repository: a diplo.toml there or above
    # would change every report they check
    assert find_config(ROOT) is None
    assert find_config(ROOT / "tests") is None


# --- discovery ----------------------------------------------------------------------------

def test_found_in_the_working_directory_or_the_nearest_folder_above(tmp_path):
    assert find_config(tmp_path) is None
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    top = write(tmp_path / "diplo.toml", "")
    assert find_config(deep) == top
    nearer = write(tmp_path / "a" / "diplo.toml", "")
    assert find_config(deep) == nearer
    assert find_config(tmp_path) == top


def test_diplo_toml_wins_over_pyproject_in_the_same_folder(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.diplo]\nfail-on = 'low'\n")
    assert find_config(tmp_path) == tmp_path / "pyproject.toml"
    write(tmp_path / "diplo.toml", "")
    assert find_config(tmp_path) == tmp_path / "diplo.toml"


def test_a_pyproject_without_tool_diplo_is_passed_over(tmp_path):
    top = write(tmp_path / "diplo.toml", "")
    write(tmp_path / "sub" / "pyproject.toml", """\
        [project]
        name = "proposals"      # mentions diplo: [tool.ruff] only
        [tool.ruff]
        line-length = 99
        """)
    assert find_config(tmp_path / "sub") == top
    write(tmp_path / "sub" / "pyproject.toml", "[project]\nname = 'x'\n[tool.diplo]\n")
    assert find_config(tmp_path / "sub") == tmp_path / "sub" / "pyproject.toml"


def test_a_broken_pyproject_that_may_hold_settings_is_an_error(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.diplo\n")
    with pytest.raises(ConfigError, match=r"invalid TOML"):
        find_config(tmp_path)
    # one that never mentions diplo is not read at all
    write(tmp_path / "pyproject.toml", "[tool.other\n")
    assert find_config(tmp_path) is None


def test_settings_of_a_pyproject_are_read_from_tool_diplo(tmp_path):
    write(tmp_path / "pyproject.toml", """\
        [project]
        name = "proposals"

        [tool.diplo]
        fail-on = "medium"

        [tool.diplo.severity]
        DD-TRA-005 = "high"
        """)
    settings = effective_settings({}, start=tmp_path)
    assert settings.fail_on.value == "medium"
    assert settings.fail_on.source.endswith("pyproject.toml:5")
    assert settings.severity["DD-TRA-005"].value == "high"
    assert settings.severity["DD-TRA-005"].source.endswith("pyproject.toml:8")


def test_config_option_no_config_and_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "diplo.toml", 'fail-on = "low"\n')
    write(tmp_path / "ci" / "strict.toml", 'fail-on = "info"\n')
    write(tmp_path / "ci" / "pyproject.toml", '[tool.diplo]\nfail-on = "critical"\n')

    def fail_on(*args, env=None):
        result = CliRunner().invoke(main, [*args, "config", "--format", "json"], env=env)
        assert (result.exit_code, result.stderr) == (0, ""), result.stderr
        data = json.loads(result.stdout)
        return data["fail-on"]["value"], data["config_file"], data["config_origin"]

    assert fail_on() == ("low", "diplo.toml", "found")
    assert fail_on("--config", "ci/strict.toml") == ("info", "ci/strict.toml", "--config")
    assert fail_on("--config", "ci/pyproject.toml") == ("critical", "ci/pyproject.toml",
                                                        "--config")
    assert fail_on("--no-config") == ("high", None, "--no-config")
    env = {"DIPLO_CONFIG": "ci/strict.toml"}
    assert fail_on(env=env) == ("info", "ci/strict.toml", "DIPLO_CONFIG")
    assert fail_on("--no-config", env=env) == ("high", None, "--no-config")
    assert fail_on("--config", "ci/pyproject.toml", env=env)[0] == "critical"

    err = one_line_error(run("--config", "ci/strict.toml", "--no-config", "config"))
    assert "--config and --no-config cannot be used together" in err
    err = one_line_error(run("--config", "ci/missing.toml", "config"))
    assert err == "diplo: error: ci/missing.toml: no such file\n"
    write(tmp_path / "other" / "pyproject.toml", "[project]\nname = 'x'\n")
    err = one_line_error(run("--config", "other/pyproject.toml", "config"))
    assert err.startswith("diplo: error: other/pyproject.toml: has no [tool.diplo] table")


def test_commands_that_do_not_use_settings_ignore_a_broken_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "diplo.toml", "fail-on = \n")
    assert run("schema", "case").exit_code == 0
    assert "invalid TOML" in one_line_error(run("config"))


# --- precedence -----------------------------------------------------------------------------

CONFIG = """\
    packs = ["defense-diplomacy"]
    disable = ["DD-TRA-005"]
    fail-on = "critical"
    format = "json"
    waivers = "reviews/waivers.yaml"

    [params]
    cut_pct = 15
    deep_cut_pct = 30

    [severity]
    DD-TRA-012 = "high"
    DD-TRA-022 = "medium"
    """


def test_without_a_file_the_defaults_apply(tmp_path):
    settings = effective_settings({}, start=tmp_path)
    assert settings.config is None and settings.config_origin == "none"
    assert (settings.packs.value, settings.packs.source) == (["defense-diplomacy"], "default")
    assert settings.pack_specs == ()
    assert (settings.params, settings.disable, settings.severity) == ({}, {}, {})
    assert (settings.fail_on.value, settings.format.value, settings.waivers.value) == \
        ("high", "table", None)
    assert {s.source for s in (settings.fail_on, settings.format, settings.waivers)} == \
        {"default"}


def test_the_file_sets_each_setting_with_its_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "diplo.toml", CONFIG)
    s = effective_settings({})
    assert (s.packs.value, s.packs.source) == (["defense-diplomacy"], "diplo.toml:1")
    assert s.disabled_rules == {"DD-TRA-005": "diplo.toml:2"}
    assert (s.fail_on.value, s.fail_on.source) == ("critical", "diplo.toml:3")
    assert (s.format.value, s.format.source) == ("json", "diplo.toml:4")
    assert (s.waivers.value, s.waivers.source) == (str(Path("reviews/waivers.yaml")),
                                                   "diplo.toml:5")
    assert {k: (v.value, v.source) for k, v in s.params.items()} == {
        "cut_pct": (15, "diplo.toml:8"), "deep_cut_pct": (30, "diplo.toml:9")}
    assert s.severity_levels == {"DD-TRA-012": ("high", "diplo.toml:12"),
                                 "DD-TRA-022": ("medium", "diplo.toml:13")}


def test_the_command_line_wins_per_setting(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "diplo.toml", CONFIG)
    s = effective_settings({
        "packs": ["other-pack"], "params": {"cut_pct": "12"}, "disable": ["DD-TRA-012"],
        "severity": {"DD-TRA-022": "low", "DD-TRA-031": "info"}, "fail_on": "medium",
        "format": "sarif", "waivers": "mine.yaml"})
    # packs: the command line's list replaces the file's
    assert (s.packs.value, s.packs.source) == (["other-pack"], "command line")
    # params and severity: merged key by key, the command line winning
    assert {k: (v.value, v.source) for k, v in s.params.items()} == {
        "deep_cut_pct": (30, "diplo.toml:9"), "cut_pct": ("12", "command line")}
    assert list(s.param_values) == ["deep_cut_pct", "cut_pct"]  # the loader applies in order
    assert s.severity_levels == {"DD-TRA-012": ("high", "diplo.toml:12"),
                                 "DD-TRA-022": ("low", "command line"),
                                 "DD-TRA-031": ("info", "command line")}
    # disable: the union
    assert s.disabled_rules == {"DD-TRA-005": "diplo.toml:2", "DD-TRA-012": "command line"}
    assert (s.fail_on.value, s.fail_on.source) == ("medium", "command line")
    assert (s.format.value, s.format.source) == ("sarif", "command line")
    assert (s.waivers.value, s.waivers.source) == ("mine.yaml", "command line")
    # not given: the file's values stay
    kept = effective_settings({"packs": (), "params": {}, "fail_on": None})
    assert kept.packs.source == "diplo.toml:1" and kept.fail_on.value == "critical"


def test_no_config_and_an_explicit_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "diplo.toml", CONFIG)
    other = write(tmp_path / "elsewhere" / "ci.toml", 'fail-on = "low"\n')
    assert effective_settings({}, use_config=False).fail_on.value == "high"
    chosen = effective_settings({}, config_file=other)
    assert chosen.fail_on.value == "low" and chosen.disable == {}
    assert chosen.fail_on.source == str(Path("elsewhere/ci.toml")) + ":1"
    with pytest.raises(UsageError, match="severity"):
        effective_settings({"severity": {"DD-TRA-005": "urgent"}}, use_config=False)


def test_relative_paths_start_at_the_folder_of_the_file(tmp_path, monkeypatch):
    write_pack(tmp_path / "packs" / "mini", ONE_RULE, name="mini")
    write(tmp_path / "reviews" / "waivers.yaml", "waivers: []\n")
    write(tmp_path / "diplo.toml", """\
        packs = ["packs/mini", "defense-diplomacy"]
        waivers = "reviews/waivers.yaml"
        """)
    (tmp_path / "proposals" / "2027").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "proposals" / "2027")
    s = effective_settings({})
    mini = str(tmp_path / "packs" / "mini")
    assert [Path(s.pack_specs[0]).resolve(), s.pack_specs[1]] == [
        Path(mini).resolve(), "defense-diplomacy"]   # a name stays a name
    assert Path(s.waivers.value).resolve() == (tmp_path / "reviews" / "waivers.yaml").resolve()
    # found upwards: shown relative, so a report does not depend on the checkout's place
    assert s.config.name == "../../diplo.toml"
    assert s.packs.source == "../../diplo.toml:1"
    # every command that loads packs loads them from there
    result = run("rules", "list", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert {r["pack"] for r in json.loads(result.stdout)} == {"mini", "defense-diplomacy"}
    # inside the working directory, paths are shown relative to it
    monkeypatch.chdir(tmp_path)
    s = effective_settings({})
    assert s.pack_specs == (str(Path("packs/mini")), "defense-diplomacy")
    assert s.packs.source == "diplo.toml:1"


def test_the_waivers_file_of_the_configuration(tmp_path, monkeypatch):
    write(tmp_path / "reviews" / "waivers.yaml", """\
        waivers:
          - finding: DD-TRA-005
            reason: A performance audit is planned for next year
            owner: audit@mod.example
            expires: 2099-12-31
        """)
    write(tmp_path / "diplo.toml", """\
        waivers = "reviews/waivers.yaml"
        format = "json"
        [severity]
        DD-TRA-005 = "high"
        """)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    name = case(work, NEW_PARTNERSHIP)
    result = run("assess", name)
    assert (result.exit_code, result.stderr) == (0, "")   # the high risk is waived
    report = json.loads(result.stdout)
    waived = [f for f in report["findings"] if f["waived"]]
    assert [f["id"] for f in waived] == ["DD-TRA-005"]
    # --no-waivers on the command line wins over the file
    result = run("assess", name, "--no-waivers")
    assert (result.exit_code, result.stderr) == (1, "")


# --- what the file changes in each command --------------------------------------------------

def test_assess_takes_fail_on_and_format_from_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = case(tmp_path, PEACEKEEPING)
    assert run("assess", name).exit_code == 1        # high risks fail by default
    write(tmp_path / "diplo.toml", 'fail-on = "critical"\nformat = "json"\n')
    result = run("assess", name)
    assert (result.exit_code, result.stderr) == (0, "")
    assert json.loads(result.stdout)["verdict"] == "fail"   # JSON, and the gate is critical
    assert run("assess", name, "--fail-on", "high").exit_code == 1
    result = run("assess", name, "--format", "table")
    assert result.stdout.startswith("Country ") and "Verdict: FAIL" in result.stdout
    # the same options given explicitly at their defaults still win over the file
    result = run("assess", name, "--fail-on", "high", "--format", "table")
    assert result.exit_code == 1 and "Verdict: FAIL" in result.stdout
    assert run("--no-config", "assess", name).stdout.startswith("Country ")
    ally = case(tmp_path, ALLY)
    assert run("assess", ally).exit_code == 1        # a critical risk still fails


def test_severity_and_disable_in_the_file_change_the_report(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = case(tmp_path, NEW_PARTNERSHIP)
    result = run("assess", name, "--format", "json")
    plain = findings(result)
    # the default pack folds the case's transparency failures into one finding
    [audit] = [f for f in json.loads(result.stdout)["findings"] if f["id"] == "DD-TRA-005"]
    assert audit["severity"] == "low"
    assert [e["id"] for e in audit["effects"]] == ["DD-TRA-012", "DD-TRA-031"]

    write(tmp_path / "diplo.toml", '[severity]\nDD-TRA-005 = "high"\n')
    result = run("assess", name, "--format", "json")
    assert result.exit_code == 1                      # now a high risk
    assert findings(result)["DD-TRA-005"] == "high"
    # the command line wins for the same rule
    result = run("assess", name, "--format", "json", "--severity", "DD-TRA-005=medium")
    assert result.exit_code == 0 and findings(result)["DD-TRA-005"] == "medium"

    write(tmp_path / "diplo.toml", 'disable = ["DD-TRA-005"]\n')
    one = findings(run("assess", name, "--format", "json"))
    assert "DD-TRA-005" not in one and one["DD-TRA-012"] == "low"   # the next one leads
    # the command line adds to the file's list
    both = findings(run("assess", name, "--format", "json", "--disable", "DD-TRA-012"))
    assert "DD-TRA-005" not in both and "DD-TRA-012" not in both
    assert set(plain) - set(both) == {"DD-TRA-005"}
    assert set(both) - set(plain) == {"DD-TRA-031"}
    # and the other commands that load packs see the same rules
    rules = json.loads(run("rules", "list", "--format", "json").stdout)
    assert "DD-TRA-005" not in {r["id"] for r in rules}
    assert "DD-TRA-005" in {r["id"] for r in json.loads(
        run("--no-config", "rules", "list", "--format", "json").stdout)}


def test_params_in_the_file_reach_the_rules(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "diplo.toml", "[params]\ntotal_cut_pct = 1.5\n")
    rules = json.loads(run("explain", case(tmp_path, ALLY), "--format", "json").stdout)
    text = json.dumps(rules)
    assert '"total_cut_pct": 1.5' in text
    result = run("config", "--format", "json", "--param", "total_cut_pct=2")
    assert json.loads(result.stdout)["params"] == {
        "value": {"total_cut_pct": "2"}, "source": {"total_cut_pct": "command line"}}


@pytest.mark.parametrize("command", [
    ["rules", "list"], ["rules", "categories"], ["explain", "CASE"],
    ["compare", "CASE", "CASE"], ["whatif", "CASE", "--set", "inflation_pct=3"],
    ["sweep", "CASE", "--vary", "inflation_pct", "--from", "1", "--to", "2", "--steps", "1"],
])
def test_every_command_that_loads_packs_reads_the_file(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = case(tmp_path, NEW_PARTNERSHIP)
    args = [name if a == "CASE" else a for a in command]
    assert run(*args).exit_code == 0
    write(tmp_path / "diplo.toml", 'disable = ["DD-NO-SUCH"]\n')
    err = one_line_error(run(*args))
    assert err.startswith("diplo: error: diplo.toml:1:12: disable[0]: no rule 'DD-NO-SUCH'"), err
    assert run("--no-config", *args).exit_code == 0
    # and takes --disable and --severity on its own command line
    err = one_line_error(run("--no-config", *args, "--disable", "DD-NO-SUCH"))
    assert "--disable DD-NO-SUCH: no rule 'DD-NO-SUCH' is loaded" in err


def test_pack_tests_ignore_the_file(tmp_path, monkeypatch):
    # a pack's own tests test it as written
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "diplo.toml", """\
        disable = ["DD-TRA-005"]
        [severity]
        DD-TRA-012 = "critical"
        [params]
        cut_pct = 99
        """)
    result = run("test")
    assert result.exit_code == 0, result.stdout[-2000:] + result.stderr
    assert " 0 failed" in result.stdout


# --- diplo config --------------------------------------------------------------------------

def test_config_shows_each_setting_and_its_source(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "diplo.toml", CONFIG)
    result = run("config", "--param", "cut_pct=12", "--severity", "DD-TRA-022=low",
                 "--disable", "DD-TRA-012")
    assert (result.exit_code, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[0] == "Configuration file: diplo.toml"
    assert lines[1].split() == ["setting", "value", "source"]
    rows = [re.split(r"\s{2,}", line.strip()) for line in lines[3:]]
    assert rows == [
        ["packs", "defense-diplomacy", "diplo.toml:1"],
        ["params.deep_cut_pct", "30", "diplo.toml:9"],
        ["params.cut_pct", "12", "command line"],
        ["disable", "DD-TRA-005", "diplo.toml:2"],
        ["disable", "DD-TRA-012", "command line"],
        ["select", "(every rule)", "default"],
        ["ignore", "(none)", "default"],
        ["severity.DD-TRA-012", "high", "diplo.toml:12"],
        ["severity.DD-TRA-022", "low", "command line"],
        ["fail-on", "critical", "diplo.toml:3"],
        ["format", "json", "diplo.toml:4"],
        ["waivers", str(Path("reviews/waivers.yaml")), "diplo.toml:5"],
    ]


def test_config_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("config")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.startswith("Configuration file: none found (diplo.toml, or "
                                    "pyproject.toml with [tool.diplo], in ")
    assert re.search(r"^fail-on +high +default$", result.stdout, re.M)
    assert re.search(r"^packs +defense-diplomacy +default$", result.stdout, re.M)
    assert run("--no-config", "config").stdout.startswith(
        "Configuration file: none (--no-config)\n")


def test_config_as_json(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "diplo.toml", CONFIG)
    result = run("config", "--format", "json", "--fail-on", "low", "--no-waivers")
    assert (result.exit_code, result.stderr) == (0, "")
    assert json.loads(result.stdout) == {
        "config_file": "diplo.toml",
        "config_origin": "found",
        "packs": {"value": ["defense-diplomacy"], "source": "diplo.toml:1"},
        "params": {"value": {"cut_pct": 15, "deep_cut_pct": 30},
                   "source": {"cut_pct": "diplo.toml:8", "deep_cut_pct": "diplo.toml:9"}},
        "disable": {"value": ["DD-TRA-005"], "source": {"DD-TRA-005": "diplo.toml:2"}},
        "select": {"value": [], "source": {}},
        "ignore": {"value": [], "source": {}},
        "severity": {"value": {"DD-TRA-012": "high", "DD-TRA-022": "medium"},
                     "source": {"DD-TRA-012": "diplo.toml:12",
                                "DD-TRA-022": "diplo.toml:13"}},
        "fail-on": {"value": "low", "source": "command line"},
        "format": {"value": "json", "source": "diplo.toml:4"},
        "waivers": {"value": None, "source": "command line"},
    }


def test_config_shows_settings_without_loading_packs_and_check_loads_them(tmp_path,
                                                                            monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "diplo.toml", 'packs = ["no-such-pack"]\n')
    assert run("config").exit_code == 0
    err = one_line_error(run("config", "--check"))
    assert err.startswith("diplo: error: diplo.toml:1:10: packs[0]: 'no-such-pack': no such "
                          "rule pack folder"), err
    write(tmp_path / "diplo.toml", 'disable = ["DD-TRA-005"]\n')
    result = run("config", "--check")
    assert (result.exit_code, result.stderr) == (0, "")
    assert re.search(r"^Checked: the packs load \(defense-diplomacy \S+; \d+ rules\)\.$",
                     result.stdout, re.M)


# --- invalid files: file, line, field and the words of each error ----------------------------

# (file name, contents, "LINE" or "LINE:COLUMN" of the error, field path, words it must hold)
BROKEN = [
    ("diplo.toml", 'fail-on = \n', "1:11", None, ["invalid TOML", "invalid value"]),
    ("diplo.toml", '[severity\nX = "low"\n', "1:10", None, ["invalid TOML", "expected ']'"]),
    ("diplo.toml", 'fail-on = "low"\nfail-on = "high"\n', "2:17", None,
     ["invalid TOML", "cannot overwrite"]),
    ("diplo.toml", 'x = """never closed\n', "1", None, ["invalid TOML", "unterminated"]),
    ("diplo.toml", '# comment\nfailon = "low"\n', "2:1", "failon",
     ["unknown key 'failon'", "did you mean 'fail-on'"]),
    ("diplo.toml", 'fail_on = "low"\n', "1:1", "fail_on", ["did you mean 'fail-on'"]),
    ("diplo.toml", '[tool.diplo]\nfail-on = "low"\n', "1:1", "tool",
     ["unknown key 'tool'", "top level"]),
    ("diplo.toml", '\n\n\n[severity]\nDD-TRA-005 = "urgent"\n', "5", "severity.DD-TRA-005",
     ["expected one of info, low, medium, high, critical", "'urgent'"]),
    ("diplo.toml", 'severity = { DD-TRA-005 = "urgent" }\n', "1", "severity.DD-TRA-005",
     ["expected one of info, low, medium, high, critical", "'urgent'"]),
    ("diplo.toml", 'severity = "high"\n', "1", "severity", ["expected a table", "'high'"]),
    ("diplo.toml", 'severity.DD-TRA-005 = 3\n', "1", "severity.DD-TRA-005",
     ["expected one of", "the number 3"]),
    ("diplo.toml", 'fail-on = "urgent"\n', "1:11", "fail-on", ["expected one of", "urgent"]),
    ("diplo.toml", 'format = "jsn"\n', "1", "format",
     ["expected one of github, html, json, jsonl, junit, markdown, sarif, table",
      "did you mean 'json'"]),
    ("diplo.toml", 'packs = "defense-diplomacy"\n', "1", "packs", ["expected an array"]),
    ("diplo.toml", 'packs = ["defense-diplomacy", 3]\n', "1", "packs[1]",
     ["expected a string", "the number 3"]),
    ("diplo.toml", 'packs = [""]\n', "1", "packs[0]", ["expected text", "empty"]),
    ("diplo.toml", 'disable = "DD-TRA-005"\n', "1", "disable", ["expected an array"]),
    ("diplo.toml", 'waivers = ["a.yaml"]\n', "1", "waivers", ["expected a string"]),
    ("diplo.toml", '[params]\ncut_pct = nan\n', "2", "params.cut_pct",
     ["expected a finite number"]),
    ("diplo.toml", '[params]\ncut_pct = 1979-05-27\n', "2", "params.cut_pct",
     ["true or false, a number, text or an array of text", "the date 1979-05-27"]),
    ("diplo.toml", '[params]\nengagement_categories = ["a", 1]\n', "2",
     "params.engagement_categories[1]", ["expected a string", "the number 1"]),
    ("diplo.toml", 'params = [1]\n', "1", "params", ["expected a table"]),
    ("pyproject.toml", '[project]\nname = "x"\n\n[tool.diplo]\nfail-on = "urgent"\n', "5",
     "tool.diplo.fail-on", ["expected one of"]),
    ("pyproject.toml", '[tool.diplo]\nfoo = 1\n', "2:1", "tool.diplo.foo",
     ["unknown key 'foo'", "known keys: packs, params, disable, severity"]),
    ("pyproject.toml", '[tool.diplo.severity]\nX = "bad"\n', "2", "tool.diplo.severity.X",
     ["expected one of"]),
    ("pyproject.toml", '[tool]\ndiplo = 5\n', "2", "tool.diplo",
     ["expected a table of diplo settings", "the number 5"]),
]

# read fine, refused when the packs are loaded: the error still names the file and line
REFUSED_BY_THE_LOADER = [
    ('disable = ["DD-TRA-012", "DD-TRA-05"]\n', "1:26", "disable[1]",
     ["no rule 'DD-TRA-05' is loaded", "did you mean 'DD-TRA-065'"]),
    ('disable = [\n  "DD-TRA-012",\n  "DD-NOPE",\n]\n', "3:3", "disable[1]",
     ["no rule 'DD-NOPE' is loaded"]),
    ('[severity]\nDD-TRA-05 = "low"\n', "2", "severity.DD-TRA-05",
     ["no rule 'DD-TRA-05' is loaded"]),
    ('[severity]\nDD-PAR-013 = "high"\n', "2", "severity.DD-PAR-013",
     ["strength", "info"]),
    ('[params]\ncut_pctt = 3\n', "2", "params.cut_pctt",
     ["unknown parameter 'cut_pctt'", "did you mean 'cut_pct'"]),
    ('[params]\n"defense-diplomacy.cut_pct" = "ten"\n', "2",
     'params."defense-diplomacy.cut_pct"', ["expected a number", "ten"]),
    ('packs = ["defense-diplomacy", "packs/missing"]\n', "1", "packs[1]",
     ["'packs/missing'", "no such rule pack folder"]),
    ('waivers = "reviews/none.yaml"\n', "1", "waivers", ["no such waivers file"]),
]


def _check_error(err: str, name: str, at: str, field: str | None, words: list[str]):
    where = re.escape(f"{name}:{at}") + ("" if ":" in at else r"(:\d+)?")
    field_part = re.escape(field) + ": " if field else ""
    assert re.match(rf"diplo: error: {where}: {field_part}", err), \
        f"expected {name}:{at}: {field or ''} at the start of {err!r}"
    missing = [w for w in words if w.lower() not in err.lower()]
    assert not missing, f"{missing} not in {err}"


@pytest.mark.parametrize("name, text, at, field, words", BROKEN,
                         ids=[f"{b[0]}:{b[3] or b[4][0]}" for b in BROKEN])
def test_an_invalid_file_is_one_line_naming_file_line_and_field(
        name, text, at, field, words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_text(text, encoding="utf-8")
    _check_error(one_line_error(run("config")), name, at, field, words)
    with pytest.raises(ConfigError):
        read_config(tmp_path / name)


@pytest.mark.parametrize("text, at, field, words", REFUSED_BY_THE_LOADER,
                         ids=[r[2] for r in REFUSED_BY_THE_LOADER])
def test_a_value_the_loader_refuses_is_placed_in_the_file(text, at, field, words, tmp_path,
                                                        monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "diplo.toml").write_text(text, encoding="utf-8")
    assert run("config").exit_code == 0                 # showing settings loads nothing
    _check_error(one_line_error(run("config", "--check")), "diplo.toml", at, field, words)
    err = one_line_error(run("assess", case(tmp_path, NEW_PARTNERSHIP)))
    _check_error(err, "diplo.toml", at, field, words)


def test_the_same_values_on_the_command_line_are_blamed_on_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = case(tmp_path, NEW_PARTNERSHIP)
    err = one_line_error(run("assess", name, "--disable", "DD-TRA-05"))
    assert err.startswith("diplo: error: --disable DD-TRA-05: no rule 'DD-TRA-05' is loaded")
    err = one_line_error(run("assess", name, "--severity", "DD-TRA-005=urgent"))
    assert err.startswith("diplo: error: --severity DD-TRA-005: expected one of info, low")
    err = one_line_error(run("assess", name, "--severity", "DD-TRA-005"))
    assert "--severity: expected RULE=VALUE, found 'DD-TRA-005'" in err
    # a key in the file, the command line's value wins and is the one blamed
    write(tmp_path / "diplo.toml", '[params]\ncut_pct = 5\n')
    err = one_line_error(run("assess", name, "--param", "cut_pct=ten"))
    assert err.startswith("diplo: error: --param cut_pct: expected a number"), err


def _too_large(path: Path):
    with open(path, "wb") as f:   # sparse: refused on its size, before it is read
        f.truncate(MAX_FILE_BYTES + 1)


@pytest.mark.parametrize("make, words", [
    (_too_large, ["file is", "bytes; the limit is"]),
    (lambda p: p.write_bytes(b'fail-on = "\xff"\n'), ["not valid UTF-8", "1:12"]),
    (lambda p: p.write_bytes(b'fail-on = "low"\x00\n'), ["binary file"]),
    (lambda p: p.mkdir(), ["is a directory, expected a file"]),
], ids=["too-large", "not-utf8", "binary", "folder"])
def test_unreadable_files_are_refused(make, words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make(tmp_path / "diplo.toml")
    err = one_line_error(run("assess", case(tmp_path, NEW_PARTNERSHIP)))
    assert err.startswith("diplo: error: diplo.toml:") or \
        err.startswith("diplo: error: diplo.toml: "), err
    missing = [w for w in words if w not in err]
    assert not missing, f"{missing} not in {err}"


def test_an_empty_file_is_valid_and_sets_nothing(tmp_path):
    write(tmp_path / "diplo.toml", "# nothing yet\n")
    assert read_config(tmp_path / "diplo.toml").values == ConfigModel()
    settings = effective_settings({}, start=tmp_path)
    assert settings.config is not None and settings.fail_on.source == "default"


def test_keys_are_placed_by_a_scan_of_the_text(tmp_path):
    from engine.inputs.toml import key_positions as _positions
    keys, values = _positions(textwrap.dedent("""\
        # a comment = not a key
        note = '''
        fail-on = "inside a string"
        '''
        fail-on = "low"
        severity = { DD-TRA-005 = "high", "DD.X" = "low" }
          params.cut_pct = 3
        [tool . "diplo"]
        [[servers]]
        """))
    assert keys[("note",)] == (2, 1)
    assert keys[("fail-on",)] == (5, 1) and values[("fail-on",)] == (5, 11)
    assert keys[("severity",)] == (6, 1)
    assert keys[("severity", "DD-TRA-005")] == (6, 14)
    assert keys[("severity", "DD.X")][0] == 6
    assert keys[("params",)] == (7, 3) and keys[("params", "cut_pct")] == (7, 3)
    assert keys[("tool",)] == keys[("tool", "diplo")] == (8, 1)
    assert keys[("servers",)] == (9, 1)
