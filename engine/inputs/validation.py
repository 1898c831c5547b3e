"""Turning pydantic's validation errors into one clear diplo error with file, line and path."""
from __future__ import annotations

import datetime
import re
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import DiploError
from ..model import ESTIMATE_TYPES
from .source import Document

# at most this many problems of one file are reported at once: enough to fix a file in one
# pass, few enough to read
MAX_PROBLEMS = 20

PATTERN_WORDS = {
    r"^[a-z0-9][a-z0-9._-]*$": "a slug (lower-case letters, digits, '-', '_', '.')",
    r"^[A-Z]{3}$": "a three-letter currency code in capitals, such as USD",
    # rule packs
    r"^[a-z0-9][a-z0-9-]*$": "a name of lower-case letters, digits and '-'",
    r"^[a-z][a-z0-9_]*$": "a name of lower-case letters, digits and '_', starting with a letter",
    r"^[A-Za-z][A-Za-z0-9_.-]*$": "an id of letters, digits, '-', '_' and '.', starting with "
                                  "a letter",
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$":
        "a version MAJOR.MINOR.PATCH, such as 1.0.0",
    r"\S": "text (not only spaces)",
}

# what pydantic calls the members of a union (in error locations), in words
_UNION_MEMBERS = {
    "bool": "true or false", "int": "a number", "float": "a number", "str": "text",
    "constrained-str": "text", "constrained-float": "a number", "constrained-int": "a number",
    "list[str]": "a list of text", "none": "nothing",
    **{name: "a number" for name in ESTIMATE_TYPES},
}
# a fiscal year's second form, beside a year: a label such as 2024-25
_YEAR_LABEL_TAG = "function-after[_year_label(), str]"
_UNION_MEMBERS[_YEAR_LABEL_TAG] = "a year label such as 2024-25"


_WRAPPED = re.compile(r"function-(?:after|before|wrap)\[[^\[\]]*\(\), (\w+)\]")


def _member(tag: str) -> str:
    """A union member's tag without the validators wrapped around it (an estimate's)."""
    if "_year_label()" in tag:
        return _YEAR_LABEL_TAG
    match = _WRAPPED.fullmatch(tag)
    return match.group(1) if match and match.group(1) in ESTIMATE_TYPES else tag

_PLAIN_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_THOUSANDS = re.compile(r"[-+]?\d{1,3}([,\u00a0\u202f' ]\d{3})+(\.\d+)?")
_DECIMAL_COMMA = re.compile(r"[-+]?\d+,\d{1,2}")
_PERCENT = re.compile(r"([-+]?(\d+\.?\d*|\.\d+))\s*%")
_YEAR_LABEL_TEXT = re.compile(r"\d{4}\s*[-/\u2013]\s*\d{2,4}")
_CURRENCY = re.compile(r"([$\u00a3\u20ac\u00a5]|[A-Z]{3}\s)\s*[\d.,]+|[\d.,]+\s*([$\u00a3\u20ac\u00a5]|\s[A-Z]{3})")
_SCALED = re.compile(r"[-+]?[\d.,]+\s*(k|m|mn|bn|b|thousand|million|billion|trillion)",
                     re.IGNORECASE)


def number_hint(value, whole: bool = False, label_allowed: bool = False) -> str:
    """A hint, true of what was written, for text where a number was expected."""
    if isinstance(value, bool):
        return " (true and false are not numbers)"
    if isinstance(value, float) and whole:
        return " (no decimals)"
    if not isinstance(value, str):
        return ""
    text = value.strip()
    if _PLAIN_NUMBER.fullmatch(text):
        return " (write the number without quotes)"
    if _THOUSANDS.fullmatch(text):
        plain = re.sub(r"[,\u00a0\u202f' ]", "", text)
        return (f" (it has a thousands separator: write {plain}, without separators or "
                "quotes)")
    if _DECIMAL_COMMA.fullmatch(text):
        return f" (it has a decimal comma: write {text.replace(',', '.')})"
    match = _PERCENT.fullmatch(text)
    if match:
        return (f" (it has a percent sign: write {match.group(1)}; percentages are plain "
                "numbers, 1.5 for 1.5%)")
    if _YEAR_LABEL_TEXT.fullmatch(text):
        if label_allowed:
            return ""
        return (" (it is a fiscal year label: labels such as 2024-25 are taken by fiscal_year "
                "and history years; here write one year)")
    if _CURRENCY.fullmatch(text):
        return " (write the number without a currency: the case's `currency` says it)"
    if _SCALED.fullmatch(text):
        return " (write the number alone: amounts are in the case's `unit`)"
    return ""


