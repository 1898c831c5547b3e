"""What a user gets from `pip install .`: the command, the default pack from any directory,
the documentation pages, the licence and type information, and a clear refusal on interpreters
the rule engine does not support.

The wheel is built as a user's pip builds it (without build isolation, so that no network is
needed: the build backend is a test dependency) and installed, not in editable mode, into a
virtual environment of its own that borrows only the dependencies of this one."""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT


def test_default_pack_is_found_from_any_directory(tmp_path):
    # Run from a folder with no rules/ in sight: the pack must come from the installed package.
    case = ROOT / "cases" / "balanced-partner.yaml"
    result = subprocess.run([sys.executable, "-m", "engine", "assess", str(case)],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Verdict: PASS" in result.stdout
    where = subprocess.run([sys.executable, "-c",
                            "from engine.lang.manifest import builtin_packs_dir; print(builtin_packs_dir())"],
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert where.strip().endswith(("engine/_packs", "rules"))


def test_supported_pythons_are_declared_for_pip():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    # durable-rules does not import on 3.13: pip must refuse it before installing anything
    assert project["requires-python"] == ">=3.11,<3.13"
    assert "durable-rules==2.0.28" in project["dependencies"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps",
                           "--no-build-isolation", "--no-index", "--quiet", "-w", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    [built] = out.glob("diplo-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A virtual environment with the wheel installed (not editable); returns its bin folder.
    Its dependencies come from this environment's site-packages through a .pth file, whose
    own .pth files (among them this checkout's editable install) Python does not read."""
    venv = tmp_path_factory.mktemp("installed") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / "python"
    site = subprocess.run([str(python), "-c",
                           "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    ours = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (Path(site) / "_dependencies.pth").write_text("\n".join(ours) + "\n", encoding="utf-8")
    # --ignore-installed: a diplo installed in this environment is visible there too
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                           "--no-deps", "--no-index", "--ignore-installed", "--quiet",
                           str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return bin_dir


def test_the_wheel_carries_docs_packs_licence_and_type_marker(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    docs = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    assert sorted(n.removeprefix("engine/_docs/") for n in names
                  if n.startswith("engine/_docs/")) == docs
    assert "engine/py.typed" in names
    assert "engine/_packs/defense-diplomacy/pack.yaml" in names
    info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
    archive = zipfile.ZipFile(wheel)
    assert archive.read(f"{info}/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()
    metadata = archive.read(f"{info}/METADATA").decode()
    assert "License-Expression: MIT" in metadata.splitlines()
    assert "License-File: LICENSE" in metadata.splitlines()
    assert "MIT License" in (ROOT / "LICENSE").read_text(encoding="utf-8")


def run_installed(bin_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DIPLO_CONFIG")}
    return subprocess.run([str(bin_dir / "diplo"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_an_installed_copy_reads_its_own_docs(installed, tmp_path):
    listing = run_installed(installed, tmp_path, "docs")
    assert (listing.returncode, listing.stderr) == (0, "")
    assert [line.split()[0] for line in listing.stdout.splitlines()] == sorted(
        p.stem for p in (ROOT / "docs").glob("*.md"))
    where = run_installed(installed, tmp_path, "docs", "--path")
    assert (where.returncode, where.stderr) == (0, "")
    folder = Path(where.stdout.strip())
    # from the installation, not from this checkout
    assert folder.parts[-2:] == ("engine", "_docs")
    assert installed.parent in folder.parents and ROOT not in folder.parents
    page = run_installed(installed, tmp_path, "docs", "limits")
    assert (page.returncode, page.stderr) == (0, "")
    assert page.stdout == (ROOT / "docs" / "limits.md").read_text(encoding="utf-8")
    typo = run_installed(installed, tmp_path, "docs", "limts")
    assert (typo.returncode, typo.stdout) == (2, "")
    assert "did you mean 'limits'?" in typo.stderr


def test_an_installed_copy_assesses_with_its_own_pack(installed, tmp_path):
    case = ROOT / "cases" / "balanced-partner.yaml"
    result = run_installed(installed, tmp_path, "assess", str(case))
    assert result.returncode == 0, result.stderr
    assert "Verdict: PASS" in result.stdout
    where = subprocess.run([str(installed / "python"), "-c",
                            "from engine.lang.manifest import builtin_packs_dir; "
                            "print(builtin_packs_dir())"],
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert Path(where.strip()).parts[-2:] == ("engine", "_packs")
    assert installed.parent in Path(where.strip()).parents
