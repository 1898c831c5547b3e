"""The peer workload: one specification, seeded cases, and the canonical form of a result.

Four implementations are written against the specification below: a diplo pack
(`bench/peers/pack/`), hand-written Python (`python_impl.py`), CLIPS through clipspy
(`clips_impl.py`) and a zen-engine decision graph (`zen_impl.py`). Every threshold is a
parameter; its value is in `PARAMS` (and, for diplo, in the pack's manifest, which the test
suite checks against `PARAMS`).

Cases
=====

A case is a plain dict in diplo's case format (docs/case-format.md), made by
`generate_cases(n, seed)`: 30 line items across the 10 categories of `CATEGORIES` (every
category has at least one), each with an amount and, mostly, a prior amount (some lines
are new, prior 0; some give no prior; a few are unfunded, amount 0); a stated total with,
mostly, a prior total; inflation, mostly; 1-5 commitments, each depending on 1-3 categories;
and transparency measures, each stated or not. As facts: 30 line items, the case, the
transparency measures, about 3 commitments and 5 dependencies: about 40 facts per case.

Values every implementation computes from a case, as diplo does (engine/facts.py), each
rounded as diplo rounds them (`clean_float`: 6 decimals; magnitudes under 0.0001 become 0):

- deflator = 1 + inflation_pct / 100 (inflation_pct 0 when not stated)
- total = total.amount; total_real_change_pct = (total / (total.prior * deflator) - 1) * 100,
  absent when total.prior is absent or 0
- for each line item: share_of_total_pct = amount / total * 100 (0 when total is 0); when
  the prior is given: change_pct = (amount / prior - 1) * 100 and
  real_change_pct = (amount / (prior * deflator) - 1) * 100, both absent when the prior is 0;
  is_new = (prior == 0 and amount > 0). Without a prior, all three are absent.
- for each commitment: years_left = ends_year - fiscal_year, absent without ends_year; and
  one dependency per category in depends_on: (commitment, category, kind, status).

A comparison with an absent value is false. `$name` is PARAMS[name].

Keys and identity
=================

Every derived fact and every flag is identified by a key: the keys of the facts its rule
matched (positive patterns only, in the rule's order), split into atoms at "+", joined with
"+" with repeated atoms dropped (first occurrence kept). A line item's key is its id, a
dependency's is "COMMITMENT/CATEGORY", a commitment's is its id; the case and the
transparency measures have none. A derived fact is "KIND:KEY"; a flag is "RULE:KEY".
The same fact derived twice (two rules, or two matches with one key) is one fact; the same
flag raised twice is one flag. Derived fact fields are functions of the key's facts only
(line ids, categories, commitment ids), so which derivation comes first never matters.

The result of a case, in canonical form (`canonical`): the set of ("fact", "KIND:KEY") for
every derived fact and ("flag", "RULE:KEY") for every flag. The benchmark's timed runs
compare the flags; a separate check compares the whole set.

Layer 1: 30 rules on line items (derive KIND with fields line, category)
=======================================================================

For a line item `x` (key: its id):

- PB-CUT-01..10, one per category C of CATEGORIES, in that order: x.category == C and
  x.real_change_pct <= -$cut_C_pct and x.real_change_pct > -$deep_cut_pct     -> cut
- PB-CUT-11: x.real_change_pct <= -$deep_cut_pct (any category)            -> cut
- PB-INC-01..10, one per category C: x.category == C and
  x.real_change_pct >= $rise_C_pct                                           -> increase
- PB-UND-01..05, one per category C of FLOOR_CATEGORIES:
  x.category == C and x.share_of_total_pct < $floor_C_share_pct             -> underfunded
- PB-UND-06: x.amount == 0 and x.prior > 0                                   -> underfunded
- PB-NEW-01: x.is_new and x.category in $engagement_categories                -> new_programme
- PB-SQZ-01: x.change_pct >= 0 and x.real_change_pct <= -$squeeze_pct        -> squeezed
- PB-SRG-01: x.real_change_pct >= $surge_pct and
  case.total_real_change_pct <= $surge_total_max_pct                          -> surge

Layer 2: 15 rules joining a layer-1 fact `x` with a dependency `d` (and once a commitment
`m`), some negating a fact; derive KIND with fields commitment = d.commitment, category =
d.category. Key: x's key + d's key (+ m's key). Every rule requires d.category == x.category.

- PB-EXP-01: x cut,         d.status == 'active'                                  -> exposed
- PB-EXP-02: x squeezed,    d.status == 'active'                                  -> exposed
- PB-EXP-03: x underfunded, d.kind == 'peacekeeping_mandate', d.status != 'ending' -> exposed
- PB-UDM-01: x cut,         d.status == 'proposed'                                -> undermined
- PB-UDM-02: x underfunded, d.status == 'proposed'                                -> undermined
- PB-UNF-01: x underfunded, d.status == 'active'                                  -> unfunded
- PB-UNF-02: x squeezed,    d.status != 'ending', and no increase fact with
  category == x.category                                                          -> unfunded
- PB-UNS-01: x cut, any d; and not transparency.legislative_review == true      -> unscrutinised
- PB-UNS-02: x underfunded, d.status == 'active'; and not
  transparency.audit_reports_published == true                                  -> unscrutinised
- PB-UNS-03: x cut, d.kind in ['alliance', 'security_agreement']; and not
  transparency.external_audit == 'financial_and_performance'                    -> unscrutinised
- PB-OPQ-01: x increase, any d; and not
  transparency.budget_publication == 'disaggregated'                            -> opaque_growth
- PB-OPQ-02: x surge, any d; and not transparency.legislative_review == true     -> opaque_growth
- PB-BAK-01: x increase, d.status == 'active', and no cut fact with
  category == x.category                                                          -> backed
- PB-BAK-02: x new_programme, d.status == 'proposed'                              -> backed
- PB-WND-01: x cut, d.status == 'ending', then a commitment m with
  m.id == d.commitment and m.years_left <= $wind_down_years (key adds m's id)   -> wind_down

("not transparency.F == V" holds when the measure is not stated, or stated otherwise.)

Layer 3: 5 rules raising flags from pairs of layer-2 facts (a, b); key: a's key + b's key

- PB-FLG-01: a exposed,    b unscrutinised, b.commitment == a.commitment
- PB-FLG-02: a exposed,    b unfunded,      b.commitment == a.commitment and
  b.category != a.category
- PB-FLG-03: a undermined, b opaque_growth, b.commitment == a.commitment
- PB-FLG-04: a backed,     b exposed,       b.commitment == a.commitment
- PB-FLG-05: a wind_down,  b opaque_growth, b.category == a.category
"""
from __future__ import annotations

