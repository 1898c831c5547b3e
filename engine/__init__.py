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
from .errors import (BaselineError, CaseError, ConfigError, DiploError,  # noqa: E402
                     EngineFailure, InputError, PackError, UsageError, WaiverError)
from .model import Case, Finding, Report  # noqa: E402
from .pack import PackSet  # noqa: E402
from .run import assess, load_case, load_pack  # noqa: E402


__all__ = ["assess", "load_case", "load_pack", "Case", "Finding", "Report", "PackSet",
           "DiploError", "CaseError", "PackError", "InputError", "UsageError", "EngineFailure",
           "WaiverError", "BaselineError", "ConfigError", "__version__"]
