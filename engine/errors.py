"""Named exceptions. Each carries where the problem is (file, line, column, field path).

No click or printing here: the CLI decides how an error reaches a user.
"""
from __future__ import annotations


class DiploError(Exception):
    """Base of every error diplo raises on purpose (bad input, bad usage)."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 column: int | None = None, path: str | None = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.problems: list[DiploError] = []   # when several: each of them, this one first
        self.hidden = 0                         # problems found beyond those in `problems`

    @classmethod
    def several(cls, problems: list["DiploError"], more: int = 0) -> "DiploError":
        """One error standing for several problems of one input: it reads as the first, with
        how many more there are; `problems` holds each (the CLI prints one line per problem).
        `more` counts problems found beyond those listed."""
        first = problems[0]
        extra = len(problems) - 1 + more
        message = first.message + (f" (and {extra} more problem{'s' * (extra > 1)})"
                                   if extra else "")
        error = cls(message, file=first.file, line=first.line, column=first.column,
                    path=first.path)
        if len(problems) > 1 or more:
            error.problems = list(problems)
            error.hidden = more
        return error

    def lines(self) -> list[str]:
        """The error as lines of text: one per problem."""
        if not self.problems:
            return [str(self)]
        lines = [str(problem) for problem in self.problems]
        if self.hidden:
            lines.append(f"{self.file + ': ' if self.file else ''}{self.hidden} more problem"
                         f"{'s' * (self.hidden > 1)} not shown (the first "
                         f"{len(self.problems)} are)")
        return lines

    def located(self, **where) -> "DiploError":
        """Fill in location fields that are still unknown; returns self for raising."""
        for key, value in where.items():
            if getattr(self, key) is None:
                setattr(self, key, value)
        for problem in self.problems:
            problem.located(**where)
        return self

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        field = f"{self.path}: " if self.path else ""
        return f"{where}{field}{self.message}"


class InputError(DiploError):
    """A file could not be read or parsed (missing, too large, not UTF-8, bad syntax)."""


class CaseError(DiploError):
    """A case file is readable but does not follow the case format."""


class PackError(DiploError):
    """A rule pack is invalid: the compiler refuses it."""


class UsageError(DiploError):
    """The command line or API call asks for something impossible (unknown parameter, ...)."""


class EngineFailure(Exception):
    """The rule engine misbehaved while assessing a case: a bug, never bad input."""


class WaiverError(DiploError):
    """A waivers file does not follow the waivers format (docs/review-workflows.md)."""


class BaselineError(DiploError):
    """A baseline is not a report of `diplo assess --format json`, or not one for the cases."""


class ConfigError(DiploError):
    """A project configuration file (diplo.toml or [tool.diplo]) is invalid."""


class SpreadsheetError(DiploError):
    """A workbook or CSV file cannot be read as a case; the message names the workbook, the
    sheet and the cell (`budget.xlsx, sheet Lines, cell C14: ...`)."""


class MappingError(DiploError):
    """A spreadsheet mapping file (which columns hold which field, which budget heading is
    which category) is invalid."""
