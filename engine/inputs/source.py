"""Reading YAML and JSON documents with the position of every value.

Everything that reads user files goes through `read_document`, so every limit on input size and
shape is enforced in one place (see docs/limits.md).
"""
from __future__ import annotations

import json
import math
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError

MAX_FILE_BYTES = 2 * 1024 * 1024   # 10x the largest realistic case or rule file
MAX_NODES = 200_000          # values after alias expansion: stops "billion laughs"
MAX_DEPTH = 64               # nesting of mappings and lists
# A text this short cannot hold MAX_NODES values before aliases are expanded (which the walker
# counts): a value takes at least one character, bar the empty ones an indicator ('-', '?',
# ':') implies, at most three per indicator. Counting its events first would only repeat the
# parse (a quarter of the time of reading a rule file).
_UNCOUNTED_CHARS = MAX_NODES // 4

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

    @property
    def lines(self) -> list[str]:
        # cached: locating each of thousands of expressions must not split the file again
        if getattr(self, "_lines", None) is None:
            self._lines = self.text.splitlines()
        return self._lines

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
        info = p.stat()
        if not stat.S_ISREG(info.st_mode):
            # a device or a pipe has no size to check and may never end (/dev/zero, a FIFO)
            raise InputError("is not a regular file", file=name)
        if info.st_size > MAX_FILE_BYTES:
            raise InputError(f"file is {info.st_size:,} bytes; the limit is "
                             f"{MAX_FILE_BYTES:,}", file=name)
        with p.open("rb") as handle:
            # read one byte past the limit, so a file that grows while it is read is caught
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise InputError("no such file", file=name) from None
    except PermissionError:
        raise InputError("permission denied", file=name) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", file=name) from None
    if len(raw) > MAX_FILE_BYTES:  # a file that grew, or a device
        raise InputError(f"file is larger than the limit of {MAX_FILE_BYTES:,} bytes", file=name)
    return decode_text(raw, name)


def decode_text(raw: bytes, name: str) -> str:
    """The text of a file's bytes (read, or received by a service), refused as a file would
    be when it is binary or not UTF-8; a byte-order mark is dropped."""
    if b"\x00" in raw:
        at = raw.index(b"\x00")
        line = raw[:at].count(b"\n") + 1
        column = at - (raw.rfind(b"\n", 0, at) + 1) + 1
        raise InputError("is a binary file (it contains NUL bytes), expected UTF-8 text",
                         file=name, line=line, column=column)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(f"is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
                         file=name, line=line, column=column) from None
    return text.removeprefix("\ufeff")


def _line_column(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def _yaml_problem(exc) -> str:
    problem = exc.problem or exc.context or "invalid YAML"
    if problem == "but found another document":
        return ("invalid YAML: a second document starts here ('---'); a file holds one "
                "document")
    if "maximum nesting depth" in problem:
        return f"nesting is deeper than {MAX_DEPTH} levels"
    if problem.startswith("mapping values are not allowed"):
        return ("invalid YAML: a ':' is not allowed here (is this line indented differently "
                "from the one above, or does a value containing ': ' need quotes?)")
    return f"invalid YAML: {problem}"


def read_document(path: str | Path, *, display: str | None = None) -> Document:
    """Read a YAML or JSON file (by its suffix) into a Document."""
    name = display or str(path)
    text = read_text(path, display=name)
    if str(path).lower().endswith(".json"):
        return parse_json(text, name)
    return parse_yaml(text, name)


def _count_values(text: str, name: str) -> None:
    """Refuse a file with too many values before building any of them: the parser's events
    stream by, while the composed node tree would hold them all at once."""
    if len(text) <= _UNCOUNTED_CHARS:
        return
    count = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, (yaml.ScalarEvent, yaml.MappingStartEvent,
                                  yaml.SequenceStartEvent, yaml.AliasEvent)):
                count += 1
                if count > MAX_NODES:
                    mark = event.start_mark
                    raise InputError(f"more than {MAX_NODES:,} values; refusing to read "
                                     "further", file=name, line=mark.line + 1,
                                     column=mark.column + 1)
    except yaml.YAMLError:
        return  # the composer reports syntax errors with their positions


