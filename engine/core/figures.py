"""The figures of a case's facts: how each value is computed from the case, and the case
fields it rests on (its provenance). engine.core.facts assembles the facts from these."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

from ..model import Case
from .provenance import _LinePaths
from .series import steps, volatility

INT64_LIMIT = 9_000_000_000_000_000_000


def clean_number(value):
    """A number the rule engine reads back exactly as Python holds it.

    The engine's JSON parser rejects floats printed in bare exponent form (1e-05, 1e+16) and
    saturates integers beyond int64, so tiny magnitudes become 0, huge ones whole numbers.
    """
    kind = type(value)
    if kind is float and -1e15 < value < 1e15:   # the common case, first
        value = round(value, 6)
        return 0.0 if -1e-4 < value < 1e-4 else value
    if kind is int and -INT64_LIMIT <= value <= INT64_LIMIT:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if isinstance(value, int):
        return max(-INT64_LIMIT, min(INT64_LIMIT, value))
    if not math.isfinite(value):
        return None
    if abs(value) >= 1e15:
        return max(-INT64_LIMIT, min(INT64_LIMIT, int(value)))
    value = round(value, 6)
    if abs(value) < 1e-4:
        return 0.0
    return value


@dataclass(slots=True)
class Fact:
    kind: str
    key: str                      # unique among facts of its kind in one case
    fields: dict
    subjects: tuple[str, ...] = ()
    sources: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # the fields worth computing while the case's facts are built (None: all of them)
    keep: frozenset | None = field(default=None, repr=False, compare=False)
    # made once: the records of a run and the engine's JSON share it
    id: str = field(init=False, repr=False, compare=False)
    # a fact of the case is its own record in a run (engine.core.outcome.Record): no rule
    # derived it, and it rests on no other fact
    rule: ClassVar = None
    bound: ClassVar[tuple] = ()
    because: ClassVar[tuple] = ()
    inputs: ClassVar[tuple] = ()

    def __post_init__(self):
        self.id = f"{self.kind}:{self.key}" if self.key else self.kind


def _wants(fact: Fact, name: str) -> bool:
    """Whether a field is worth computing: a field no rule reads, nor any other is computed
    from, costs its provenance and is dropped anyway."""
    return fact.keep is None or name in fact.keep


def _pct(new, old):
    if new is None or old is None or old == 0:
        return None
    return (new / old - 1.0) * 100.0


def _put(fact: Fact, name: str, value, sources: tuple[str, ...]):
    if fact.keep is not None and name not in fact.keep:
        return
    kind = type(value)
    if kind is float:
        if -1e15 < value < 1e15:   # clean_number's common case, inline: hundreds per case
            value = round(value, 6)
            if -1e-4 < value < 1e-4:
                value = 0.0
        else:
            value = clean_number(value)
    elif kind is not str and kind is not bool:
        value = clean_number(value)
    if value is None:
        return
    fact.fields[name] = value
    fact.sources[name] = sources


_NOMINAL_VOLATILITY = frozenset({"volatility_pct", "mean_abs_change_pct", "largest_drop_pct"})
# the fields _history gives a line or a category
HISTORY_FIELDS = _NOMINAL_VOLATILITY | frozenset({
    "history_years", "real_volatility_pct", "real_mean_abs_change_pct",
    "largest_real_drop_pct", "unplanned_real_volatility_pct",
    "unplanned_largest_real_drop_pct"})
# the fields of a category that a dependency on it carries: the category as a whole
# reasons with which a line ends: it continues in no form this year
ENDING_REASONS = frozenset({"mandate_ended", "programme_completed"})
_WHOLE_CATEGORY = ("prior", "change", "change_pct", "prior_real", "real_change",
                   "real_change_pct", "share_of_total_pct", "share_of_gdp_pct",
                   "real_change_share_of_total_pct", "real_volatility_pct",
                   "continuing_real_change_pct")
# financing that does not come from the national budget
_DONOR = frozenset({"donor_grant", "loan"})


class _Context:
    """What every fact of one case shares."""

    def __init__(self, case: Case, items, lp: _LinePaths, deflator, inflation_src, total,
                 total_src, gdp_src):
        self.case, self.items, self.lp = case, items, lp
        self.item_paths = lp.prefixes
        self.deflator, self.inflation_src = deflator, inflation_src
        self.total, self.total_src, self.gdp_src = total, total_src, gdp_src
        # each year's inflation where the case states it: history entries and this year
        self.year_inflation = {h.fiscal_year: h.inflation_pct for h in case.history
                               if h.inflation_pct is not None}
        if case.inflation_pct is not None:
            self.year_inflation[case.fiscal_year] = case.inflation_pct
        self._categories: dict[str, tuple[float, tuple[str, ...]]] = {}
        self.history_inflation_src = tuple(
            f"history[{i}].inflation_pct" for i, h in enumerate(case.history)
            if h.inflation_pct is not None) + inflation_src

    def stated_priors_real(self) -> tuple[float, tuple[str, ...]]:
        """Last year's amounts of the lines that state one, at this year's prices."""
        stated = [i for i, item in enumerate(self.items) if item.prior]
        return (sum(self.items[i].prior for i in stated) * self.deflator,
                tuple(self.lp.many(stated, "prior")) + self.inflation_src)

    def category_amount(self, category: str) -> tuple[float, tuple[str, ...]]:
        """A category's amount and the case fields it sums (made once per category)."""
        if not self._categories:
            members: dict[str, list[int]] = {}
            for i, item in enumerate(self.items):
                members.setdefault(item.category, []).append(i)
            self._categories = {
                name: (sum(self.items[i].amount for i in found),
                       self.lp.many(found, "amount"))
                for name, found in members.items()}
        return self._categories[category]


