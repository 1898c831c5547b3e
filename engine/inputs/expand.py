"""Case arguments as the case files they stand for: a file as given, a folder as the case files
directly in it, a glob pattern (`*`, `?`, `[...]`, `**` for any depth) as the case files and
folders it matches.

What an argument names outright is the operator's choice and is taken wherever it points: a
file, a folder or the fixed start of a pattern (`proposals/` in `proposals/**/*.yaml`) may be a
symbolic link. Below that, what diplo finds by listing folders was put there by whoever can
write them (in a review pipeline, anyone who opens a pull request), so no link is followed: a
link to a file is not taken for a case, a link to a folder is neither listed nor searched.
Nothing below the folder given is reached through a link, a link loop (`ln -s . l1`) is a name
passed over like any other, and a file reached twice by one argument or by several is taken
once (docs/security.md).

The expansion follows the algorithm of the standard library's `glob` (the same matches, in the
same spelling, hidden names matched only by a pattern that starts with `.`), which has no way
to leave links alone.
"""
from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

from ..errors import DiploError

CASE_SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"
_MAGIC = re.compile(r"[*?[]")


def is_pattern(argument: str) -> bool:
    """Whether an argument is a glob pattern (`*`, `?` or `[`); a file that exists with such a
    name is taken as the file."""
    return bool(_MAGIC.search(argument)) and not os.path.lexists(argument)


def expand_cases(arguments, *, skip=(), skip_names=(),
                 suffixes=CASE_SUFFIXES) -> list[str | DiploError]:
    """The case files of `arguments`, in order: a file (or `-`, standard input) as given; a
    folder's case files and a pattern's in name order, never through a link. A folder or
    pattern that yields no case file is a DiploError in its place. Files that are the same as
    a path of `skip` (the waivers, baseline and output files) or named as in `skip_names` (the
    waivers file found by convention) are never taken from a folder or a pattern, nor is a
    file that an earlier argument already gave."""
    skipped = {_identity(path) for path in skip if path} - {None}
    names = frozenset(skip_names)
    seen: set[tuple[int, int]] = set()

    def case(path: str) -> tuple[int, int] | None:
        """The identity of a case file, or None: one lstat, the entry itself, never what a
        link points to."""
        try:
            info = os.lstat(path)
        except OSError:
            return None
        key = (info.st_dev, info.st_ino)
        if (not stat.S_ISREG(info.st_mode) or key in skipped
                or Path(path).suffix.lower() not in suffixes
                or os.path.basename(path) in names):
            return None
        return key

    def cases_in(folder: str) -> list[tuple[str, tuple[int, int]]]:
        found = ((path, case(path)) for path in sorted(
            os.path.join(folder, name) for name in _names(folder, dirs_only=False)))
        return [(path, key) for path, key in found if key is not None]

    def new(cases: list[tuple[str, tuple[int, int]]]) -> list[str]:
        taken = []
        for path, key in cases:
            if key not in seen:
                seen.add(key)
                taken.append(path)
        return taken

    found: list[str | DiploError] = []
    for raw in arguments:
        raw = str(raw)
        if raw != STDIN and os.path.isdir(raw):
            inside = cases_in(raw)
            found.extend(new(inside) if inside else [DiploError(
                "the folder holds no .yaml, .yml or .json case files", file=raw)])
        elif is_pattern(raw):
            inside = []
            for match in sorted(set(_glob(raw)) - {""}):   # "" is `**` matching no folder
                if _is_real_dir(match):
                    inside.extend(cases_in(match))
                elif (key := case(match)) is not None:
                    inside.append((match, key))
            # a pattern whose files an earlier argument gave matched all the same
            found.extend(new(inside) if inside else [DiploError(
                "the pattern matches no .yaml, .yml or .json case files", file=raw)])
        else:
            identity = _identity(raw) if raw != STDIN else None
            if identity is not None:
                seen.add(identity)
            found.append(raw)
    return found


def _identity(path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return (info.st_dev, info.st_ino)


def _is_real_dir(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


# --- glob without links ------------------------------------------------------------------------

def _glob(pattern: str) -> Iterator[str]:
    """What `glob.glob(pattern, recursive=True)` yields, except through links below the fixed
    start of the pattern."""
    dirname, basename = os.path.split(pattern)
    if not _has_magic(pattern):
        # a fixed start (the recursion below gets here with dirname only): the operator's
        if basename:
            if os.path.lexists(pattern):
                yield pattern
        elif os.path.isdir(dirname):
            yield pattern
        return
    if not dirname:
        yield from _in_folder("", basename)
        return
    folders = _glob_dirs(dirname) if _has_magic(dirname) else [dirname]
    for folder in folders:
        for name in _in_folder(folder, basename):
            yield os.path.join(folder, name)


def _glob_dirs(pattern: str) -> Iterator[str]:
    """The folders `pattern` matches (no links among them below its fixed start)."""
    dirname, basename = os.path.split(pattern)
    if not _has_magic(pattern):
        if os.path.isdir(pattern):
            yield pattern
        return
    if not dirname:
        yield from _in_folder("", basename, dirs_only=True)
        return
    folders = _glob_dirs(dirname) if _has_magic(dirname) else [dirname]
    for folder in folders:
        for name in _in_folder(folder, basename, dirs_only=True):
            yield os.path.join(folder, name)


def _in_folder(folder: str, basename: str, dirs_only: bool = False) -> Iterator[str]:
    """The names in `folder` that `basename` (one part of a pattern) matches, none of them a
    link. `folder` is the pattern's fixed start (taken as given, even a link) or was reached
    from it without a link."""
    if basename == "**":
        yield ""      # `**` matches no folder at all too
        yield from _below(folder, dirs_only)
    elif _has_magic(basename):
        names = _names(folder, dirs_only)
        if not _hidden(basename):
            names = [name for name in names if not _hidden(name)]
        yield from fnmatch.filter(names, basename)
    else:
        # a fixed part under a wildcard: the entry itself, when it is no link
        path = os.path.join(folder, basename)
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            return
        if not stat.S_ISLNK(mode) and (not dirs_only or stat.S_ISDIR(mode)):
            yield basename


def _below(folder: str, dirs_only: bool) -> Iterator[str]:
    """Every name under `folder` at any depth, relative to it, not hidden and never through a
    link; each folder once (a bind mount cannot make it endless either)."""
    visited: set[tuple[int, int]] = set()
    pending = [""]
    while pending:
        relative = pending.pop(0)
        here = os.path.join(folder, relative) if relative else (folder or os.curdir)
        try:
            info = os.stat(here)
        except OSError:
            continue
        if (info.st_dev, info.st_ino) in visited:
            continue
        visited.add((info.st_dev, info.st_ino))
        for name, is_dir in _entries(here, dirs_only):
            if _hidden(name):
                continue
            path = os.path.join(relative, name) if relative else name
            yield path
            if is_dir:
                pending.append(path)


def _names(folder: str, dirs_only: bool) -> list[str]:
    return [name for name, _ in _entries(folder or os.curdir, dirs_only)]


def _entries(folder: str, dirs_only: bool) -> list[tuple[str, bool]]:
    """(name, is a folder) of the entries of `folder` that are not links."""
    try:
        with os.scandir(folder) as entries:
            found = []
            for entry in entries:
                try:
                    if entry.is_symlink():
                        continue
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    continue
                if is_dir or not dirs_only:
                    found.append((entry.name, is_dir))
            return found
    except OSError:
        return []


def _has_magic(text: str) -> bool:
    return _MAGIC.search(text) is not None


def _hidden(name: str) -> bool:
    return name.startswith(".")
