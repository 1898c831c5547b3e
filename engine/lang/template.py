"""Message templates: `{binding.field}`, `{let_name}`, `{$parameter}`, with `|filters`.

Placeholders name plain fields only; nothing in a template is evaluated, indexed or looked up
as an attribute, so a pack cannot reach anything but the values a rule matched.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .expr import MISSING

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_NAME = re.compile(r"^\$?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?$")
MAX_TEMPLATE_CHARS = 2000
MAX_VALUE_CHARS = 1000      # one substituted value
MAX_MESSAGE_CHARS = 10_000  # one rendered message


class TemplateError(Exception):
    def __init__(self, message: str, offset: int = 0):
        super().__init__(message)
        self.message = message
        self.offset = offset


def _number(value, decimals: int = 1) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    text = f"{value:,.{decimals}f}"
    return text


def _trimmed(value, decimals: int) -> str:
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _pct(value, ctx) -> str:
    # two decimals under 10%, so 1.98% of GDP never reads as "2.0%" against a 2% guideline
    if not _is_num(value):
        return str(value)
    return f"{_trimmed(value, 2 if abs(value) < 10 else 1)}%"


def _is_num(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _money(value, ctx) -> str:
    if not _is_num(value):
        return str(value)
    unit = ctx.get("unit", "")
    unit = "" if unit in ("one", "") else f" {unit}"
    size = abs(value)
    decimals = 0 if size >= 1000 else 1 if size >= 10 else 2 if size >= 1 else 3
    return f"{_trimmed(value, decimals)}{unit} {ctx.get('currency', '')}".rstrip()


FILTERS = {
    "pct": _pct,
    "abs": lambda v, ctx: abs(v) if _is_num(v) else v,
    "round": lambda v, ctx: round(v) if _is_num(v) else v,
    "money": _money,
    "num": lambda v, ctx: _number(v),
}


@dataclass(frozen=True)
class Placeholder:
    name: str                 # "cut.amount", "restore", "$param"
    filters: tuple[str, ...]
    offset: int


@dataclass(frozen=True)
class Template:
    text: str
    parts: tuple              # str pieces and Placeholders

    @property
    def placeholders(self) -> list[Placeholder]:
        return [p for p in self.parts if isinstance(p, Placeholder)]

    def render(self, lookup, ctx: dict) -> str:
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = lookup(part.name)
            # a value that overflowed (infinite, or not a number) says nothing either
            if value is MISSING or value is None or (type(value) is float
                                                     and not math.isfinite(value)):
                out.append("n/a")
                continue
            for name in part.filters:
                value = FILTERS[name](value, ctx)
            if isinstance(value, bool):
                value = "yes" if value else "no"
            elif _is_num(value):
                value = _number(value)
            elif isinstance(value, list):
                value = ", ".join(str(v) for v in value)
            out.append(str(value)[:MAX_VALUE_CHARS])
        text = "".join(out)
        # a long parameter named many times must not make a message of gigabytes
        return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS - 1] + "…"


def parse_template(text: str) -> Template:
    if len(text) > MAX_TEMPLATE_CHARS:
        raise TemplateError(f"template is longer than {MAX_TEMPLATE_CHARS} characters")
    parts: list = []
    pos = 0
    for match in _PLACEHOLDER.finditer(text):
        parts.append(text[pos:match.start()])
        pos = match.end()
        token = match.group()
        if token in ("{{", "}}"):
            parts.append(token[0])
            continue
        if token in ("{", "}"):
            raise TemplateError(f"unbalanced '{token}' (write {token * 2} for a literal brace)",
                                match.start())
        inner = match.group(1).strip()
        name, *filters = [piece.strip() for piece in inner.split("|")]
        if not _NAME.match(name) or any(seg.startswith("_") for seg in
                                        name.lstrip("$").split(".")):
            raise TemplateError(
                f"placeholder {{{inner}}} must name a field (binding.field), a let value or "
                "a $parameter: no attribute access, indexing, calls or private names",
                match.start())
        for filt in filters:
            if filt not in FILTERS:
                raise TemplateError(f"unknown filter '{filt}' in {{{inner}}}; filters are "
                                    f"{', '.join(sorted(FILTERS))}", match.start())
        parts.append(Placeholder(name, tuple(filters), match.start()))
    parts.append(text[pos:])
    merged: list = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part != "":
            merged.append(part)
    return Template(text, tuple(merged))