def _sum_all(values):
    values = list(values)
    return sum(values) if values and all(v is not None for v in values) else None


def _organisations(case: Case) -> dict[str, tuple[int | None, list[int]]]:
    """Each organisation whose guidelines apply: (its position in `memberships` or None, the
    commitments that name it), in a fixed order."""
    found: dict[str, tuple[int | None, list[int]]] = {}
    for j, name in enumerate(case.memberships):
        found.setdefault(name, (j, []))
    for i, commitment in enumerate(case.commitments):
        for name in commitment.guidelines:
            found.setdefault(name, (None, []))[1].append(i)
    return dict(sorted(found.items()))


def _materiality(fact: Fact, ctx: _Context) -> None:
    """A change's size against the whole budget, so that a rule can tell a large cut to a
    small line from a small cut to a large one."""
    # against this year's budget; when that is nothing (every line cut to zero), against last
    # year's at this year's prices, so that a cut to nothing is not a cut of no size
    if fact.kind == "line_item" and _wants(fact, "share_of_category_pct"):
        amount, amount_src = ctx.category_amount(fact.fields["category"])
        _put(fact, "share_of_category_pct",
             fact.fields["amount"] / amount * 100.0 if amount else 0.0, amount_src)
    if not _wants(fact, "real_change_share_of_total_pct"):
        return
    base, base_src = ctx.total, ctx.total_src
    if not base and ctx.prior_total_real:
        base, base_src = ctx.prior_total_real, ctx.prior_total_src
    elif not base:
        # last year's whole is unknown too: what the lines that state a prior held, the
        # least it can have been, so that the cut reads at the largest size it can have
        base, base_src = ctx.stated_priors_real()
    if "real_change" in fact.fields and base:
        share = fact.fields["real_change"] / base * 100.0
        if not math.isfinite(share):
            # a base so small that the quotient overflows: a change beyond any measure of
            # it, kept at the largest size a field holds rather than left unknown
            share = math.copysign(float(INT64_LIMIT), share)
        _put(fact, "real_change_share_of_total_pct", share,
             fact.sources["real_change"] + base_src)


