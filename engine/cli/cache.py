"""`diplo cache info|clear`: the compiled packs kept on disk (engine.core.cache), which let a
command that loads the same packs again start without reading and compiling them."""
from __future__ import annotations

import click


@click.group("cache")
def cache_group():
    """The cache of compiled rule packs: where it is, what it holds, and emptying it.

    Commands that load packs keep them, compiled, in the user's cache folder
    ($DIPLO_CACHE_DIR, else $XDG_CACHE_HOME/diplo, else ~/.cache/diplo) and use them while
    the packs' files, the options and diplo are unchanged. `--no-cache` (or
    DIPLO_NO_CACHE=1) loads the packs afresh without reading or writing it.
    """


@cache_group.command("info")
def cache_info():
    """Print the cache folder, how many compiled packs it holds and their size."""
    from ..core import cache
    found = cache.info()
    click.echo(f"folder   {found['directory']}")
    click.echo(f"entries  {found['entries']}")
    click.echo(f"size     {found['bytes']:,} bytes")


@cache_group.command("clear")
def cache_clear():
    """Remove every compiled pack from the cache (the next command loads its packs afresh)."""
    from ..core import cache
    removed = cache.clear()
    click.echo(f"removed {removed} compiled pack{'' if removed == 1 else 's'} from "
               f"{cache.directory()}")
