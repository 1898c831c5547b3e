"""The workload in CLIPS, through clipspy: 50 defrules written as CLIPS text.

One environment holds the templates and rules; each case is `(reset)`, the case's facts
loaded from one string (`load-facts`), `(run)`, and the results read back with one call to a
deffunction that returns them as one string. The case dict's conversion into the facts'
text (with the values of the specification computed in Python) and the parsing of what
comes back are part of the timed work. clipspy's error router is switched off (see
`ClipsWorkload.__init__`): with it, reading the facts takes ten times longer than the rest.

Layers are ordered by salience (30, 20, 10): every layer-1 fact exists before a layer-2 rule
fires, so the negations of `cut` and `increase` are stratified as in diplo. CLIPS refuses a
duplicate fact, so the same fact derived twice is one fact. Layer-2 facts carry their key as
a string; a flag carries the keys of its pair, which are joined into its key (repeated atoms
dropped) in Python, as part of the timed read-back.
"""
from __future__ import annotations

import clips

try:
    from . import workload as w
except ImportError:  # loaded as a top-level module
    import workload as w  # type: ignore[no-redef]

P = w.PARAMS

TEMPLATES = """
(deftemplate head (slot total-real))
(deftemplate line (slot id) (slot category) (slot amount) (slot prior) (slot change)
  (slot real) (slot share) (slot is-new))
(deftemplate commitment (slot id) (slot years-left))
(deftemplate dependency (slot key) (slot commitment) (slot category) (slot kind) (slot status))
(deftemplate transparency (slot budget-publication) (slot legislative-review)
  (slot external-audit) (slot audit-reports-published))
""" + "".join(f"(deftemplate {k} (slot line) (slot category))\n" for k in w.LAYER1_KINDS) + \
    "".join(f"(deftemplate {k} (slot key) (slot commitment) (slot category))\n"
            for k in w.LAYER2_KINDS) + """
(deftemplate flag (slot rule) (slot a) (slot b))
"""

# the results as one string, read back with one call: "rule key-a key-b|" for each flag;
# with `full`, then "=" and "kind key|" for every derived fact (ids hold no space or "|")
COLLECT = """
(deffunction collect-flags ()
  (bind ?out "")
  (do-for-all-facts ((?f flag)) TRUE
    (bind ?out (str-cat ?out ?f:rule " " ?f:a " " ?f:b "|")))
  ?out)
(deffunction collect-all ()
  (bind ?out (str-cat (collect-flags) "="))
""" + "".join(f"  (do-for-all-facts ((?f {k})) TRUE\n"
              f"    (bind ?out (str-cat ?out \"{k} \" ?f:{'line' if k in w.LAYER1_KINDS else 'key'}"
              " \"|\")))\n" for k in w.LAYER1_KINDS + w.LAYER2_KINDS) + """  ?out)
"""


def _num(value) -> str:
    return "nil" if value is None else repr(value)