def _continuing(fact: Fact, members, ctx: _Context) -> None:
    """The real-terms change of the lines that continue: those not ended with a closed mandate
    or a completed programme, so that a case that keeps such a line (the transparent choice)
    reads the same as one that leaves it out."""
    if not _wants(fact, "continuing_real_change_pct"):
        return
    going = [i for i in members if ctx.items[i].change_reason not in ENDING_REASONS]
    priors = [ctx.items[i].prior for i in going]
    if not going or any(prior is None for prior in priors):
        return
    amount = sum(ctx.items[i].amount for i in going)
    change = _pct(amount, sum(priors) * ctx.deflator)
    if change is not None:
        _put(fact, "continuing_real_change_pct", change,
             tuple(ctx.lp.one(i, name)[0] for i in members
                   for name in ("amount", "prior", "change_reason")) + ctx.inflation_src)


def _financed(fact: Fact, members, ctx: _Context, amount: float) -> None:
    """The shares of an amount that donors (grants and loans) and off-budget sources pay."""
    if not (_wants(fact, "donor_financed_share_pct")
            or _wants(fact, "off_budget_financed_share_pct")):
        return
    donor = [i for i in members if ctx.items[i].financing in _DONOR]
    off = [i for i in members if ctx.items[i].financing == "off_budget"]
    for name, which in (("donor_financed_share_pct", donor),
                        ("off_budget_financed_share_pct", off)):
        if not _wants(fact, name):
            continue
        part = sum(ctx.items[i].amount for i in which)
        _put(fact, name, part / amount * 100.0 if amount else 0.0,
             ctx.lp.many(members, "financing") + ctx.lp.many(which, "amount"))


def _history(fact: Fact, ctx: _Context, by_year: dict[int, float | None], prior, amount,
             history_key: str) -> None:
    """Volatility of a line or a category across the years the case gives for it."""
    years = sorted((year, value) for year, value in by_year.items() if value is not None)
    _put(fact, "history_years", len(years), ("history",) if years else ())
    case = ctx.case
    if prior is not None and all(year != case.fiscal_year - 1 for year, _ in years):
        years.append((case.fiscal_year - 1, prior))
    if not years:
        return
    reasons = {}
    if fact.kind == "line_item":
        reasons[case.fiscal_year] = fact.fields.get("change_reason")
    src = tuple(f"history[{i}].{history_key}" for i, h in enumerate(case.history)
                if by_year.get(h.fiscal_year) is not None) + fact.sources["amount"] + (
        fact.sources.get("prior", ()))
    for name, value in volatility(steps(years + [(case.fiscal_year, amount)],
                                        ctx.year_inflation, reasons)).items():
        _put(fact, name, value, src + (ctx.history_inflation_src
                                       if name not in _NOMINAL_VOLATILITY else ()))


def _programme(fact: Fact, members, groups, funders, lp: _LinePaths, positions) -> None:
    """A programme's own fields beside its totals: whether it is declared, its main category
    (that of its largest line), and the reason and financing its lines share."""
    main = max(members, key=lambda item: item.amount)
    if _wants(fact, "declared"):
        _put(fact, "declared", members[0].programme is not None,
             lp.many(positions, "programme"))
    _put(fact, "category", main.category, lp.many(positions, "category"))
    _put(fact, "group", groups.get(main.category, ""), fact.sources["category"])
    if _wants(fact, "category_count"):
        _put(fact, "category_count", len({item.category for item in members}),
             fact.sources["category"])
    # a programme falls for the reason its falling lines give: a line that grows (a new
    # organisation taking over the work, say) is not why the programme falls
    falling = [(item, i) for item, i in zip(members, positions)
               if item.prior is not None and item.amount < item.prior]
    for name in ("change_reason", "financing"):
        if not _wants(fact, name):
            continue
        chosen = falling if name == "change_reason" and falling else list(zip(members, positions))
        values = {getattr(item, name) for item, _ in chosen}
        _put(fact, name, values.pop() if len(values) == 1 else "mixed",
             lp.many([i for _, i in chosen], name))
    if _wants(fact, "funded_commitment_count"):
        linked = sorted({c for item in members for c in funders.get(item.id, ())})
        _put(fact, "funded_commitment_count", len(linked),
             tuple(f"commitments[{c}].funded_by" for c in linked))
    if "prior" in fact.fields and _wants(fact, "is_new"):
        _put(fact, "is_new", fact.fields["prior"] == 0 and fact.fields["amount"] > 0,
             fact.sources["amount"] + fact.sources["prior"])


