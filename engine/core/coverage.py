"""What a report could not check: each input a case does not state, the facts' fields that are
therefore absent (or, for inflation, assumed), and the reporting rules of the loaded packs whose
conditions read them, directly or through the facts other rules derive. An input no loaded rule
reads is no check missed, and is not listed. Absence is never read as zero or as fine: it is
said here."""
from __future__ import annotations

from ..lang.pack import PackSet
from ..model import Case, CoverageEntry

# the fields of each kind that change when a line's prior, or inflation, is unknown
_CHANGE = ("prior", "change", "change_pct", "prior_real", "real_change", "real_change_pct",
           "real_change_share_of_total_pct", "is_new")
_REAL = ("prior_real", "real_change", "real_change_pct", "real_change_share_of_total_pct",
         "real_volatility_pct", "real_mean_abs_change_pct", "largest_real_drop_pct",
         "unplanned_real_volatility_pct")
_AMOUNT_KINDS = ("line_item", "category", "group", "programme", "dependency", "funding")
_VOLATILITY = ("volatility_pct", "mean_abs_change_pct", "largest_drop_pct")
_REAL_CASE = ("total_real_change_pct", "real_volatility_pct", "real_mean_abs_change_pct",
              "largest_real_drop_pct", "unplanned_real_volatility_pct", "inflation_pct")
_TOTAL_CHANGE = ("total_prior", "total_change", "total_change_pct", "total_real_change_pct")
_INFLATION_FIELDS = frozenset({(k, f) for k in _AMOUNT_KINDS for f in _REAL}
                              | {("case", f) for f in _REAL_CASE}
                              | {("commitment", "funding_real_change_pct"),
                                 ("funding", "programme_real_change_pct")})
_CHANGE_FIELDS = frozenset((k, f) for k in _AMOUNT_KINDS for f in _CHANGE)


def coverage(case: Case, pack: PackSet) -> list[CoverageEntry]:
    """The checks the loaded rules could not make on `case`, in the order of the case's
    fields."""
    reads = _reads(pack)
    found: list[CoverageEntry] = []
    # the rules that read some of a set of fields, the same for every case: once per pack set
    known: dict[frozenset, list[str]] = pack.report_parts.setdefault("coverage_rules", {})

    def entry(check: str, missing: str, reason: str, fields, subject: str | None = None):
        fields = frozenset(fields)
        rules = known.get(fields)
        if rules is None:
            rules = known[fields] = sorted(rule for rule, read in reads.items()
                                           if read & fields)
        if rules:
            found.append(CoverageEntry(check=check, missing=missing, subject=subject,
                                       reason=reason, rules=rules))

    if case.inflation_pct is None:
        entry("real_terms", "inflation_pct",
              "inflation is not stated: real-terms changes are taken as equal to nominal ones, "
              "so a cut that inflation hides is not seen",
              _INFLATION_FIELDS)
    if not case.gdp:
        entry("burden_sharing", "gdp",
              "GDP is not stated: shares of GDP are not computed, so burden sharing, and any "
              "other check against GDP, is not made",
              {(k, "share_of_gdp_pct") for k in ("case",) + _AMOUNT_KINDS} | {("case", "gdp")})
    total_prior_known = (case.total.prior is not None if case.total is not None
                         else all(i.prior is not None for i in case.line_items))
    if not total_prior_known:
        entry("total_change", "total.prior",
              "last year's total is not stated (nor every line's prior): the change of the "
              "budget as a whole is unknown", {("case", f) for f in _TOTAL_CHANGE})
    missing_priors = [i for i, item in enumerate(case.line_items) if item.prior is None]
    change_fields = _CHANGE_FIELDS
    if missing_priors and len(missing_priors) == len(case.line_items):
        entry("line_change", "line_items[].prior",
              "no line item states last year's amount: no line's change is known",
              change_fields)
    else:
        for i in missing_priors:
            item = case.line_items[i]
            entry("line_change", f"line_items[{i}].prior",
                  f"last year's amount of {item.id} is not stated: its change, and that of "
                  f"{item.category} and its programme as a whole, is unknown, not read as no "
                  "change", change_fields, subject=item.id)
    series = [h for h in case.history if h.total is not None]
    if not series and not total_prior_known:
        entry("volatility", "history",
              "no earlier year's total is stated: the budget's volatility is unknown",
              {("case", f) for f in _VOLATILITY + _REAL_CASE[1:5]})
    elif case.history and case.inflation_pct is not None and not all(
            h.inflation_pct is not None for h in case.history):
        entry("real_volatility", "history[].inflation_pct",
              "earlier years' inflation is not stated for every year: volatility in real "
              "terms rests on the years that have it",
              {(k, f) for k in ("case", "line_item", "category", "dependency")
               for f in _REAL[4:]})
    if case.threat_environment is None:
        entry("threat", "threat_environment",
              "the threat environment is not stated: what weighs more under an elevated "
              "threat is not checked", {("case", "threat_environment")})
    for name, value in case.transparency:
        if value is None:
            entry("transparency", f"transparency.{name}",
                  "not stated: its check is not made (not stating it is not read as meeting "
                  "it)", {("transparency", name)})
    for i, commitment in enumerate(case.commitments):
        if commitment.status != "ending" and not commitment.depends_on \
                and not commitment.funded_by:
            entry("commitment_link", f"commitments[{i}].funded_by",
                  f"{commitment.id} names neither the lines that fund it (funded_by) nor the "
                  "categories it rests on (depends_on): cuts cannot be traced to it",
                  {("dependency", None), ("funding", None),
                   ("commitment", "funding_amount"), ("commitment", "funding_real_change_pct")},
                  subject=commitment.id)
    if not case.memberships and not any(c.guidelines for c in case.commitments):
        entry("memberships", "memberships",
              "no membership or guideline is stated: guidelines that apply only to members "
              "(NATO's, say) are not checked",
              {("membership", None), ("guideline", None), ("case", "membership_count")})
    if case.contingency_mechanism is None:
        entry("contingency", "contingency_mechanism",
              "how unforeseen costs are met is not stated: contingency arrangements beyond a "
              "reserve line are not checked", {("case", "contingency_mechanism")})
    return found


def _reads(pack: PackSet) -> dict[str, set]:
    """Each reporting rule's reads, (kind, field), and (kind, None) for each kind it matches,
    with those of the rules that derive the facts it matches (made once per pack set)."""
    cached = pack.report_parts.get("coverage_reads")
    if cached is not None:
        return cached
    rules = [r for r in pack.rules if r.id not in pack.disabled]
    producers: dict[str, list] = {}
    for rule in rules:
        if rule.derive_kind:
            producers.setdefault(rule.derive_kind, []).append(rule)
    closure: dict[str, set] = {}

    def reads_of(rule, seen: frozenset = frozenset()) -> set:
        if rule.id in closure:
            return closure[rule.id]
        kind_of = {p.name: p.kind for p in rule.patterns}
        found = {(kind_of.get(binding, binding), name)
                 for binding, names in rule.fields_read.items() for name in names}
        found |= {(p.kind, None) for p in rule.patterns if not p.negated}
        for pattern in rule.patterns:
            for producer in producers.get(pattern.kind, ()):
                if producer.id not in seen:   # derivation is acyclic; this is a guard
                    found |= reads_of(producer, seen | {rule.id})
        closure[rule.id] = found
        return found

    result = {rule.id: reads_of(rule) for rule in rules if rule.report is not None}
    pack.report_parts["coverage_reads"] = result
    return result
