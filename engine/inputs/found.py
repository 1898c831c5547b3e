"""Files diplo reads without being named them: `diplo-waivers.yaml` beside the first case,
`diplo.toml` or `pyproject.toml` found from the working directory upwards, and a waivers file
that such a configuration file names.

Whoever can write the folder such a file sits in (in a review pipeline, anyone who opens a pull
request) chooses what it is, and a symbolic link there can lead to any file the runner can read:
a token, a key. So:

- a file found by convention that is a link leading outside the folder it was found in is
  refused before it is read (`check_link`), with a line naming the link, not its target;
- a file found by convention is quoted in errors only when it is a regular file inside that
  folder (`quotable`): a link that stays inside may still lead to a file nobody reviewed (an
  untracked `.env`), and a file a configuration names may lie anywhere. Errors about any other
  such file keep the file, line and column but say nothing of its content (`withheld`).

A file named on the command line (or in DIPLO_CONFIG) is the operator's choice and is read and
quoted wherever it points (docs/security.md).
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import DiploError


def _real(path: str | Path) -> str:
    # a link loop resolves to a path inside its own folder: reading it then fails with a plain
    # "too many levels of symbolic links", which quotes nothing
    return os.path.realpath(os.path.abspath(os.path.expanduser(str(path))))


def inside(path: str | Path, folder: str | Path) -> bool:
    """Whether `path`, every link on the way followed, lies in `folder` or below it."""
    target, root = _real(path), _real(folder)
    try:
        return os.path.commonpath([target, root]) == root
    except ValueError:   # another drive
        return False


def shown_name(path: str | Path) -> str:
    """A path as an error shows it: relative to the working directory (a file found upwards is
    `../diplo.toml`), its last part as written (a link's own name, never its target's)."""
    absolute = Path(os.path.abspath(os.path.expanduser(str(path))))
    full = os.path.join(_real(absolute.parent), absolute.name)
    try:
        return os.path.relpath(full, _real(os.curdir))
    except ValueError:   # another drive
        return full


def check_link(candidate: str | Path, folder: str | Path, error: type[DiploError], *,
               what: str, instead: str, name: str | None = None) -> None:
    """Refuse `candidate`, a file found by convention, when it is a link leading outside
    `folder`: an `error` naming the link (as `name`, else as given), never its target, and
    what to do `instead`."""
    if not os.path.islink(candidate) or inside(candidate, folder):
        return
    raise error(f"is a link to a file outside its folder; {what} found by convention is not "
                f"read through a link that leaves the folder it was found in ({instead})",
                file=name or str(candidate))


def quotable(path: str | Path, folder: str | Path) -> bool:
    """Whether errors about a file that diplo found by itself may quote it: not a link, and
    inside `folder` (what is not a regular file is refused unread, quoting nothing)."""
    try:
        os.stat(path)
        info = os.lstat(path)
    except OSError:
        return True   # nothing to quote: a missing file, a dangling link, a link loop
    return not stat.S_ISLNK(info.st_mode) and inside(path, folder)


def withheld(error: DiploError, cls: type[DiploError], *, file: str, what: str,
             instead: str) -> DiploError:
    """`error`, about a file diplo found by itself and may not quote, without a word of the
    file's content: its file, line and column, and how to see the whole message."""
    return cls(f"{what} is not valid; nothing of it is shown, as diplo found it by itself and "
               f"it is a link or lies outside its folder ({instead} to see the problem)",
               file=file, line=error.line, column=error.column)
