"""Remedies: the smallest change to one input that clears a risk, searched by re-assessing changed
cases with the compiled rules themselves, and verified that way before it is shown."""
from __future__ import annotations

import math
import re

from ..errors import DiploError
from ..lang.pack import PackSet
from ..model import SEVERITIES, Case, FrozenModel, Report
from .edit import case_data, get_value, id_path, parse_path, show_path, with_values

# inputs a proposal can change: this year's amounts and the stated economic and transparency
# figures; last year's amounts and earlier totals are history, not levers
_LEVERS = re.compile(r"^(line_items\[\d+\]\.amount|total\.amount|gdp|inflation_pct|"
                     r"transparency\.(secret_share_pct|off_budget_share_pct))$")


_BOUNDS = {"inflation_pct": (-50.0, 1000.0), "transparency.secret_share_pct": (0.0, 100.0),
           "transparency.off_budget_share_pct": (0.0, 100.0)}


MAX_LEVERS = 8


_STEPS = (0.01, 0.03, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0)   # shares of the way to a bound


class Remedy(FrozenModel):
    path: str                 # by id: line_items.multinational-exercises.amount
    current: float
    value: float              # the nearest value at which the finding is gone
    change: float
    verified: bool            # re-assessed at `value`: the finding is gone
    message: str


class Remedies(FrozenModel):
    finding: str
    title: str
    remedies: list[Remedy]
    note: str | None = None   # why no single change clears it, when none does


def _inputs_of(report: Report, finding) -> list[str]:
    facts = {fact.id: fact for fact in report.facts or []}
    seen, paths, todo = set(), list(finding.inputs), list(finding.because)
    while todo:
        fact = facts.get(todo.pop(0))
        if fact is None or fact.id in seen:
            continue
        seen.add(fact.id)
        paths.extend(fact.inputs)
        todo.extend(fact.because)
    return list(dict.fromkeys(p for p in paths if _LEVERS.match(p)))


def remedies(case: Case, pack: PackSet, report: Report, *, finding_id: str | None = None,
             assess=None) -> list[Remedies]:
    """For each risk (or the one named), the smallest change to one input that clears it,
    found by re-assessing changed cases and verified the same way."""
    if assess is None:
        from ..core.run import assess
    results = []
    for finding in report.findings:
        if finding.kind != "risk" or (finding_id is not None and finding.id != finding_id):
            continue
        levers = _inputs_of(report, finding)[:MAX_LEVERS]
        found = []
        for path in levers:
            remedy = _search(case, pack, report, finding,
                             show_path(id_path(path, case_data(case))), assess)
            if remedy is not None:
                found.append(remedy)
        found.sort(key=lambda r: abs(r.change) / (abs(r.current) or 1.0))
        note = None
        if not found:
            note = ("no change to a single amount, total, GDP, inflation or share clears it"
                    if levers else "it rests on no amount, total, GDP, inflation or share that "
                    "could be changed (it depends on what the case has or lacks)")
        results.append(Remedies(finding=finding.id, title=finding.title, remedies=found,
                                note=note))
    return results


def changed_case(case: Case, path: str, value: float) -> Case:
    """The case with one input changed. Money restored to (or taken from) a line moves a
    stated total with it, so that the line items never exceed the total."""
    changes: dict = {path: value}
    if path.startswith("line_items.") and path.endswith(".amount") and case.total is not None:
        full = case_data(case)
        delta = value - get_value(full, parse_path(path, full))
        changes["total.amount"] = max(0.0, case.total.amount + delta)
    return with_values(case, changes)


def _search(case: Case, pack: PackSet, report: Report, finding, path: str, assess
            ) -> Remedy | None:
    full = case_data(case)
    current = get_value(full, parse_path(path, full))
    if not isinstance(current, (int, float)) or isinstance(current, bool):
        return None
    low, high = _BOUNDS.get(path, (0.0, max(4.0 * current, current + 100.0)))
    rank = SEVERITIES.index(finding.severity)

    def serious(findings) -> int:
        return sum(f.kind == "risk" and SEVERITIES.index(f.severity) >= rank for f in findings)

    baseline = serious(report.findings)

    def present(value: float) -> bool:
        """Whether the flag stays: it does unless the finding is gone and the case has fewer
        risks at least as serious (moving a share into a worse band clears nothing; a high
        risk becoming a medium one does)."""
        try:
            findings = assess(changed_case(case, path, value), pack).findings
        except DiploError:
            return True  # a change the case cannot hold clears nothing
        return any(f.id == finding.id for f in findings) or serious(findings) >= baseline

    best = None
    for bound in (high, low):
        if bound == current:
            continue
        # step outwards, so that a side effect far away (a volatile total at four times the
        # amount) cannot hide the nearer value that clears the flag
        inside, outside = current, None
        for share in _STEPS:
            probe = current + (bound - current) * share
            if not present(probe):
                outside = probe
                break
            inside = probe
        if outside is None:
            continue
        tolerance = max(abs(outside - inside) * 1e-5, 0.001)
        while abs(outside - inside) > tolerance:
            middle = (inside + outside) / 2
            if present(middle):
                inside = middle
            else:
                outside = middle
        value = _round_towards(outside, inside)
        if present(value):
            value = outside
        if best is None or abs(value - current) < abs(best - current):
            best = value
    if best is None:
        return None
    verified = not present(best)
    change = best - current
    verb = "raise" if change > 0 else "lower"
    unit = _unit_of(path, case)
    return Remedy(path=path, current=current, value=best, change=change, verified=verified,
                  message=f"{verb} {path} from {_exact(current)} to {_exact(best)} "
                          f"({'+' if change > 0 else ''}{_exact(change)}{unit})")


def _unit_of(path: str, case: Case) -> str:
    if path.endswith("_pct"):
        return " points"
    scale = "" if case.unit == "one" else f" {case.unit}"
    return f"{scale} {case.currency}"


def _exact(value: float) -> str:
    """Two decimals at most: a remedy's value is the one that was verified, not a rounding."""
    text = f"{value:,.2f}"
    return text.rstrip("0").rstrip(".")


def _round_towards(value: float, away_from: float) -> float:
    """`value` rounded to two decimals, on the side away from `away_from`."""
    scaled = value * 100
    rounded = math.ceil(scaled) if value > away_from else math.floor(scaled)
    return rounded / 100


def render_remedies(items: list[Remedies], unit: str = "") -> str:
    lines = []
    for item in items:
        lines.append(f"{item.finding}  {item.title}")
        if item.note:
            lines.append(f"  {item.note}")
        for remedy in item.remedies:
            mark = "" if remedy.verified else "  (not verified)"
            lines.append(f"  {remedy.message}{mark}")
    return "\n".join(lines) + "\n"
