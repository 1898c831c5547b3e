"""Shell completion (click's): the names of installed packs, and the ids of the rules of the
packs a command line loads. Completing never fails a shell: a pack that cannot be loaded
completes nothing."""
from __future__ import annotations

from click.shell_completion import CompletionItem


def pack_names(ctx, param, incomplete: str) -> list[CompletionItem]:
    from ..lang.registry import available_packs
    try:
        listings = available_packs()
    except Exception:  # noqa: BLE001 (a shell asking for names must never see a traceback)
        return []
    return [CompletionItem(item.name, help=f"{item.version or '?'}")
            for item in listings if item.name.startswith(incomplete) and not item.problem]


def rule_ids(ctx, param, incomplete: str) -> list[CompletionItem]:
    """The rules of the packs given so far on the command line (--pack), else the default
    pack's; read, not compiled, so that completing stays quick."""
    from ..lang.loader import load_pack
    specs = ()
    while ctx is not None and not specs:
        specs = tuple(ctx.params.get("packs") or ())
        ctx = ctx.parent
    try:
        pack = load_pack(*specs)
    except Exception:  # noqa: BLE001 (as above)
        return []
    wanted = incomplete.upper()
    return [CompletionItem(rule.id, help=rule.title) for rule in pack.rules
            if rule.id.upper().startswith(wanted)]