import random

# the 10 categories of the workload (all declared by the default pack too), with groups
CATEGORIES: dict[str, str] = {
    "personnel": "core",
    "operations_maintenance": "core",
    "procurement": "equipment",
    "research_development": "equipment",
    "joint_exercises": "engagement",
    "defense_attaches": "engagement",
    "peacekeeping": "engagement",
    "presence_abroad": "posture",
    "cyber_security": "technology",
    "audit_oversight": "governance",
}
FLOOR_CATEGORIES = ("joint_exercises", "defense_attaches", "peacekeeping", "cyber_security",
                    "audit_oversight")

CUT_PCT = {"personnel": 4, "operations_maintenance": 6, "procurement": 15,
           "research_development": 10, "joint_exercises": 10, "defense_attaches": 5,
           "peacekeeping": 8, "presence_abroad": 10, "cyber_security": 7, "audit_oversight": 5}
RISE_PCT = {"personnel": 5, "operations_maintenance": 8, "procurement": 12,
            "research_development": 10, "joint_exercises": 15, "defense_attaches": 20,
            "peacekeeping": 15, "presence_abroad": 12, "cyber_security": 20,
            "audit_oversight": 25}
FLOOR_SHARE_PCT = {"joint_exercises": 1.5, "defense_attaches": 0.4, "peacekeeping": 1.2,
                   "cyber_security": 1.0, "audit_oversight": 0.3}

PARAMS: dict = {
    **{f"cut_{c}_pct": v for c, v in CUT_PCT.items()},
    "deep_cut_pct": 30,
    **{f"rise_{c}_pct": v for c, v in RISE_PCT.items()},
    **{f"floor_{c}_share_pct": v for c, v in FLOOR_SHARE_PCT.items()},
    "engagement_categories": ["joint_exercises", "defense_attaches", "peacekeeping"],
    "squeeze_pct": 2,
    "surge_pct": 25,
    "surge_total_max_pct": 0,
    "wind_down_years": 2,
}

