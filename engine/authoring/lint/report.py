"""What lint reports: the permanent codes, a diagnostic, the report of one pack, and its text
and JSON renderings."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterator

from ...errors import UsageError
from ...inputs.validation import did_you_mean

LEVELS = ("error", "warning", "info")


NEAR_LIMIT = 0.8   # share of an engine cap from which a pack is warned


@dataclass(frozen=True)
class Code:
    """A kind of diagnostic: its permanent name, its usual level and what it is about."""

    name: str
    level: str
    summary: str
    hint: str       # the fix when a diagnostic has none more specific


CODES: dict[str, Code] = {c.name: c for c in (
    # what the loader or the compiler refuses
    Code("invalid-pack", "error", "the loader or the compiler refuses the pack",
         "the pack does not load until this is fixed; `diplo docs rule-language` describes "
         "every field"),
    Code("unknown-fact", "error", "a pattern names a fact kind that no case provides and no "
         "loaded rule derives",
         "use a fact every case provides or one a rule derives (see the list in the message); "
         "when another pack derives it, lint with `--with PACK`"),
    Code("derivation-cycle", "error", "a derived fact depends on itself through a chain of "
         "rules",
         "break the cycle: one rule in it must not use, directly or through other rules, the "
         "fact it derives; derive a fact of a new kind instead"),
    Code("unknown-section", "error", "a citation names a guidance section the manifest does "
         "not declare",
         "cite a section declared under guidance.sections in pack.yaml, or declare this one "
         "there with its heading and lines"),
    Code("quote-not-in-guidance", "error", "a citation's quote is not in the cited section",
         "copy the words from the cited section of the guidance exactly ('...' joins passages "
         "in their order), or cite the section they are in"),
    Code("unknown-concern", "error", "a rule reports a concern the manifest does not declare",
         "report a concern declared under concerns in pack.yaml, or declare it there with its "
         "kind and description"),
    Code("concern-kind-mismatch", "error", "a rule reports a risk under a strength concern, "
         "or the reverse",
         "risks report risk concerns and strengths strength concerns: change the rule's kind "
         "or pick a concern of its kind"),
    Code("invalid-severity", "error", "a severity outside info, low, medium, high, critical, "
         "or a strength that is not info",
         "use one of info, low, medium, high, critical; a strength is always info"),
    Code("engine-limit", "error", "the pack exceeds a limit of the rule engine",
         "split the rule or the pack, or test fewer distinct values; `diplo docs limits` gives "
         "each limit and what it protects against"),
    Code("invalid-test", "error", "a rule test file or test that the test runner refuses",
         "fix the test: `diplo test` refuses it as it is (`diplo docs rule-language`, "
         "'Testing a pack')"),
    # what they accept, but is almost certainly wrong
    Code("contradictory-condition", "warning", "the conditions of a pattern leave no value: "
         "the pattern can never match",
         "check the direction of each comparison and the parameter values"),
    Code("needs-unproduced-fact", "warning", "a rule needs a derived fact that no rule can "
         "ever produce, so it never fires",
         "fix the rules that derive the fact (see their own warnings), or remove this rule"),
    Code("unused-derived-fact", "warning", "a derived fact no loaded rule reads",
         "read the fact in a rule (a pattern `fact: KIND`, or `not:`), or remove the rule that "
         "derives it: nothing reports what it derives"),
    Code("unused-parameter", "warning", "a parameter no rule reads",
         "use it in a condition, a let, a derive field or a message as $NAME, or remove it "
         "from pack.yaml"),
    Code("unused-concern", "warning", "a concern no rule reports",
         "report it from a rule, or remove it from pack.yaml"),
    Code("untested-rule", "warning", "a reporting rule without a test where it must fire "
         "(warning) or one where it must stay silent (info)",
         "add a test to a *.test.yaml file beside the rules"),
    Code("near-engine-limit", "warning", "the pack uses more than 80% of a limit of the rule "
         "engine",
         "plan to split the pack or the rule before the limit is reached; `diplo docs limits`"),
    Code("uncited-section", "info", "a guidance section no rule cites",
         "cite it from the rules it supports, or remove it from guidance.sections"),
)}


@dataclass(frozen=True)
class Diagnostic:
    level: str                  # error | warning | info
    code: str                   # a key of CODES
    message: str
    hint: str
    file: str
    line: int | None = None
    column: int | None = None
    rule: str | None = None

    def sort_key(self):
        return (self.file, self.line or 0, self.column or 0, self.code, self.message)

    @property
    def where(self) -> str:
        text = self.file
        if self.line is not None:
            text += f":{self.line}"
            if self.column is not None:
                text += f":{self.column}"
        return text

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class LintReport:
    """The diagnostics of one pack, sorted by file, line, column and code."""

    pack: str                   # the pack's name (its folder when the manifest is unreadable)
    root: str
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.diagnostics)

    def __len__(self) -> int:
        return len(self.diagnostics)

    def __getitem__(self, index):
        return self.diagnostics[index]

    def count(self, level: str) -> int:
        return sum(d.level == level for d in self.diagnostics)

    @property
    def summary(self) -> dict[str, int]:
        return {"errors": self.count("error"), "warnings": self.count("warning"),
                "infos": self.count("info")}

    def fails(self, strict: bool = False) -> bool:
        """An error fails the lint; with `strict`, so does a warning."""
        return bool(self.count("error") or (strict and self.count("warning")))

    def without(self, codes) -> "LintReport":
        """The report without the diagnostics of these codes (`--ignore`)."""
        codes = check_codes(codes)
        return LintReport(self.pack, self.root,
                          [d for d in self.diagnostics if d.code not in codes])

    def to_dict(self) -> dict:
        return {"pack": self.pack, "root": self.root,
                "diagnostics": [d.to_dict() for d in self.diagnostics],
                "summary": self.summary}


def check_codes(codes) -> set[str]:
    """The codes, if each is one; a UsageError naming the first that is not."""
    codes = set(codes)
    unknown = sorted(codes - set(CODES))
    if unknown:
        raise UsageError(f"unknown lint code '{unknown[0]}'{did_you_mean(unknown[0], CODES)} "
                         f"(codes: {', '.join(CODES)})", path="--ignore")
    return codes


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def format_text(report: LintReport) -> str:
    """`FILE:LINE:COL: LEVEL CODE message`, an indented hint, and a count line."""
    lines = []
    for d in report:
        lines.append(f"{d.where}: {d.level} {d.code} {d.message}")
        lines.append(f"  hint: {d.hint}")
    s = report.summary
    lines.append(f"{_plural(s['errors'], 'error')}, {_plural(s['warnings'], 'warning')}, "
                 f"{_plural(s['infos'], 'info')}")
    return "\n".join(lines) + "\n"


def format_json(report: LintReport) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


FORMATS: dict[str, Callable[[LintReport], str]] = {"text": format_text, "json": format_json}


def render(report: LintReport, format_name: str = "text") -> str:
    try:
        return FORMATS[format_name](report)
    except KeyError:
        raise UsageError(f"unknown lint output format '{format_name}' (formats: "
                         f"{', '.join(FORMATS)})", path="--format") from None
