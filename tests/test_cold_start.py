"""Start-up: what `diplo assess` imports, and the shortcuts taken to start faster give the
answers the slower way gives.

Structural checks only, each in a fresh interpreter (this test process has imported everything
already): a module on the list below being imported is a fact, not a timing. How long start-up
takes is measured by bench/bench.py (docs/performance.md), never asserted here.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
CASE = "cases/balanced-partner.yaml"

# What a plain `diplo assess CASE` never needs: other commands' modules, the formats it does not
# print, the waivers and baseline it is not given, the worker pool of --jobs, the registry of
# installed packs (the default pack is diplo's own), version specifiers beyond the plain ones
# packs write, and the test-only dependencies.
NOT_ON_ASSESS_PATH = [
    "engine.analysis.explain", "engine.analysis.whatif", "engine.analysis.edit",
    "engine.analysis.proof", "engine.analysis.whynot", "engine.analysis.remedies",
    "engine.analysis.sweep", "engine.authoring.lint", "engine.authoring.scaffold",
    "engine.authoring.packtest", "engine.review.baseline", "engine.lang.registry",
    "engine.formats.json_format", "engine.formats.junit", "engine.formats.markdown",
    "engine.formats.sarif", "engine.formats.html", "engine.formats.html_charts",
    "engine.formats.html_figures", "engine.inputs.spreadsheet", "engine.inputs.sheets",
    "engine.inputs.spreadsheet_out", "engine.cli.complete", "jinja2", "openpyxl",
    "multiprocessing", "concurrent.futures", "packaging", "xml.etree", "difflib",
    "jsonschema", "hypothesis", "pytest",
]


def _modules_after(code: str, *args: str) -> dict:
    """Run `code` in a fresh interpreter in the repository root; it prints JSON."""
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


ASSESS = """
import contextlib, io, json, sys
from engine.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        main(sys.argv[1:], prog_name="diplo")
    except SystemExit as exc:
        status = exc.code
