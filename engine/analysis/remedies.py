"""Remedies: the smallest change to one input that clears a risk, searched by re-assessing changed
cases with the compiled rules themselves, and verified that way before it is shown."""
from __future__ import annotations

import math
import re

from ..errors import DiploError
from ..lang.pack import PackSet
from ..model import SEVERITIES, Case, FrozenModel, Report
from .edit import case_data, get_value, id_path, parse_path, show_path, with_values

# levers a budget holder controls: this year's line amounts (a stated total follows the line)
# and what the budget puts outside scrutiny. Not inflation or GDP, which nobody sets with a
# budget, nor the total on its own, which would "clear" a cut by making it look small; last
# year's amounts and earlier totals are history
_LEVERS = re.compile(r"^(line_items\[\d+\]\.amount|"
                     r"transparency\.(secret_share_pct|off_budget_share_pct))$")


_BOUNDS = {"inflation_pct": (-50.0, 1000.0), "transparency.secret_share_pct": (0.0, 100.0),
           "transparency.off_budget_share_pct": (0.0, 100.0)}


MAX_LEVERS = 8
MAX_SEARCHED = 25          # risks searched in one run, the most serious first
FOCUS_MIN_DROPPED = 10     # lines a focus case must leave out to be worth making


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


def _inputs_of(report: Report, finding, case: Case | None = None) -> list[str]:
    """The inputs a risk rests on that a proposal can change: the lines it is about first,
    then the case's own figures, then any other line (whose money reaches it through a
    total), so that in a large case the first MAX_LEVERS are the ones that matter."""
    facts = {fact.id: fact for fact in report.facts or []}
    seen, paths, todo = set(), list(finding.inputs), list(finding.because)
    while todo:
        fact = facts.get(todo.pop(0))
        if fact is None or fact.id in seen:
            continue
        seen.add(fact.id)
        paths.extend(fact.inputs)
        todo.extend(fact.because)
    levers = list(dict.fromkeys(p for p in paths if _LEVERS.match(p)))
    if case is not None:
        # a line that ends (a closed mandate) or that a donor pays for is not the budget
        # holder's to restore
        fixed = {i for i, item in enumerate(case.line_items)
                 if item.change_reason in ("mandate_ended", "programme_completed")
                 or item.financing == "donor_grant"}
        levers = [p for p in levers
                  if (line := _LINE.match(p)) is None or int(line.group(1)) not in fixed]
    if case is None or len(levers) <= MAX_LEVERS:
        return levers
    own = {i for i, item in enumerate(case.line_items) if item.id in set(finding.subjects)}

    def rank(path: str) -> int:
        line = _LINE.match(path)
        return 1 if line is None else 0 if int(line.group(1)) in own else 2
    return sorted(levers, key=rank)   # stable: each rank keeps the order found


def remedies(case: Case, pack: PackSet, report: Report, *, finding_id: str | None = None,
             assess=None) -> list[Remedies]:
    """For each risk (or the one named), the smallest change to one input that clears it,
    found by re-assessing changed cases and verified the same way.

    The search for one risk re-assesses a focus case: the lines and commitments the risk
    rests on, every other line of a category folded into one line that carries the same
    money (so totals, shares and category sums stay as they are). Its cost does not grow
    with the case, and each value found is then verified on the whole case; a value that
    does not hold there is searched for on the whole case. One run searches the
    MAX_SEARCHED most serious risks (a named finding is always searched)."""
    if assess is None:
        from ..core.run import assess
    whole = _Cases(case, pack, assess)
    results = []
    searched = 0
    for finding in report.findings:
        if finding.kind != "risk" or (finding_id is not None and finding.id != finding_id
                                      and all(e.id != finding_id for e in finding.effects)):
            continue
        levers = _inputs_of(report, finding, case)[:MAX_LEVERS]
        if finding_id is None and searched >= MAX_SEARCHED:
            results.append(Remedies(finding=finding.id, title=finding.title, remedies=[],
                                    note=f"not searched: one run searches the {MAX_SEARCHED} "
                                    "most serious risks; name this finding to search it"))
            continue
        searched += 1
        full = _Presence(whole, finding, report.findings)
        focus = _focus(case, pack, assess, report, finding) if levers else None
        found = []
        for path in levers:
            remedy = _search(case, focus or full, full, path)
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