def parse_yaml(text: str, name: str) -> Document:
    _count_values(text, name)
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            raise InputError(_yaml_problem(exc), file=name,
                             line=mark.line + 1 if mark else None,
                             column=mark.column + 1 if mark else None) from None
        except yaml.reader.ReaderError as exc:
            # PyYAML's own text for this spans two lines and gives an offset, not a position
            index = exc.position
            if _Loader is not yaml.SafeLoader:  # libyaml counts bytes of UTF-8, not characters
                index = len(text.encode("utf-8")[:index].decode("utf-8", errors="ignore"))
            line, column = _line_column(text, index)
            found = (f"U+{exc.character:04X}" if isinstance(exc.character, int)
                     else repr(exc.character))
            raise InputError(f"invalid YAML: {exc.reason} (found {found})",
                             file=name, line=line, column=column) from None
        except yaml.YAMLError as exc:
            raise InputError(f"invalid YAML: {' '.join(str(exc).split())}", file=name) from None
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


_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
_STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
_NUMBER_TAGS = (_INT_TAG, "tag:yaml.org,2002:float")
MAX_INT_DIGITS = 30          # far past any amount (1e15); fewer than Python converts (4,300)


def _short_tag(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")


class _Walker:
    """Builds plain Python values from a YAML node tree, recording positions and enforcing
    the limits that PyYAML does not (duplicate keys, alias expansion, depth)."""

    def __init__(self, loader, doc: Document):
        self.loader = loader
        self.doc = doc
        self.count = 0

    def _fail(self, message: str, node, path: tuple = ()) -> InputError:
        mark = node.start_mark
        return InputError(message, file=self.doc.name, line=mark.line + 1, column=mark.column + 1,
                          path=format_path(path) or None)

    def build(self, node, path: tuple, depth: int):
        self.count += 1
        if self.count > MAX_NODES:
            raise self._fail(f"more than {MAX_NODES:,} values (after expanding aliases); "
                             "refusing to expand further", node)
        if depth > MAX_DEPTH:
            raise self._fail(f"nesting is deeper than {MAX_DEPTH} levels", node)
        mark = node.start_mark
        self.doc.values.setdefault(path, (mark.line + 1, mark.column + 1))
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN_TAGS:
            # the walker builds collections itself, so a tag would otherwise be dropped silently
            raise self._fail(f"unsupported YAML tag '{_short_tag(node.tag)}'; write plain "
                             "mappings and lists", node, path)
        if isinstance(node, yaml.MappingNode):
            result: dict = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise self._fail("merge keys (<<) are not supported", key_node, path)
                if not isinstance(key_node, yaml.ScalarNode):
                    raise self._fail("a key must be a plain string", key_node, path)
                key = self._scalar(key_node)
                if not isinstance(key, str):
                    key = key_node.value  # `1: x` or `yes: x`: keep what was written
                if key in result:
                    first = self.doc.keys[path + (key,)][0]
                    raise self._fail(f"duplicate key '{key}' (first on line {first})", key_node,
                                     path + (key,))
                kmark = key_node.start_mark
                self.doc.keys[path + (key,)] = (kmark.line + 1, kmark.column + 1)
                result[key] = self.build(value_node, path + (key,), depth + 1)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        if node.tag in _NUMBER_TAGS:
            self._check_number(node, path)
        return self._scalar(node, path)

    def _check_number(self, node, path: tuple) -> None:
        """YAML 1.1 reads some numbers otherwise than a person means them: `0100` is octal
        (64), `1:30` is base 60 (90), `0x10` hexadecimal. Such forms are refused, saying
        what YAML would read, rather than changing an amount silently; so is an integer of
        more digits than any amount has (shown in full, it would fill the error)."""
        text = node.value
        bare = text.replace("_", "").lstrip("+-")
        meant = None
        if ":" in bare:
            meant = "a number in base 60"
        elif node.tag == _INT_TAG and bare[:2].lower() == "0x":
            meant = "a hexadecimal number"
        elif node.tag == _INT_TAG and bare[:2].lower() == "0b":
            meant = "a binary number"
        elif node.tag == _INT_TAG and len(bare) > 1 and bare[0] == "0":
            meant = "an octal number (it has a leading zero)"
        if meant is not None:
            value = self._scalar(node, path)
            raise self._fail(f"{text} is read by YAML as {meant}, {value}; write the number "
                             "in plain decimal digits, or in quotes if it is text", node, path)
        if node.tag == _INT_TAG and len(bare) > MAX_INT_DIGITS:
            raise self._fail(f"the number {text[:20]}... has {len(text):,} characters; "
                             "expected a number up to 1e15", node, path)

    def _scalar(self, node, path: tuple = ()):
        if node.tag == _STR_TAG:
            return node.value   # what the constructor returns for a string, without its bookkeeping
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            problem = problem.replace("tag:yaml.org,2002:", "!!")
            raise self._fail(f"invalid YAML value: {problem}", node, path) from None
        except ValueError:
            if node.tag == "tag:yaml.org,2002:timestamp":  # 2026-02-30 looks like a date
                raise self._fail(f"invalid date {node.value}: expected a day of the calendar",
                                 node, path) from None
            # an integer of thousands of digits (Python refuses to convert it)
            raise self._fail(f"the number {node.value[:20]}... has {len(node.value):,} "
                             "characters; expected a number up to 1e15", node, path) from None
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

    def fail(message: str, index: int | None, path: tuple = ()):
        line, column = _line_column(text, index) if index is not None else (None, None)
        return InputError(message, file=name, line=line, column=column,
                          path=format_path(path) or None)

    too_deep = _too_deep_at(text)
    if too_deep is not None:  # before json, whose parser recurses
        raise fail(f"nesting is deeper than {MAX_DEPTH} levels", too_deep)
    try:
        data = json.loads(text, object_pairs_hook=pairs, parse_constant=_BadConstant,
                          parse_int=_json_int)
    except _LongNumber as exc:
        raise fail(f"the number {exc.args[0][:20]}... has {len(exc.args[0]):,} characters; "
                   "expected a number up to 1e15", text.find(exc.args[0])) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", file=name, line=exc.lineno,
                         column=exc.colno) from None
    except _DuplicateKey as exc:
        try:  # the YAML composer knows where the second one stands
            parse_yaml(_SURROGATE_ESCAPE.sub(r"\\u0041", text), name)
        except InputError as located:
            if located.message.startswith("duplicate key"):
                raise located from None
        raise InputError(f"duplicate key '{exc.args[0]}'", file=name) from None
    except ValueError:  # an integer of thousands of digits (Python refuses to convert it)
        long_number = re.search(r"\d{4000,}", text)
        raise fail("a number has thousands of digits; expected a number up to 1e15",
                   long_number.start() if long_number else None) from None
    except RecursionError:
        raise InputError(f"nesting is deeper than {MAX_DEPTH} levels", file=name) from None
    doc = Document(name, data, text)
    if _count(data) > MAX_NODES:
        raise InputError(f"more than {MAX_NODES:,} values; refusing to read further",
                         file=name)
    # JSON is YAML flow syntax: reuse the YAML composer for positions only. YAML refuses
    # surrogate escapes (json.dumps writes one pair per emoji); same-length stand-ins keep
    # every position.
    try:
        located = parse_yaml(_SURROGATE_ESCAPE.sub(r"\\u0041", text), name)
        doc.values, doc.keys = located.values, located.keys
    except InputError:
        pass
    constant = _find(data, lambda v: isinstance(v, _BadConstant))
    if constant is not None:
        path, value = constant
        error = doc.error(InputError, f"invalid JSON: {value.args[0]} is not a number (JSON "
                          "has no NaN or Infinity)", path)
        if error.line is None:
            error.line, error.column = _line_column(text, max(text.find(value.args[0]), 0))
        raise error
    lone = _find(data, lambda v: isinstance(v, str) and _SURROGATE.search(v) is not None)
    if lone is not None:
        escape = _LONE_ESCAPE.search(text)
        raise fail("invalid JSON: a \\u escape names half of a surrogate pair, not a "
                   "character", escape.start() if escape else None, lone[0])
    return doc


class _LongNumber(Exception):
    """An integer of more digits than any amount has."""


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _LongNumber(text)
    return int(text)


_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_LONE_ESCAPE = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
                          r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _too_deep_at(text: str) -> int | None:
    """Offset of the first bracket nested deeper than MAX_DEPTH, if any."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return None
    depth = 0
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return match.start()
        elif token in "]}":
            depth -= 1
    return None


def _find(value, predicate, path: tuple = ()):
    """(path, value) of the first value, depth first, that satisfies `predicate`."""
    if predicate(value):
        return path, value
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _find(item, predicate, path + (key,))
        if found is not None:
            return found
    return None


class _DuplicateKey(Exception):
    pass


class _BadConstant:
    """NaN, Infinity or -Infinity in JSON: kept in place so that the error can name its field."""

    def __init__(self, token: str):
        self.args = (token,)


def _count(value, limit: int = MAX_NODES) -> int:
    """Values in parsed JSON, counted without recursion, stopping just past the limit."""
    count, todo = 0, [value]
    while todo and count <= limit:
        item = todo.pop()
        count += 1
        if isinstance(item, dict):
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
    return count
