"""The workload in hand-written Python: the reference every engine is checked against.

Straightforward code, written from the specification in workload.py: three passes, a dict
per fact kind keyed by the fact's key (so that the same fact derived twice is one), and plain
loops for the joins, with the dependencies indexed by category and layer-2 facts by
commitment or category. It reads the case dict directly and computes a value only where a
rule reads it.
"""
from __future__ import annotations

try:
    from . import workload as w
except ImportError:  # loaded as a top-level module
    import workload as w  # type: ignore[no-redef]

P = w.PARAMS
CUT = {c: -P[f"cut_{c}_pct"] for c in w.CATEGORIES}
RISE = {c: P[f"rise_{c}_pct"] for c in w.CATEGORIES}
FLOOR = {c: P[f"floor_{c}_share_pct"] for c in w.FLOOR_CATEGORIES}
DEEP_CUT = -P["deep_cut_pct"]
ENGAGEMENT = frozenset(P["engagement_categories"])
SQUEEZE = -P["squeeze_pct"]
SURGE = P["surge_pct"]
SURGE_TOTAL_MAX = P["surge_total_max_pct"]
WIND_DOWN_YEARS = P["wind_down_years"]
ALLIANCES = ("alliance", "security_agreement")


def _r(value: float) -> float:
    """workload.clean_float for the finite floats computed here: 6 decimals, tiny values 0."""
    value = round(value, 6)
    return 0.0 if -1e-4 < value < 1e-4 else value


