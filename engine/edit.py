"""Changing a case's inputs by field path, for what-if analyses.

Paths name a field the way a reviewer does: `line_items.multinational-exercises.amount` (a list
entry by its id), `line_items[3].amount` (by position, as reports name inputs), `inflation_pct`,
`total.amount`, `transparency.secret_share_pct`. A changed case is validated again, so an edit
can never produce a case that a file could not hold.
"""
from __future__ import annotations

import copy
import re

from .errors import UsageError
from .model import Case
from .validation import did_you_mean

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_LISTS = ("line_items", "commitments", "history")


def parse_path(path: str, data: dict) -> tuple:
    """A path as a tuple of keys and list positions, with list entries found by id."""
    parts: list = []
    for match in _PART.finditer(path):
        parts.append(int(match.group(2)) if match.group(2) is not None else match.group(1))
    if not parts or "".join(str(p) for p in parts) == "":
        raise UsageError(f"empty field path {path!r}", path=path)
    resolved: list = []
    node = data
    for part in parts:
        if isinstance(node, list) and isinstance(part, str):
            ids = [entry.get("id", entry.get("fiscal_year")) for entry in node
                   if isinstance(entry, dict)]
            keys = [str(i) for i in ids]
            if part not in keys:
                raise UsageError(f"no entry '{part}' in {_show(resolved)}"
                                 f"{did_you_mean(part, keys)}", path=path)
            part = keys.index(part)
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
        node = node[part] if isinstance(node, list) else node.get(part) if isinstance(
            node, dict) else None
        if node is None and part != parts[-1]:
            node = {}
    return tuple(resolved)


def _show(parts) -> str:
    from .source import format_path
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
    data = copy.deepcopy(case_data(case))
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
        from .validation import explain_error
        if not isinstance(exc, ValidationError):
            raise
        where, message, _ = explain_error(exc.errors(include_url=False)[0], Case)
        raise UsageError(f"the changed case is invalid: {_show(where)}: {message}",
                         path=", ".join(changes)) from None
    changed._source = case.source
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
