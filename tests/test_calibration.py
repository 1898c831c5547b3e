"""The default pack judged as an expert would judge it, on realistic cases.

Each case in cases/calibration/ is modelled on a real public budget situation; what an expert
reviewer expects of it was written in tests/calibration/expected.yaml before the pack's rules
were changed, as data: concerns and severities, not rule ids, so that any version of the pack
is held to the same judgement. One test per case checks every expectation and, on failure,
prints each one missed with the sentence of reasoning behind it.

`python tests/test_calibration.py` prints the same verdicts as a table (the summary in
tests/calibration/README.md comes from it).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = ROOT / "tests" / "calibration" / "expected.yaml"
CASES = ROOT / "cases" / "calibration"
SEVERITIES = ("info", "low", "medium", "high", "critical")

# what each expectation may say; anything else is a typo that would silently test nothing
ENTRY_KEYS = {"case", "situation", "risks", "limits", "strengths", "strengths_absent",
              "at_most", "coverage", "messages_exclude", "no_worse_than_without"}
MATCH_KEYS = {"concern", "concerns_except", "subjects_any", "subjects_all", "why"}
KEYS = {
    "risks": MATCH_KEYS | {"severity"},
    "limits": MATCH_KEYS | {"max"},
    "strengths": MATCH_KEYS,
    "strengths_absent": MATCH_KEYS,
    "at_most": MATCH_KEYS | {"count"},
    "coverage": {"check", "missing", "subject", "why"},
    "messages_exclude": {"text", "why"},
    "no_worse_than_without": {"lines", "why"},
}


def load_expectations() -> list[dict]:
    with EXPECTED.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)["cases"]


ENTRIES = load_expectations()


# --- matching findings ----------------------------------------------------------------------

@dataclass(frozen=True)
class Claim:
    """A risk or strength the report makes: a finding, or an effect folded into one (a root
    cause is reported once, with the effects it has listed under it)."""

    kind: str
    severity: str
    concern: str
    subjects: tuple[str, ...]
    title: str
    message: str
    folded: bool

    def describe(self) -> str:
        where = " (folded)" if self.folded else ""
        return (f"{self.kind} {self.severity} {self.concern}{where} "
                f"[{', '.join(self.subjects)}]: {self.title}")


def claims(report) -> list[Claim]:
    found = []
    for finding in report.findings:
        found.append(Claim(finding.kind, finding.severity, finding.concern,
                           tuple(finding.subjects), finding.title, finding.message, False))
        for effect in getattr(finding, "effects", None) or []:
            found.append(Claim(finding.kind, effect.severity, effect.concern,
                               tuple(effect.subjects), effect.title, effect.message, True))
    return found


def _as_list(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def matches(claim: Claim, spec: dict) -> bool:
    concerns = _as_list(spec.get("concern"))
    if concerns and claim.concern not in concerns:
        return False
    if claim.concern in _as_list(spec.get("concerns_except")):
        return False
    subjects = set(claim.subjects)
    if spec.get("subjects_any") and not subjects & set(spec["subjects_any"]):
        return False
    if spec.get("subjects_all") and not set(spec["subjects_all"]) <= subjects:
        return False
    return True


def rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def what(spec: dict) -> str:
    parts = []
    if spec.get("concern"):
        parts.append("/".join(_as_list(spec["concern"])))
    if spec.get("concerns_except"):
        parts.append("any concern but " + "/".join(_as_list(spec["concerns_except"])))
    if spec.get("subjects_any"):
        parts.append("about any of " + ", ".join(spec["subjects_any"]))
    if spec.get("subjects_all"):
        parts.append("about all of " + ", ".join(spec["subjects_all"]))
    return " ".join(parts) or "any concern"


# --- checking one case ----------------------------------------------------------------------

def assess_path(path: Path, pack):
    """The report of a case with its coverage section, as `engine.assess` makes it, less the
    robustness analysis across stated ranges: nothing here reads it, and with the many
    estimates these cases carry it would multiply the test's time several times over."""
    from engine import load_case
    from engine.core.coverage import coverage
    from engine.core.run import assess
    case = load_case(path, pack)
    return assess(case, pack).model_copy(update={"coverage": coverage(case, pack)})


