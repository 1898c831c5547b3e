"""Reading a pack's manifest (pack.yaml) and checking the versions it declares: of diplo, and
of the pack it extends. Where diplo's own packs are."""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import PackError
from ..inputs.source import Document, read_document
from ..inputs.validation import validate
from .spec import MANIFEST, Manifest, OverridesSpec


def builtin_packs_dir() -> Path:
    """Where the packs shipped with diplo live: inside the package when installed, the
    repository's rules/ folder in a source checkout."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "_packs", package.parent / "rules"):
        if candidate.is_dir():
            return candidate
    raise PackError("the built-in rule packs are missing from this installation",
                    file=str(package / "_packs"))


DEFAULT_PACK = "defense-diplomacy"


PACK_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def _version_ok(version: str, specifier: str) -> bool:
    plain = _plain_specifier(specifier)
    release = _plain_release(version)
    if plain is not None and release is not None:
        return all(_PLAIN_OPS[op](release, bound) for op, bound in plain)
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version
    return SpecifierSet(specifier).contains(Version(version), prereleases=True)


# The specifiers packs write ('>=0.2,<1') and plain versions ('1.0.0'), matched without
# importing `packaging` (its import and patterns cost about 9 ms of every start): for these,
# PEP 440 reduces to comparing release numbers, trailing zeros aside. Anything else
# (pre-releases, '~=', '==1.*', local versions, a 'v') goes to `packaging`;
# tests/test_cold_start.py checks that the two agree.
_PLAIN_CLAUSE = re.compile(r"\s*(==|!=|<=|>=|<|>)\s*([0-9]+(?:\.[0-9]+)*)\s*")


_PLAIN_VERSION = re.compile(r"[0-9]+(?:\.[0-9]+)*")


_PLAIN_OPS = {"==": lambda v, b: v == b, "!=": lambda v, b: v != b,
              "<=": lambda v, b: v <= b, ">=": lambda v, b: v >= b,
              "<": lambda v, b: v < b, ">": lambda v, b: v > b}


def _release_key(text: str) -> tuple[int, ...]:
    numbers = [int(part) for part in text.split(".")]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


def _plain_release(version: str) -> tuple[int, ...] | None:
    return _release_key(version) if _PLAIN_VERSION.fullmatch(version) else None


def _plain_specifier(text: str) -> list[tuple[str, tuple[int, ...]]] | None:
    """(operator, release) of each clause, or None when a clause is not `OP RELEASE`."""
    clauses = []
    for clause in text.split(","):
        match = _PLAIN_CLAUSE.fullmatch(clause)
        if match is None:
            return None
        clauses.append((match[1], _release_key(match[2])))
    return clauses


def _check_specifier(text: str, doc: Document, path: tuple) -> None:
    if _plain_specifier(text) is not None:
        return
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    try:
        SpecifierSet(text)
    except InvalidSpecifier:
        raise doc.error(PackError, f"{text!r} is not a version specifier (write e.g. "
                        "'>=1.0,<2' or '~=1.2')", path) from None


def is_inside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def read_manifest(root: Path) -> Manifest:
    """A pack folder's manifest, validated (its rules are not read)."""
    return _read_manifest(root)[0]


def _read_manifest(root: Path) -> tuple[Manifest, Document]:
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise PackError(f"no {MANIFEST} in this folder; a rule pack needs a manifest",
                        file=str(root))
    if not is_inside(root, manifest_path):
        # a link out of the pack could make error messages quote a file the pack may not read
        raise PackError(f"{MANIFEST} resolves outside the pack folder (a link?); a pack's "
                        "files must lie inside it", file=str(manifest_path))
    doc = read_document(manifest_path)
    manifest: Manifest = validate(Manifest, doc, PackError, what="pack manifest")
    if manifest.diplo is not None:
        _check_specifier(manifest.diplo, doc, ("diplo",))
        from .._version import __version__
        if not _version_ok(__version__, manifest.diplo):
            raise doc.error(PackError, f"pack '{manifest.name}' {manifest.version} works with "
                            f"diplo {manifest.diplo}; this is diplo {__version__}", ("diplo",))
    base = manifest.base
    if base is not None and base.version is not None:
        _check_specifier(base.version, doc, ("extends", "version"))
    if manifest.guidance is None and base is None:
        raise doc.error(PackError, "a pack needs a 'guidance' document for its rules to cite, "
                        "unless it extends a pack whose guidance they cite", ())
    if base is None:
        for key, unset in (("disable", []), ("overrides", OverridesSpec())):
            if getattr(manifest, key) != unset:
                raise doc.error(PackError, f"'{key}' changes the rules of the pack this one "
                                "extends, but it extends none (add 'extends')", (key,))
    return manifest, doc
