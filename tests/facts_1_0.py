"""A frozen copy of engine/core/facts.py as it was for case format 1.0, the oracle of the
property test that every 1.0 case gives identical facts under later formats. Never edit it.

The facts a case contributes, with every derived value computed here and only here.

Each fact has a kind, user-visible fields, the subjects it is about (line item or commitment
ids) and, for every field, the case fields it was computed from, so that findings can name the
inputs they rest on.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from engine.model import Case


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


@dataclass
class Fact:
    kind: str
    key: str                      # unique among facts of its kind in one case
    fields: dict
    subjects: tuple[str, ...] = ()
    sources: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.key}" if self.key else self.kind


def _pct(new, old):
    if new is None or old is None or old == 0:
        return None
    return (new / old - 1.0) * 100.0


def _put(fact: Fact, name: str, value, sources: tuple[str, ...]):
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


def case_facts(case: Case, groups: dict[str, str] | None = None,
               kinds: set[str] | frozenset[str] | None = None) -> list[Fact]:
    """The facts of a case, in a fixed order: all of them, or those of `kinds` (the kinds
    some rule matches: the others cost time and are read by nothing). `groups` maps
    categories to their pack group."""
    groups = groups or {}
    wanted = (lambda kind: True) if kinds is None else kinds.__contains__
    inflation = case.inflation_pct if case.inflation_pct is not None else 0.0
    inflation_src = ("inflation_pct",) if case.inflation_pct is not None else ()
    deflator = 1.0 + inflation / 100.0
    items = case.line_items
    item_paths = [f"line_items[{i}]" for i in range(len(items))]
    all_amounts = tuple(f"{p}.amount" for p in item_paths)

    if case.total is not None:
        total, total_src = case.total.amount, ("total.amount",)
        total_prior = case.total.prior
        prior_src = ("total.prior",)
    else:
        total, total_src = sum(i.amount for i in items), all_amounts
        priors = [i.prior for i in items]
        total_prior = sum(priors) if all(p is not None for p in priors) else None
        prior_src = tuple(f"{p}.prior" for p in item_paths)
    gdp_src = ("gdp",)

    facts: list[Fact] = []
    head = Fact("case", "", {})
    _put(head, "id", case.id, ("id",))
    _put(head, "country", case.country, ("country",))
    _put(head, "fiscal_year", case.fiscal_year, ("fiscal_year",))
    _put(head, "currency", case.currency, ("currency",))
    _put(head, "unit", case.unit, ("unit",))
    _put(head, "gdp", case.gdp, gdp_src)
    _put(head, "inflation_pct", inflation, inflation_src)
    _put(head, "inflation_stated", case.inflation_pct is not None, inflation_src)
    _put(head, "threat_environment", case.threat_environment, ("threat_environment",))
    _put(head, "total", total, total_src)
    _put(head, "total_stated", case.total is not None, ("total",) if case.total else ())
    _put(head, "total_prior", total_prior, prior_src)
    if total_prior is not None:
        _put(head, "total_change", total - total_prior, total_src + prior_src)
        _put(head, "total_change_pct", _pct(total, total_prior), total_src + prior_src)
        _put(head, "total_real_change_pct", _pct(total, total_prior * deflator),
             total_src + prior_src + inflation_src)
    if case.gdp:
        _put(head, "share_of_gdp_pct", total / case.gdp * 100.0, total_src + gdp_src)
    _put(head, "line_item_count", len(items), ("line_items",))
    _put(head, "commitment_count", len(case.commitments), ("commitments",))
    _put(head, "active_commitment_count",
         sum(c.status == "active" for c in case.commitments), ("commitments",))
    series = sorted((h.fiscal_year, h.total) for h in case.history)
    _put(head, "history_years", len(series), ("history",))
    # last year's total is a point of the series too, unless the history already has it
    if total_prior is not None and all(year != case.fiscal_year - 1 for year, _ in series):
        series = series + [(case.fiscal_year - 1, total_prior)]
    points = series + [(case.fiscal_year, total)]
    changes = [_pct(b, a) for (_, a), (_, b) in zip(points, points[1:])]
    changes = [c for c in changes if c is not None]
    if changes:
        hist_src = ("history",) + total_src + (prior_src if total_prior is not None else ())
        _put(head, "volatility_pct", max(abs(c) for c in changes), hist_src)
        _put(head, "mean_abs_change_pct", sum(abs(c) for c in changes) / len(changes), hist_src)
        _put(head, "largest_drop_pct", max(0.0, -min(changes)), hist_src)
    facts.append(head)

    for i, item in enumerate(items):
        if not wanted("line_item"):
            break
        p = item_paths[i]
        fact = Fact("line_item", item.id, {}, (item.id,))
        _put(fact, "id", item.id, (f"{p}.id",))
        _put(fact, "category", item.category, (f"{p}.category",))
        _put(fact, "group", groups.get(item.category, ""), (f"{p}.category",))
        _put(fact, "partner_count", len(item.partners), (f"{p}.partners",))
        _amounts(fact, item.amount, item.prior, (f"{p}.amount",), (f"{p}.prior",),
                 deflator, inflation_src, total, total_src, case.gdp, gdp_src)
        facts.append(fact)

    def aggregate(kind: str, key: str, members: list[int]) -> Fact:
        """A category's or a group's totals: the sums of its line items."""
        amount = sum(items[i].amount for i in members)
        priors = [items[i].prior for i in members]
        prior = sum(priors) if all(x is not None for x in priors) else None
        fact = Fact(kind, key, {}, tuple(items[i].id for i in members))
        _put(fact, "id", key, tuple(f"{item_paths[i]}.category" for i in members))
        _put(fact, "line_item_count", len(members), ())
        _amounts(fact, amount, prior, tuple(f"{item_paths[i]}.amount" for i in members),
                 tuple(f"{item_paths[i]}.prior" for i in members), deflator, inflation_src,
                 total, total_src, case.gdp, gdp_src)
        return fact

    by_category: dict[str, list[int]] = {}
    by_group: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        by_category.setdefault(item.category, []).append(i)
        if groups.get(item.category):
            by_group.setdefault(groups[item.category], []).append(i)
    for category in sorted(by_category) if wanted("category") else ():
        fact = aggregate("category", category, by_category[category])
        _put(fact, "group", groups.get(category, ""), ())
        facts.append(fact)
    for group in sorted(by_group) if wanted("group") else ():
        fact = aggregate("group", group, by_group[group])
        _put(fact, "category_count", len({items[i].category for i in by_group[group]}), ())
        facts.append(fact)

    for i, commitment in enumerate(case.commitments):
        p = f"commitments[{i}]"
        fact = Fact("commitment", commitment.id, {}, (commitment.id,))
        _put(fact, "id", commitment.id, (f"{p}.id",))
        _put(fact, "kind", commitment.kind, (f"{p}.kind",))
        _put(fact, "status", commitment.status, (f"{p}.status",))
        _put(fact, "ends_year", commitment.ends_year, (f"{p}.ends_year",))
        if commitment.ends_year is not None:
            _put(fact, "years_left", commitment.ends_year - case.fiscal_year,
                 (f"{p}.ends_year", "fiscal_year"))
        _put(fact, "partner_count", len(commitment.partners), (f"{p}.partners",))
        _put(fact, "dependency_count", len(commitment.depends_on), (f"{p}.depends_on",))
        if wanted("commitment"):
            facts.append(fact)
        for j, category in enumerate(dict.fromkeys(commitment.depends_on)
                                     if wanted("dependency") else ()):
            members = by_category.get(category, [])
            amount = sum(items[k].amount for k in members)
            dep = Fact("dependency", f"{commitment.id}/{category}", {}, (commitment.id,))
            dep_src = (f"{p}.depends_on[{commitment.depends_on.index(category)}]",)
            _put(dep, "commitment", commitment.id, (f"{p}.id",))
            _put(dep, "category", category, dep_src)
            _put(dep, "kind", commitment.kind, (f"{p}.kind",))
            _put(dep, "status", commitment.status, (f"{p}.status",))
            amount_src = tuple(f"{item_paths[k]}.amount" for k in members)
            _put(dep, "funded", amount > 0, dep_src + amount_src)
            _put(dep, "amount", amount, dep_src + amount_src)
            facts.append(dep)

    transparency = Fact("transparency", "", {})
    stated = 0
    for name, value in case.transparency.model_dump().items():
        if value is not None:
            stated += 1
            _put(transparency, name, value, (f"transparency.{name}",))
    _put(transparency, "stated_count", stated, ("transparency",))
    if wanted("transparency"):
        facts.append(transparency)
    return facts


def _amounts(fact, amount, prior, amount_src, prior_src, deflator, inflation_src,
             total, total_src, gdp, gdp_src):
    _put(fact, "amount", amount, amount_src)
    _put(fact, "share_of_total_pct", amount / total * 100.0 if total else 0.0,
         amount_src + total_src)
    if gdp:
        _put(fact, "share_of_gdp_pct", amount / gdp * 100.0, amount_src + gdp_src)
    if prior is None:
        return
    both = amount_src + prior_src
    real = both + inflation_src
    _put(fact, "prior", prior, prior_src)
    _put(fact, "change", amount - prior, both)
    _put(fact, "change_pct", _pct(amount, prior), both)
    _put(fact, "prior_real", prior * deflator, prior_src + inflation_src)
    _put(fact, "real_change", amount - prior * deflator, real)
    _put(fact, "real_change_pct", _pct(amount, prior * deflator), real)
    if "id" in fact.fields and fact.kind == "line_item":
        _put(fact, "is_new", prior == 0 and amount > 0, both)