def _rules() -> str:
    out = []

    def layer1(name, kind, line_pattern, extra=""):
        out.append(f"(defrule {name} (declare (salience 30))\n  {line_pattern}{extra}\n"
                   f"  =>\n  (assert ({kind} (line ?id) (category ?c))))")

    deep = P["deep_cut_pct"]
    for i, c in enumerate(w.CATEGORIES, 1):
        layer1(f"PB-CUT-{i:02d}", "cut",
               f"(line (id ?id) (category ?c&{c}) "
               f"(real ?r&:(numberp ?r)&:(<= ?r {-P[f'cut_{c}_pct']})&:(> ?r {-deep})))")
    layer1("PB-CUT-11", "cut",
           f"(line (id ?id) (category ?c) (real ?r&:(numberp ?r)&:(<= ?r {-deep})))")
    for i, c in enumerate(w.CATEGORIES, 1):
        layer1(f"PB-INC-{i:02d}", "increase",
               f"(line (id ?id) (category ?c&{c}) "
               f"(real ?r&:(numberp ?r)&:(>= ?r {P[f'rise_{c}_pct']})))")
    for i, c in enumerate(w.FLOOR_CATEGORIES, 1):
        layer1(f"PB-UND-{i:02d}", "underfunded",
               f"(line (id ?id) (category ?c&{c}) "
               f"(share ?s&:(< ?s {P[f'floor_{c}_share_pct']})))")
    layer1("PB-UND-06", "underfunded",
           "(line (id ?id) (category ?c) (amount ?a&:(= ?a 0)) "
           "(prior ?p&:(numberp ?p)&:(> ?p 0)))")
    engagement = "|".join(P["engagement_categories"])
    layer1("PB-NEW-01", "new_programme",
           f"(line (id ?id) (category ?c&{engagement}) (is-new TRUE))")
    layer1("PB-SQZ-01", "squeezed",
           "(line (id ?id) (category ?c) (change ?n&:(numberp ?n)&:(>= ?n 0)) "
           f"(real ?r&:(numberp ?r)&:(<= ?r {-P['squeeze_pct']})))")
    layer1("PB-SRG-01", "surge",
           f"(line (id ?id) (category ?c) (real ?r&:(numberp ?r)&:(>= ?r {P['surge_pct']})))",
           extra="\n  (head (total-real ?t&:(numberp ?t)&:(<= ?t "
                 f"{P['surge_total_max_pct']})))")

    def layer2(name, kind, x_kind, dep_constraints="", extra="", key_extra=""):
        out.append(
            f"(defrule {name} (declare (salience 20))\n"
            f"  ({x_kind} (line ?x) (category ?c))\n"
            f"  (dependency (key ?dk) (commitment ?m) (category ?c){dep_constraints})"
            f"{extra}\n  =>\n"
            f"  (assert ({kind} (key (str-cat ?x \"+\" ?dk{key_extra})) (commitment ?m) "
            "(category ?c))))")

    layer2("PB-EXP-01", "exposed", "cut", " (status active)")
    layer2("PB-EXP-02", "exposed", "squeezed", " (status active)")
    layer2("PB-EXP-03", "exposed", "underfunded",
           " (kind peacekeeping_mandate) (status ~ending)")
    layer2("PB-UDM-01", "undermined", "cut", " (status proposed)")
    layer2("PB-UDM-02", "undermined", "underfunded", " (status proposed)")
    layer2("PB-UNF-01", "unfunded", "underfunded", " (status active)")
    layer2("PB-UNF-02", "unfunded", "squeezed", " (status ~ending)",
           extra="\n  (not (increase (category ?c)))")
    layer2("PB-UNS-01", "unscrutinised", "cut",
           extra="\n  (not (transparency (legislative-review TRUE)))")
    layer2("PB-UNS-02", "unscrutinised", "underfunded", " (status active)",
           extra="\n  (not (transparency (audit-reports-published TRUE)))")
    layer2("PB-UNS-03", "unscrutinised", "cut", " (kind alliance|security_agreement)",
           extra="\n  (not (transparency (external-audit financial_and_performance)))")
    layer2("PB-OPQ-01", "opaque_growth", "increase",
           extra="\n  (not (transparency (budget-publication disaggregated)))")
    layer2("PB-OPQ-02", "opaque_growth", "surge",
           extra="\n  (not (transparency (legislative-review TRUE)))")
    layer2("PB-BAK-01", "backed", "increase", " (status active)",
           extra="\n  (not (cut (category ?c)))")
    layer2("PB-BAK-02", "backed", "new_programme", " (status proposed)")
    layer2("PB-WND-01", "wind_down", "cut", " (status ending)",
           extra="\n  (commitment (id ?m) (years-left ?y&:(numberp ?y)&:(<= ?y "
                 f"{P['wind_down_years']})))",
           key_extra=' "+" ?m')

    def layer3(name, a_kind, b_kind, same):
        a = "(commitment ?m)" if same == "commitment" else "(category ?c)"
        b = {"commitment": "(commitment ?m)", "category": "(category ?c)",
             "other-category": "(commitment ?m) (category ?c2&~?c)"}[same]
        if same == "other-category":
            a = "(commitment ?m) (category ?c)"
        out.append(f"(defrule {name} (declare (salience 10))\n"
                   f"  ({a_kind} (key ?a) {a})\n  ({b_kind} (key ?b) {b})\n  =>\n"
                   f"  (assert (flag (rule {name}) (a ?a) (b ?b))))")

    layer3("PB-FLG-01", "exposed", "unscrutinised", "commitment")
    layer3("PB-FLG-02", "exposed", "unfunded", "other-category")
    layer3("PB-FLG-03", "undermined", "opaque_growth", "commitment")
    layer3("PB-FLG-04", "backed", "exposed", "commitment")
    layer3("PB-FLG-05", "wind_down", "opaque_growth", "category")
    return "\n".join(out)