LAYER1_KINDS = ("cut", "increase", "underfunded", "new_programme", "squeezed", "surge")
LAYER2_KINDS = ("exposed", "undermined", "unfunded", "unscrutinised", "opaque_growth",
                "backed", "wind_down")
FLAG_RULES = tuple(f"PB-FLG-0{i}" for i in range(1, 6))
RULE_IDS = (
    [f"PB-CUT-{i:02d}" for i in range(1, 12)] + [f"PB-INC-{i:02d}" for i in range(1, 11)]
    + [f"PB-UND-{i:02d}" for i in range(1, 7)] + ["PB-NEW-01", "PB-SQZ-01", "PB-SRG-01"]
    + ["PB-EXP-01", "PB-EXP-02", "PB-EXP-03", "PB-UDM-01", "PB-UDM-02", "PB-UNF-01",
       "PB-UNF-02", "PB-UNS-01", "PB-UNS-02", "PB-UNS-03", "PB-OPQ-01", "PB-OPQ-02",
       "PB-BAK-01", "PB-BAK-02", "PB-WND-01"]
    + list(FLAG_RULES))
assert len(RULE_IDS) == 50

KINDS = ["alliance", "security_agreement", "aid_program", "peacekeeping_mandate",
         "industry_partnership", "pooled_fund"]
# rough share of the budget per category (before noise), so that the engagement lines are
# small and the floor rules have something to find
WEIGHTS = {"personnel": 30, "operations_maintenance": 22, "procurement": 16,
           "research_development": 9, "joint_exercises": 3.5, "defense_attaches": 0.9,
           "peacekeeping": 2.5, "presence_abroad": 6, "cyber_security": 2.5,
           "audit_oversight": 0.7}
N_LINES = 30


# --- numbers, as diplo computes them ------------------------------------------------------------

def clean_float(value: float) -> float:
    """engine.core.facts.clean_number (diplo's rounding of a computed value) for a finite float
    under 1e15, as every computed value here is."""
    value = round(value, 6)
    return 0.0 if -1e-4 < value < 1e-4 else value


def join_key(*keys: str) -> str:
    """The key of a result from the keys of the facts its rule matched, in order."""
    atoms: dict[str, None] = {}
    for key in keys:
        if key:
            for atom in key.split("+"):
                atoms[atom] = None
    return "+".join(atoms)


# --- generated cases ----------------------------------------------------------------------------

def _line(rng: random.Random, category: str, number: int, size: float, count: int) -> dict:
    share = WEIGHTS[category] / 100.0 / count * rng.uniform(0.3, 1.7)
    base = round(size * share, 2)
    item = {"id": f"{category.replace('_', '-')}-{number}", "category": category}
    roll = rng.random()
    if roll < 0.07:                                   # no prior stated
        item["amount"] = base
    elif roll < 0.12:                                 # new line
        item["amount"], item["prior"] = base, 0.0
    elif roll < 0.15:                                 # unfunded this year
        item["amount"], item["prior"] = 0.0, base
    else:
        r = rng.random()
        if r < 0.35:
            change = rng.uniform(-45.0, -2.0)         # nominal cut
        elif r < 0.55:
            change = rng.uniform(-2.0, 6.0)           # about flat: real cut or small rise
        else:
            change = rng.uniform(0.0, 45.0)           # rise
        prior = round(base / (1.0 + change / 100.0), 2)
        item["amount"], item["prior"] = base, prior
    return item


