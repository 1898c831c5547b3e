"""Reading TOML with the line of every key and value (tomllib gives none), so that an error in a
configuration file names the line it is on."""
from __future__ import annotations

import functools
import re
import tomllib

from ..errors import ConfigError

_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


MAX_INT_DIGITS = 30   # as in YAML and JSON (engine.inputs.source)
_LONG_NUMBER = re.compile(rf"[-+]?[0-9][0-9_]{{{MAX_INT_DIGITS},}}")


def parse_toml(text: str, name: str) -> dict:
    try:
        data = tomllib.loads(text)
    except ValueError as exc:
        if isinstance(exc, tomllib.TOMLDecodeError):
            raise _syntax_error(exc, text, name) from None
        # tomllib converts integers with int(), which refuses thousands of digits
        raise _long_number(text, name) from None
    except RecursionError:
        raise ConfigError("invalid TOML: nested too deeply", file=name) from None
    if _has_long_int(data):
        raise _long_number(text, name)
    return data


def _has_long_int(value) -> bool:
    if isinstance(value, dict):
        return any(_has_long_int(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_long_int(v) for v in value)
    return type(value) is int and abs(value) >= 10 ** MAX_INT_DIGITS


def _long_number(text: str, name: str) -> ConfigError:
    """An integer of more digits than any setting takes, located without echoing it."""
    found = _LONG_NUMBER.search(text)
    if found is None:
        return ConfigError(f"a number has more than {MAX_INT_DIGITS} digits; expected a "
                           "number up to 1e15", file=name)
    line = text.count("\n", 0, found.start()) + 1
    column = found.start() - (text.rfind("\n", 0, found.start()) + 1) + 1
    return ConfigError(f"the number {found.group()[:20]}... has {len(found.group()):,} "
                       "characters; expected a number up to 1e15", file=name, line=line,
                       column=column)


def _syntax_error(exc: Exception, text: str, name: str) -> ConfigError:
    message = str(exc)
    at = _TOML_AT.search(message)
    line = column = None
    if at:
        line, column = int(at.group(1)), int(at.group(2))
        message = message[:at.start()]
    elif message.endswith("(at end of document)"):
        message = message.removesuffix("(at end of document)").strip() + " at the end"
        line = text.count("\n") + (0 if text.endswith("\n") else 1) or 1
    message = message.rstrip(". ")
    return ConfigError(f"invalid TOML: {message[:1].lower()}{message[1:]}", file=name,
                       line=line, column=column)


_KEY = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\\n]|\\.)*"|'[^'\n]*')"""


_DOTTED = rf"{_KEY}(?:[ \t]*\.[ \t]*{_KEY})*"


@functools.cache
def _line_patterns() -> tuple[re.Pattern, re.Pattern, re.Pattern]:
    """Table headers, `key = value` lines and the keys of inline tables: compiled when a
    configuration file is first read rather than at import (compiling them took a third of
    this module's import time, and most runs read no configuration file)."""
    return (re.compile(rf"^([ \t]*)\[\[?[ \t]*({_DOTTED})[ \t]*\]"),
            re.compile(rf"^([ \t]*)({_DOTTED})[ \t]*=[ \t]*"),
            re.compile(rf"([{{,][ \t]*)({_DOTTED})[ \t]*=[ \t]*"))


def _key_path(text: str) -> tuple:
    """A (dotted, maybe quoted) TOML key as the path it names, by asking tomllib."""
    try:
        data = tomllib.loads(f"{text} = 0")
    except tomllib.TOMLDecodeError:
        return ()
    path: list = []
    while isinstance(data, dict) and len(data) == 1:
        key = next(iter(data))
        path.append(key)
        data = data[key]
    return tuple(path)


def key_positions(text: str) -> tuple[dict, dict]:
    """(keys, values): the 1-based (line, column) of each key path's first key and value.

    A small scan of table headers, `key = value` lines and the keys of one-line inline
    tables; enough to point at the line of every setting. Lines inside multi-line strings
    are skipped."""
    header_line, assign_line, inline_key = _line_patterns()
    keys: dict[tuple, tuple[int, int]] = {}
    values: dict[tuple, tuple[int, int]] = {}
    table: tuple = ()
    closing: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if closing is not None:
            if closing in line:
                closing = None
            continue
        header = header_line.match(line)
        if header:
            table = _key_path(header.group(2))
            at = (number, len(header.group(1)) + 1)
            for end in range(1, len(table) + 1):   # [tool.diplo] places tool, too
                keys.setdefault(table[:end], at)
                values.setdefault(table[:end], at)
            continue
        assign = assign_line.match(line)
        if not assign:
            continue
        path = table + _key_path(assign.group(2))
        for end in range(len(table) + 1, len(path)):   # a.b = 1 places a, too
            keys.setdefault(path[:end], (number, len(assign.group(1)) + 1))
            values.setdefault(path[:end], (number, len(assign.group(1)) + 1))
        keys.setdefault(path, (number, len(assign.group(1)) + 1))
        values.setdefault(path, (number, assign.end() + 1))
        rest = line[assign.end():]
        for quote in ('"""', "'''"):
            if rest.startswith(quote) and quote not in rest[3:]:
                closing = quote
        if rest.startswith("{"):
            for inner in inline_key.finditer(rest):
                sub = path + _key_path(inner.group(2))
                keys.setdefault(sub, (number, assign.end() + inner.start(2) + 1))
                values.setdefault(sub, (number, assign.end() + inner.end() + 1))
    return keys, values


def nearest_line(positions: dict, path: tuple) -> int | None:
    while path not in positions and path:
        path = path[:-1]
    return positions[path][0] if path in positions else None
