"""Conditions that can never hold: a rule's comparisons on one field read as intervals and
sets, and those that contradict each other named with a fix."""
from __future__ import annotations

from dataclasses import dataclass

from ...lang import expr as ex
from ...lang.kinds import ENUMS

_INVERSE = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<",
            "in": "not in", "not in": "in"}


_MIRROR = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


@dataclass
class _Atom:
    """One condition on one field of the pattern's own fact, from the top-level conjunction
    of its `where`: `op` is a comparison, `exists` or `absent`."""

    field: str
    op: str
    value: object
    text: str
    requires: bool      # holds only when the field is present


def _show_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_show_value(v) for v in value) + "]"
    if isinstance(value, str):
        return f"'{value}'"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _conjuncts(node: ex.Node, negated: bool = False):
    """(condition, negated) pairs that must all hold; a disjunction is left out (it cannot
    make a contradiction certain)."""
    if isinstance(node, ex.BoolOp):
        if (node.op == "and") != negated:
            for item in node.items:
                yield from _conjuncts(item, negated)
        return
    if isinstance(node, ex.Unary) and node.op == "not":
        yield from _conjuncts(node.operand, not negated)
        return
    yield node, negated


def _key_of(value):
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("number", float(value))
    return ("text", value)


class _Conditions:
    """Decides whether a pattern's conditions on its own fields leave any value."""

    def __init__(self, packset, rule, pattern, referenced: set[str], params=None):
        self.packset = packset
        self.rule = rule
        self.pattern = pattern
        self.params = dict(rule.params if params is None else params)
        self.referenced = referenced    # own fields that later patterns compare with

    def own(self, node) -> str | None:
        if isinstance(node, ex.Ref) and (len(node.parts) == 1 or (
                len(node.parts) == 2 and node.parts[0] == self.pattern.name)):
            return node.parts[-1]
        return None

    def constant(self, node):
        if any(isinstance(n, ex.Ref) for n in ex.walk(node)):
            return ex.MISSING
        try:
            return ex.evaluate(node, lambda parts: ex.MISSING, self.params)
        except (ex.ExprError, KeyError, TypeError, ArithmeticError):
            return ex.MISSING

    def atoms(self) -> list[_Atom]:
        found = []
        for name in sorted(self.referenced):
            found.append(_Atom(name, "exists", None, f"the comparison with "
                               f"{self.pattern.name}.{name} in a later pattern (which needs "
                               "the field present)", True))
        if self.pattern.where is None:
            return found
        for node, negated in _conjuncts(self.pattern.where):
            atom = self.atom(node, negated)
            if atom is not None:
                found.append(atom)
        return found

    def atom(self, node, negated) -> _Atom | None:
        text = ex.unparse(node)
        params = sorted({n.name for n in ex.walk(node) if isinstance(n, ex.Param)})
        if params:
            text += " (" + ", ".join(f"${p} = {_show_value(self.params[p])}" for p in params
                                     if p in self.params) + ")"
        if negated:
            text = f"not ({text})" if isinstance(node, ex.Compare) else f"not {text}"
        if isinstance(node, ex.Call) and node.name == "exists":
            name = self.own(node.args[0])
            if name is None:
                return None
            return _Atom(name, "absent" if negated else "exists", None, text, not negated)
        if isinstance(node, ex.Ref):
            name = self.own(node)
            if name is None:
                return None
            # a bare true/false field: `flag` is flag == true; `not flag` holds when absent
            return _Atom(name, "==", negated is False, text, not negated)
        if not isinstance(node, ex.Compare) or node.op not in _INVERSE:
            return None
        op, left, right = node.op, node.left, node.right
        if self.own(left) is None:
            if self.own(right) is None or op not in _MIRROR:
                return None
            left, right, op = right, left, _MIRROR[op]
        name = self.own(left)
        value = self.constant(right)
        if name is None or value is ex.MISSING:
            return None
        if op in ("in", "not in") and not isinstance(value, list):
            value = [value]
        if negated:
            # the negation of a comparison holds when the field is absent
            return _Atom(name, _INVERSE[op], value, text, False)
        return _Atom(name, op, value, text, op not in ("!=", "not in"))

    def domain(self, name: str, atoms: list[_Atom]):
        """The values a present field can take, when the case format fixes them: true and
        false, or an enumerated field's values. (Not categories: the packs loaded with this
        one at assessment time may declare more.)"""
        values = [a.value for a in atoms if a.op in ("==", "!=")] + [
            v for a in atoms if a.op in ("in", "not in") for v in a.value]
        if values and all(isinstance(v, bool) for v in values):
            return {_key_of(True), _key_of(False)}
        kind_field = (self.pattern.kind, name)
        if kind_field in ENUMS:
            return {_key_of(v) for v in ENUMS[kind_field]}
        return None

    def unsatisfiable(self, atoms: list[_Atom], domain) -> bool:
        required = any(a.requires for a in atoms)
        if any(a.op == "absent" for a in atoms):
            return required
        if not required:
            return False    # an absent field satisfies every condition left
        allowed = None
        excluded = set()
        low = high = None   # (bound, strict)
        for a in atoms:
            if a.op == "==":
                allowed = {_key_of(a.value)} if allowed is None else \
                    allowed & {_key_of(a.value)}
            elif a.op == "in":
                values = {_key_of(v) for v in a.value}
                allowed = values if allowed is None else allowed & values
            elif a.op == "!=":
                excluded.add(_key_of(a.value))
            elif a.op == "not in":
                excluded |= {_key_of(v) for v in a.value}
            elif a.op in ("<", "<=", ">", ">="):
                if isinstance(a.value, bool) or not isinstance(a.value, (int, float)):
                    return False
                bound = (float(a.value), a.op in ("<", ">"))
                if a.op in ("<", "<="):
                    if high is None or bound[0] < high[0] or (bound[0] == high[0] and
                                                              bound[1]):
                        high = bound
                else:
                    if low is None or bound[0] > low[0] or (bound[0] == low[0] and bound[1]):
                        low = bound

        def within(key) -> bool:
            if key[0] != "number":
                return True
            v = key[1]
            if low is not None and (v < low[0] or (v == low[0] and low[1])):
                return False
            if high is not None and (v > high[0] or (v == high[0] and high[1])):
                return False
            return True

        if allowed is None and domain is not None:
            allowed = domain
        if allowed is not None:
            return not any(k not in excluded and within(k) for k in allowed)
        if low is not None and high is not None:
            if low[0] > high[0]:
                return True
            if low[0] == high[0]:
                return low[1] or high[1] or _key_of(low[0]) in excluded
        return False

    def conflict(self) -> list[_Atom] | None:
        """The fewest conditions (one, two, or all on one field) that leave no value."""
        by_field: dict[str, list[_Atom]] = {}
        for atom in self.atoms():
            by_field.setdefault(atom.field, []).append(atom)
        for name, atoms in by_field.items():
            domain = self.domain(name, atoms)
            if not self.unsatisfiable(atoms, domain):
                continue
            for a in atoms:
                if self.unsatisfiable([a], domain):
                    return [a]
            for i, a in enumerate(atoms):
                for b in atoms[i + 1:]:
                    if self.unsatisfiable([a, b], domain):
                        return [a, b]
            return atoms
        return None