class _Cases:
    """A case re-assessed with one input changed at a time; each (input, value) once, for
    every risk that asks (the stated total, GDP and inflation are levers of many)."""

    def __init__(self, case: Case, pack: PackSet, assess):
        self.case, self.pack, self.assess = case, pack, assess
        self.data = case_data(case)
        self.seen: dict = {}

    def findings(self, path: str, value: float):
        """(id, kind, severity) of each finding, or None when the case cannot hold the
        value."""
        key = (path, value)
        if key not in self.seen:
            try:
                report = self.assess(changed_case(self.case, path, value), self.pack)
                self.seen[key] = [(f.id, f.kind, f.severity) for f in report.findings]
            except DiploError:
                self.seen[key] = None
        return self.seen[key]


class _Presence:
    """Whether a risk stays when one input changes: it does unless the finding is gone and
    the case has fewer risks at least as serious (moving a share into a worse band clears
    nothing; a high risk becoming a medium one does)."""

    def __init__(self, cases: _Cases, finding, baseline):
        self.cases, self.finding = cases, finding
        self.rank = SEVERITIES.index(finding.severity)
        self.baseline = self.serious((f.id, f.kind, f.severity) for f in baseline)

    def serious(self, findings) -> int:
        return sum(kind == "risk" and SEVERITIES.index(severity) >= self.rank
                   for _, kind, severity in findings)

    def current(self, path: str):
        return get_value(self.cases.data, parse_path(path, self.cases.data))

    def __call__(self, path: str, value: float) -> bool:
        findings = self.cases.findings(path, value)
        if findings is None:
            return True  # a change the case cannot hold clears nothing
        return any(fid == self.finding.id for fid, _, _ in findings) \
            or self.serious(findings) >= self.baseline


def _focus(case: Case, pack: PackSet, assess, report: Report, finding) -> _Presence | None:
    """The risk's presence judged on a focus case (see remedies), or None when one would not
    be smaller or does not show the risk as the whole case does."""
    paths, subjects = _all_inputs(report, finding)
    if "line_items" in paths or "commitments" in paths:
        return None   # a count of lines or commitments: every one of them matters
    data = case_data(case)
    items = data["line_items"]
    # the lines the risk is about and those it would change; any other line's money reaches
    # it only through sums (the total, a category's, a group's), which the stand-ins keep
    levers = {int(m.group(1)) for p in _inputs_of(report, finding, case)[:MAX_LEVERS]
              if (m := _LINE.match(p))}
    own = set(finding.subjects)
    kept = levers | {i for i, item in enumerate(items) if item["id"] in own}
    commitments = [c for j, c in enumerate(data.get("commitments", []))
                   if c["id"] in subjects
                   or any(p.startswith(f"commitments[{j}]") for p in paths)]
    funding = {line for c in commitments for line in c.get("funded_by", [])}
    programmes = {items[i].get("programme") for i in kept} - {None}
    kept |= {i for i, item in enumerate(items) if item["id"] in funding
             or item.get("programme") in programmes}
    dropped = [item for i, item in enumerate(items) if i not in kept]
    if len(dropped) < FOCUS_MIN_DROPPED:
        return None
    rest = _stand_ins(dropped, {item["id"] for item in items}, data.get("history", []))
    focus_data = dict(data, line_items=[item for i, item in enumerate(items) if i in kept]
                      + [line for line, _ in rest], commitments=commitments)
    if "history" in data:
        dropped_ids = {item["id"] for item in dropped}
        focus_data["history"] = [
            dict(entry, line_items={**{k: v for k, v in entry.get("line_items", {}).items()
                                       if k not in dropped_ids},
                                    **{line["id"]: years[n] for line, years in rest
                                       if years[n] is not None}})
            for n, entry in enumerate(data["history"])]
    try:
        focused = Case.model_validate(focus_data)
        focused._source = case.source
        cases = _Cases(focused, pack, assess)
        report_focus = assess(focused, pack)
    except DiploError:
        return None
    mine = [f for f in report_focus.findings if f.id == finding.id]
    if not mine or mine[0].severity != finding.severity:
        return None   # the risk rests on more than its inputs show: the whole case it is
    return _Presence(cases, finding, report_focus.findings)


