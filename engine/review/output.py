"""The `--output` file of `diplo assess`: written whole or not at all when it is a file, written
as it comes when it is a stream.

What FILE is decides how it is written (docs/review-workflows.md, "Writing to a file"):

- a regular file, or a name that does not exist yet: the output goes to a temporary file in the
  same folder (same file system, so the rename is atomic), which replaces the file when the
  output is complete. A link to a regular file is written through: the file it leads to is
  replaced, and the link stays. A replaced file keeps its permissions;
- anything else that exists (a terminal or another character device such as /dev/null, a named
  pipe, /dev/stdout or /proc/self/fd/1) is a stream, never replaced: the output is written to it
  as the shell's `>` would;
- refused before any case is assessed, with the file named: an empty name, a folder, a file in
  a folder that does not exist, a file that is one of the run's inputs (a case, the waivers
  file, the baseline, the configuration file: the report would destroy what it reports on), and
  a read-only file (as the shell refuses one; as root too, where the shell would write).

The temporary file's name stays within the file system's limit on a name, however long FILE's.
"""
from __future__ import annotations

import os
import re
import secrets
import stat
from pathlib import Path

from ..errors import UsageError

_NAME_MAX = 255   # when the file system does not say


class OutputFile:
    """A file written in pieces as they come (`write`), inside a `with` block: a regular file
    is replaced when the block ends normally having written something; an error or an
    interruption, or nothing written, leaves it as it was and no temporary file. A stream is
    opened at the first piece and written directly.

    `inputs` maps each file the run reads to what it is ("a case", "the baseline"): FILE may
    be none of them."""

    def __init__(self, path: str | Path, *, inputs: dict[str, str] | None = None):
        self.path = str(path)
        if not self.path:
            raise UsageError("the output file name is empty; give a file name, or leave out "
                             "--output to write to standard output", path="--output")
        try:
            info = os.stat(self.path)   # through links, /proc's too: what a write would reach
        except FileNotFoundError:
            info = None
        except OSError as exc:
            raise self._error(exc) from None
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise UsageError("is a folder; --output takes a file name", file=self.path)
        if info is not None:
            for name, what in (inputs or {}).items():
                if _same(info, name):
                    raise UsageError(f"is {what} of this run; the output never replaces an "
                                     "input (give another file)", file=self.path)
        # /dev/stdout, /dev/fd/N, /proc/self/fd/N: one of this process's own open files,
        # written through that file as it is open (as the shell does), whatever it is
        self.fd = _own_descriptor(self.path) if info is not None else None
        self.stream = self.fd is not None or (info is not None
                                             and not stat.S_ISREG(info.st_mode))
        self.direct = self.stream
        self.target = self.path
        if not self.stream:
            self.target = self._real_file(info)
            if not os.path.isdir(os.path.dirname(self.target) or os.curdir):
                # said before a batch is assessed, not after
                raise UsageError("cannot write: its folder does not exist", file=self.path)
            if info is not None and not _writable(self.target, info):
                raise UsageError("cannot write: the file is read-only", file=self.path)
        self.temp: str | None = None
        self.out = None

    def _real_file(self, info) -> str:
        """The regular file to replace: FILE, or the file a link leads to (the link stays)."""
        if not os.path.islink(self.path):
            return self.path
        real = os.path.realpath(self.path)
        if info is not None and not _same(info, real):
            # a link the kernel follows but a path cannot name (a /proc link to a deleted
            # file): written in place, as the shell would
            self.direct = True
            return self.path
        return real

    # -- writing

    def write(self, text: str) -> None:
        if self.out is None:
            self._open()
        try:
            self.out.write(text)
            if self.stream:
                self.out.flush()   # a reader of a pipe sees each piece as it comes
        except OSError as exc:
            raise self._error(exc) from None

    def __enter__(self) -> OutputFile:
        return self

    def __exit__(self, kind, exc, traceback) -> None:
        if self.out is None:
            return
        if self.direct:
            try:
                self.out.close()
            except OSError as error:
                if kind is None:
                    raise self._error(error) from None
            return
        try:
            if kind is None:
                self._replace()
        finally:
            if self.temp is not None:   # not renamed: an error, or the rename failed
                self.out.close()
                try:
                    os.unlink(self.temp)
                except OSError:
                    pass

    def _open(self) -> None:
        if self.direct:
            # a stream, as the shell's `>` opens one (truncation means nothing to a device or
            # a pipe, and empties a file written in place)
            flags = os.O_WRONLY | (0 if self.stream else os.O_TRUNC)
            try:
                fd = (os.dup(self.fd) if self.fd is not None
                      else os.open(self.target, flags | getattr(os, "O_NOCTTY", 0)))
            except OSError as exc:
                raise self._error(exc) from None
            self.out = os.fdopen(fd, "w", encoding="utf-8", newline="")
            return
        temp = _temporary_name(self.target)
        try:
            # os.open applies the umask, so a new file gets the permissions any write would give
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileNotFoundError:
            raise UsageError("cannot write: its folder does not exist", file=self.path) from None
        except OSError as exc:
            raise self._error(exc) from None
        self.temp = temp
        self.out = os.fdopen(fd, "w", encoding="utf-8", newline="")

    def _replace(self) -> None:
        mode = None
        try:
            mode = stat.S_IMODE(os.stat(self.target).st_mode)  # a replaced file keeps them
        except OSError:
            pass
        try:
            self.out.flush()
            os.fsync(self.out.fileno())
            self.out.close()
            if mode is not None:
                os.chmod(self.temp, mode)
            os.replace(self.temp, self.target)
        except OSError as exc:
            raise self._error(exc) from None
        self.temp = None

    def _error(self, exc: OSError) -> UsageError:
        return UsageError(f"cannot write: {exc.strerror or exc}", file=self.path)


