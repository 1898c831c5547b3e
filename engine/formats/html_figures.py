"""The figures behind the HTML report's charts, as data: each category's and line's proposal
against last year's amount in this year's prices, and the case's benchmarks against the
guidelines of the loaded packs (share of GDP, share on major equipment, secret and off-budget
shares against their bands).

A report names its case but does not carry its amounts, so the figures are computed from the
case and the packs (`case_figures`) by whoever has them: `diplo assess` reads each case file
again, a service that has the case at hand passes the figures with the report. They are plain
data (`CaseFigures.model_dump()`), so a page can be rendered from a report and its figures as
received.
"""
from __future__ import annotations

from typing import Literal

from ..model import Case, FrozenModel


class Bar(FrozenModel):
    """One category or line: this year's amount, last year's in this year's prices."""

    label: str
    amount: float
    prior_real: float | None = None        # None: no prior stated
    real_change_pct: float | None = None


class Benchmark(FrozenModel):
    key: str
    label: str
    value: float | None                    # None: the case does not state it
    unit: str
    better: Literal["higher", "lower"]
    guideline: float | None = None         # a line to reach (higher) or stay under (lower)
    bands: list[float] = []                # band edges, best band first
    source: str | None = None              # the parameter the guideline comes from


class CaseFigures(FrozenModel):
    case: str
    currency: str
    unit: str
    inflation_pct: float | None
    categories: list[Bar]
    lines: list[Bar]
    benchmarks: list[Benchmark]


def _value(x):
    return getattr(x, "value", x)


def _parameter(pack, name: str, year: int):
    """The value of parameter `name` in fiscal year `year` (the first pack that has it)."""
    for specs in (getattr(pack, "parameters", None) or {}).values():
        spec = specs.get(name)
        if spec is not None:
            value = spec.value_for(year)
            return value if isinstance(value, (int, float)) and not isinstance(value, bool) \
                else None
    return None


def _bar(label: str, amount: float, prior: float | None, deflator: float) -> Bar:
    if prior is None:
        return Bar(label=label, amount=amount)
    prior_real = prior * deflator
    change = (amount / prior_real - 1) * 100 if prior_real else None
    return Bar(label=label, amount=amount, prior_real=prior_real, real_change_pct=change)


def case_figures(case: Case, pack=None) -> CaseFigures:
    """The figures of `case`; `pack` (a PackSet) gives the category groups and guidelines."""
    inflation = _value(case.inflation_pct)
    deflator = 1 + (inflation or 0) / 100
    items = case.line_items
    groups = {**{n: c.group for n, c in case.categories.items()},
              **(getattr(pack, "groups", None) or {})}
    lines = [_bar(item.id, _value(item.amount), _value(item.prior), deflator) for item in items]
    by_category: dict[str, list] = {}
    for item in items:
        by_category.setdefault(item.category, []).append(item)
    categories = []
    for name, members in by_category.items():
        priors = [_value(m.prior) for m in members]
        categories.append(_bar(name, sum(_value(m.amount) for m in members),
                               sum(priors) if all(p is not None for p in priors) else None,
                               deflator))
    categories.sort(key=lambda b: -b.amount)
    total = _value(case.total.amount) if case.total is not None else \
        sum(_value(i.amount) for i in items)
    year = case.fiscal_year
    gdp = _value(case.gdp)
    equipment = sum(_value(i.amount) for i in items if groups.get(i.category) == "equipment")
    benchmarks = [
        Benchmark(key="gdp", label="Share of GDP",
                  value=total / gdp * 100 if gdp else None, unit="% of GDP", better="higher",
                  guideline=_parameter(pack, "nato_gdp_pct", year), source="nato_gdp_pct"),
        Benchmark(key="equipment", label="Major equipment",
                  value=equipment / total * 100 if total else None, unit="% of the budget",
                  better="higher", guideline=_parameter(pack, "nato_equipment_pct", year),
                  source="nato_equipment_pct"),
    ]
    for key, label, field in (("secret", "Secret items",
                               "secret_share_pct"),
                              ("off_budget", "Outside the budget",
                               "off_budget_share_pct")):
        bands = [_parameter(pack, f"{key}_{level}_pct", year) for level in ("low", "mid", "high")]
        benchmarks.append(Benchmark(
            key=key, label=label, value=_value(getattr(case.transparency, field)),
            unit="% of the budget", better="lower",
            bands=[b for b in bands if b is not None] if all(b is not None for b in bands)
            else [], source=f"{key}_low_pct, {key}_mid_pct, {key}_high_pct"))
    return CaseFigures(case=case.id, currency=case.currency, unit=case.unit,
                       inflation_pct=inflation, categories=categories, lines=lines,
                       benchmarks=benchmarks)


def _pack_of(reports):
    """The packs the reports name, loaded again: with the --pack and --param values of the
    running `diplo` command when there is one, else the installed packs of those names."""
    import click

    from ..core.run import load_pack, parse_params
    from ..errors import DiploError
    wanted = {(p.name, p.version) for r in reports for p in r.packs}
    candidates = []
    context = click.get_current_context(silent=True)
    if context is not None and "packs" in context.params:
        candidates.append((tuple(context.params["packs"] or ()),
                           tuple(context.params.get("params") or ())))
    names: list[str] = []
    for report in reports:
        names += [p.name for p in report.packs if p.name not in names]
    candidates.append((tuple(names), ()))
    for specs, params in candidates:
        try:
            pack = load_pack(*specs, params=parse_params(params) or None)
        except DiploError:
            continue
        if {(p.name, p.version) for p in pack.packs} == wanted:
            return pack
    return None


def figures_from_files(reports) -> dict[str, CaseFigures]:
    """The figures of each report whose case file can be read again, by case source."""
    from pathlib import Path

    from ..errors import DiploError
    sources = sorted({r.case.source for r in reports
                      if r.case.source and Path(r.case.source).is_file()})
    if not sources:
        return {}
    from ..core.run import load_case
    pack = _pack_of(reports)
    if pack is None:
        return {}
    figures = {}
    for source in sources:
        try:
            if Path(source).suffix.lower() in (".xlsx", ".xlsm", ".csv"):
                import click

                from ..inputs.spreadsheet import load_spreadsheet_case
                context = click.get_current_context(silent=True)
                mapping = context.params.get("map_file") if context is not None else None
                case = load_spreadsheet_case(source, mapping, pack.categories)
            else:
                case = load_case(source, pack)
        except DiploError:
            continue
        figures[source] = case_figures(case, pack)
    return figures
