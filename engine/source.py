"""Reading YAML and JSON documents with the position of every value.

Everything that reads user files goes through `read_document`, so every limit on input size and
shape is enforced in one place (see docs/limits.md).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_NODES = 200_000          # values after alias expansion: stops "billion laughs"
MAX_DEPTH = 64               # nesting of mappings and lists

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Path_ = tuple  # a field path: ("line_items", 3, "amount")


def format_path(path: tuple) -> str:
    """("line_items", 3, "amount") -> "line_items[3].amount"."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


@dataclass
class Document:
    """A parsed file: its data and where each value and key stands (1-based line, column)."""

    name: str
    data: Any
    text: str = ""
    values: dict[tuple, tuple[int, int]] = field(default_factory=dict)
    keys: dict[tuple, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: tuple, *, key: bool = False) -> tuple[int | None, int | None]:
        """The position of a path, or of its nearest ancestor that has one."""
        path = tuple(path)
        while True:
            table = self.keys if key and path in self.keys else self.values
            if path in table:
                return table[path]
            if not path:
                return (None, None)
            path = path[:-1]

    def error(self, cls, message: str, path: tuple, *, key: bool = False):
        line, column = self.position(path, key=key)
        return cls(message, file=self.name, line=line, column=column,
                   path=format_path(path) or None)


def read_text(path: str | Path, *, display: str | None = None) -> str:
    name = display or str(path)
    p = Path(path)
    try:
        if p.is_dir():
            raise InputError("is a directory, expected a file", file=name)
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(f"file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,}", file=name)
        raw = p.read_bytes()
    except FileNotFoundError:
        raise InputError("no such file", file=name) from None
    except PermissionError:
        raise InputError("permission denied", file=name) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", file=name) from None
    if len(raw) > MAX_FILE_BYTES:  # a file that grew, or a device
        raise InputError(f"file is larger than the limit of {MAX_FILE_BYTES:,} bytes", file=name)
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise InputError("is a binary file (it contains NUL bytes), expected UTF-8 text",
                         file=name, line=line)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(f"is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
                         file=name, line=line, column=column) from None
    return text.removeprefix("\ufeff")


def read_document(path: str | Path, *, display: str | None = None) -> Document:
    """Read a YAML or JSON file (by its suffix) into a Document."""
    name = display or str(path)
    text = read_text(path, display=name)
    if str(path).lower().endswith(".json"):
        return parse_json(text, name)
    return parse_yaml(text, name)


def parse_yaml(text: str, name: str) -> Document:
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = exc.problem or exc.context or "invalid YAML"
            raise InputError(f"invalid YAML: {problem}", file=name,
                             line=mark.line + 1 if mark else None,
                             column=mark.column + 1 if mark else None) from None
        except yaml.YAMLError as exc:
            raise InputError(f"invalid YAML: {exc}", file=name) from None
        except RecursionError:
            raise InputError(f"nesting is deeper than {MAX_DEPTH} levels", file=name) from None
        doc = Document(name, None, text)
        if node is None:
            raise InputError("the file is empty, expected a mapping", file=name, line=1, column=1)
        walker = _Walker(loader, doc)
        doc.data = walker.build(node, (), 0)
        return doc
    finally:
        loader.dispose()


class _Walker:
    """Builds plain Python values from a YAML node tree, recording positions and enforcing
    the limits that PyYAML does not (duplicate keys, alias expansion, depth)."""

    def __init__(self, loader, doc: Document):
        self.loader = loader
        self.doc = doc
        self.count = 0

    def _fail(self, message: str, node) -> InputError:
        mark = node.start_mark
        return InputError(message, file=self.doc.name, line=mark.line + 1, column=mark.column + 1)

    def build(self, node, path: tuple, depth: int):
        self.count += 1
        if self.count > MAX_NODES:
            raise self._fail(f"more than {MAX_NODES:,} values (after expanding aliases); "
                             "refusing to expand further", node)
        if depth > MAX_DEPTH:
            raise self._fail(f"nesting is deeper than {MAX_DEPTH} levels", node)
        mark = node.start_mark
        self.doc.values.setdefault(path, (mark.line + 1, mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            result: dict = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise self._fail("merge keys (<<) are not supported", key_node)
                if not isinstance(key_node, yaml.ScalarNode):
                    raise self._fail("a key must be a plain string", key_node)
                key = self._scalar(key_node)
                if not isinstance(key, str):
                    key = key_node.value  # `1: x` or `yes: x`: keep what was written
                if key in result:
                    first = self.doc.keys[path + (key,)][0]
                    raise self._fail(f"duplicate key '{key}' (first on line {first})", key_node)
                kmark = key_node.start_mark
                self.doc.keys[path + (key,)] = (kmark.line + 1, kmark.column + 1)
                result[key] = self.build(value_node, path + (key,), depth + 1)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _scalar(self, node):
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            raise self._fail(f"invalid YAML value: {problem}", node) from None
        if isinstance(value, float) and not math.isfinite(value):
            return value  # reported by validation with its field path
        return value


def parse_json(text: str, name: str) -> Document:
    def pairs(items):
        result = {}
        for key, value in items:
            if key in result:
                raise _DuplicateKey(key)
            result[key] = value
        return result

    def constant(token):
        raise _BadConstant(token)

    try:
        data = json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", file=name, line=exc.lineno,
                         column=exc.colno) from None
    except _DuplicateKey as exc:
        raise InputError(f"duplicate key '{exc.args[0]}'", file=name,
                         line=_line_of(text, f'"{exc.args[0]}"')) from None
    except _BadConstant as exc:
        raise InputError(f"invalid JSON: {exc.args[0]} is not a number", file=name,
                         line=_line_of(text, exc.args[0])) from None
    except RecursionError:
        raise InputError(f"nesting is deeper than {MAX_DEPTH} levels", file=name) from None
    doc = Document(name, data, text)
    if _depth(data) > MAX_DEPTH:
        raise InputError(f"nesting is deeper than {MAX_DEPTH} levels", file=name)
    # JSON is YAML flow syntax: reuse the YAML composer for positions only.
    try:
        located = parse_yaml(text, name)
        doc.values, doc.keys = located.values, located.keys
    except InputError:
        pass
    return doc


def _depth(value, level=0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level)
    return level


def _line_of(text: str, needle: str) -> int | None:
    index = text.find(needle)
    return None if index < 0 else text.count("\n", 0, index) + 1


class _DuplicateKey(Exception):
    pass


class _BadConstant(Exception):
    pass
