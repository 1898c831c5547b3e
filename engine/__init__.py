"""diplo: rule-based assessment of defence budgets for defence diplomacy.

    from engine import assess, load_case, load_pack
    pack = load_pack()                       # the default pack
    report = assess(load_case("cases/x.yaml", pack), pack)
    print(report.verdict, report.to_json())
"""
from __future__ import annotations

import sys

if not ((3, 11) <= sys.version_info[:2] <= (3, 12)):  # pragma: no cover
    raise ImportError(f"diplo runs on Python 3.11 and 3.12 (its rule engine, durable-rules, "
                      f"does not import on {sys.version.split()[0]})")

from ._version import __version__  # noqa: E402
from .errors import (  # noqa: E402
    BaselineError,
    CaseError,
    ConfigError,
    DiploError,
    EngineFailure,
    InputError,
    PackError,
    UsageError,
    WaiverError,
)

__all__ = ["assess", "load_case", "load_pack", "Case", "Finding", "Report", "PackSet",
           "DiploError", "CaseError", "PackError", "InputError", "UsageError", "EngineFailure",
           "WaiverError", "BaselineError", "ConfigError", "__version__"]

# The rest of the public API is imported on first use (PEP 562), so that a command that needs
# little of diplo (`diplo --version`, `diplo pack list`) does not pay for the models, the pack
# loader and the compiler at start-up: `from engine import assess` imports them then.
_LAZY = {"assess": "api", "load_case": "core.run", "load_pack": "core.run",
         "Case": "model", "Finding": "model", "Report": "model", "PackSet": "lang.pack"}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
