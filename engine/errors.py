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

    def located(self, **where) -> "DiploError":
        """Fill in location fields that are still unknown; returns self for raising."""
        for key, value in where.items():
            if getattr(self, key) is None:
                setattr(self, key, value)
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
