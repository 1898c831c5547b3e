"""Choosing the rules that report: `--select` and `--ignore`, and `select` and `ignore` in a
project's diplo.toml.

A selector names rules in one of three ways:

- a rule id, or the start of one: `DD-TRA-005`, `DD-TRA`, `DD-1` (which matches DD-101 and
  DD-102);
- `concern:NAME`: the rules that report concern NAME;
- `tag:NAME`: the rules whose `tags` include NAME.

With selectors to select, only the reporting rules they match report; selectors to ignore take
rules away from that (from every reporting rule when nothing is selected). Rules that derive
facts are not chosen themselves: each runs exactly when a rule that is kept needs its fact,
directly or through other derived facts, so that a selected rule fires as it would with every
rule loaded.

Selection is carried out by disabling the rules it leaves out, each with who left it out: a
report's `packs[].disabled`, `diplo rules list` and every check on disabled rules see one
mechanism, whichever way a rule was left out.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import PackError
from ..inputs.validation import did_you_mean
from .pack import Rule

KINDS = ("concern", "tag")
SYNTAX = "a rule id or the start of one (DD-TRA), concern:NAME or tag:NAME"


@dataclass(frozen=True)
class Selector:
    text: str        # as written
    kind: str        # "id", "concern" or "tag"
    value: str
    option: str      # "--select" or "--ignore": how errors name it
    by: str          # who gave it: "command line", or the configuration file and line

    def matches(self, rule: Rule) -> bool:
        if self.kind == "id":
            return rule.id.startswith(self.value)
        if self.kind == "concern":
            return rule.report is not None and rule.report.concern == self.value
        return self.value in rule.tags

    def error(self, message: str) -> PackError:
        return PackError(message, path=f"{self.option} {self.text}")


def parse_selectors(given, option: str) -> list[Selector]:
    """Selectors as given: a list of texts (from the command line), or a dict of text -> who
    gave it. A text may hold several selectors separated by commas."""
    items = given.items() if isinstance(given, dict) else ((text, "command line")
                                                           for text in given or ())
    selectors: list[Selector] = []
    for written, by in items:
        for piece in str(written).split(","):
            text = piece.strip()
            if not text:
                raise PackError(f"an empty selector in {written!r}; a selector is {SYNTAX}",
                                path=f"{option} {written}")
            kind, sep, value = text.partition(":")
            if not sep:
                kind, value = "id", text
            elif kind not in KINDS or not value:
                raise PackError(f"unknown selector {text!r}: a selector is {SYNTAX}",
                                path=f"{option} {text}")
            if all(s.text != text for s in selectors):
                selectors.append(Selector(text, kind, value, option, by))
    return selectors


def select_rules(rules: list[Rule], disabled: dict[str, str], select, ignore
                 ) -> dict[str, str]:
    """The rules that `select` and `ignore` leave out, as rule id -> who left it out.

    `rules` are all the loaded rules, `disabled` those already disabled (by a pack, --disable
    or diplo.toml), which selection never brings back. A selector that matches no loaded rule,
    or only rules that derive facts, is an error, and so is a selection that leaves no rule to
    report."""
    chosen = parse_selectors(select, "--select")
    ignored = parse_selectors(ignore, "--ignore")
    if not chosen and not ignored:
        return {}
    for selector in chosen + ignored:
        _check_matches(selector, rules)
    live = [r for r in rules if r.id not in disabled]
    left_out: dict[str, str] = {}
    kept: list[Rule] = []
    for rule in live:
        if rule.report is None:
            continue
        if chosen and not any(s.matches(rule) for s in chosen):
            left_out[rule.id] = f"{chosen[0].by} (not selected)"
            continue
        hit = next((s for s in ignored if s.matches(rule)), None)
        if hit is not None:
            left_out[rule.id] = f"{hit.by} (ignore {hit.text})"
            continue
        kept.append(rule)
    if not kept:
        shown = ", ".join([f"--select {s.text}" for s in chosen]
                          + [f"--ignore {s.text}" for s in ignored])
        raise (chosen or ignored)[0].error(
            f"no rule that reports is left ({shown}); a run with no rule would pass any case")
    needed = needed_kinds(kept, live)
    source = (chosen or ignored)[0].by
    for rule in live:
        if rule.derive_kind and rule.derive_kind not in needed:
            left_out[rule.id] = f"{source} (no rule kept needs its fact)"
    return left_out


def needed_kinds(kept: list[Rule], rules: list[Rule]) -> set[str]:
    """The fact kinds the `kept` rules need, directly or through the rules that derive them
    (a negated pattern needs its kind too: without its producers it would always hold)."""
    producers: dict[str, list[Rule]] = {}
    for rule in rules:
        if rule.derive_kind:
            producers.setdefault(rule.derive_kind, []).append(rule)
    needed: set[str] = set()
    todo = [p.kind for rule in kept for p in rule.patterns]
    while todo:
        kind = todo.pop()
        if kind in needed:
            continue
        needed.add(kind)
        todo.extend(p.kind for rule in producers.get(kind, ()) for p in rule.patterns)
    return needed


def _check_matches(selector: Selector, rules: list[Rule]) -> None:
    matched = [r for r in rules if selector.matches(r)]
    if not matched:
        raise selector.error(f"no loaded rule matches {selector.text!r}"
                             f"{_suggestion(selector, rules)}")
    if all(r.report is None for r in matched):
        ids = ", ".join(r.id for r in matched[:5]) + (", ..." if len(matched) > 5 else "")
        raise selector.error(
            f"{selector.text!r} matches only rules that derive facts ({ids}); selection "
            "chooses rules that report, and a rule that derives runs when a rule kept needs "
            "its fact (--disable leaves it out)")


def _suggestion(selector: Selector, rules: list[Rule]) -> str:
    concerns = sorted({r.report.concern for r in rules if r.report is not None})
    tags = sorted({t for r in rules for t in r.tags})
    if selector.kind == "concern":
        return did_you_mean(selector.text, [f"concern:{c}" for c in concerns]) \
            or f" (concerns: {', '.join(concerns)})"
    if selector.kind == "tag":
        return did_you_mean(selector.text, [f"tag:{t}" for t in tags]) or (
            f" (tags: {', '.join(tags)})" if tags else " (no loaded rule has tags)")
    for kind, names in (("concern", concerns), ("tag", tags)):
        if selector.value in names:
            return f"; to choose rules by {kind}, write {kind}:{selector.value}"
    prefixes = {r.id for r in rules}
    for rule in rules:   # the starts of ids at their separators: DD, DD-TRA
        parts = rule.id.split("-")
        prefixes.update("-".join(parts[:i]) for i in range(1, len(parts)))
    return did_you_mean(selector.value, prefixes)