def generate_case(rng: random.Random, index: int) -> dict:
    categories = list(CATEGORIES)
    chosen = categories + [rng.choice(categories) for _ in range(N_LINES - len(categories))]
    rng.shuffle(chosen)
    counts = {c: chosen.count(c) for c in categories}
    size = 10 ** rng.uniform(3.0, 5.0)
    seen: dict[str, int] = {}
    items = []
    for category in chosen:
        seen[category] = seen.get(category, 0) + 1
        items.append(_line(rng, category, seen[category], size, counts[category]))
    fiscal_year = rng.randint(2025, 2030)
    amount_sum = sum(i["amount"] for i in items)
    total: dict = {"amount": round(amount_sum * rng.uniform(1.0, 1.04) + 0.01, 2)}
    if rng.random() < 0.85:
        # never below the sum of the lines' priors (diplo refuses such a case)
        prior_sum = sum(i.get("prior", 0.0) for i in items)
        total["prior"] = round(prior_sum * rng.uniform(1.0, 1.04) + 0.01, 2)
    case: dict = {
        "id": f"peer-{index:05d}", "title": f"Peer workload case {index}",
        "country": f"Country {rng.randint(1, 60)}", "fiscal_year": fiscal_year,
        "currency": rng.choice(["USD", "EUR", "GBP"]), "unit": "million",
        "total": total, "line_items": items,
    }
    if rng.random() < 0.9:
        case["inflation_pct"] = round(rng.uniform(0.0, 8.0), 2)
    commitments = []
    for j in range(rng.randint(1, 5)):
        depends = rng.sample(categories, rng.choices([1, 2, 3], [45, 40, 15])[0])
        status = rng.choices(["active", "proposed", "ending"], [55, 27, 18])[0]
        commitment = {"id": f"commitment-{j + 1}", "kind": rng.choice(KINDS),
                      "partners": [f"Country {rng.randint(1, 60)}"],
                      "depends_on": depends, "status": status}
        if status == "ending" or rng.random() < 0.2:
            commitment["ends_year"] = fiscal_year + rng.randint(0, 4)
        commitments.append(commitment)
    case["commitments"] = commitments
    transparency = {
        "budget_publication": rng.choice(["disaggregated", "aggregate", "none"]),
        "legislative_review": rng.random() < 0.6,
        "external_audit": rng.choice(["none", "financial", "financial_and_performance"]),
        "audit_reports_published": rng.random() < 0.5,
    }
    case["transparency"] = {k: v for k, v in transparency.items() if rng.random() < 0.8}
    return case


def generate_cases(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    return [generate_case(rng, i) for i in range(n)]


# --- the values every peer computes from a case ---------------------------------------------------

def case_values(case: dict) -> tuple[dict, list[dict], list[dict], list[dict], dict]:
    """(head, lines, commitments, dependencies, transparency) of a case dict, with the values
    of the specification computed; an absent value is None. Used by the Python, CLIPS and zen
    implementations, inside their timed part (diplo computes its own facts)."""
    clean = clean_float
    inflation = case.get("inflation_pct")
    deflator = 1.0 + (inflation or 0.0) / 100.0
    total_d = case.get("total")
    if total_d is not None:
        total, total_prior = total_d["amount"], total_d.get("prior")
    else:  # not generated, kept for other callers: the sums, as diplo does
        total = sum(i["amount"] for i in case["line_items"])
        priors = [i.get("prior") for i in case["line_items"]]
        total_prior = None if None in priors else sum(priors)
    total_real = None
    if total_prior:
        total_real = clean((total / (total_prior * deflator) - 1.0) * 100.0)
    head = {"fiscal_year": case["fiscal_year"], "total_real_change_pct": total_real}
    lines = []
    for item in case["line_items"]:
        amount = item["amount"]
        prior = item.get("prior")
        change = real = is_new = None
        if prior is not None:
            is_new = prior == 0 and amount > 0
            if prior:
                change = clean((amount / prior - 1.0) * 100.0)
                real = clean((amount / (prior * deflator) - 1.0) * 100.0)
        lines.append({"id": item["id"], "category": item["category"], "amount": amount,
                      "prior": prior,
                      "share_of_total_pct": clean(amount / total * 100.0) if total else 0.0,
                      "change_pct": change, "real_change_pct": real, "is_new": is_new})
    commitments, dependencies = [], []
    fiscal_year = case["fiscal_year"]
    for c in case.get("commitments", ()):
        ends = c.get("ends_year")
        status = c.get("status", "active")
        commitments.append({"id": c["id"], "kind": c["kind"], "status": status,
                            "years_left": None if ends is None else ends - fiscal_year})
        for category in dict.fromkeys(c.get("depends_on", ())):
            dependencies.append({"key": f"{c['id']}/{category}", "commitment": c["id"],
                                 "category": category, "kind": c["kind"], "status": status})
    return head, lines, commitments, dependencies, dict(case.get("transparency", {}))


# --- canonical results ------------------------------------------------------------------------

def canonical(facts, flags) -> frozenset:
    """facts: iterable of "KIND:KEY"; flags: iterable of "RULE:KEY"."""
    return frozenset([("fact", f) for f in facts] + [("flag", f) for f in flags])


def flags_only(result: frozenset) -> frozenset:
    return frozenset(r for r in result if r[0] == "flag")
