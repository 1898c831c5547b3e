"""Installed rule packs: found by name through the `diplo.packs` entry point group.

A pack distribution declares, in its pyproject.toml,

    [project.entry-points."diplo.packs"]
    my-pack = "my_pack_dist"                  # the package folder holds pack.yaml
    other-pack = "my_pack_dist:packs/other"   # or a folder inside the package

The value names where the pack's files are; diplo locates that folder without importing the
package, so an installed pack runs no code, like any other pack. diplo's own packs are
registered the same way.
"""
from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path, PurePosixPath

from ..errors import PackError

GROUP = "diplo.packs"
_VALUE = re.compile(r"^\s*(?P<module>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*"
                    r"(?::\s*(?P<folder>[^\s:]+)\s*)?$")


@dataclass(frozen=True)
class InstalledPack:
    """One registration of a pack: its name, the distribution that registers it and where
    its folder is (or why it cannot be found)."""

    name: str
    value: str
    distribution: str
    distribution_version: str
    folder: Path | None
    problem: str | None = None

    @property
    def origin(self) -> str:
        return f"{self.distribution} {self.distribution_version}"


@lru_cache(maxsize=1)
def installed_packs() -> tuple[InstalledPack, ...]:
    """Every registration in the entry point group, sorted by name and distribution. The
    result is cached: a process sees the packs installed when it first asked."""
    found = []
    for entry in metadata.entry_points(group=GROUP):
        dist = getattr(entry, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else "unknown distribution"
        dist_version = dist.version if dist is not None else "?"
        try:
            folder, problem = locate(entry.value), None
        except PackError as exc:
            folder, problem = None, exc.message
        found.append(InstalledPack(entry.name, entry.value, dist_name, dist_version, folder,
                                   problem))
    # one distribution can be seen twice on a path (an editable install and a build folder):
    # the same folder registered under the same name is one registration
    unique = {}
    for pack in found:
        unique.setdefault((pack.name, pack.distribution, str(pack.folder)), pack)
    return tuple(sorted(unique.values(), key=lambda p: (p.name, p.distribution)))


def locate(value: str) -> Path:
    """The folder an entry point value names, found without importing anything."""
    match = _VALUE.match(value)
    if not match:
        raise PackError(f"entry point value {value!r} is not PACKAGE or PACKAGE:FOLDER")
    parts = match["module"].split(".")
    spec = importlib.util.find_spec(parts[0])   # a top-level name: finding it runs nothing
    if spec is None or not spec.submodule_search_locations:
        raise PackError(f"package {parts[0]!r} of entry point value {value!r} is not installed "
                        "(or is a module, not a package folder)")
    folders = [Path(p) for p in spec.submodule_search_locations]
    for part in parts[1:]:
        folders = [f / part for f in folders if (f / part).is_dir()]
    folder_path = match["folder"]
    if folder_path:
        relative = PurePosixPath(folder_path)
        if relative.is_absolute() or ".." in relative.parts:
            raise PackError(f"entry point value {value!r}: the folder must lie inside the "
                            "package")
        if parts[0] == __package__.partition(".")[0] and relative.parts[0] == "_packs":
            # diplo's own packs: inside the package once installed, in rules/ in a checkout
            from .manifest import builtin_packs_dir
            folders = [builtin_packs_dir().parent]
            relative = PurePosixPath(builtin_packs_dir().name, *relative.parts[1:])
        folders = [f.joinpath(*relative.parts) for f in folders]
    for folder in folders:
        if (folder / "pack.yaml").is_file():
            return folder
    raise PackError(f"entry point value {value!r} names no folder with a pack.yaml")


def find_installed(name: str) -> Path | None:
    """The folder of the installed pack `name`; None when no distribution registers it."""
    matches = [p for p in installed_packs() if p.name == name]
    if not matches:
        return None
    if len({str(p.folder) for p in matches}) > 1:
        raise PackError(f"pack '{name}' is registered by several distributions ("
                        + ", ".join(f"{p.origin} at {p.folder or p.problem}" for p in matches)
                        + "); uninstall one, or give the pack's folder instead of its name",
                        path="--pack")
    if matches[0].folder is None:
        raise PackError(f"installed pack '{name}' ({matches[0].origin}) cannot be found: "
                        f"{matches[0].problem}", path="--pack")
    return matches[0].folder


def installed_names() -> list[str]:
    return sorted({p.name for p in installed_packs()})


@dataclass(frozen=True)
class PackListing:
    """What `diplo pack list` shows of one registration."""

    name: str
    version: str | None
    extends: str | None
    origin: str
    folder: str | None
    problem: str | None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def available_packs() -> list[PackListing]:
    """Every installed pack with the version its manifest declares, or why it is unusable
    (a manifest that does not validate, a name that differs from the registered one, a name
    registered by several distributions)."""
    from ..errors import DiploError
    from .manifest import read_manifest
    registrations = installed_packs()
    listings = []
    for pack in registrations:
        version = extends = None
        problem = pack.problem
        if pack.folder is not None:
            try:
                manifest = read_manifest(pack.folder)
                version = manifest.version
                extends = manifest.base.pack if manifest.base else None
                if manifest.name != pack.name:
                    problem = (f"registered as '{pack.name}' but its pack.yaml names "
                               f"'{manifest.name}'")
            except DiploError as exc:
                problem = str(exc)
        others = [p.origin for p in registrations
                  if p.name == pack.name and p.folder != pack.folder]
        if others and problem is None:
            problem = f"the name is also registered by {', '.join(others)}"
        listings.append(PackListing(pack.name, version, extends, pack.origin,
                                    str(pack.folder) if pack.folder else None, problem))
    return listings
