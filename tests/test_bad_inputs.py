"""Every broken input in tests/bad_inputs/expected.yaml gets one clear line on stderr and exit 2.

The data is the test: add a broken file and a line to expected.yaml, never another function.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main
from engine.inputs.source import MAX_FILE_BYTES

HERE = Path(__file__).parent / "bad_inputs"
VALID_CASE = Path(__file__).parent.parent / "cases" / "balanced-partner.yaml"
EXPECTED = yaml.safe_load((HERE / "expected.yaml").read_text(encoding="utf-8"))


def _too_large(path: Path):
    with open(path, "wb") as f:  # sparse: the size check must refuse it before reading
        f.truncate(MAX_FILE_BYTES + 1)


# what a file outside the reviewed folders holds; the entries below that could reach it must
# not show it (`absent` in expected.yaml)
SECRET = "TOKEN-5f2b9c0e7d"


def _root(path: Path) -> Path:
    """The folder that holds the generated tree `path` is in (the test's temporary folder)."""
    return next(p for p in path.absolute().parents if p.name == "generated").parent


def _outside(root: Path) -> Path:
    """A credentials file, and a folder of "cases" holding it, beside the generated tree."""
    (root / "outside").mkdir(exist_ok=True)
    (root / "outside" / "stolen.yaml").write_text(f"token: {SECRET}\n", encoding="utf-8")
    secret = root / "credentials"
    secret.write_text(f"token={SECRET}\n", encoding="utf-8")
    return secret


def _waivers_link(inside: bool):
    # a case folder's diplo-waivers.yaml that is a link: out of the folder, or to a file in it
    # that nobody reviewed (an untracked .env)
    def build(folder: Path):
        folder.mkdir()
        shutil.copy(VALID_CASE, folder / "case.yaml")
        if inside:
            (folder / ".env").write_text(f"token={SECRET}\n", encoding="utf-8")
            (folder / "diplo-waivers.yaml").symlink_to(".env")
        else:
            (folder / "diplo-waivers.yaml").symlink_to(_outside(_root(folder)).resolve())
    return build


def _links_only(pattern: Path):
    # a folder whose only case-like entries are links: to a file outside, to a folder
    # outside, and to the folder itself (a loop)
    folder = pattern.parent if "*" in pattern.name else pattern
    folder.mkdir(exist_ok=True)
    root = _root(folder).resolve()
    _outside(root)
    (folder / "leak.yaml").symlink_to(root / "credentials")
    (folder / "more").symlink_to(root / "outside")
    (folder / "loop").symlink_to(".")


# inputs that are better made than committed: built under tmp_path at the manifest's path
GENERATED = {
    "generated/cases/missing.yaml": lambda p: None,
    "generated/cases/folder.yaml": lambda p: p.mkdir(),
    "generated/cases/too-large.yaml": _too_large,
    "generated/packs/no-such-pack": lambda p: None,
    "generated/packs/a-file": lambda p: p.write_text("name: tiny\n"),
    "generated/cases/waivers-link-out": _waivers_link(inside=False),
    "generated/cases/waivers-link-in": _waivers_link(inside=True),
    "generated/cases/links-only": _links_only,
    "generated/cases/links-only-pattern/*.yaml": _links_only,
    "generated/cases/output-is-the-case.yaml": lambda p: shutil.copy(VALID_CASE, p),
}


def _params() -> list:
    params = []
    for key, spec in EXPECTED.items():
        spec = spec if isinstance(spec, dict) else {"words": spec}
        marks = [pytest.mark.xfail(strict=True, reason=spec["xfail"])] if "xfail" in spec else []
        params.append(pytest.param(key, spec["words"], spec.get("position", True),
                                   spec.get("lines", 1), spec.get("args", []),
                                   spec.get("absent", []), marks=marks, id=key))
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


@pytest.mark.parametrize("key, words, has_position, lines, extra_args, absent", _params())
def test_bad_input(key, words, has_position, lines, extra_args, absent, monkeypatch, tmp_path):
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
    shown = [w for w in absent if w in err]
    assert not shown, f"{shown} shown in: {err}"
