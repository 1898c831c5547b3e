"""The facts a case contributes, with every derived value computed here (engine.core.figures
holds the computations) and only here.

Each fact has a kind, user-visible fields, the subjects it is about (line item or commitment
ids) and, for every field, the case fields it was computed from, so that findings can name the
inputs they rest on.
"""
from __future__ import annotations

from ..model import Case
from .figures import (  # noqa: F401  (INT64_LIMIT, clean_number, HISTORY_FIELDS: re-exported)
    _FUNDING_FIELDS,
    _NOMINAL_VOLATILITY,
    _WHOLE_CATEGORY,
    ENDING_REASONS,
    HISTORY_FIELDS,
    INT64_LIMIT,
    Fact,
    _amounts,
    _commitment_links,
    _Context,
    _continuing,
    _financed,
    _funding,
    _history,
    _materiality,
    _organisations,
    _pct,
    _programme,
    _put,
    _sum_all,
    _wants,
    clean_number,
)
from .provenance import Paths, _LinePaths
from .series import steps, volatility

# fields read while the facts are built, by the computation of others
_BUILT_FROM = frozenset({"id", "amount", "prior", "category", "real_change", "real_change_pct",
                         "change_reason", "programme"})


def _needs(read: dict[str, frozenset] | None) -> dict[str, frozenset] | None:
    """The fields worth computing for each kind of fact: those some rule reads, those others
    are computed from, and those copied (a category's into dependencies, a line's into fundings)."""
    if read is None:
        return None
    empty: frozenset = frozenset()
    needs = {kind: names | _BUILT_FROM for kind, names in read.items()}
    for kind in ("line_item", "category", "programme"):
        needs.setdefault(kind, _BUILT_FROM)
    needs["category"] |= read.get("dependency", empty) & frozenset(_WHOLE_CATEGORY)
    needs["line_item"] |= read.get("funding", empty) & frozenset(_FUNDING_FIELDS)
    return needs