def assess(case: dict, full: bool = False) -> frozenset:
    """The canonical result of one case dict: flags only, or with every derived fact."""
    clean, join = _r, w.join_key
    inflation = case.get("inflation_pct")
    deflator = 1.0 + (inflation or 0.0) / 100.0
    total = case["total"]["amount"]
    total_prior = case["total"].get("prior")
    total_shrinks = False
    if total_prior:
        total_shrinks = clean((total / (total_prior * deflator) - 1.0) * 100.0) <= SURGE_TOTAL_MAX

    # layer 1: kind -> {key: category}; values are computed (and rounded, as the
    # specification says) only where a rule reads them
    cut: dict[str, str] = {}
    increase: dict[str, str] = {}
    underfunded: dict[str, str] = {}
    new_programme: dict[str, str] = {}
    squeezed: dict[str, str] = {}
    surge: dict[str, str] = {}
    for x in case["line_items"]:
        key, cat, amount = x["id"], x["category"], x["amount"]
        prior = x.get("prior")
        if prior:
            real = clean((amount / (prior * deflator) - 1.0) * 100.0)
            if real <= CUT[cat] or real <= DEEP_CUT:
                cut[key] = cat
            if real >= RISE[cat]:
                increase[key] = cat
            if real <= SQUEEZE and clean((amount / prior - 1.0) * 100.0) >= 0:
                squeezed[key] = cat
            if total_shrinks and real >= SURGE:
                surge[key] = cat
            if amount == 0:
                underfunded[key] = cat
        elif prior == 0 and amount > 0 and cat in ENGAGEMENT:
            new_programme[key] = cat
        if cat in FLOOR and clean(amount / total * 100.0 if total else 0.0) < FLOOR[cat]:
            underfunded[key] = cat

    deps, years_left = [], {}
    fiscal_year = case["fiscal_year"]
    for m in case.get("commitments", ()):
        ends = m.get("ends_year")
        years_left[m["id"]] = None if ends is None else ends - fiscal_year
        status = m.get("status", "active")
        for category in dict.fromkeys(m.get("depends_on", ())):
            deps.append({"key": f"{m['id']}/{category}", "commitment": m["id"],
                         "category": category, "kind": m["kind"], "status": status})
    transparency = case.get("transparency", {})

    # layer 2: kind -> {key: (commitment, category)}
    by_category: dict[str, list[dict]] = {}
    for d in deps:
        by_category.setdefault(d["category"], []).append(d)
    cut_categories = set(cut.values())
    increase_categories = set(increase.values())
    no_review = transparency.get("legislative_review") is not True
    no_audit_reports = transparency.get("audit_reports_published") is not True
    no_performance_audit = transparency.get("external_audit") != "financial_and_performance"
    not_disaggregated = transparency.get("budget_publication") != "disaggregated"

    exposed: dict[str, tuple] = {}
    undermined: dict[str, tuple] = {}
    unfunded: dict[str, tuple] = {}
    unscrutinised: dict[str, tuple] = {}
    opaque_growth: dict[str, tuple] = {}
    backed: dict[str, tuple] = {}
    wind_down: dict[str, tuple] = {}
    none: list = []

    for xkey, cat in cut.items():
        for d in by_category.get(cat, none):
            status, value = d["status"], (d["commitment"], cat)
            k = join(xkey, d["key"])
            if status == "active":
                exposed.setdefault(k, value)                                  # PB-EXP-01
            elif status == "proposed":
                undermined.setdefault(k, value)                               # PB-UDM-01
            if no_review:
                unscrutinised.setdefault(k, value)                            # PB-UNS-01
            if no_performance_audit and d["kind"] in ALLIANCES:
                unscrutinised.setdefault(k, value)                            # PB-UNS-03
            if status == "ending":
                left = years_left[d["commitment"]]
                if left is not None and left <= WIND_DOWN_YEARS:              # PB-WND-01
                    wind_down.setdefault(join(xkey, d["key"], d["commitment"]), value)
    for xkey, cat in squeezed.items():
        for d in by_category.get(cat, none):
            status, value = d["status"], (d["commitment"], cat)
            k = join(xkey, d["key"])
            if status == "active":
                exposed.setdefault(k, value)                                  # PB-EXP-02
            if status != "ending" and cat not in increase_categories:
                unfunded.setdefault(k, value)                                 # PB-UNF-02
    for xkey, cat in underfunded.items():
        for d in by_category.get(cat, none):
            status, value = d["status"], (d["commitment"], cat)
            k = join(xkey, d["key"])
            if d["kind"] == "peacekeeping_mandate" and status != "ending":
                exposed.setdefault(k, value)                                  # PB-EXP-03
            if status == "proposed":
                undermined.setdefault(k, value)                               # PB-UDM-02
            if status == "active":
                unfunded.setdefault(k, value)                                 # PB-UNF-01
                if no_audit_reports:
                    unscrutinised.setdefault(k, value)                        # PB-UNS-02
    for xkey, cat in increase.items():
        for d in by_category.get(cat, none):
            value = (d["commitment"], cat)
            k = join(xkey, d["key"])
            if not_disaggregated:
                opaque_growth.setdefault(k, value)                            # PB-OPQ-01
            if d["status"] == "active" and cat not in cut_categories:
                backed.setdefault(k, value)                                   # PB-BAK-01
    if no_review:
        for xkey, cat in surge.items():
            for d in by_category.get(cat, none):
                opaque_growth.setdefault(join(xkey, d["key"]), (d["commitment"], cat))  # OPQ-02
    for xkey, cat in new_programme.items():
        for d in by_category.get(cat, none):
            if d["status"] == "proposed":
                backed.setdefault(join(xkey, d["key"]), (d["commitment"], cat))  # PB-BAK-02

    # layer 3: flags from pairs, the second fact of a pair looked up by what they share
    flags: set[str] = set()

    def index(found: dict, field: int) -> dict:
        by: dict = {}
        for key, value in found.items():
            by.setdefault(value[field], []).append((key, value))
        return by

    unscrutinised_by = index(unscrutinised, 0)
    for akey, (commitment, _) in exposed.items():                             # PB-FLG-01
        for bkey, _b in unscrutinised_by.get(commitment, none):
            flags.add("PB-FLG-01:" + join(akey, bkey))
    unfunded_by = index(unfunded, 0)
    for akey, (commitment, category) in exposed.items():                      # PB-FLG-02
        for bkey, b in unfunded_by.get(commitment, none):
            if b[1] != category:
                flags.add("PB-FLG-02:" + join(akey, bkey))
    opaque_by = index(opaque_growth, 0)
    for akey, (commitment, _) in undermined.items():                          # PB-FLG-03
        for bkey, _b in opaque_by.get(commitment, none):
            flags.add("PB-FLG-03:" + join(akey, bkey))
    exposed_by = index(exposed, 0)
    for akey, (commitment, _) in backed.items():                              # PB-FLG-04
        for bkey, _b in exposed_by.get(commitment, none):
            flags.add("PB-FLG-04:" + join(akey, bkey))
    opaque_by_category = index(opaque_growth, 1)
    for akey, (_, category) in wind_down.items():                             # PB-FLG-05
        for bkey, _b in opaque_by_category.get(category, none):
            flags.add("PB-FLG-05:" + join(akey, bkey))

    if not full:
        return frozenset(("flag", f) for f in flags)
    facts = []
    for kind, found in (("cut", cut), ("increase", increase), ("underfunded", underfunded),
                        ("new_programme", new_programme), ("squeezed", squeezed),
                        ("surge", surge), ("exposed", exposed), ("undermined", undermined),
                        ("unfunded", unfunded), ("unscrutinised", unscrutinised),
                        ("opaque_growth", opaque_growth), ("backed", backed),
                        ("wind_down", wind_down)):
        facts.extend(f"{kind}:{k}" for k in found)
    return w.canonical(facts, flags)