def without_lines(path: Path, lines: list[str], folder: Path) -> Path:
    """The same case with `lines` deleted, and every reference to them with them."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["line_items"] = [item for item in data["line_items"] if item["id"] not in lines]
    for commitment in data.get("commitments", []):
        if "funded_by" in commitment:
            commitment["funded_by"] = [i for i in commitment["funded_by"] if i not in lines]
    for entry in data.get("history", []):
        for line in lines:
            (entry.get("line_items") or {}).pop(line, None)
    target = folder / f"{path.stem}-without-{'-'.join(lines)}.yaml"
    target.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
                      encoding="utf-8")
    return target


def risk_profile(report) -> list[int]:
    """How many risks there are at or above each severity from low up."""
    risks = [f for f in report.findings if f.kind == "risk"]
    return [sum(1 for f in risks if rank(f.severity) >= level) for level in range(1, 5)]


def check(entry: dict, report, *, pack=None, scratch: Path | None = None,
          root: Path = ROOT) -> list[str]:
    """Each expectation of `entry` the report fails, as a sentence with its reasoning."""
    failures = []
    found = claims(report)
    risks = [c for c in found if c.kind == "risk"]
    strengths = [c for c in found if c.kind == "strength"]

    for spec in entry.get("risks", []):
        low, high = spec["severity"]
        hits = [c for c in risks if matches(c, spec)]
        inside = [c for c in hits if rank(low) <= rank(c.severity) <= rank(high)]
        if not inside:
            seen = "; ".join(c.describe() for c in hits) or "none raised"
            failures.append(f"expected a {low}..{high} risk, {what(spec)}; found: {seen}. "
                            f"Why: {spec['why']}")

    for spec in entry.get("limits", []):
        ceiling = spec["max"]
        over = [c for c in risks if matches(c, spec)
                and (ceiling == "none" or rank(c.severity) > rank(ceiling))]
        if over:
            bound = "no risk at all" if ceiling == "none" else f"nothing above {ceiling}"
            failures.append(f"expected {bound}, {what(spec)}; raised: "
                            f"{'; '.join(c.describe() for c in over)}. Why: {spec['why']}")

    for spec in entry.get("strengths", []):
        if not any(matches(c, spec) for c in strengths):
            failures.append(f"expected a strength, {what(spec)}; none reported. "
                            f"Why: {spec['why']}")

    for spec in entry.get("strengths_absent", []):
        wrong = [c for c in strengths if matches(c, spec)]
        if wrong:
            failures.append(f"expected no strength, {what(spec)}; reported: "
                            f"{'; '.join(c.describe() for c in wrong)}. Why: {spec['why']}")

    for spec in entry.get("at_most", []):
        # root causes: the findings themselves, not the effects folded into them
        counted = [c for c in risks if not c.folded and rank(c.severity) > rank("info")
                   and matches(c, spec)]
        if len(counted) > spec["count"]:
            failures.append(f"expected at most {spec['count']} risk(s) above info, {what(spec)};"
                            f" found {len(counted)}: {'; '.join(c.describe() for c in counted)}."
                            f" Why: {spec['why']}")

    coverage = getattr(report, "coverage", None)
    for spec in entry.get("coverage", []):
        wanted = {k: spec[k] for k in ("check", "missing", "subject") if k in spec}
        if coverage is None:
            failures.append(f"expected the report to say a check was not made ({wanted}); "
                            f"this report has no coverage section. Why: {spec['why']}")
            continue
        if not any((spec.get("check") in (None, item.check))
                   and (spec.get("missing") is None or spec["missing"] in item.missing)
                   and (spec.get("subject") in (None, item.subject)) for item in coverage):
            listed = "; ".join(f"{i.check}/{i.missing}/{i.subject}" for i in coverage) or "none"
            failures.append(f"expected a coverage entry {wanted}; the report lists: {listed}. "
                            f"Why: {spec['why']}")

    for spec in entry.get("messages_exclude", []):
        text = spec["text"].lower()
        said = [c for c in risks if text in c.message.lower()]
        if said:
            failures.append(f"expected no risk message to say {spec['text']!r}; said by: "
                            f"{'; '.join(c.describe() for c in said)}. Why: {spec['why']}")

    for spec in entry.get("no_worse_than_without", []):
        if pack is None or scratch is None:
            continue
        lighter = assess_path(without_lines(root / entry["case"], spec["lines"], scratch), pack)
        with_lines, without = risk_profile(report), risk_profile(lighter)
        if any(a > b for a, b in zip(with_lines, without)):
            failures.append(
                f"expected the case to be judged no worse than the same case without "
                f"{', '.join(spec['lines'])}; risks at >=low/medium/high/critical: {with_lines} "
                f"with them, {without} without. Why: {spec['why']}")
    return failures


def explain_failures(entry: dict, report, failures: list[str]) -> str:
    lines = [f"{entry['case']}: {entry['situation']}",
             f"{len(failures)} expectation(s) not met:"]
    lines += [f"  - {failure}" for failure in failures]
    lines.append("the report's risks and strengths:")
    lines += [f"    {c.describe()}" for c in claims(report)] or ["    (none)"]
    return "\n".join(lines)


# --- the tests ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pack():
    from engine import load_pack
    return load_pack()


def test_expectations_are_well_formed(pack):
    concerns = {name for loaded in pack.packs for name in loaded.manifest.concerns}
    listed = set()
    for entry in ENTRIES:
        assert set(entry) <= ENTRY_KEYS, (entry["case"], set(entry) - ENTRY_KEYS)
        path = ROOT / entry["case"]
        assert path.is_file(), entry["case"]
        listed.add(path.name)
        case = yaml.safe_load(path.read_text(encoding="utf-8"))
        ids = {i["id"] for i in case["line_items"]} | {c["id"] for c in case.get("commitments", [])}
        for kind, allowed in KEYS.items():
            for spec in entry.get(kind, []):
                where = f"{entry['case']} {kind}: {spec}"
                assert set(spec) <= allowed, where
                assert spec.get("why"), where
                for key in ("subjects_any", "subjects_all", "lines"):
                    assert set(spec.get(key, [])) <= ids, (where, set(spec[key]) - ids)
                for severity in spec.get("severity", []) + [spec.get("max", "info")]:
                    assert severity in SEVERITIES + ("none",), where
                named = set(_as_list(spec.get("concern")) + _as_list(spec.get("concerns_except")))
                assert named <= concerns, (where, named - concerns)
    assert listed == {p.name for p in CASES.glob("*.yaml")}, "a case without expectations"
    assert len(ENTRIES) >= 15


@pytest.mark.parametrize("entry", ENTRIES, ids=[Path(e["case"]).stem for e in ENTRIES])
def test_case_meets_expert_expectations(entry, pack, tmp_path):
    report = assess_path(ROOT / entry["case"], pack)
    failures = check(entry, report, pack=pack, scratch=tmp_path)
    if failures:
        # the expert's reasoning is the message; pytest's own rendering of locals would bury it
        pytest.fail(explain_failures(entry, report, failures), pytrace=False)


def _finding(severity, concern, subjects=(), kind="risk", message="", effects=()):
    return SimpleNamespace(kind=kind, severity=severity, concern=concern, subjects=list(subjects),
                           title=f"{concern} {severity}", message=message, effects=list(effects))


def test_the_checker_finds_each_kind_of_miss():
    """The expectations test nothing unless the checker notices a miss of every kind."""
    effect = SimpleNamespace(severity="high", concern="commitments_undermined",
                             subjects=["pact"], title="pact at risk", message="")
    report = SimpleNamespace(
        findings=[_finding("medium", "engagement_limited", ["line-a"], effects=[effect],
                           message="cut for lack of funds"),
                  _finding("low", "burden_sharing_shortfall", ["nato"]),
                  _finding("low", "burden_sharing_shortfall", ["other"]),
                  _finding("info", "accountable_spending", kind="strength")],
        coverage=[SimpleNamespace(check="real_terms", missing="inflation_pct", subject=None)])
    met = {"case": "x", "situation": "x",
           "risks": [{"concern": "commitments_undermined", "severity": ["medium", "high"],
                      "subjects_any": ["pact"], "why": "folded effects count"}],
           "limits": [{"concern": "engagement_limited", "max": "medium", "why": "w"}],
           "strengths": [{"concern": "accountable_spending", "why": "w"}],
           "at_most": [{"concern": "burden_sharing_shortfall", "count": 2, "why": "w"}],
           "coverage": [{"check": "real_terms", "missing": "inflation", "why": "w"}]}
    assert check(met, report) == []
    missed = {"case": "x", "situation": "x",
              "risks": [{"concern": "engagement_limited", "severity": ["high", "critical"],
                         "why": "too low"}],
              "limits": [{"subjects_any": ["pact"], "max": "medium", "why": "folded too high"},
                         {"concern": "burden_sharing_shortfall", "max": "none", "why": "any"}],
              "strengths_absent": [{"why": "no strength at all"}],
              "at_most": [{"concern": "burden_sharing_shortfall", "count": 1, "why": "two"}],
              "coverage": [{"check": "line_change", "why": "not listed"}],
              "messages_exclude": [{"text": "Lack of Funds", "why": "said"}]}
    failures = check(missed, report)
    assert len(failures) == 7, failures
    for why in ("too low", "folded too high", "any", "no strength at all", "two", "not listed",
                "said"):
        assert any(f.endswith(f"Why: {why}") for f in failures), why
    assert "this report has no coverage section" in check(
        {"coverage": [{"check": "real_terms", "why": "w"}]},
        SimpleNamespace(findings=[]))[0]


# --- the summary table ----------------------------------------------------------------------

def summary(argv: list[str]) -> int:
    """`--pack DIR` judges another pack; `--root DIR` reads the cases from another copy of the
    repository (an earlier commit's, extracted with `git archive`)."""
    import argparse
    import tempfile

    from engine import DiploError, load_pack
    parser = argparse.ArgumentParser(description=summary.__doc__)
    parser.add_argument("--pack", help="a pack folder (default: the default pack)")
    parser.add_argument("--root", type=Path, default=ROOT, help="where the cases are read from")
    options = parser.parse_args(argv)
    pack = load_pack(options.pack) if options.pack else load_pack()
    root = options.root
    packs = ", ".join(f"{p.name} {p.version}" for p in pack.packs)
    print(f"calibration against {packs}")
    total = met = 0
    with tempfile.TemporaryDirectory() as scratch:
        for entry in ENTRIES:
            count = sum(len(entry.get(k, [])) for k in KEYS)
            total += count
            try:
                report = assess_path(root / entry["case"], pack)
            except DiploError as error:
                print(f"\n{Path(entry['case']).stem}: NOT ASSESSED ({count} expectations): "
                      f"{str(error).splitlines()[0]}")
                continue
            failures = check(entry, report, pack=pack, scratch=Path(scratch), root=root)
            met += count - len(failures)
            print(f"\n{Path(entry['case']).stem}: {count - len(failures)}/{count} met")
            for failure in failures:
                print(f"  - {failure}")
    print(f"\n{met}/{total} expectations met")
    return 0 if met == total else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(summary(sys.argv[1:]))
