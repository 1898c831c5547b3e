"""Changing a case's inputs by field path, for what-if analyses.

Paths name a field the way a reviewer does: `line_items.multinational-exercises.amount` (a list
entry by its id), `line_items[3].amount` (by position, as reports name inputs), `inflation_pct`,
`total.amount`, `transparency.secret_share_pct`. A changed case is validated again, so an edit
can never produce a case that a file could not hold.
"""
from __future__ import annotations

import copy
import re

from ..errors import UsageError
from ..inputs.validation import did_you_mean
from ..model import Case

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_LISTS = ("line_items", "commitments", "history")


def entry_key(entry):
    """What identifies a list entry: a line item's or commitment's id, a history year."""
    return entry.get("id", entry.get("fiscal_year")) if isinstance(entry, dict) else None


def parse_path(path: str, data: dict) -> tuple:
    """A path as a tuple of keys and list positions, with list entries found by id (an id may
    itself contain dots: the longest id that fits is taken)."""
    parts: list = [int(m.group(2)) if m.group(2) is not None else m.group(1)
                   for m in _PART.finditer(path)]
    if not parts:
        raise UsageError(f"empty field path {path!r}", path=path)
    resolved: list = []
    node = data
    i = 0
    while i < len(parts):
        part = parts[i]
        if isinstance(node, list) and isinstance(part, str):
            keys = [str(entry_key(entry)) for entry in node]
            for end in range(len(parts), i, -1):
                candidate = ".".join(str(p) for p in parts[i:end])
                if all(isinstance(p, str) for p in parts[i:end]) and candidate in keys:
                    part, i = keys.index(candidate), end - 1
                    break
            else:
                raise UsageError(f"no entry '{part}' in {_show(resolved)}"
                                 f"{did_you_mean(part, keys)}", path=path)
        elif isinstance(node, list):
            if part >= len(node):
                raise UsageError(f"{_show(resolved)} has {len(node)} entries; there is no "
                                 f"[{part}]", path=path)
        elif isinstance(node, dict):
            if isinstance(part, int):
                raise UsageError(f"{_show(resolved) or 'the case'} is not a list", path=path)
        else:
            raise UsageError(f"{_show(resolved)} is a value, not a mapping or list", path=path)
        resolved.append(part)
        node = node[part] if isinstance(node, list) else node.get(part)
        if node is None and i < len(parts) - 1:
            node = {}
        i += 1
    return tuple(resolved)


def id_path(position: str, data: dict) -> tuple:
    """`line_items[3].amount` -> ("line_items", "multinational-exercises", "amount"), so that
    the same line matches in two cases whatever its position."""
    parts = [int(m.group(2)) if m.group(2) is not None else m.group(1)
             for m in _PART.finditer(position)]
    resolved: list = []
    node = data
    for part in parts:
        if isinstance(part, int):
            entry = node[part] if isinstance(node, list) and part < len(node) else None
            key = entry_key(entry)
            if key is None:
                # a list of plain values (depends_on, partners) is compared whole: a position
                # in it means nothing in another case
                break
            resolved.append(str(key))
            node = entry
        else:
            resolved.append(part)
            node = node.get(part) if isinstance(node, dict) else None
    return tuple(resolved)


def show_path(parts: tuple) -> str:
    return ".".join(str(p) for p in parts)


def _show(parts) -> str:
    from ..inputs.source import format_path
    return format_path(tuple(parts))


def get_value(data: dict, parts: tuple):
    node = data
    for part in parts:
        if isinstance(node, list):
            node = node[part]
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
    return node


def case_data(case: Case) -> dict:
    """The case as plain data, as a file would hold it (defaults left out)."""
    return case.model_dump(mode="json", exclude_none=True, exclude_defaults=True)


def with_values(case: Case, changes: dict[str, object]) -> Case:
    """A copy of `case` with each path set to its value, validated as a case."""
    return changed_case(case_data(case), changes, case.source)


def changed_case(data: dict, changes: dict[str, object], source: str | None = None) -> Case:
    """The case of `data` (as `case_data` gives it; left unchanged) with each path set to its
    value, validated as a case and named `source`: a sweep's worker makes its variants from
    the data it was sent, as `with_values` makes them from the case."""
    data = copy.deepcopy(data)
    for path, value in changes.items():
        parts = parse_path(path, data)
        node = data
        for part in parts[:-1]:
            if isinstance(node, dict) and part not in node:
                node[part] = {}
            node = node[part]
        node[parts[-1]] = value
    try:
        changed = Case.model_validate(data)
    except Exception as exc:  # pydantic's error, said in diplo's words
        from pydantic import ValidationError

        from ..inputs.validation import explain_error
        if not isinstance(exc, ValidationError):
            raise
        where, message, _ = explain_error(exc.errors(include_url=False)[0], Case)
        raise UsageError(f"the changed case is invalid: {_show(where)}: {message}",
                         path=", ".join(changes)) from None
    changed._source = source
    return changed


def parse_value(text: str):
    """A --set value: a number when it reads as one, true/false, else text."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        number = float(text)
    except ValueError:
        return text
    if number != number or number in (float("inf"), float("-inf")):
        raise UsageError(f"{text!r} is not a finite number", path="--set")
    return int(number) if number.is_integer() and "." not in text and "e" not in lowered \
        else number
