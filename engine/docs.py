"""The documentation pages shipped with diplo, by topic (a page's file name without `.md`).

Help texts and lint hints name a topic (`diplo docs limits`) rather than a path in the source
repository, because an installed wheel carries no docs/ folder of its own: the pages ship
inside the package, as the rule packs do.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, UsageError
from .inputs.validation import did_you_mean


def docs_dir() -> Path:
    """Where the pages live: inside the package when installed, the repository's docs/ folder
    in a source checkout."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "_docs", package.parent / "docs"):
        if candidate.is_dir():
            return candidate
    raise InputError("the documentation pages are missing from this installation",
                     file=str(package / "_docs"))


@dataclass(frozen=True)
class Page:
    topic: str
    path: Path

    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def title(self) -> str:
        """The page's first heading, or its topic when it has none."""
        with self.path.open(encoding="utf-8") as lines:
            for line in lines:
                if line.startswith("#"):
                    return line.lstrip("#").strip()
        return self.topic


def pages() -> list[Page]:
    """Every page, by topic."""
    return [Page(path.stem, path) for path in sorted(docs_dir().glob("*.md"))]


def page(topic: str) -> Page:
    """The page of `topic`. A file name (`limits.md`, `docs/limits.md`) names its topic too,
    so that a reference copied from the repository still works."""
    wanted = topic.rsplit("/", 1)[-1].removesuffix(".md")
    found = {p.topic: p for p in pages()}
    if wanted not in found:
        raise UsageError(f"no documentation page named {topic!r}{did_you_mean(wanted, found)} "
                         "(`diplo docs` lists the pages)")
    return found[wanted]