def case_facts(case: Case, groups: dict[str, str] | None = None,
               kinds: set[str] | frozenset[str] | None = None,
               history: set[str] | frozenset[str] | None = None,
               read: dict[str, frozenset[str]] | None = None) -> list[Fact]:
    """The facts of a case, in a fixed order: all of them, or those of `kinds` (the kinds
    some rule matches: the others cost time and are read by nothing). `groups` maps
    categories to their pack group (the case's own categories add theirs). `history` is the
    kinds among line_item and category whose volatility across the years (HISTORY_FIELDS)
    some rule reads (None: all): the others are built without those fields, which cost a
    series per line and are read by nothing. `read` maps a kind to the fields some rule reads
    of it: once every fact is built (some are computed from others' fields), each keeps only
    those, and their provenance."""
    groups = {**{name: c.group for name, c in case.categories.items()}, **(groups or {})}
    wanted = (lambda kind: True) if kinds is None else kinds.__contains__
    needs = _needs(read)

    def new(kind: str, key: str, subjects: tuple = ()) -> Fact:
        return Fact(kind, key, {}, subjects, keep=needs.get(kind) if needs else None)

    inflation = case.inflation_pct if case.inflation_pct is not None else 0.0
    inflation_src = ("inflation_pct",) if case.inflation_pct is not None else ()
    deflator = 1.0 + inflation / 100.0
    items = case.line_items
    lp = _LinePaths(len(items))
    # shared by every line's share of a total the case does not state, and by the total
    all_amounts = Paths(lp.many(range(len(items)), "amount"))

    if case.total is not None:
        total, total_src = case.total.amount, ("total.amount",)
        total_prior = case.total.prior
        prior_src = ("total.prior",)
    else:
        total, total_src = sum(i.amount for i in items), all_amounts
        priors = [i.prior for i in items]
        total_prior = sum(priors) if all(p is not None for p in priors) else None
        prior_src = Paths(lp.many(range(len(items)), "prior"))
    gdp_src = ("gdp",)
    ctx = _Context(case, items, lp, deflator, inflation_src, total, total_src, gdp_src)
    ctx.prior_total_real = total_prior * deflator if total_prior is not None else None
    ctx.prior_total_src = tuple(prior_src) + inflation_src

    facts: list[Fact] = []
    head = new("case", "")
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
        # the total without the lines that end (a closed mandate, a completed programme):
        # keeping such a line in the case must not make the budget read as cut
        ending = [i for i, item in enumerate(items) if item.change_reason in ENDING_REASONS]
        if all(items[i].prior is not None for i in ending):
            going_total = total - sum(items[i].amount for i in ending)
            going_prior = total_prior - sum(items[i].prior for i in ending)
            ending_src = tuple(f"line_items[{i}].{name}" for i in ending
                               for name in ("amount", "prior", "change_reason"))
            _put(head, "continuing_total_change_pct", _pct(going_total, going_prior),
                 total_src + prior_src + ending_src)
            _put(head, "continuing_total_real_change_pct",
                 _pct(going_total, going_prior * deflator),
                 total_src + prior_src + inflation_src + ending_src)
    if case.gdp:
        _put(head, "share_of_gdp_pct", total / case.gdp * 100.0, total_src + gdp_src)
    _put(head, "line_item_count", len(items), ("line_items",))
    _put(head, "commitment_count", len(case.commitments), ("commitments",))
    _put(head, "active_commitment_count",
         sum(c.status == "active" for c in case.commitments), ("commitments",))
    series = sorted((h.fiscal_year, h.total) for h in case.history if h.total is not None)
    _put(head, "history_years", len(series), ("history",))
    # last year's total is a point of the series too, unless the history already has it
    if total_prior is not None and all(year != case.fiscal_year - 1 for year, _ in series):
        series = series + [(case.fiscal_year - 1, total_prior)]
    points = series + [(case.fiscal_year, total)]
    # the step into this year leaves out the lines that end (a closed mandate), as the total's
    # change does: keeping such a line in the case must not read as a swing of the budget
    ending = [item for item in items
              if item.change_reason in ENDING_REASONS and item.prior is not None]
    if ending and series and series[-1][0] == case.fiscal_year - 1:
        year, amount = series[-1]
        points = series[:-1] + [(year, amount - sum(item.prior for item in ending)),
                                (case.fiscal_year, total - sum(item.amount for item in ending))]
    hist_src = ("history",) + total_src + (prior_src if total_prior is not None else ())
    reasons = {h.fiscal_year: h.change_reason for h in case.history}
    if case.total is not None:
        reasons[case.fiscal_year] = case.total.change_reason
    for name, value in volatility(steps(points, ctx.year_inflation, reasons)).items():
        _put(head, name, value, hist_src + (ctx.history_inflation_src
                                            if name not in _NOMINAL_VOLATILITY else ()))
    # format 1.1: what a 1.0 case cannot state has its default, or is absent
    _put(head, "fiscal_year_label", case.fiscal_year_label, ("fiscal_year",))
    _put(head, "total_change_reason", case.total.change_reason if case.total else "unknown",
         ("total.change_reason",) if case.total else ())
    _put(head, "contingency_mechanism", case.contingency_mechanism,
         ("contingency_mechanism",))
    _put(head, "armed_forces", case.armed_forces, ("armed_forces",))
    _put(head, "membership_count", len(_organisations(case)), ("memberships",))
    _financed(head, range(len(items)), ctx, total)
    facts.append(head)

    funders: dict[str, list[int]] = {}
    for i, commitment in enumerate(case.commitments):
        for line in commitment.funded_by:
            funders.setdefault(line, []).append(i)
    line_facts: dict[str, Fact] = {}
    # what a line keeps once built: what rules read of it, and what its fundings copy
    line_keep = None if read is None else read.get("line_item", frozenset()) | (
        (frozenset(_FUNDING_FIELDS) & read.get("funding", frozenset())) | {"programme"}
        if wanted("funding") else frozenset())
    for i, item in enumerate(items):
        if not wanted("line_item") and not wanted("funding"):
            break
        fact = new("line_item", item.id, (item.id,))
        # a path is made only for a field worth computing: made, it lasts as long as the case
        for name, value, path in (("id", item.id, "id"), ("category", item.category, "category"),
                                  ("group", groups.get(item.category, ""), "category"),
                                  ("partner_count", len(item.partners), "partners")):
            if _wants(fact, name):
                _put(fact, name, value, lp.one(i, path))
        _amounts(fact, item.amount, item.prior, lp.one(i, "amount"),
                 lp.one(i, "prior") if item.prior is not None else (),
                 deflator, inflation_src, total, total_src, case.gdp, gdp_src)
        for name, value, path in (("programme", item.programme or item.id, "programme"),
                                  ("programme_declared", item.programme is not None,
                                   "programme"),
                                  ("change_reason", item.change_reason, "change_reason"),
                                  ("financing", item.financing, "financing")):
            if _wants(fact, name):
                _put(fact, name, value, lp.one(i, path))
        if _wants(fact, "funded_commitment_count"):
            _put(fact, "funded_commitment_count", len(funders.get(item.id, ())),
                 tuple(f"commitments[{c}].funded_by" for c in funders.get(item.id, ())))
        _materiality(fact, ctx)
        if history is None or "line_item" in history:
            _history(fact, ctx, {h.fiscal_year: h.line_items.get(item.id)
                                 for h in case.history},
                     item.prior, item.amount, f"line_items.{item.id}")
        _trim(fact, line_keep)   # now: a large case's lines are most of its facts
        line_facts[item.id] = fact
        if wanted("line_item"):
            facts.append(fact)

    def aggregate(kind: str, key: str, members: list[int]) -> Fact:
        """A category's or a group's totals: the sums of its line items."""
        amount = sum(items[i].amount for i in members)
        priors = [items[i].prior for i in members]
        prior = sum(priors) if all(x is not None for x in priors) else None
        fact = new(kind, key, tuple(items[i].id for i in members))
        _put(fact, "id", key, lp.many(members, "category"))
        _put(fact, "line_item_count", len(members), ())
        _amounts(fact, amount, prior, lp.many(members, "amount"),
                 lp.many(members, "prior"), deflator, inflation_src,
                 total, total_src, case.gdp, gdp_src)
        _materiality(fact, ctx)
        _financed(fact, members, ctx, amount)
        _continuing(fact, members, ctx)
        return fact

    by_category: dict[str, list[int]] = {}
    by_group: dict[str, list[int]] = {}
    by_programme: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        by_category.setdefault(item.category, []).append(i)
        if groups.get(item.category):
            by_group.setdefault(groups[item.category], []).append(i)
        by_programme.setdefault(item.programme or item.id, []).append(i)
    group_amounts = {g: sum(items[i].amount for i in m) for g, m in by_group.items()}
    category_facts: dict[str, Fact] = {}
    for category in sorted(by_category) if wanted("category") or wanted("dependency") else ():
        members = by_category[category]
        fact = aggregate("category", category, members)
        _put(fact, "group", groups.get(category, ""), ())
        _put(fact, "own", category in case.categories, (f"categories.{category}",)
             if category in case.categories else ())
        group_amount = group_amounts.get(groups.get(category, ""))
        if group_amount:
            _put(fact, "share_of_group_pct", fact.fields["amount"] / group_amount * 100.0,
                 fact.sources["amount"])
        if history is None or "category" in history:
            stated = {h.fiscal_year: h.categories.get(category) for h in case.history}
            summed = {h.fiscal_year: _sum_all(h.line_items.get(items[i].id) for i in members)
                      for h in case.history}
            _history(fact, ctx, {year: stated[year] if stated[year] is not None
                                 else summed[year] for year in stated},
                     fact.fields.get("prior"), fact.fields["amount"], f"categories.{category}")
        category_facts[category] = fact
        if wanted("category"):
            facts.append(fact)
    for group in sorted(by_group) if wanted("group") else ():
        fact = aggregate("group", group, by_group[group])
        _put(fact, "category_count", len({items[i].category for i in by_group[group]}), ())
        facts.append(fact)
    programme_facts: dict[str, Fact] = {}
    for programme in sorted(by_programme) if wanted("programme") or wanted("funding") else ():
        members = by_programme[programme]
        fact = aggregate("programme", programme, members)
        fact.sources["id"] = lp.many(members, "programme")
        _programme(fact, [items[i] for i in members], groups, funders, lp, members)
        programme_facts[programme] = fact
        if wanted("programme"):
            facts.append(fact)

    for i, commitment in enumerate(case.commitments):
        p = f"commitments[{i}]"
        fact = new("commitment", commitment.id, (commitment.id,))
        _put(fact, "id", commitment.id, (f"{p}.id",))
        _put(fact, "kind", commitment.kind, (f"{p}.kind",))
        _put(fact, "status", commitment.status, (f"{p}.status",))
        _put(fact, "ends_year", commitment.ends_year, (f"{p}.ends_year",))
        if commitment.ends_year is not None:
            _put(fact, "years_left", commitment.ends_year - case.fiscal_year,
                 (f"{p}.ends_year", "fiscal_year"))
        _put(fact, "partner_count", len(commitment.partners), (f"{p}.partners",))
        _put(fact, "dependency_count", len(commitment.depends_on), (f"{p}.depends_on",))
        _commitment_links(fact, commitment, p, ctx)
        if wanted("commitment"):
            facts.append(fact)
        for j, category in enumerate(dict.fromkeys(commitment.depends_on)
                                     if wanted("dependency") else ()):
            members = by_category.get(category, [])
            amount = sum(items[k].amount for k in members)
            dep = new("dependency", f"{commitment.id}/{category}", (commitment.id,))
            dep_src = (f"{p}.depends_on[{commitment.depends_on.index(category)}]",)
            _put(dep, "commitment", commitment.id, (f"{p}.id",))
            _put(dep, "category", category, dep_src)
            _put(dep, "kind", commitment.kind, (f"{p}.kind",))
            _put(dep, "status", commitment.status, (f"{p}.status",))
            amount_src = lp.many(members, "amount")
            _put(dep, "funded", amount > 0, dep_src + amount_src)
            _put(dep, "amount", amount, dep_src + amount_src)
            # format 1.1: the category as a whole, so that a rule can judge it as one
            _put(dep, "line_item_count", len(members), dep_src)
            _put(dep, "funded_by_count", len(commitment.funded_by), (f"{p}.funded_by",))
            whole = category_facts.get(category)
            for name in _WHOLE_CATEGORY if whole is not None else ():
                if name in whole.fields:
                    _put(dep, name, whole.fields[name], dep_src + whole.sources[name])
            facts.append(dep)
        for j, line in enumerate(commitment.funded_by if wanted("funding") else ()):
            facts.append(_funding(commitment, p, j, line_facts[line], programme_facts, new))
        for j, organisation in enumerate(commitment.guidelines if wanted("guideline") else ()):
            guideline = new("guideline", f"{commitment.id}/{organisation}",
                             (commitment.id,))
            _put(guideline, "commitment", commitment.id, (f"{p}.id",))
            _put(guideline, "organisation", organisation, (f"{p}.guidelines[{j}]",))
            _put(guideline, "kind", commitment.kind, (f"{p}.kind",))
            _put(guideline, "status", commitment.status, (f"{p}.status",))
            facts.append(guideline)

    for organisation, (stated, named_by) in (_organisations(case).items()
                                             if wanted("membership") else ()):
        fact = new("membership", organisation,
                    tuple(case.commitments[i].id for i in named_by))
        src = ((f"memberships[{stated}]",) if stated is not None else ()) + tuple(
            f"commitments[{i}].guidelines" for i in named_by)
        _put(fact, "id", organisation, src)
        _put(fact, "stated", stated is not None, src)
        _put(fact, "commitment_count", len(named_by), src)
        _put(fact, "active_commitment_count",
             sum(case.commitments[i].status == "active" for i in named_by),
             src + tuple(f"commitments[{i}].status" for i in named_by))
        facts.append(fact)

    transparency = new("transparency", "")
    stated = 0
    for name, value in case.transparency.model_dump().items():
        if value is not None:
            stated += 1
            _put(transparency, name, value, (f"transparency.{name}",))
    _put(transparency, "stated_count", stated, ("transparency",))
    if wanted("transparency"):
        facts.append(transparency)
    if read is not None:
        for fact in facts:
            _trim(fact, read.get(fact.kind))
            fact.keep = None
    return facts


def _trim(fact: Fact, keep: frozenset | None) -> None:
    """Drop the fields (and their provenance) of a fact that no rule reads."""
    if keep is not None and not keep.issuperset(fact.fields):
        fact.fields = {k: v for k, v in fact.fields.items() if k in keep}
        fact.sources = {k: v for k, v in fact.sources.items() if k in keep}
