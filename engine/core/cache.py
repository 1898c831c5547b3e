"""Compiled packs kept on disk, so that a command that loads the same packs again skips reading,
checking and translating them: most of what `diplo assess` of one case spends after its
imports.

An entry holds the analysed packs (engine.lang.pack.PackSet) and their translation into the
engine's rulesets. Its name is a digest of diplo's version and code, the Python version,
the options the packs were loaded with, the folders they were read
from (as the loader names them in messages, and the working directory when those are
relative) and every file in those folders; the entry also records the folders of the packs
they extend, with the digest of their files, and is used only while those are unchanged. So
an entry never outlives a change to a pack, to diplo or to how it was asked for.

The folder: $DIPLO_CACHE_DIR, else $XDG_CACHE_HOME/diplo, else ~/.cache/diplo; created
readable by its owner only. Entries are written to a temporary file and renamed into place,
so that concurrent writers never leave a half-written entry; an entry that cannot be read (cut
short, from another version, not the owner's) is ignored and written anew. At most
MAX_ENTRIES are kept, the least recently written removed first.

The cache is off unless switched on (`enabled`): the command line does, unless `--no-cache`
or DIPLO_NO_CACHE is set; library callers load packs afresh unless they switch it on.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from pathlib import Path

FORMAT = 1            # of an entry; a change makes older entries unreadable, so ignored
MAX_ENTRIES = 64
SUFFIX = ".pack"
ENV_DIR = "DIPLO_CACHE_DIR"
ENV_OFF = "DIPLO_NO_CACHE"

ENV_ON = "DIPLO_CACHE"   # set by enable(), so that the processes this one starts use it too

enabled = bool(os.environ.get(ENV_ON)) and not os.environ.get(ENV_OFF)


def enable(on: bool = True) -> None:
    """Use the cache in this process and the processes it starts (worker processes of a
    batch), unless DIPLO_NO_CACHE is set to a non-empty value."""
    global enabled
    enabled = bool(on) and not os.environ.get(ENV_OFF)
    if enabled:
        os.environ[ENV_ON] = "1"
    else:
        os.environ.pop(ENV_ON, None)


def directory() -> Path:
    """Where entries are kept."""
    given = os.environ.get(ENV_DIR)
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "diplo"


# --- keys -------------------------------------------------------------------------------------

def _tree_digest(root: Path) -> str:
    """Every file under a pack folder, by relative name and content."""
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            path = os.path.join(folder, name)
            digest.update(os.path.relpath(path, root).encode("utf-8", "surrogateescape"))
            digest.update(b"\0")
            try:
                with open(path, "rb") as handle:
                    digest.update(hashlib.sha256(handle.read()).digest())
            except OSError:
                digest.update(b"unreadable")
    return digest.hexdigest()


_code_stamp: str | None = None


def _code() -> str:
    """diplo's own code, by the name, size and time of change of every module: an edit to an
    editable install changes it without a change of version."""
    global _code_stamp
    if _code_stamp is None:
        package = Path(__file__).resolve().parent.parent
        digest = hashlib.sha256()
        for folder, dirs, files in os.walk(package):
            dirs[:] = sorted(d for d in dirs if not d.startswith(("_", ".")))
            for name in sorted(files):
                if name.endswith(".py"):
                    stat = os.stat(os.path.join(folder, name))
                    digest.update(f"{folder}/{name}:{stat.st_size}:{stat.st_mtime_ns}\n"
                                  .encode("utf-8", "surrogateescape"))
        _code_stamp = digest.hexdigest()
    return _code_stamp


def _roots(specs) -> list[Path]:
    """The folders of the named packs, as the loader finds and names them."""
    from ..lang import loader
    if not specs:
        return [loader._default_pack_dir()]
    return [loader.resolve_pack_dir(spec) for spec in specs]


def named_roots(specs) -> list[Path]:
    """The folders of the packs `specs` name (the default pack's when none), as the loader
    finds them."""
    return _roots(specs)


def key(specs, options: dict) -> str | None:
    """The name of the entry for these packs and options; None when the packs cannot be
    found (loading them will say why)."""
    from .._version import __version__
    from ..errors import DiploError
    try:
        roots = _roots(specs)
    except DiploError:
        return None
    # durable-rules is not named: an entry holds no part of it (the rulesets are created
    # from the entry's translation in every process)
    material = repr((
        FORMAT, __version__, _code(), sys.version,
        os.getcwd() if any(not root.is_absolute() for root in roots) else "",
        [str(root) for root in roots], [_tree_digest(root) for root in roots],
        sorted((name, _canonical(value)) for name, value in options.items())))
    return hashlib.sha256(material.encode("utf-8", "surrogateescape")).hexdigest()[:40]


def _canonical(value):
    if isinstance(value, dict):
        return ("dict", sorted((repr(k), _canonical(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_canonical(v) for v in value])
    return repr(value)


# --- entries ----------------------------------------------------------------------------------

class _Pickler(pickle.Pickler):
    # the expression language's stand-in for an absent value is compared by identity
    def persistent_id(self, obj):
        from ..lang import expr
        return "missing" if obj is expr.MISSING else None


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid):
        from ..lang import expr
        if pid == "missing":
            return expr.MISSING
        raise pickle.UnpicklingError(f"unknown reference {pid!r}")

    def find_class(self, module, name):
        # an entry holds diplo's own objects, pydantic's and the standard library's only
        if module.split(".")[0] not in _MODULES:
            raise pickle.UnpicklingError(f"{module}.{name} is not expected in a cache entry")
        return super().find_class(module, name)


_MODULES = {"engine", "pathlib", "collections", "builtins", "copyreg", "pydantic",
            "pydantic_core", "datetime", "decimal", "re", "_codecs", "functools"}


def _owned(path: Path) -> bool:
    """Whether an entry may be trusted: a file of this user's that no one else may write."""
    if not hasattr(os, "getuid"):
        return True
    try:
        stat = path.stat()
    except OSError:
        return False
    return stat.st_uid == os.getuid() and not stat.st_mode & 0o022


def load(name: str):
    """(packset, prepared rulesets) from the entry `name`, or None when there is none or it
    cannot be used."""
    path = directory() / (name + SUFFIX)
    if not _owned(path):
        return None
    try:
        with open(path, "rb") as handle:
            entry = _Unpickler(handle).load()
        tag, bases, packset, prepared = entry
        if tag != ("diplo-pack-cache", FORMAT):
            return None
        for root, digest in bases:
            if _tree_digest(Path(root)) != digest:
                return None
        return packset, prepared
    except Exception:   # cut short, written by another version, or not an entry at all
        return None


def store(name: str, packset, prepared) -> None:
    """Write an entry; a cache that cannot be written is no error (the packs are loaded)."""
    import dataclasses
    folder = directory()
    given = {str(root) for root in _named_roots(packset)}
    bases = [(str(p.root), _tree_digest(p.root)) for p in packset.packs
             if str(p.root) not in given]
    # the parts of a pack set that belong to this process: its compiled form, the reports'
    # shared parts (keyed by object ids) and the year variants
    bare = dataclasses.replace(packset, compiled=None, report_parts={}, year_variants={})
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle = tempfile.NamedTemporaryFile(dir=folder, prefix=".tmp-", suffix=SUFFIX,
                                             delete=False)
        try:
            with handle:
                _Pickler(handle, protocol=pickle.HIGHEST_PROTOCOL).dump(
                    (("diplo-pack-cache", FORMAT), bases, bare, prepared))
            os.replace(handle.name, folder / (name + SUFFIX))
        except BaseException:
            os.unlink(handle.name)
            raise
        _trim(folder)
    except (OSError, pickle.PicklingError, TypeError, AttributeError, RecursionError):
        pass


def _named_roots(packset):
    """The roots of the packs in a set that no other pack of it extends (those named)."""
    extended = {id(p.base) for p in packset.packs if p.base is not None}
    return [p.root for p in packset.packs if id(p) not in extended]


def _trim(folder: Path) -> None:
    entries = entries_in(folder)
    for path in entries[:-MAX_ENTRIES] if len(entries) > MAX_ENTRIES else ():
        try:
            path.unlink()
        except OSError:
            pass


def entries_in(folder: Path | None = None) -> list[Path]:
    """The entries, least recently written first."""
    folder = folder or directory()
    try:
        found = [p for p in folder.iterdir() if p.suffix == SUFFIX and not
                 p.name.startswith(".tmp-")]
    except OSError:
        return []

    def written(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:
            return 0.0
    return sorted(found, key=written)


def clear() -> int:
    """Remove every entry (and any temporary file left by a writer that was killed); the
    number of entries removed."""
    folder = directory()
    removed = 0
    try:
        paths = [p for p in folder.iterdir() if p.suffix == SUFFIX]
    except OSError:
        return 0
    for path in paths:
        try:
            path.unlink()
            removed += not path.name.startswith(".tmp-")
        except OSError:
            pass
    return removed


def info() -> dict:
    """What the cache holds: its folder, whether it is used in this process, its entries and
    their size in bytes."""
    entries = entries_in()
    size = 0
    for path in entries:
        try:
            size += path.stat().st_size
        except OSError:
            pass
    return {"directory": str(directory()), "enabled": enabled, "entries": len(entries),
            "bytes": size}
