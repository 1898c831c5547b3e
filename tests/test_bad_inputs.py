"""Every broken input in tests/bad_inputs/expected.yaml gets one clear line on stderr and exit 2.

The data is the test: add a broken file and a line to expected.yaml, never another function.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main
from engine.inputs.source import MAX_FILE_BYTES

HERE = Path(__file__).parent / "bad_inputs"
EXPECTED = yaml.safe_load((HERE / "expected.yaml").read_text(encoding="utf-8"))


def _too_large(path: Path):
    with open(path, "wb") as f:  # sparse: the size check must refuse it before reading
        f.truncate(MAX_FILE_BYTES + 1)


# inputs that are better made than committed: built under tmp_path at the manifest's path
GENERATED = {
    "generated/cases/missing.yaml": lambda p: None,
    "generated/cases/folder.yaml": lambda p: p.mkdir(),
    "generated/cases/too-large.yaml": _too_large,
    "generated/packs/no-such-pack": lambda p: None,
    "generated/packs/a-file": lambda p: p.write_text("name: tiny\n"),
}


def _params() -> list:
    params = []
    for key, spec in EXPECTED.items():
        spec = spec if isinstance(spec, dict) else {"words": spec}
        marks = [pytest.mark.xfail(strict=True, reason=spec["xfail"])] if "xfail" in spec else []
        params.append(pytest.param(key, spec["words"], spec.get("position", True),
                                   spec.get("lines", 1), spec.get("args", []), marks=marks,
                                   id=key))
    return params


def test_corpus_is_complete():
    # a broken file without an entry would never be run
    on_disk = {f"cases/{p.name}" for p in (HERE / "cases").iterdir()}
    on_disk |= {f"packs/{p.name}" for p in (HERE / "packs").iterdir() if p.name != "_valid"}
    listed = {key for key in EXPECTED if not key.startswith("generated/")}
    assert on_disk == listed
    assert set(GENERATED) == {key for key in EXPECTED if key.startswith("generated/")}
    assert len([k for k in listed if k.startswith("cases/")]) >= 35
    assert len([k for k in listed if k.startswith("packs/")]) >= 20


def test_valid_pack_is_valid(monkeypatch):
    # each broken pack is this one with one thing broken; it must itself load
    monkeypatch.chdir(HERE)
    result = CliRunner().invoke(main, ["rules", "list", "--pack", "packs/_valid"])
    assert (result.exit_code, result.stderr) == (0, "")
    assert "T-003" in result.stdout


@pytest.mark.parametrize("key, words, has_position, lines, extra_args", _params())
def test_bad_input(key, words, has_position, lines, extra_args, monkeypatch, tmp_path):
    if key in GENERATED:
        monkeypatch.chdir(tmp_path)
        Path(key).parent.mkdir(parents=True)
        GENERATED[key](Path(key))
    else:
        monkeypatch.chdir(HERE)
    if "packs/" in key:
        path = Path(key)
        members = sorted(p for p in path.iterdir() if (p / "pack.yaml").is_file()) \
            if path.is_dir() and not (path / "pack.yaml").exists() else []
        args = ["rules", "list"]
        for pack in members or [path]:
            args += ["--pack", str(pack)]
    else:
        args = ["assess", key, *extra_args]

    result = CliRunner().invoke(main, args)

    err = result.stderr
    assert result.exit_code == 2, (result.exit_code, err, result.exception)
    assert result.stdout == ""
    assert "Traceback" not in err
    # one line per problem: a single problem is one line; a file with several gets a line
    # for each (`lines` in expected.yaml), up to the limit
    assert err.endswith("\n") and err.count("\n") == lines, err
    for line in err.splitlines():
        assert line.startswith("diplo: error: "), err
        assert key in line, f"the error does not name {key}: {line}"
        if has_position and "not shown" not in line:
            assert re.match(rf"diplo: error: {re.escape(key)}[^ :]*:\d+:\d+: ", line), \
                f"no file:LINE:COL: in: {line}"
    missing = [w for w in words if w.lower() not in err.lower()]
    assert not missing, f"{missing} not in: {err}"
