"""The cache of compiled packs (engine.core.cache): the same output with and without it, never a
stale entry, safe under concurrent writers, a corrupt entry ignored and written anew, and the
`diplo cache` commands."""
from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys

import pytest

from engine.core import cache, run

from conftest import DEFAULT_PACK, ROOT
from conftest import run_cli as _run_cli

CASES = sorted((ROOT / "cases").glob("*.yaml"))
BAD_PACKS = ROOT / "tests" / "bad_inputs" / "packs"


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """The cache on, in a folder of this test's own."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(cache.ENV_DIR, str(folder))
    monkeypatch.delenv(cache.ENV_OFF, raising=False)
    monkeypatch.chdir(ROOT)
    yield folder
    cache.enable(False)
    run._default = None


def run_cli(*args):
    # as a new process would: the default pack (and its variants by year) not yet loaded
    run._default = None
    return _run_cli(*args)


def _outcome(result):
    return result.exit_code, result.stdout, result.stderr


def test_every_case_gives_the_same_output_with_a_warm_cache_and_without(cache_dir):
    # every case in one run: the default pack, and its values for each fiscal year
    cases = [str(p.relative_to(ROOT)) for p in CASES]
    for form in ("json", "table"):
        fresh = _outcome(run_cli("assess", *cases, "--no-cache", "--format", form))
        assert not cache.entries_in(cache_dir)
        assert fresh[0] in (0, 1), fresh[2]
        cold = _outcome(run_cli("assess", *cases, "--format", form))    # writes the cache
        assert cache.entries_in(cache_dir)
        warm = _outcome(run_cli("assess", *cases, "--format", form))    # reads it
        assert cold == fresh
        assert warm == fresh
        shutil.rmtree(cache_dir)
    # one case alone too, as a run from a cold start does it
    case = cases[0]
    fresh = _outcome(run_cli("assess", case, "--no-cache"))
    run_cli("assess", case)
    assert _outcome(run_cli("assess", case)) == fresh


def test_the_cache_is_written_read_and_left_alone_with_no_cache(cache_dir, monkeypatch):
    case = "cases/balanced-partner.yaml"
    run_cli("assess", case, "--no-cache")
    assert not cache_dir.exists()
    run_cli("assess", case)
    entries = cache.entries_in(cache_dir)
    assert entries   # the default pack, and its values for the case's fiscal year
    assert oct(cache_dir.stat().st_mode & 0o777) == oct(0o700)
    loaded = []
    real = cache.load
    monkeypatch.setattr(cache, "load", lambda name: loaded.append(real(name)) or loaded[-1])
    run_cli("assess", case)
    assert loaded and all(found is not None for found in loaded)
    assert cache.entries_in(cache_dir) == entries   # nothing written again


def test_a_changed_pack_is_never_answered_from_the_cache(cache_dir, tmp_path):
    pack = tmp_path / "pack"
    shutil.copytree(DEFAULT_PACK, pack)
    case = "cases/ally-trims-exercises.yaml"
    before = run_cli("assess", case, "--pack", pack, "--format", "json")
    assert run_cli("assess", case, "--pack", pack, "--format", "json").stdout == before.stdout
    manifest = pack / "pack.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(
        "name: defense-diplomacy", "name: changed-pack", 1), encoding="utf-8")
    after = run_cli("assess", case, "--pack", pack, "--format", "json")
    assert '"name": "changed-pack"' in after.stdout
    assert after.stdout == run_cli("assess", case, "--pack", pack, "--format", "json",
                                   "--no-cache").stdout


def test_options_are_part_of_the_key(cache_dir):
    case = "cases/ally-trims-exercises.yaml"
    plain = run_cli("assess", case, "--format", "json").stdout
    changed = run_cli("assess", case, "--format", "json", "--param", "cut_pct=40").stdout
    assert changed != plain
    assert run_cli("assess", case, "--format", "json").stdout == plain
    assert changed == run_cli("assess", case, "--format", "json", "--param", "cut_pct=40",
                              "--no-cache").stdout


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "foreign"])
def test_a_corrupt_entry_is_ignored_and_written_anew(cache_dir, damage):
    case = "cases/balanced-partner.yaml"
    expected = _outcome(run_cli("assess", case, "--no-cache"))
    run_cli("assess", case)
    for entry in cache.entries_in(cache_dir):
        data = entry.read_bytes()
        if damage == "truncated":
            entry.write_bytes(data[: len(data) // 2])
        elif damage == "garbage":
            entry.write_bytes(os.urandom(2000))
        elif damage == "empty":
            entry.write_bytes(b"")
        else:   # a pickle that is not an entry, and would run code if it were trusted
            entry.write_bytes(pickle.dumps(subprocess.Popen))
    assert _outcome(run_cli("assess", case)) == expected
    # written anew: the next run reads every entry
    assert all(cache.load(e.stem) is not None for e in cache.entries_in(cache_dir))
    assert _outcome(run_cli("assess", case)) == expected


def test_an_entry_others_may_write_is_not_trusted(cache_dir):
    case = "cases/balanced-partner.yaml"
    run_cli("assess", case)
    entry = cache.entries_in(cache_dir)[0]
    entry.chmod(0o666)
    assert cache.load(entry.stem) is None
    entry.chmod(0o600)
    assert cache.load(entry.stem) is not None


def test_pack_errors_are_the_same_with_the_cache(cache_dir):
    for pack in sorted(p for p in BAD_PACKS.iterdir()
                       if p.is_dir() and not p.name.startswith("_"))[:8]:
        fresh = _outcome(run_cli("rules", "list", "--pack", pack, "--no-cache"))
        assert fresh[0] == 2
        assert _outcome(run_cli("rules", "list", "--pack", pack)) == fresh
        assert _outcome(run_cli("rules", "list", "--pack", pack)) == fresh
    assert not cache.entries_in(cache_dir)   # a pack that does not load is never kept


_WRITER = """
import sys
from engine.core import cache, run
cache.enable()
for _ in range(int(sys.argv[1])):
    packset = run._load_compiled((), {})
    assert packset.compiled is not None
