"""Text that fits the terminal it is printed on: its width and whether it shows colour.

The command line sets both once per command (`using_terminal`): the width from `--width`, else,
when standard output is a terminal, `COLUMNS` or the terminal's own width; colour on a terminal
unless `NO_COLOR` is set, or wherever `FORCE_COLOR` is. Output that goes to a pipe or a file, and
text rendered from Python, keeps its full width and no colour, as before, so that scripts read
the same bytes.

`fit_table` drops a table's less important columns, then wraps its widest text column, until it
fits; `fit_lines` wraps lines of text, keeping their indentation and the branches of a proof
tree, and breaking a long finding id after a `+`, `/` or `:` of its own rather than anywhere.
"""
from __future__ import annotations

import contextlib
import contextvars
import os
import re
import shutil
from dataclasses import dataclass, replace

MIN_WIDTH = 40


@dataclass(frozen=True)
class Terminal:
    width: int | None = None     # None: no limit
    colour: bool = False


_CURRENT: contextvars.ContextVar[Terminal] = contextvars.ContextVar(
    "diplo_terminal", default=Terminal())


def terminal() -> Terminal:
    return _CURRENT.get()


def of_stream(stream, width: int | None = None, environ=os.environ) -> Terminal:
    """The terminal `stream` is: its width and colour, as the module's text says."""
    try:
        tty = bool(stream.isatty())
    except (AttributeError, ValueError):
        tty = False
    if width is None and tty:
        # COLUMNS first, as shells and Python read it; a pipe keeps its full width whatever
        # COLUMNS says, so that an exported COLUMNS never changes what a script reads
        columns = environ.get("COLUMNS", "")
        width = int(columns) if columns.isdigit() and int(columns) > 0 else \
            shutil.get_terminal_size((80, 24)).columns
    force = environ.get("FORCE_COLOR", "")
    colour = (tty and not environ.get("NO_COLOR")) or (force not in ("", "0", "false"))
    return Terminal(max(width, MIN_WIDTH) if width else None, colour)


@contextlib.contextmanager
def using_terminal(value: Terminal):
    token = _CURRENT.set(value)
    try:
        yield value
    finally:
        _CURRENT.reset(token)


def set_terminal(**changes) -> None:
    """Change the current terminal for the rest of the command (`--width`, `-o FILE`)."""
    if changes.get("width"):
        changes["width"] = max(changes["width"], MIN_WIDTH)
    _CURRENT.set(replace(_CURRENT.get(), **changes))


# --- colour -------------------------------------------------------------------------------------

_SGR = {"critical": "1;31", "high": "31", "medium": "33", "low": "36", "info": "2",
        "strength": "32", "fail": "1;31", "warn": "1;33", "pass": "1;32"}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def paint(text: str, key: str) -> str:
    """`text` in the colour of a severity or verdict (`key`, or the first word of `text`),
    when the terminal shows colour."""
    code = _SGR.get(key) or _SGR.get(text.split(" ", 1)[0].lower())
    if not terminal().colour or code is None:
        return text
    return f"\x1b[{code}m{text}\x1b[0m"


def visible_len(text: str) -> int:
    return len(_ANSI.sub("", text))


# --- tables ---------------------------------------------------------------------------------------

def fit_table(rows, headers=(), *, drop=(), wrap=(), tablefmt="simple",
              width: int | None = None) -> str:
    """tabulate's table, fitted to `width` (the terminal's when not given; no limit when
    none): the columns in `drop` are left out one by one, first first, then the columns in
    `wrap` (the first first) are wrapped, until every line fits. Column indices refer to
    `headers`/rows as given."""
    from tabulate import tabulate
    width = width or terminal().width
    rows = [list(row) for row in rows]
    headers = list(headers)

    import tabulate as tabulate_module
    padding = tabulate_module.MIN_PADDING

    def draw(keep, limits=None):
        shown = [[row[i] for i in keep] for row in rows]
        heads = [headers[i] for i in keep] if headers else ()
        maxes = [limits.get(i) for i in keep] if limits else None
        saved, tabulate_module.MIN_PADDING = tabulate_module.MIN_PADDING, padding
        try:
            return tabulate(shown, headers=heads, tablefmt=tablefmt, disable_numparse=True,
                            maxcolwidths=maxes)
        finally:
            tabulate_module.MIN_PADDING = saved

    columns = len(headers) if headers else (len(rows[0]) if rows else 0)
    keep = list(range(columns))
    text = draw(keep)
    if width is None or _widest(text) <= width:
        return text
    for column in drop:
        if column in keep and len(keep) > 1:
            keep.remove(column)
            text = draw(keep)
            if _widest(text) <= width:
                return text
    # a heading no longer gets two spaces more than its column needs
    padding = 0
    text = draw(keep)
    if _widest(text) <= width:
        return text
    limits: dict[int, int] = {}
    for column in wrap:
        if column not in keep:
            continue
        current = max([visible_len(str(row[column])) for row in rows]
                      + ([len(str(headers[column]))] if headers else []) + [1])
        excess = _widest(text) - width
        limits[column] = max(current - excess, 8)
        text = draw(keep, limits)
        if _widest(text) <= width:
            break
    return text


def _widest(text: str) -> int:
    return max((visible_len(line) for line in text.splitlines()), default=0)


# --- lines of text --------------------------------------------------------------------------------

_LEAD = re.compile(r"^[ \u2502\u251c\u2514\u2500]*(?:\d+\. |- )?")
_BREAKS = re.compile(r"(?<=[+/:,])")


def fit_lines(lines: list[str], width: int | None = None) -> list[str]:
    """Each line wrapped to `width` (the terminal's; unchanged when none): its continuation
    lines indented under its text, a proof tree's branches carried down."""
    width = width or terminal().width
    if width is None:
        return list(lines)
    out: list[str] = []
    for line in lines:
        if visible_len(line) <= width:
            out.append(line)
            continue
        lead = _LEAD.match(line).group()
        rest = line[len(lead):]
        carry = lead.replace("\u251c\u2500", "\u2502 ").replace("\u2514\u2500", "  ")
        carry = re.sub(r"\d+\. |- ", lambda m: " " * len(m.group()), carry) + "  "
        if len(carry) > width // 2:
            carry = carry[: width // 2]
        out += _wrap(rest, lead, carry, width)
    return out


def fit_text(text: str, width: int | None = None) -> str:
    end = "\n" if text.endswith("\n") else ""
    return "\n".join(fit_lines(text.splitlines(), width)) + end if text else text


def _wrap(text: str, first: str, carry: str, width: int) -> list[str]:
    room = max(width - len(carry), 1)
    pieces: list[tuple[str, str]] = []        # (text, what joins it to the piece before)
    for word in text.split(" "):
        glue = " "
        while visible_len(word) > room:
            # a long id: break after one of its own separators, else where it must
            cut = max((m.start() for m in _BREAKS.finditer(word) if 0 < m.start() <= room),
                      default=room)
            pieces.append((word[:cut], glue))
            word, glue = word[cut:], ""
        pieces.append((word, glue))
    lines, current, empty = [], first, True
    for word, glue in pieces:
        joiner = "" if empty else glue
        if not empty and visible_len(current) + len(joiner) + visible_len(word) > width:
            lines.append(current.rstrip())
            current, empty, joiner = carry, True, ""
        current += joiner + word
        empty = False
    lines.append(current.rstrip())
    return lines