RULES = _rules()


def _sym(value) -> str:
    if value is None:
        return "nil"
    if value is True:
        return "TRUE"
    if value is False:
        return "FALSE"
    return value


class ClipsWorkload:
    """One CLIPS environment with the workload's rules; `assess(case)` per case."""

    name = "clips"

    def __init__(self, fast_loading: bool = True):
        self.fast_loading = fast_loading
        self.env = clips.Environment()
        for construct in _split(TEMPLATES + COLLECT + RULES):
            self.env.build(construct)
        assert len(list(self.env.rules())) == 50
        # clipspy installs a Python router to capture error messages. CLIPS asks every
        # router whether it handles each character it reads, so with it active, parsing one
        # case's facts (load-facts, assert-string or eval alike) costs 6-8 ms instead of
        # about 0.5, and grows as the process runs. Nothing is lost for this use: in
        # clipspy 1.0.6 `load_facts` raises no exception for a malformed fact with or
        # without the router (CLIPS prints its message and skips the fact), so what guards
        # this implementation is the benchmark's check of every result against the
        # reference.
        if self.fast_loading:
            for router in self.env.routers():
                if router.name == "python-error-router":
                    router.deactivate()
        self._flags = self.env.find_function("collect-flags")
        self._all = self.env.find_function("collect-all")

    @staticmethod
    def facts_text(case: dict) -> str:
        head, lines, commitments, deps, t = w.case_values(case)
        total_real = head["total_real_change_pct"]
        parts = ["(head)" if total_real is None else f"(head (total-real {total_real!r}))"]
        for x in lines:
            # a slot left out is nil, the value of an absent number
            text = (f'(line (id "{x["id"]}") (category {x["category"]}) '
                    f'(amount {x["amount"]!r}) (share {x["share_of_total_pct"]!r})')
            if x["prior"] is not None:
                text += f' (prior {x["prior"]!r}) (is-new {"TRUE" if x["is_new"] else "FALSE"})'
                if x["real_change_pct"] is not None:
                    text += (f' (change {x["change_pct"]!r})'
                             f' (real {x["real_change_pct"]!r})')
            parts.append(text + ")")
        for m in commitments:
            parts.append(f'(commitment (id "{m["id"]}") (years-left {_num(m["years_left"])}))')
        for d in deps:
            parts.append(f'(dependency (key "{d["key"]}") (commitment "{d["commitment"]}") '
                         f'(category {d["category"]}) (kind {d["kind"]}) '
                         f'(status {d["status"]}))')
        parts.append(
            f"(transparency (budget-publication {_sym(t.get('budget_publication'))}) "
            f"(legislative-review {_sym(t.get('legislative_review'))}) "
            f"(external-audit {_sym(t.get('external_audit'))}) "
            f"(audit-reports-published {_sym(t.get('audit_reports_published'))}))")
        return "\n".join(parts)

    def assess(self, case: dict, full: bool = False) -> frozenset:
        env = self.env
        env.reset()
        env.load_facts(self.facts_text(case))
        env.run()
        text = (self._all if full else self._flags)()
        join = w.join_key
        flag_text, _, fact_text = text.partition("=")
        flags = []
        for item in flag_text.split("|")[:-1]:
            rule, a, b = item.split(" ")
            flags.append(f"{rule}:{join(a, b)}")
        if not full:
            return frozenset(("flag", f) for f in flags)
        facts = [item.replace(" ", ":", 1) for item in fact_text.split("|")[:-1]]
        return w.canonical(facts, flags)


def _split(text: str) -> list[str]:
    """Top-level constructs of a CLIPS source text (parentheses balanced; no strings with
    parentheses in this source)."""
    constructs, depth, start = [], 0, None
    for i, ch in enumerate(text):
        if ch == "(":
            if depth == 0:
                start = i
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                constructs.append(text[start:i + 1])
    return constructs