print(json.dumps({"status": status, "output": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def test_import_engine_imports_no_models_loader_or_dependencies():
    found = _modules_after("import json, sys, engine; print(json.dumps(sorted(sys.modules)))")
    assert [m for m in found if m.startswith("engine")] == ["engine", "engine._version",
                                                            "engine.errors"]
    for name in ("pydantic", "durable", "yaml", "click", "tabulate"):
        assert name not in found


def test_import_engine_cli_defers_what_commands_import():
    found = _modules_after("import json, sys, engine.cli; print(json.dumps(sorted(sys.modules)))")
    for name in NOT_ON_ASSESS_PATH + ["engine.core.run", "engine.lang.pack", "engine.core.compile",
                                      "engine.config", "engine.review.gate", "engine.review.waivers",
                                      "engine.formats.table", "durable"]:
        assert name not in found, name


def test_assess_imports_only_what_it_needs():
    result = _modules_after(ASSESS, "assess", CASE, "--exit-zero")
    assert result["status"] == 0
    assert "Verdict: PASS" in result["output"]
    for name in NOT_ON_ASSESS_PATH:
        assert name not in result["modules"], name
    # what it does need, so that the list above is not vacuous
    for name in ("engine.core.run", "engine.lang.pack", "engine.core.compile", "engine.formats.table",
                 "durable.engine", "pydantic"):
        assert name in result["modules"], name


def test_assess_imports_the_format_it_prints_and_no_other():
    result = _modules_after(ASSESS, "assess", CASE, "--exit-zero", "--format", "json")
    assert json.loads(result["output"])["verdict"] == "pass"
    assert "engine.formats.json_format" in result["modules"]
    for name in ("engine.formats.junit", "engine.formats.markdown", "engine.formats.sarif",
                 "engine.formats.table", "xml.etree"):
        assert name not in result["modules"], name


# --- the public API, imported on first use ------------------------------------------------------

def test_public_api_is_unchanged_and_lazy():
    import engine
    from engine import model
    from engine.lang import pack
    from engine import api
    from engine.core import run
    assert engine.__all__ == ["assess", "load_case", "load_pack", "Case", "Finding", "Report",
                              "PackSet", "DiploError", "CaseError", "PackError", "InputError",
                              "UsageError", "EngineFailure", "WaiverError", "BaselineError",
                              "ConfigError", "__version__"]
    assert engine.assess is api.assess and engine.load_case is run.load_case
    assert engine.load_pack is run.load_pack and engine.PackSet is pack.PackSet
    assert (engine.Case, engine.Finding, engine.Report) == (model.Case, model.Finding,
                                                            model.Report)
    assert set(engine.__all__) <= set(dir(engine))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        engine.nope  # noqa: B018


def test_star_import_gives_every_public_name():
    found = _modules_after("import json\nfrom engine import *\n"
                           "print(json.dumps(sorted(k for k in dir() if not k.startswith('_')"
                           " or k == '__version__')))")
    import engine
    assert set(engine.__all__) <= set(found)


# --- formats, loaded by name ------------------------------------------------------------------

def test_formats_are_listed_without_being_imported():
    found = _modules_after(
        "import json, sys\nfrom engine import formats\n"
        "names = formats.names()\n"
        "before = sorted(m for m in sys.modules if m.startswith('engine.formats.'))\n"
        "formats.get('junit')\n"
        "after = sorted(m for m in sys.modules if m.startswith('engine.formats.'))\n"
        "print(json.dumps({'names': names, 'before': before, 'after': after}))")
    assert found["names"] == ["github", "html", "json", "jsonl", "junit", "markdown", "sarif", "table"]
    assert found["before"] == []
    assert found["after"] == ["engine.formats.junit"]


def test_a_format_registered_under_a_builtin_name_keeps_it():
    # as when the built-in formats were imported with the package: a format registered later
    # under the same name replaced the built-in one, and loading the built-in module later
    # (markdown imports table) must not bring it back
    found = _modules_after(
        "import json\nfrom engine import formats\n"
        "@formats.register\n"
        "class Mine:\n"
        "    name = 'table'\n"
        "    def reports(self, reports, **options):\n"
        "        return 'mine'\n"
        "formats.get('markdown')\n"
        "print(json.dumps([type(formats.get('table')).__name__, formats.names()]))")
    assert found == ["Mine", ["github", "html", "json", "jsonl", "junit", "markdown", "sarif", "table"]]


def test_a_builtin_format_comes_back_when_its_replacement_is_removed():
    found = _modules_after(
        "import json\nfrom engine import formats\n"
        "formats._REGISTRY['table'] = object()\n"
        "formats.get('markdown')\n"
        "del formats._REGISTRY['table']\n"
        "print(json.dumps(type(formats.get('table')).__name__))")
    assert found == "TableFormat"


# --- the default pack, found without the registry ---------------------------------------------

def test_default_pack_is_the_one_its_name_resolves_to():
    from engine.lang.loader import _default_pack_dir, resolve_pack_dir
    from engine.lang.manifest import DEFAULT_PACK
    assert _default_pack_dir().resolve() == resolve_pack_dir(DEFAULT_PACK).resolve()


def test_a_default_pack_folder_in_the_working_directory_still_wins(tmp_path, monkeypatch):
    import shutil

    from engine.lang.loader import _default_pack_dir, load_pack
    from engine.lang.manifest import DEFAULT_PACK, builtin_packs_dir
    shutil.copytree(builtin_packs_dir() / DEFAULT_PACK, tmp_path / DEFAULT_PACK)
    monkeypatch.chdir(tmp_path)
    assert _default_pack_dir() == Path(DEFAULT_PACK)
    assert load_pack().packs[0].root == Path(DEFAULT_PACK)


# --- version specifiers: the plain ones without `packaging`, with its answers ------------------

RELEASE = st.lists(st.integers(0, 12), min_size=1, max_size=4).map(
    lambda parts: ".".join(map(str, parts)))
SPACE = st.sampled_from(["", " ", "  ", "\t"])
CLAUSE = st.builds(lambda a, op, b, version, c: f"{a}{op}{b}{version}{c}", SPACE,
                   st.sampled_from(["==", "!=", "<=", ">=", "<", ">"]), SPACE, RELEASE, SPACE)


def _packaging(version: str, specifier: str) -> bool:
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version
    return SpecifierSet(specifier).contains(Version(version), prereleases=True)


@settings(max_examples=400, deadline=None)
@given(version=RELEASE, clauses=st.lists(CLAUSE, min_size=1, max_size=3))
def test_plain_specifiers_match_as_packaging_matches(version, clauses):
    from engine.lang.manifest import _plain_specifier, _version_ok
    specifier = ",".join(clauses)
    assert _plain_specifier(specifier) is not None
    assert _version_ok(version, specifier) == _packaging(version, specifier)


@pytest.mark.parametrize("version, specifier", [
    ("0.2.0", ">=0.2,<1"), ("1.0.0", ">=0.2,<1"), ("1.0", "==1.0.0"), ("1.0.0", "!=1"),
    ("01.2", "==1.2"), ("1.10", ">1.9"), ("2", "<=2.0.0.0"), ("1.0.0", ">1.0"),
    # not plain: left to packaging, which must still decide them
    ("1.0.0-rc.1", ">=1.0"), ("1.0.0-rc.1", "<1.0"), ("1.2.0", "~=1.1"), ("1.2.0", "==1.*"),
    ("1.2.0", ">=v1.0"), ("1.0.0+local", "==1.0.0"), ("1.2.0", ">=1.0,"), ("1.2.0", "===1.2.0"),
    ("1.2.0", ">=\u0661.0"),
])
def test_specifiers_agree_with_packaging(version, specifier):
    from packaging.specifiers import InvalidSpecifier
    from packaging.version import InvalidVersion

    from engine.lang.manifest import _version_ok
    try:
        expected = _packaging(version, specifier)
    except (InvalidSpecifier, InvalidVersion) as exc:
        with pytest.raises(type(exc)):
            _version_ok(version, specifier)
    else:
        assert _version_ok(version, specifier) == expected


@pytest.mark.parametrize("text", [">=0.2,<1", "==1", " >= 1.0 , != 1.5 ", "<2", ">=1.0,",
                                  "~=1.1", "==1.*", ">=v1", "=>1.0", "1.0", ">=1.0.0-rc.1",
                                  ">=\u0661.0", ">= 1 .0", ""])
def test_specifier_check_refuses_what_packaging_refuses(text):
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    from engine.errors import PackError
    from engine.lang.manifest import _check_specifier
    from engine.inputs.source import Document
    doc = Document("pack.yaml", {"diplo": text})
    try:
        SpecifierSet(text)
    except InvalidSpecifier:
        with pytest.raises(PackError, match="is not a version specifier"):
            _check_specifier(text, doc, ("diplo",))
    else:
        _check_specifier(text, doc, ("diplo",))


# --- YAML: the shortcuts of the reader give what the full path gives ----------------------------

def test_yaml_reader_shortcuts_change_nothing(monkeypatch):
    from engine.inputs import source
    files = sorted(p for pattern in ("rules/**/*.yaml", "cases/*.yaml", "tests/**/*.yaml",
                                     "tests/**/*.yml", "tests/**/*.json")
                   for p in ROOT.glob(pattern))
    assert len(files) > 50

    def read_all():
        found = {}
        for path in files:
            try:
                doc = source.read_document(path)
                found[path] = (repr(doc.data), doc.values, doc.keys)
            except Exception as exc:  # noqa: BLE001 (the error is part of the answer)
                found[path] = (type(exc).__name__, str(exc))
        return found

    fast = read_all()
    monkeypatch.setattr(source, "_UNCOUNTED_CHARS", -1)    # count the values of every file
    monkeypatch.setattr(source, "_STR_TAG", object())       # construct every scalar
    assert read_all() == fast


def test_a_long_file_with_too_many_values_is_still_refused_before_it_is_built(tmp_path):
    from engine.inputs import source
    from engine.errors import InputError
    path = tmp_path / "many.yaml"
    path.write_text("[" + ",".join(["1"] * (source.MAX_NODES + 1)) + "]\n")
    assert len(path.read_text()) > source._UNCOUNTED_CHARS
    with pytest.raises(InputError, match="more than 200,000 values; refusing to read further"):
        source.read_document(path)


# --- the benchmark's cold-start section --------------------------------------------------------

def test_bench_measures_the_cold_start_alone(tmp_path):
    """`bench/bench.py --cold-start-only` runs; no timing is asserted (see tests/test_bench.py)."""
    out = tmp_path / "cold.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench.py"), "--cold-start-only",
                           "--cold-runs", "1", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "== Machine ==" in done.stdout and "== Cold start" in done.stdout
    assert "== Throughput" not in done.stdout
    figures = json.loads(out.read_text())
    cold = figures["cold_start"]
    assert cold["runs"] == 1
    assert {"python -m engine assess", "bare import of dependencies",
            "bare import + one pydantic model"} <= set(cold["ratio_to_bare_import"])
    assert len(cold["cpu_phases_ms"]) == 4