def did_you_mean(word: Any, options) -> str:
    if not isinstance(word, str):
        return ""
    import difflib  # here: only a mistake needs it
    matches = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.6)
    if not matches:
        lowered = {o.lower(): o for o in options}
        if word.lower() in lowered:
            matches = [lowered[word.lower()]]
    return f"; did you mean '{matches[0]}'?" if matches else ""


def describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"the string {shown!r}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return f"the date {value.isoformat()}"
    if isinstance(value, bytes):
        return "binary data"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' * (len(value) != 1)}"
    if isinstance(value, dict):
        return "a mapping"
    return f"a value of type {type(value).__name__}"


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The model class that holds the last element of `loc` (for key suggestions)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        info = current.model_fields.get(part)
        if info is None:
            return None
        current = _inner_model(info.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _inner_model(annotation):
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


_TYPE_WORDS = {
    "float_type": "a number", "int_type": "a whole number", "string_type": "a string",
    "bool_type": "true or false", "list_type": "a list", "dict_type": "a mapping",
    "model_type": "a mapping", "model_attributes_type": "a mapping",
    "float_parsing": "a number", "int_parsing": "a whole number", "int_from_float": "a whole number",
}


def _is_tag(part) -> bool:
    """A location part that names a union member or validator, not a field or index."""
    return isinstance(part, str) and (
        part.startswith(("literal[", "list[", "dict[", "function-"))
        or _member(part) in ESTIMATE_TYPES
        or part in {"float", "int", "str", "bool", "list", "none", "constrained-str",
                    "constrained-float", "constrained-int"} or part in ESTIMATE_TYPES)


def _clean_loc(loc: tuple, kind: str = "") -> tuple:
    # an unknown key is the file's own word, whatever it reads like ('int', 'AmountEstimate')
    if kind == "extra_forbidden" and loc:
        return tuple(p for p in loc[:-1] if not _is_tag(p)) + loc[-1:]
    return tuple(p for p in loc if not _is_tag(p))


def _problems(errors: list[dict]) -> list[dict]:
    """Pydantic's errors as problems a person would count: the failed members of one union
    become one problem; an unknown key comes before a missing one (a misspelt key causes
    both, and the unknown key is the one to fix)."""
    problems: list[dict] = []
    unions: dict[tuple, dict] = {}
    for err in errors:
        loc = err["loc"]
        tags = loc[:-1] if err["type"] == "extra_forbidden" else loc   # (see _clean_loc)
        at = next((i for i, p in enumerate(tags) if _is_tag(p) and (
            _member(p) in _UNION_MEMBERS or not p.startswith(("literal[", "function-")))),
            None)
        if at is None:
            problems.append(err)
            continue
        root = loc[:at]
        if root not in unions:
            unions[root] = {"type": "union", "loc": root, "input": err.get("input"),
                            "members": [], "nested": []}
            problems.append(unions[root])
        union = unions[root]
        if len(loc) > at + 1:  # the input had this member's shape; its inside is wrong
            union["nested"].append(err)
        else:
            union["members"].append(_member(loc[at]))
            # a member whose type fit but whose constraint failed (a NaN for a number) says
            # more than the list of types the union takes
            if not err["type"].endswith(("_type", "_parsing")) and err["type"] != "literal_error":
                union["nested"].append({**err, "loc": root})
    problems = [p["nested"][0] if p["type"] == "union" and p["nested"] else p
                for p in problems]
    unknown = [p["loc"] for p in problems if p["type"] == "extra_forbidden"]
    import difflib
    problems = [p for p in problems if not (p["type"] == "missing" and any(
        u[:-1] == p["loc"][:-1] and isinstance(u[-1], str) and isinstance(p["loc"][-1], str)
        and difflib.get_close_matches(u[-1], [p["loc"][-1]], cutoff=0.6) for u in unknown))]
    return sorted(problems, key=lambda p: p["type"] == "missing")


def explain_error(err: dict, model: type[BaseModel]) -> tuple[tuple, str, bool]:
    """(path, message, points_at_key) for one pydantic error."""
    kind = err["type"]
    loc = _clean_loc(err["loc"], kind)
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if loc and loc[-1] == "[key]":  # a mapping key, not its value, is wrong
        path, message, _ = explain_error({**err, "loc": loc[:-1]}, model)
        return path, message.replace("expected ", "expected each key to be ", 1), True
    if kind == "union":
        members = err["members"]
        words = list(dict.fromkeys(_UNION_MEMBERS.get(m, m) for m in members))
        whole = _YEAR_LABEL_TAG in members
        if whole:   # a year or a label: the year is a whole number
            words = ["a whole number" if w == "a number" else w for w in words]
        expected = ", ".join(words[:-1]) + f" or {words[-1]}" if len(words) > 1 else words[0]
        hint = ""
        if "a number" in words or whole:
            hint = number_hint(value, whole=whole, label_allowed=whole)
        elif "text" in words and isinstance(value, bool):
            hint = " (YAML reads yes, no, on and off as booleans: put the text in quotes)"
        return loc, f"expected {expected}, found {describe(value)}{hint}", False
    if kind == "estimate" or kind == "year_label":
        return loc, err.get("msg", "invalid value"), False
    if kind == "missing":
        return loc, f"required field '{loc[-1]}' is missing", False
    if kind == "extra_forbidden":
        holder = _model_at(model, loc)
        hint = did_you_mean(loc[-1], holder.model_fields) if holder else ""
        return loc, f"unknown key '{loc[-1]}'{hint}", True
    if kind == "literal_error":
        expected = ctx.get("expected", "")
        options = [o.strip().strip("'") for o in expected.replace(" or ", ", ").split(",")]
        return loc, (f"expected one of {', '.join(options)}, found {describe(value)}"
                     f"{did_you_mean(value, options)}"), False
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        sign = {"greater_than_equal": ">=", "less_than_equal": "<=", "greater_than": ">",
                "less_than": "<"}[kind]
        bound = next(iter(ctx.values()))
        return loc, f"expected a number {sign} {bound:g}, found {describe(value)}", False
    if kind == "finite_number":
        return loc, f"expected a finite number, found {value!r}", False
    if kind == "string_pattern_mismatch":
        words = PATTERN_WORDS.get(ctx.get("pattern"), f"text matching {ctx.get('pattern')}")
        return loc, f"expected {words}, found {describe(value)}", False
    if kind in ("string_too_short", "string_too_long"):
        if kind == "string_too_short" and value == "":
            return loc, "expected text, found an empty string", False
        limit = ctx.get("min_length") if kind == "string_too_short" else ctx.get("max_length")
        side = "at least" if kind == "string_too_short" else "at most"
        return loc, (f"expected {side} {limit} character{'s' * (limit != 1)}, found "
                     f"{len(value):,}"), False
    if kind in ("too_short", "too_long"):
        if kind == "too_short" and ctx.get("min_length", 0) <= 1 and isinstance(value, list):
            return loc, f"expected at least 1 item, found {describe(value)}", False
        if isinstance(value, str):
            limit = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
            side = "at least" if kind == "too_short" else "at most"
            return loc, f"expected {side} {limit} characters, found {len(value)}", False
        limit = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        side = "at least" if kind == "too_short" else "at most"
        return loc, f"expected {side} {limit} items, found {describe(value)}", False
    if kind in _TYPE_WORDS:
        hint = ""
        if kind == "string_type" and isinstance(value, bool):
            hint = " (YAML reads yes, no, on and off as booleans: put the text in quotes)"
        elif kind == "string_type" and isinstance(value, (int, float, datetime.date)):
            hint = " (put the text in quotes)"
        elif kind in ("float_type", "int_type"):
            hint = number_hint(value, whole=kind == "int_type")
        return loc, f"expected {_TYPE_WORDS[kind]}, found {describe(value)}{hint}", False
    return loc, f"{err.get('msg', 'invalid value')}, found {describe(value)}", False


def validate(model: type[BaseModel], doc: Document, error_cls: type[DiploError], *,
             what: str, every: bool = False):
    """Validate a document against a model; raise `error_cls` for its problems: the first,
    saying how many more there are, or with `every` each of them with its position (up to
    MAX_PROBLEMS: `DiploError.problems`, a line each on the command line)."""
    if not isinstance(doc.data, dict):
        raise error_cls(f"expected a mapping of {what} fields, found {describe(doc.data)}",
                        file=doc.name, line=doc.position(())[0] or 1,
                        column=doc.position(())[1] or 1)
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        errors = _problems(exc.errors(include_url=False))
        if not every:
            path, message, at_key = explain_error(errors[0], model)
            more = len(errors) - 1
            if more:
                message += f" (and {more} more problem{'s' * (more > 1)})"
            raise doc.error(error_cls, message, path, key=at_key) from None
        problems = []
        seen = set()
        for err in errors:
            path, message, at_key = explain_error(err, model)
            if (path, message) in seen:   # one mistake that two union members both report
                continue
            seen.add((path, message))
            problems.append(doc.error(error_cls, message, path, key=at_key))
        # top to bottom, as a reader fixes a file; a missing field (placed at its mapping)
        # after the rest: a misspelt key, its cause, comes first
        problems.sort(key=lambda p: (p.message.startswith("required field"), p.line or 0,
                                     p.column or 0))
        raise error_cls.several(problems[:MAX_PROBLEMS],
                                more=max(0, len(problems) - MAX_PROBLEMS)) from None
