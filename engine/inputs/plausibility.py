"""Figures that are valid but almost certainly mistyped: inflation written as a fraction, GDP
in another unit than the budget, line items far from the stated total, a prior of 0 that
hides a cut. Each is a warning, in the report and on stderr; `diplo assess --strict` makes
them errors. A case lists in `accept_warnings` the codes its author has checked."""
from __future__ import annotations

from ..model import Case, PlausibilityWarning
from .source import Document, format_path

# the share of GDP above which a defence budget is almost surely a unit mistake: the highest
# in SIPRI's data since 1990 are wartime budgets of a fifth to a third of GDP
GDP_SHARE_HIGH_PCT = 25.0
# below this share of GDP, GDP is almost surely in a smaller unit than the budget (the lowest
# in SIPRI's data are around 0.1% of GDP)
GDP_SHARE_LOW_PCT = 0.01
# line items that add up to less than this share of the stated total (last year's: of the
# prior total) leave most of the budget out: a missing line, or a total in another unit
ITEMS_SHARE_LOW_PCT = 50.0
# reasons that say a line with a prior of 0 is new on purpose
_NEW_REASONS = frozenset({"new_programme", "reclassification"})


def check(case: Case, doc: Document | None = None) -> list[PlausibilityWarning]:
    """The warnings a case gives, in the order of its fields."""
    doc = doc or getattr(case, "_document", None)
    accepted = set(case.accept_warnings)
    found: list[PlausibilityWarning] = []

    def warn(code: str, path: tuple, message: str):
        line, column = doc.position(path) if doc is not None else (None, None)
        found.append(PlausibilityWarning(code=code, path=format_path(path), message=message,
                                         line=line, column=column, accepted=code in accepted))

    inflations = [(("inflation_pct",), case.inflation_pct)] + [
        (("history", i, "inflation_pct"), h.inflation_pct) for i, h in enumerate(case.history)]
    for path, value in inflations:
        if value is not None and 0 < abs(value) < 1:
            warn("inflation_fraction", path,
                 f"inflation of {value:g}% looks like a fraction: percentages are written in "
                 f"percent ({value * 100:g} for {value * 100:g}%); if it is {value:g}%, accept "
                 "the warning inflation_fraction")
    total = case.total.amount if case.total else sum(i.amount for i in case.line_items)
    if case.gdp:
        share = total / case.gdp * 100.0
        if share > GDP_SHARE_HIGH_PCT:
            warn("gdp_share_high", ("gdp",),
                 f"the budget is {share:,.4g}% of GDP: is GDP in the case's unit "
                 f"({case.unit}) and currency? (a wartime budget can be this large: accept "
                 "the warning gdp_share_high)")
        elif 0 < share < GDP_SHARE_LOW_PCT:
            warn("gdp_share_low", ("gdp",),
                 f"the budget is {share:.2g}% of GDP: is GDP in the case's unit ({case.unit})"
                 " and currency?")
    if case.total is not None:
        for code, stated, items, path, what in (
                ("items_far_below_total", case.total.amount,
                 [i.amount for i in case.line_items], ("total", "amount"), "total"),
                ("priors_far_below_prior_total", case.total.prior,
                 [i.prior for i in case.line_items if i.prior is not None],
                 ("total", "prior"), "prior total")):
            if stated and items and sum(items) < stated * ITEMS_SHARE_LOW_PCT / 100:
                warn(code, path,
                     f"the line items' {'amounts' if what == 'total' else 'prior amounts'} "
                     f"add up to {sum(items) / stated:.1%} of the stated {what}: is a line "
                     f"missing, or is the {what} in another unit? (a case that lists only "
                     f"some lines may accept the warning {code})")
    for i, item in enumerate(case.line_items):
        if item.prior == 0 and item.change_reason not in _NEW_REASONS:
            warn("zero_prior", ("line_items", i, "prior"),
                 f"a prior of 0 makes {item.id} a new line: if last year's amount is not "
                 "known, leave prior out (an unknown change is reported as such); if the line "
                 "is new, say so with change_reason: new_programme")
    return found
