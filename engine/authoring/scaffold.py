"""`diplo pack init`: a new rule pack that works from the first minute.

The pack it writes has a manifest, a guidance document, one rule citing it, tests where the
rule must fire and must stay silent, a README and a pyproject.toml that publishes it as a
Python distribution registering the pack in the `diplo.packs` entry point group. Its tests pass
as written (`diplo test DIR`), so an author starts from green and changes one thing at a time.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .._version import __version__
from ..errors import PackError, UsageError
from ..lang.loader import load_pack, resolve_pack_dir
from ..lang.manifest import PACK_NAME, read_manifest

FILES = ("pack.yaml", "guidance.txt", "rules/deep-cuts.yaml", "rules/deep-cuts.test.yaml",
         "README.md", "pyproject.toml")


def module_name(pack_name: str) -> str:
    """The importable folder name a published pack's files go into."""
    return "diplo_pack_" + pack_name.replace("-", "_")


def init_pack(name: str, folder: str | Path | None = None, *, extends: str | None = None
              ) -> list[Path]:
    """Write a new pack called `name` into `folder` (default: ./NAME), which must not exist
    or be empty; with `extends`, the pack extends that installed pack or folder. Returns the
    files written. Nothing is left behind if writing fails part way."""
    if not PACK_NAME.match(name) or len(name) > 64:
        raise UsageError(f"{name!r} is not a pack name: use lower-case letters, digits and "
                         "hyphens, starting with a letter or digit (e.g. my-ministry)",
                         path="NAME")
    target = Path(folder) if folder is not None else Path(name)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError("already exists and is not an empty folder; choose another folder "
                         "(--dir) or remove it", file=str(target))
    base_category = None
    extends_line = ""
    taken_params: set[str] = set()
    taken_rules: set[str] = set()
    if extends is not None:
        base_dir = resolve_pack_dir(extends)
        base = read_manifest(base_dir)
        loaded = load_pack(base_dir)   # the names the new pack's own must not repeat
        taken_params = {n for specs in loaded.parameters.values() for n in specs}
        taken_rules = {r.id for p in loaded.packs for r in p.rules}
        if not loaded.categories:
            raise PackError(f"pack '{base.name}' declares no categories for the example "
                            "tests to use", file=str(base_dir / "pack.yaml"))
        base_category = next(iter(loaded.categories))
        spec = extends
        if Path(extends).is_dir():
            # `extends` is relative to the pack that declares it
            spec = os.path.relpath(base_dir.resolve(), os.path.abspath(target))
        extends_line = f"extends: {{pack: {spec}, version: \"~={_minor(base.version)}\"}}\n"
    texts = _texts(name, extends_line, base_category, taken_params, taken_rules)
    staging = Path(tempfile.mkdtemp(prefix=".diplo-init-", dir=target.parent.resolve()
                                    if target.parent.exists() else None))
    try:
        for relative, text in texts.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        if target.exists():
            target.rmdir()
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), str(target))
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return [target / relative for relative in texts]


def _minor(version: str) -> str:
    major, minor = version.split(".")[:2]
    return f"{major}.{minor}"


def _diplo_range() -> str:
    """From this version up to the next major one (1 while diplo is 0.x)."""
    major, minor = (int(x) for x in __version__.split(".")[:2])
    return f">={major}.{minor},<{major + 1}"


def _rule_prefix(name: str) -> str:
    prefix = "".join(part[0] for part in name.split("-") if part).upper()
    return prefix if prefix[:1].isalpha() else "P" + prefix


def _texts(name: str, extends_line: str, base_category: str | None, taken_params: set[str],
           taken_rules: set[str]) -> dict[str, str]:
    if base_category is None:
        vocabulary = CATEGORIES
        category = "training"
    else:
        vocabulary = ""
        category = base_category
    values = {"name": name, "module": module_name(name), "extends": extends_line,
              "vocabulary": vocabulary, "category": category, "diplo": _diplo_range(),
              "diplo_version": __version__}
    # a parameter name means one parameter among packs loaded together, and so does a rule id
    values["param"] = "deep_cut_pct"
    if values["param"] in taken_params:
        values["param"] = f"{name.replace('-', '_')}_deep_cut_pct"[-64:]
    values["rule"] = f"{_rule_prefix(name)}-001"
    if values["rule"] in taken_rules:
        values["rule"] = f"{name.upper()}-001"
    return {relative: TEMPLATES[relative].format(**values) for relative in FILES}


