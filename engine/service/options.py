"""A request's options, checked before any work: query parameters (the command line's options
by the same names), the output format by `?format=` or `Accept`, and the cases a body
carries. A bad option is a UsageError naming it, answered 400 as the command line answers 2.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from .. import formats
from ..errors import UsageError
from ..inputs.validation import did_you_mean

# Media types of the built-in formats; a format registered by a plugin may say its own
# (`media_type`), else it is served as text.
MEDIA_TYPES = {"json": "application/json", "jsonl": "application/x-ndjson",
               "markdown": "text/markdown", "sarif": "application/sarif+json",
               "junit": "application/xml", "html": "text/html", "table": "text/plain",
               "github": "text/plain"}
TEXT = "text/plain"
# what `Accept` may also name for a format
ALIASES = {"application/jsonl": "jsonl", "text/xml": "junit", "text/x-markdown": "markdown"}

SHEET_TYPES = {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
               "application/vnd.ms-excel.sheet.macroenabled.12": ".xlsm", "text/csv": ".csv"}
JSON_TYPES = ("application/json",)
# curl's --data-binary says application/x-www-form-urlencoded unless told otherwise: the body
# is the file all the same
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml",
              "text/plain", "application/octet-stream", "application/x-www-form-urlencoded", "")
SHEET_SUFFIXES = (".xlsx", ".xlsm", ".csv")
DEFAULT_NAME = "<request>"
MAX_NAME = 200


class NotAcceptable(Exception):
    """No format the endpoint gives is one the request's Accept header takes."""


class UnsupportedMedia(Exception):
    """The body's media type is not one a case can be read from."""


def media_type(name: str) -> str:
    return getattr(formats.get(name), "media_type", None) or MEDIA_TYPES.get(name, TEXT)


def formats_for(kind: str) -> list[str]:
    """The formats that can render `kind`: reports, comparison, sweep."""
    return [name for name in formats.names()
            if callable(getattr(formats.get(name), kind, None))]


def choose_format(query: dict, accept: str | None, offered: list[str], default: str) -> str:
    """`?format=` when given (it must be one of `offered`), else the first format of
    `offered` that `Accept` takes in its order of preference, else `default` when `Accept`
    is absent or takes anything."""
    asked = query.get("format")
    if asked is not None:
        if asked not in offered:
            raise UsageError(f"unknown format '{asked}'{did_you_mean(asked, offered)}; formats "
                             f"are {', '.join(offered)}", path="format")
        return asked
    if not accept:
        return default
    ranges = []
    for i, item in enumerate(accept.split(",")):
        kind, *params = [p.strip() for p in item.split(";")]
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if kind and quality > 0:
            ranges.append((-quality, i, kind.lower()))
    for _, _, kind in sorted(ranges):
        if kind == "*/*":
            return default
        if kind in ALIASES and ALIASES[kind] in offered:
            return ALIASES[kind]
        for name in ([default] + offered):
            full = media_type(name)
            if kind == full or (kind.endswith("/*") and full.startswith(kind[:-1])):
                return name
    raise NotAcceptable(", ".join(sorted({media_type(n) for n in offered})))


# --- query parameters ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Option:
    name: str
    parse: Callable[[str, str], Any]
    default: Any = None
    repeat: bool = False


def flag(value: str, name: str) -> bool:
    text = value.strip().lower()
    if text in ("", "1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise UsageError(f"expected true or false, found {value[:40]!r}", path=name)


def number(low: float, high: float) -> Callable[[str, str], float]:
    def parse(value: str, name: str) -> float:
        try:
            found = float(value)
        except ValueError:
            raise UsageError(f"expected a number, found {value[:40]!r}", path=name) from None
        if not math.isfinite(found) or not low <= found <= high:
            raise UsageError(f"expected a number from {low:g} to {high:g}, found "
                             f"{value[:40]!r}", path=name)
        return found
    return parse


def whole(low: int, high: int) -> Callable[[str, str], int]:
    def parse(value: str, name: str) -> int:
        try:
            found = int(value)
        except ValueError:
            raise UsageError(f"expected a whole number, found {value[:40]!r}",
                             path=name) from None
        if not low <= found <= high:
            raise UsageError(f"expected a whole number from {low} to {high}, found {found}",
                             path=name)
        return found
    return parse


def choice(options) -> Callable[[str, str], str]:
    options = tuple(options)

    def parse(value: str, name: str) -> str:
        if value not in options:
            raise UsageError(f"expected one of {', '.join(options)}, found {value[:40]!r}"
                             f"{did_you_mean(value, options)}", path=name)
        return value
    return parse


def text(limit: int = 500) -> Callable[[str, str], str]:
    def parse(value: str, name: str) -> str:
        if not value or len(value) > limit or any(ord(c) < 32 for c in value):
            raise UsageError(f"expected text of 1 to {limit} characters, without control "
                             "characters", path=name)
        return value
    return parse


def parse_query(items: list[tuple[str, str]], allowed: list[Option]) -> dict[str, Any]:
    """The options of a query string: each known, parsed, at most once unless it repeats;
    defaults for the rest. An unknown name is refused with the name meant."""
    by_name = {option.name: option for option in allowed}
    found: dict[str, Any] = {}
    for name, value in items:
        option = by_name.get(name)
        if option is None:
            known = ", ".join(sorted(by_name)) or "none"
            raise UsageError(f"unknown option '{name[:40]}'{did_you_mean(name, by_name)} "
                             f"(options: {known})", path=name[:40])
        parsed = option.parse(value, name)
        if option.repeat:
            found.setdefault(name, []).append(parsed)
        elif name in found:
            raise UsageError("given more than once", path=name)
        else:
            found[name] = parsed
    for option in allowed:
        found.setdefault(option.name, [] if option.repeat else option.default)
    return found


# --- the cases a body carries -----------------------------------------------------------------

def part(data: bytes, name: str | None, content_type: str | None,
         mapping: tuple[bytes, str] | None = None) -> dict[str, Any]:
    """A job's part (engine/service/jobs.py): the body's bytes, the name errors and the report
    give it, and how to read it: by its media type, else by the suffix of its name."""
    name = text(MAX_NAME)(name, "source") if name else DEFAULT_NAME
    kind = (content_type or "").split(";")[0].strip().lower()
    suffix = next((s for s in SHEET_SUFFIXES if name.lower().endswith(s)), None)
    if kind in SHEET_TYPES or (suffix and kind in YAML_TYPES):
        media = "sheet"
        if suffix is None:
            name += SHEET_TYPES[kind]
    elif kind in JSON_TYPES or kind.endswith("+json") or (
            kind in YAML_TYPES and name.lower().endswith(".json")):
        media = "json"
    elif kind in YAML_TYPES:
        media = "yaml"
    else:
        raise UnsupportedMedia(kind)
    if mapping is not None and media != "sheet":
        raise UsageError("a mapping goes with a spreadsheet (.xlsx, .xlsm or .csv) only",
                         path="mapping")
    found = {"data": data, "name": name, "media": media}
    if mapping is not None:
        found["mapping"], found["mapping_name"] = mapping[0], text(MAX_NAME)(mapping[1],
                                                                              "mapping")
    return found