def _show_atoms(atoms: list[_Atom]) -> str:
    return " and ".join(f"`{a.text}`" if not a.text.startswith("the comparison") else a.text
                        for a in atoms)


def _conflict_hint(atoms: list[_Atom]) -> str:
    ops = {a.op for a in atoms}
    shown = _show_atoms(atoms)
    if "absent" in ops:
        return (f"{shown}: a field cannot be both present and absent; remove one of the "
                "conditions")
    if len(atoms) == 1:
        return f"{shown} accepts no value; give the list at least one value"
    if ops <= {"<", "<=", ">", ">="}:
        return (f"the bounds {shown} leave no value; check the direction of one comparison "
                "(or the parameter values)")
    if ops <= {"==", "in"}:
        return (f"a field has one value at a time, and {shown} ask for different ones; to "
                "accept any of them, write `in [...]` or join them with `or`")
    if len(atoms) == 2 and ops & {"==", "in"} and ops & {"<", "<=", ">", ">="}:
        return (f"{shown}: the value asked for lies outside the bound; check the value, the "
                "bound and its direction")
    if len(atoms) == 2 and ops & {"==", "in"} and ops & {"!=", "not in"}:
        return f"{shown} ask for a value and exclude it; remove one of them"
    return f"{shown} exclude every value the field can take; remove or correct one of them"


def parameter_years(packset, rule) -> list[dict]:
    """The parameter values a rule runs with in each period its dated parameters define: the
    plain values, then those from each year a dated value starts. A condition can never hold
    only if it holds in none of them."""
    visible = packset.visible_parameters(rule.pack)
    dated = {name: visible[name] for name in rule.params
             if name in visible and visible[name].by_year}
    if not dated:
        return [dict(rule.params)]
    years = sorted({entry.since for spec in dated.values() for entry in spec.by_year})
    return [dict(rule.params)] + [
        {**rule.params, **{name: spec.value_for(year) for name, spec in dated.items()}}
        for year in years]