print("ok")
"""


def test_concurrent_writers_leave_a_readable_entry(cache_dir):
    # four processes load (and so write) the same entry at once, each several times; every
    # reader in between must get a whole entry or none, and the survivor must be whole
    env = {**os.environ, cache.ENV_DIR: str(cache_dir)}
    env.pop(cache.ENV_OFF, None)
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, "3"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(4)]
    for writer in writers:
        out, err = writer.communicate(timeout=300)
        assert writer.returncode == 0, err
        assert out.strip() == "ok"
    entries = cache.entries_in(cache_dir)
    assert len(entries) == 1
    assert cache.load(entries[0].stem) is not None
    assert not [p for p in cache_dir.iterdir() if p.name.startswith(".tmp-")]


def test_the_cache_keeps_at_most_its_limit(cache_dir, monkeypatch):
    monkeypatch.setattr(cache, "MAX_ENTRIES", 2)
    case = "cases/balanced-partner.yaml"
    for value in (11, 12, 13):
        run_cli("assess", case, "--param", f"cut_pct={value}")
    assert len(cache.entries_in(cache_dir)) == 2


def test_cache_info_and_clear(cache_dir):
    empty = run_cli("cache", "info")
    assert empty.exit_code == 0 and empty.stderr == ""
    assert empty.stdout.splitlines() == [f"folder   {cache_dir}", "entries  0",
                                         "size     0 bytes"]
    run_cli("assess", "cases/balanced-partner.yaml")
    held = len(cache.entries_in(cache_dir))
    info = run_cli("cache", "info")
    assert f"entries  {held}" in info.stdout
    cleared = run_cli("cache", "clear")
    assert cleared.exit_code == 0 and cleared.stderr == ""
    assert cleared.stdout == (f"removed {held} compiled pack{'' if held == 1 else 's'} "
                              f"from {cache_dir}\n")
    assert cache.entries_in(cache_dir) == []
    assert run_cli("cache", "clear").stdout == f"removed 0 compiled packs from {cache_dir}\n"


def test_the_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(cache.ENV_DIR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.directory() == tmp_path / "xdg" / "diplo"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.directory() == tmp_path / "home" / ".cache" / "diplo"
    monkeypatch.setenv(cache.ENV_DIR, str(tmp_path / "given"))
    assert cache.directory() == tmp_path / "given"


def test_no_cache_from_the_environment(cache_dir, monkeypatch):
    monkeypatch.setenv(cache.ENV_OFF, "1")
    run_cli("assess", "cases/balanced-partner.yaml")
    assert not cache_dir.exists()