CATEGORIES = """categories:
  training: {group: engagement, description: "Training and exercises with partners"}
  personnel: {group: core, description: "Pay and allowances"}
"""

TEMPLATES = {
    "pack.yaml": """\
# The manifest of the {name} rule pack. Reference: `diplo docs writing-packs`.
name: {name}
version: 0.1.0
description: >
  What this pack assesses, and after which guidance. (Say it in one or two sentences.)
diplo: "{diplo}"
{extends}
# The document the rules cite. Every section is a slug with its heading and its lines;
# a rule's citation quotes the section word for word, and diplo checks the quote.
guidance:
  document: guidance.txt
  sections:
    deep-cuts: {{heading: Deep cuts, lines: [1, 5]}}

{vocabulary}
# Every finding names a concern; a risk concern for risks, a strength concern for strengths.
concerns:
  deep_cut: {{kind: risk, description: "A budget line is cut deeply in real terms"}}

# Thresholds are parameters: a value, its unit, what it means and where it comes from.
parameters:
  {param}:
    value: 25
    unit: percent
    description: A real-terms cut at least this deep is a deep cut
    source: Deep cuts section of the guidance (lines 1-5)

rules: ["rules/*.yaml"]
""",
    "guidance.txt": """\
Deep cuts
A budget line that loses a quarter or more of its funding in real terms cannot keep
its programmes running. Such a deep cut should be explained and its consequences for
partners assessed before the budget is adopted.

""",
    "rules/deep-cuts.yaml": """\
# One rule to start from. Run its tests with: diplo test .
rules:
  - id: {rule}
    title: A budget line is cut deeply in real terms
    when:
      - fact: line_item
        as: item
        where: real_change_pct <= -${param}
    report:
      kind: risk
      severity: medium
      concern: deep_cut
      message: "{{item.id}} falls {{item.real_change_pct|abs|pct}} in real terms, at least {{${param}|pct}}."
      remediation: Explain the cut and assess its consequences for partners, or reduce it below {{${param}|pct}}.
    citation:
      section: deep-cuts
      quote: A budget line that loses a quarter or more of its funding in real terms cannot keep its programmes running.
""",
    "rules/deep-cuts.test.yaml": """\
# Tests of rules/deep-cuts.yaml: small cases and the findings they must (expect) and must
# not (absent) produce. Run them with: diplo test .
base:
  inflation_pct: 0
tests:
  - name: a cut of a third is a deep cut
    case:
      line_items: [{{id: drills, category: {category}, amount: 60, prior: 90}}]
    expect:
      - {{rule: {rule}, subjects: [drills], severity: medium}}

  - name: a cut of a tenth is not
    case:
      line_items: [{{id: drills, category: {category}, amount: 90, prior: 100}}]
    absent:
      - {{rule: {rule}}}

  - name: a line with no prior amount is new, not cut
    case:
      line_items: [{{id: drills, category: {category}, amount: 90}}]
    absent:
      - {{rule: {rule}}}
""",
    "README.md": """\
# {name}

A rule pack for [diplo](https://pypi.org/project/diplo/) {diplo_version}.

## Use it

    diplo assess --pack path/to/{name} CASE.yaml     # from its folder
    diplo assess --pack {name} CASE.yaml             # once installed (pip install .)

## Work on it

    diplo test path/to/{name}        # the rule tests beside the rules
    diplo pack lint path/to/{name}   # what diplo would refuse, and what looks wrong

## Publish it

`pyproject.toml` builds a distribution that registers the pack in the `diplo.packs` entry
point group; `pip install .` (or from an index, once published) makes it available by
name, and `diplo pack list` shows it.
""",
    "pyproject.toml": """\
# Publishes the pack as a Python distribution: its files go into the folder {module}
# (no Python code), which the entry point names for diplo to find.
[build-system]
requires = ["hatchling>=1.21"]
build-backend = "hatchling.build"

[project]
name = "diplo-pack-{name}"
dynamic = ["version"]        # the pack's own version, read from pack.yaml
description = "The {name} rule pack for diplo"
readme = "README.md"
requires-python = ">=3.11"

[project.entry-points."diplo.packs"]
{name} = "{module}"

[tool.hatch.version]
path = "pack.yaml"
pattern = '(?m)^version: *(?P<version>[^\\s#]+)'

[tool.hatch.build.targets.wheel]
only-include = ["pack.yaml", "guidance.txt", "rules"]

[tool.hatch.build.targets.wheel.sources]
"" = "{module}"
""",
}