def _stand_ins(dropped: list[dict], taken: set[str], history: list[dict]):
    """One line per category for the lines a focus case leaves out, with their money this
    year, last year and in each year of the history (None where one of them lacks it)."""
    by_category: dict[str, list[dict]] = {}
    for item in dropped:
        by_category.setdefault(item["category"], []).append(item)
    rest = []
    for category, members in by_category.items():
        name = "rest-of-" + category.replace("_", "-")
        while name in taken:
            name += "-x"
        taken.add(name)
        line = {"id": name, "category": category,
                "amount": sum(m["amount"] for m in members)}
        if all(m.get("prior") is not None for m in members):
            line["prior"] = sum(m["prior"] for m in members)
        years = []
        for entry in history:
            values = [entry.get("line_items", {}).get(m["id"]) for m in members]
            years.append(sum(values) if all(v is not None for v in values) else None)
        rest.append((line, years))
    return rest


def _all_inputs(report: Report, finding) -> tuple[set[str], set[str]]:
    """The case fields a risk rests on, and the subjects (line and commitment ids) of it
    and of the derived facts behind it."""
    facts = {fact.id: fact for fact in report.facts or []}
    seen, paths, todo = set(), set(finding.inputs), list(finding.because)
    subjects = set(finding.subjects)
    while todo:
        fact = facts.get(todo.pop())
        if fact is None or fact.id in seen:
            continue
        seen.add(fact.id)
        paths.update(fact.inputs)
        subjects.update(fact.subjects)
        todo.extend(fact.because)
    return paths, subjects


_LINE = re.compile(r"^line_items\[(\d+)\]")


def _search(case: Case, present: _Presence, whole: _Presence, position: str
            ) -> Remedy | None:
    """The nearest value of one input at which the risk is gone: stepped outwards, then
    bisected, on `present`'s case; verified on the whole case, and searched again there
    when the focus case was wrong about it."""
    path = show_path(id_path(position, whole.cases.data))
    current = whole.current(path)
    if not isinstance(current, (int, float)) or isinstance(current, bool):
        return None
    best = _nearest(present, path, current)
    if best is not None and present is not whole and whole(path, best):
        best = _nearest(whole, path, current)
    if best is None:
        return None
    verified = not whole(path, best)
    change = best - current
    verb = "raise" if change > 0 else "lower"
    unit = _unit_of(path, case)
    return Remedy(path=path, current=current, value=best, change=change, verified=verified,
                  message=f"{verb} {path} from {_exact(current)} to {_exact(best)} "
                          f"({'+' if change > 0 else ''}{_exact(change)}{unit})")


def _nearest(present: _Presence, path: str, current: float) -> float | None:
    low, high = _BOUNDS.get(path, (0.0, max(4.0 * current, current + 100.0)))
    best = None
    for bound in (high, low):
        if bound == current:
            continue
        # step outwards, so that a side effect far away (a volatile total at four times the
        # amount) cannot hide the nearer value that clears the flag
        inside, outside = current, None
        for share in _STEPS:
            probe = current + (bound - current) * share
            if not present(path, probe):
                outside = probe
                break
            inside = probe
        if outside is None:
            continue
        tolerance = max(abs(outside - inside) * 1e-5, 0.001)
        while abs(outside - inside) > tolerance:
            middle = (inside + outside) / 2
            if present(path, middle):
                inside = middle
            else:
                outside = middle
        value = _round_towards(outside, inside)
        if present(path, value):
            value = outside
        if best is None or abs(value - current) < abs(best - current):
            best = value
    return best


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