def _commitment_links(fact: Fact, commitment, p: str, ctx: _Context) -> None:
    """How a commitment is tied to the budget: the lines that fund it, taken together."""
    _put(fact, "funded_by_count", len(commitment.funded_by), (f"{p}.funded_by",))
    _put(fact, "guideline_count", len(commitment.guidelines), (f"{p}.guidelines",))
    if not commitment.funded_by:
        return
    positions = [i for i, item in enumerate(ctx.items) if item.id in commitment.funded_by]
    amount = sum(ctx.items[i].amount for i in positions)
    priors = [ctx.items[i].prior for i in positions]
    amount_src = (f"{p}.funded_by",) + ctx.lp.many(positions, "amount")
    _put(fact, "funding_amount", amount, amount_src)
    if all(x is not None for x in priors):
        prior = sum(priors)
        src = amount_src + ctx.lp.many(positions, "prior")
        _put(fact, "funding_prior", prior, src)
        _put(fact, "funding_real_change_pct", _pct(amount, prior * ctx.deflator),
             src + ctx.inflation_src)


def _funding(commitment, p: str, j: int, line: Fact, programmes: dict[str, Fact], new) -> Fact:
    """A commitment funded by a line: the line's figures, under the commitment's name."""
    fact = new("funding", f"{commitment.id}/{line.key}", (commitment.id, line.key))
    link = (f"{p}.funded_by[{j}]",)
    _put(fact, "commitment", commitment.id, (f"{p}.id",))
    _put(fact, "line", line.key, link)
    _put(fact, "kind", commitment.kind, (f"{p}.kind",))
    _put(fact, "status", commitment.status, (f"{p}.status",))
    for name in _FUNDING_FIELDS:
        if name in line.fields:
            _put(fact, name, line.fields[name], link + line.sources[name])
    programme = programmes.get(line.fields["programme"])
    if programme is not None and "real_change_pct" in programme.fields:
        _put(fact, "programme_real_change_pct", programme.fields["real_change_pct"],
             link + programme.sources["real_change_pct"])
    return fact


_FUNDING_FIELDS = ("category", "group", "programme", "change_reason", "financing", "amount",
                   "prior", "change", "change_pct", "prior_real", "real_change",
                   "real_change_pct", "is_new", "share_of_total_pct", "share_of_gdp_pct",
                   "real_change_share_of_total_pct")


def _amounts(fact, amount, prior, amount_src, prior_src, deflator, inflation_src,
             total, total_src, gdp, gdp_src):
    wants = (lambda name: True) if fact.keep is None else fact.keep.__contains__
    _put(fact, "amount", amount, amount_src)
    if wants("share_of_total_pct"):
        _put(fact, "share_of_total_pct", amount / total * 100.0 if total else 0.0,
             amount_src + total_src)
    if gdp and wants("share_of_gdp_pct"):
        _put(fact, "share_of_gdp_pct", amount / gdp * 100.0, amount_src + gdp_src)
    if prior is None:
        return
    both = amount_src + prior_src
    real = both + inflation_src
    _put(fact, "prior", prior, prior_src)
    if wants("change"):
        _put(fact, "change", amount - prior, both)
    if wants("change_pct"):
        _put(fact, "change_pct", _pct(amount, prior), both)
    if wants("prior_real"):
        _put(fact, "prior_real", prior * deflator, prior_src + inflation_src)
    _put(fact, "real_change", amount - prior * deflator, real)
    _put(fact, "real_change_pct", _pct(amount, prior * deflator), real)
    if "id" in fact.fields and fact.kind == "line_item" and wants("is_new"):
        _put(fact, "is_new", prior == 0 and amount > 0, both)
