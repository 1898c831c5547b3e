"""The type checker: every expression of a rule against the fields of the facts it binds, the
pack's parameters and categories, and the functions of the language."""
from __future__ import annotations

from ..inputs.validation import did_you_mean
from . import expr as ex
from .kinds import CATEGORY_FIELDS, ENUMS, SINGLETON_KINDS, type_of
from .pack import Pattern, Rule, Where
from .spec import MAX_LIST_VALUES


class _Checker:
    """Resolves every name in a rule and checks the types of its expressions."""

    def __init__(self, schemas, categories, visible):
        self.schemas = schemas
        self.categories = categories
        self.visible = visible   # pack -> the parameters its rules may read

    def check(self, rule: Rule, derived_by):
        params = self.visible[rule.pack]
        self._params = params
        self._refs: dict[int, tuple[str, str]] = {}
        names: dict[str, Pattern] = {}
        for pattern in rule.patterns:
            if pattern.kind not in self.schemas:
                known = sorted(self.schemas)
                producer = ("" if pattern.kind not in derived_by else
                            " (it is derived later in a cycle)")
                raise pattern.at.error(f"unknown fact '{pattern.kind}'{producer} (facts are "
                                       f"{', '.join(known)})"
                                       f"{did_you_mean(pattern.kind, known)}")
            if pattern.name in names:
                raise pattern.at.error(f"the name '{pattern.name}' is used by two patterns; "
                                       "give one of them another name with 'as'")
            names[pattern.name] = pattern
        if all(p.negated for p in rule.patterns):
            pass  # the compiler anchors such rules on the case fact
        rule.fields_read = {}
        rule.params = {}

        def use_param(node: ex.Param, at: Where):
            if node.name not in params:
                raise at.error(f"unknown parameter '${node.name}'"
                               f"{did_you_mean(node.name, params)}", node.offset)
            rule.params[node.name] = params[node.name].value
            return type_of(params[node.name].value)

        seen_positive: list[Pattern] = []
        for pattern in rule.patterns:
            if pattern.where is not None:
                def resolve(ref: ex.Ref, at=pattern.at, current=pattern):
                    return self._resolve(ref, at, current, names, seen_positive, rule)
                typ = self._type(pattern.where, resolve, lambda n, at=pattern.at: use_param(
                    n, at), pattern.at, condition=True)
                if typ != "bool":
                    raise pattern.at.error("a 'where' condition must be true or false, "
                                           f"not a {typ}")
            if not pattern.negated:
                seen_positive.append(pattern)

        value_scope = [p for p in rule.patterns if not p.negated]
        let_types: dict[str, str] = {}
        for name, node in rule.lets.items():
            at = rule.sites.get(f"let.{name}", rule.at)
            let_types[name] = self._type(node, lambda ref: self._resolve_value(
                ref, at, names, value_scope, rule, let_types), lambda n: use_param(n, at), at)
        field_types = {}
        for name, node in rule.derive_fields.items():
            at = rule.sites.get(f"derive.{name}", rule.at)
            field_types[name] = self._type(node, lambda ref: self._resolve_value(
                ref, at, names, value_scope, rule, let_types), lambda n: use_param(n, at), at)
        for key, template in (("message", rule.message), ("remediation", rule.remediation),
                              ("cause", rule.cause)):
            if template is None:
                continue
            # folded text moves placeholders off their written column: point at the template
            at = rule.sites.get(key, rule.at)
            for ph in template.placeholders:
                if ph.name.startswith("$"):
                    use_param(ex.Param(None, ph.name[1:]), at)
                else:
                    self._resolve_value(ex.Ref(None, tuple(ph.name.split("."))), at,
                                        names, value_scope, rule, let_types)
        if rule.derive_kind:
            schema = {name: typ.rstrip("?") + "?" for name, typ in field_types.items()}
            existing = self.schemas.get(rule.derive_kind)
            if existing is not None and existing != schema:
                raise rule.sites.get("derive", rule.at).error(
                    f"fact '{rule.derive_kind}' is derived elsewhere with fields "
                    f"{_show_schema(existing)}; this rule gives {_show_schema(schema)}")
            self.schemas[rule.derive_kind] = schema

    def _resolve(self, ref: ex.Ref, at: Where, current: Pattern, names, earlier, rule):
        parts = ref.parts
        if len(parts) == 1:
            return self._field(current, parts[0], ref, at, rule)
        if len(parts) > 2:
            raise at.error(f"'{ref.text}' has too many parts; write binding.field", ref.offset)
        binding, name = parts
        if binding == current.name:
            return self._field(current, name, ref, at, rule)
        pattern = names.get(binding)
        if pattern is None and binding in SINGLETON_KINDS:
            pattern = self._implicit(binding, rule, names)
        if pattern is None:
            raise at.error(f"'{binding}' is not a pattern of this rule"
                           f"{did_you_mean(binding, names)}", ref.offset)
        if pattern.negated:
            raise at.error(f"'{binding}' is a 'not' pattern: its fields exist only in its own "
                           "where", ref.offset)
        if pattern not in earlier and not pattern.implicit:
            raise at.error(f"'{binding}' is matched after this pattern; a condition may only "
                           "refer to patterns listed before it", ref.offset)
        return self._field(pattern, name, ref, at, rule)

    def _implicit(self, kind: str, rule: Rule, names) -> Pattern:
        pattern = Pattern(kind, kind, False, None, rule.at, implicit=True)
        rule.patterns.insert(0, pattern)
        names[kind] = pattern
        return pattern

    def _resolve_value(self, ref: ex.Ref, at: Where, names, scope, rule, let_types):
        parts = ref.parts
        if len(parts) == 1:
            if parts[0] in let_types:
                return let_types[parts[0]]
            raise at.error(f"'{parts[0]}' is not a let value of this rule; write binding.field "
                           f"for a fact's field{did_you_mean(parts[0], let_types)}", ref.offset)
        if len(parts) != 2:
            raise at.error(f"'{ref.text}' has too many parts; write binding.field", ref.offset)
        binding, name = parts
        pattern = names.get(binding)
        if pattern is None and binding in SINGLETON_KINDS:
            pattern = self._implicit(binding, rule, names)
            scope.insert(0, pattern)
        if pattern is None or pattern.negated:
            raise at.error(f"'{binding}' is not a matched pattern of this rule"
                           f"{did_you_mean(binding, [p.name for p in scope])}", ref.offset)
        return self._field(pattern, name, ref, at, rule)

    def _field(self, pattern: Pattern, name: str, ref: ex.Ref, at: Where, rule: Rule) -> str:
        schema = self.schemas[pattern.kind]
        if name not in schema:
            raise at.error(f"fact '{pattern.kind}' has no field '{name}' (its fields are "
                           f"{', '.join(sorted(schema))}){did_you_mean(name, schema)}",
                           ref.offset)
        if not pattern.negated:
            rule.fields_read.setdefault(pattern.name, set()).add(name)
        self._refs[id(ref)] = (pattern.kind, name)
        return schema[name].rstrip("?")

    def _type(self, node: ex.Node, resolve, use_param, at: Where, condition=False) -> str:
        t = lambda n: self._type(n, resolve, use_param, at, condition)  # noqa: E731
        if isinstance(node, ex.Literal):
            return type_of(node.value)
        if isinstance(node, ex.Param):
            return use_param(node)
        if isinstance(node, ex.Ref):
            return resolve(node)
        if isinstance(node, ex.ListLit):
            types = {t(item) for item in node.items}
            if len(types) > 1 or "list" in types:
                raise at.error("a list must hold values of one type", node.offset)
            if len(node.items) > MAX_LIST_VALUES:
                raise at.error(f"a list may hold at most {MAX_LIST_VALUES} values", node.offset)
            return "list"
        if isinstance(node, ex.Unary):
            inner = t(node.operand)
            want = "bool" if node.op == "not" else "number"
            if inner != want:
                raise at.error(f"'{node.op}' needs a {want}, found a {inner}", node.offset)
            return want
        if isinstance(node, ex.Binary):
            for side in (node.left, node.right):
                if t(side) != "number":
                    raise at.error(f"'{node.op}' needs numbers on both sides, found a "
                                   f"{t(side)}", side.offset)
            return "number"
        if isinstance(node, ex.BoolOp):
            for item in node.items:
                if t(item) != "bool":
                    raise at.error(f"'{node.op}' joins conditions, found a {t(item)}",
                                   item.offset)
            return "bool"
        if isinstance(node, ex.Call):
            if node.name == "exists":
                if not isinstance(node.args[0], ex.Ref):
                    raise at.error("exists() takes a field", node.offset)
                t(node.args[0])
                return "bool"
            for arg in node.args:
                if t(arg) != "number":
                    raise at.error(f"{node.name}() needs numbers", arg.offset)
            if node.name == "round" and len(node.args) == 2:
                self._check_decimals(node.args[1], at)
            return "number"
        if isinstance(node, ex.Compare):
            left, right = t(node.left), t(node.right)
            if node.op in ("in", "not in"):
                if right != "list":
                    raise at.error(f"'{node.op}' needs a list on its right, found a {right}",
                                   node.right.offset)
                self._check_members(node.left, node.right, at, use_param)
                return "bool"
            if node.op == "contains":
                raise at.error("'contains' is not available: lists in facts are expanded into "
                               "facts of their own (see the 'dependency' fact)", node.offset)
            if left != right:
                raise at.error(f"cannot compare a {left} with a {right}", node.offset)
            if left == "list":
                raise at.error("lists cannot be compared; use 'in'", node.offset)
            if left == "bool" and node.op not in ("==", "!="):
                raise at.error("true/false values can only be compared with == or !=",
                               node.offset)
            if left == "string" and node.op not in ("==", "!="):
                raise at.error("text can only be compared with == or !=", node.offset)
            for a, b in ((node.left, node.right), (node.right, node.left)):
                if isinstance(b, ex.Literal) and isinstance(b.value, str):
                    self._check_members(a, ex.ListLit(b.offset, (b,)), at, use_param)
            return "bool"
        raise at.error(f"unsupported expression {type(node).__name__}", node.offset)

    def _check_members(self, left: ex.Node, right: ex.Node, at: Where, use_param):
        """A string compared with a category or enumerated field must be one of its values."""
        if not isinstance(left, ex.Ref):
            return
        kind_field = self._kind_field(left, at)
        if kind_field is None:
            return
        if kind_field in CATEGORY_FIELDS:
            allowed, what = tuple(self.categories), "category"
        elif kind_field in ENUMS:
            allowed, what = ENUMS[kind_field], f"value of {kind_field[0]}.{kind_field[1]}"
        else:
            return
        values: list[tuple[str, int, str]] = []
        if isinstance(right, ex.ListLit):
            for item in right.items:
                if isinstance(item, ex.Literal):
                    values.append((item.value, item.offset, ""))
        elif isinstance(right, ex.Param):
            value = self._param_value(right)
            if isinstance(value, list):
                values.extend((v, right.offset, f" (in parameter ${right.name})")
                              for v in value)
        for value, offset, origin in values:
            if value not in allowed:
                raise at.error(f"'{value}'{origin} is not a {what}"
                               f"{did_you_mean(value, allowed)}", offset)

    def _check_decimals(self, node: ex.Node, at: Where):
        """round()'s decimals, when they do not depend on a fact, are checked here, for
        every value a parameter takes (the case's values are checked as rules run)."""
        if any(isinstance(n, ex.Ref) for n in ex.walk(node)):
            return
        specs = {n.name: self._params[n.name] for n in ex.walk(node)
                 if isinstance(n, ex.Param) and n.name in self._params}
        choices = [{name: spec.value for name, spec in specs.items()}]
        for name, spec in specs.items():
            for dated in getattr(spec, "by_year", None) or ():
                choices.append({**choices[0], name: dated.value})
        for values in choices:
            try:
                ex.round_decimals(ex.evaluate(node, lambda parts: ex.MISSING, values))
            except ex.ExprError as exc:
                raise at.error(exc.message, node.offset) from None

    def _param_value(self, node: ex.Param):
        spec = self._params.get(node.name)
        return None if spec is None else spec.value

    def _kind_field(self, ref: ex.Ref, at: Where):
        return self._refs.get(id(ref))


def _show_schema(schema: dict) -> str:
    return "{" + ", ".join(f"{k}: {v.rstrip('?')}" for k, v in sorted(schema.items())) + "}"
