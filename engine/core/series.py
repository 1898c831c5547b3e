"""Changes across the years a case gives: the series of a total, a line or a category, its
year-on-year changes in nominal and, where inflation is known, in real terms."""
from __future__ import annotations

from dataclasses import dataclass

# reasons that make a change part of a plan, not instability: a legislated or agreed profile,
# or a response to a threat that the case states
PLANNED_REASONS = frozenset({"legislated_plan", "threat_response", "agreed_phasing"})


@dataclass(frozen=True)
class Step:
    """The change from one year of a series to the next."""

    year: int                   # the later year
    nominal_pct: float | None   # None when the earlier amount is 0
    real_pct: float | None      # None when inflation of the later year is not known, or the
                                # years are not successive
    planned: bool


def pct(new, old):
    if new is None or old is None or old == 0:
        return None
    return (new / old - 1.0) * 100.0


def steps(points: list[tuple[int, float]], inflation: dict[int, float],
          reasons: dict[int, str]) -> list[Step]:
    """Year-on-year changes of `points` ((year, amount), in year order). `inflation` is each
    year's inflation in percent where known; `reasons` each year's change reason."""
    found = []
    for (year_a, a), (year_b, b) in zip(points, points[1:]):
        real = None
        if year_b == year_a + 1 and year_b in inflation:
            real = pct(b, a * (1.0 + inflation[year_b] / 100.0))
        found.append(Step(year_b, pct(b, a), real, reasons.get(year_b) in PLANNED_REASONS))
    return found


def volatility(found: list[Step]) -> dict[str, float]:
    """The volatility fields of a series (absent when no change can be computed): the largest
    change in either direction, the mean absolute change and the largest drop, in nominal
    terms; the same in real terms over the steps whose inflation is known; and the largest
    real change of the steps that are not part of a plan."""
    result: dict[str, float] = {}
    nominal = [s.nominal_pct for s in found if s.nominal_pct is not None]
    if nominal:
        result["volatility_pct"] = max(abs(c) for c in nominal)
        result["mean_abs_change_pct"] = sum(abs(c) for c in nominal) / len(nominal)
        result["largest_drop_pct"] = max(0.0, -min(nominal))
    real = [s.real_pct for s in found if s.real_pct is not None]
    if real:
        result["real_volatility_pct"] = max(abs(c) for c in real)
        result["real_mean_abs_change_pct"] = sum(abs(c) for c in real) / len(real)
        result["largest_real_drop_pct"] = max(0.0, -min(real))
        unplanned = [s.real_pct for s in found if s.real_pct is not None and not s.planned]
        result["unplanned_real_volatility_pct"] = max((abs(c) for c in unplanned), default=0.0)
        result["unplanned_largest_real_drop_pct"] = max(0.0, -min(unplanned, default=0.0))
    return result
