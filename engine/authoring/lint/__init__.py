"""Linting a rule pack: everything the loader and compiler refuse, and what they accept but is
almost certainly wrong (a rule that can never fire, a parameter nothing reads, a rule without
tests, a pack close to the rule engine's limits), each with its file, line and a fix.

    report = lint_pack("rules/my-pack")
    for diagnostic in report:
        print(diagnostic.file, diagnostic.line, diagnostic.code, diagnostic.message)

Every diagnostic has a permanent code (`CODES`, documented in docs/linting.md). Only the
packs whose folder is the linted one are judged: packs it extends, and packs loaded with it
as context, are there to resolve names.

No click and no printing here: `render(report, format)` gives the text or JSON that
`diplo pack lint` prints, and `report.fails(strict)` decides its exit status.
"""
from __future__ import annotations

from pathlib import Path

from ...errors import DiploError, PackError, UsageError
from ...lang.loader import resolve_pack_dir
from ...lang.spec import MANIFEST
from .checks import _Checks
from .reading import _from_error, _key, _Reading
from .report import CODES, Diagnostic, LintReport, check_codes, render

__all__ = ["CODES", "Diagnostic", "LintReport", "UsageError", "check_codes", "lint_pack", "render"]


# --- the entry point --------------------------------------------------------------------------

def lint_pack(folder: str | Path, *, params: dict | None = None,
              context: tuple | list = ()) -> LintReport:
    """Lint the pack in `folder` (or an installed pack's name).

    `params` overrides parameter values as `diplo assess --param` does (the contradiction
    checks use the values in effect); `context` names packs to load with it, as several
    `--pack` options would (a pack that uses facts another pack derives). Raises a DiploError
    when `folder` is not a pack at all, or a parameter override names no parameter."""
    root = resolve_pack_dir(folder)
    context = [resolve_pack_dir(spec) for spec in context]
    if not (root / MANIFEST).is_file():
        raise PackError(f"no {MANIFEST} in this folder; a rule pack needs a manifest",
                        file=str(folder))
    manifest_file = str(root / MANIFEST)
    params = dict(params or {})
    specs = [*context, root]
    diagnostics: list[Diagnostic] = []
    name = root.name

    from ...core.run import load_pack as compile_packs  # the authority on validity
    from ...lang.loader import load_pack as analyse_packs
    packset = None
    try:
        packset = compile_packs(*specs, params=params or None)
    except DiploError as exc:
        _raise_usage(exc)
        reading = _Reading(root, context, params, manifest_file)
        diagnostics += reading.run()
        name = reading.name or name
        first = _from_error(exc, manifest_file)
        if _key(first) not in {_key(d) for d in diagnostics}:
            diagnostics.append(first)
        diagnostics = [reading.name_rule(d) for d in diagnostics]
        if not reading.failed:
            # refused by the compiler only: the analysed pack still shows what else is wrong
            try:
                packset = analyse_packs(*specs, params=params or None)
            except DiploError:
                packset = None
    if packset is not None:
        mine = [p for p in packset.packs if _same(p.root, root)]
        if mine:
            name = mine[0].name
            diagnostics += _Checks(packset, mine, params).run()
    diagnostics = sorted(set(diagnostics), key=Diagnostic.sort_key)
    return LintReport(name, str(root), diagnostics)


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _raise_usage(exc: DiploError) -> None:
    """A parameter override that names nothing is the caller's mistake, not the pack's."""
    if exc.file is None and (exc.path or "").startswith("--"):
        raise exc


# --- errors as diagnostics --------------------------------------------------------------------


# --- conditions that leave no value -----------------------------------------------------------


# --- the checks on a loaded pack --------------------------------------------------------------