def write_output(path: str | Path, text: str, *, inputs: dict[str, str] | None = None) -> None:
    """Write `text` to `path` as `OutputFile` does: whole or not at all to a file, directly to
    a stream."""
    with OutputFile(path, inputs=inputs) as out:
        out.write(text)


def _same(info: os.stat_result, path: str | Path) -> bool:
    try:
        other = os.stat(path)
    except (OSError, ValueError):
        return False
    return (info.st_dev, info.st_ino) == (other.st_dev, other.st_ino)


def _own_descriptor(path: str) -> int | None:
    """The number of the open file of this process that `path` names, through any links
    (/dev/stdout -> /proc/self/fd/1), or None when it names none."""
    pid = os.getpid()
    own = re.compile(rf"/proc/(?:{pid}|{pid}/task/\d+|self|thread-self)/fd")
    for _ in range(40):   # the kernel's own limit on links in a row
        folder, name = os.path.split(os.path.abspath(path))
        folder = os.path.realpath(folder)
        if name.isdigit() and own.fullmatch(folder):
            return int(name)
        try:
            target = os.readlink(path)
        except OSError:   # not a link: the file itself
            return None
        path = os.path.join(folder, target)
    return None


def _writable(path: str, info: os.stat_result) -> bool:
    # a file without any write permission is read-only for everyone, root included (who may
    # write anything: os.access says yes to root)
    return bool(info.st_mode & 0o222) and os.access(path, os.W_OK)


def _temporary_name(target: str) -> str:
    """A new name beside `target`, hidden, unique to this process and within the file
    system's limit on the length of a name (FILE's own may be at that limit)."""
    folder, name = os.path.split(target)
    try:
        limit = os.pathconf(folder or os.curdir, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        limit = _NAME_MAX
    suffix = f".{os.getpid()}.{secrets.token_hex(4)}.tmp".encode()
    stem = os.fsencode(name)[: max(limit - len(suffix) - 1, 1)]
    return os.path.join(folder, os.fsdecode(b"." + stem + suffix))
