"""`diplo docs [TOPIC]`: the documentation shipped with diplo, readable wherever diplo is
installed (the help texts and lint hints name its topics)."""
from __future__ import annotations

import click


@click.command("docs")
@click.argument("topic", required=False)
@click.option("--path", "show_path", is_flag=True,
              help="Print where the page is (without TOPIC: the folder of pages) instead of "
                   "its text.")
def docs_command(topic, show_path):
    """Read diplo's documentation. Without TOPIC, list the pages, each with its title; with
    TOPIC (a name from that list, such as `case-format`), print that page (Markdown).

    Exit status: 0 done, 2 no page of that name.
    """
    from ..docs import docs_dir, page, pages
    if topic is None:
        if show_path:
            click.echo(str(docs_dir()))
            return
        listed = pages()
        width = max((len(p.topic) for p in listed), default=0)
        for listing in listed:
            click.echo(f"{listing.topic:<{width}}  {listing.title()}")
        return
    found = page(topic)
    if show_path:
        click.echo(str(found.path))
    else:
        click.echo(found.text(), nl=False)
