"""The expression language of rule packs: a small, data-only grammar.

Expressions are parsed into a tree of the node classes below and never handed to Python's
`eval`. The compiler translates condition trees into durable_rules patterns; `evaluate` computes
the values of `let` and `derive` fields from facts that have already matched.

    or      := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | compare
    compare := sum (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not in" | "contains") sum)?
    sum     := term (("+" | "-") term)*
    term    := unary (("*" | "/") unary)*
    unary   := "-" unary | atom
    atom    := number | 'string' | "string" | true | false | $param | name(.name)*
             | function "(" args ")" | "(" or ")" | "[" literals "]"
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

MAX_EXPRESSION_CHARS = 2000
MAX_EXPRESSION_DEPTH = 32    # parentheses, 'not', '-' and calls inside one another
MAX_OPERATIONS = 100         # operations applied to one value (a + b + c ... is a chain)
MAX_ROUND_DECIMALS = 15      # round(x, n): n from -15 to 15 (amounts are at most 1e15)
BIG_INT = 2 ** 63            # whole numbers beyond this are computed as floats
FUNCTIONS = {"exists": 1, "abs": 1, "min": None, "max": None, "round": None}
ARITY = {"exists": (1, 1), "abs": (1, 1), "min": (1, None), "max": (1, None),
         "round": (1, 2)}


class ExprError(Exception):
    def __init__(self, message: str, offset: int = 0):
        super().__init__(message)
        self.message = message
        self.offset = offset


# --- tree ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Node:
    offset: int


@dataclass(frozen=True)
class Literal(Node):
    value: float | int | str | bool


@dataclass(frozen=True)
class ListLit(Node):
    items: tuple


@dataclass(frozen=True)
class Ref(Node):
    parts: tuple[str, ...]

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Param(Node):
    name: str


@dataclass(frozen=True)
class Unary(Node):
    op: str          # "-" or "not"
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str          # + - * /
    left: Node
    right: Node


@dataclass(frozen=True)
class Compare(Node):
    op: str          # == != < <= > >= in "not in" contains
    left: Node
    right: Node


@dataclass(frozen=True)
class BoolOp(Node):
    op: str          # and / or
    items: tuple


@dataclass(frozen=True)
class Call(Node):
    name: str
    args: tuple


def walk(node: Node):
    yield node
    for child in children(node):
        yield from walk(child)


def children(node: Node) -> tuple:
    if isinstance(node, (Unary,)):
        return (node.operand,)
    if isinstance(node, (Binary, Compare)):
        return (node.left, node.right)
    if isinstance(node, (BoolOp, ListLit)):
        return node.items
    if isinstance(node, Call):
        return node.args
    return ()


# --- tokens -------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>'[^'\\\n]*'|"[^"\\\n]*")
  | (?P<param>\$[A-Za-z_][A-Za-z0-9_]*)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op>==|!=|<=|>=|<|>|\+|-|\*|/|\(|\)|\[|\]|,)
""", re.VERBOSE)

_KEYWORDS = {"and", "or", "not", "in", "contains", "true", "false"}


@dataclass
class _Tok:
    kind: str
    text: str
    offset: int


def tokenize(text: str) -> list[_Tok]:
    tokens = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            char = text[pos]
            hint = ""
            if char in "{}":
                hint = " (templates with {} belong in messages, not conditions)"
            elif char == "=":
                hint = " (compare with ==)"
            elif char in "&|!":
                hint = " (write and, or, not)"
            elif char in "'\"":
                hint = " (strings end on the same line and may not contain backslashes)"
            raise ExprError(f"unexpected character {char!r}{hint}", pos)
        kind = match.lastgroup
        if kind != "space":
            word = match.group()
            if kind == "name" and word in _KEYWORDS:
                kind = "keyword"
            tokens.append(_Tok(kind, word, pos))
        pos = match.end()
    tokens.append(_Tok("end", "", len(text)))
    return tokens


# --- parser -------------------------------------------------------------------------------

class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> _Tok:
        return self.tokens[self.i]

    def take(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def accept(self, *texts: str) -> _Tok | None:
        if self.tok.kind in ("op", "keyword") and self.tok.text in texts:
            return self.take()
        return None

    def expect(self, text: str) -> _Tok:
        tok = self.accept(text)
        if tok is None:
            raise ExprError(f"expected '{text}', found {self._found()}", self.tok.offset)
        return tok

    def _found(self) -> str:
        return "the end of the expression" if self.tok.kind == "end" else repr(self.tok.text)

    def nest(self):
        self.depth += 1
        if self.depth > MAX_EXPRESSION_DEPTH:
            raise ExprError(f"expression nests deeper than {MAX_EXPRESSION_DEPTH} levels",
                            self.tok.offset)

    def parse(self) -> Node:
        node = self.or_()
        if self.tok.kind != "end":
            raise ExprError(f"unexpected {self._found()}", self.tok.offset)
        return node

    def or_(self) -> Node:
        first = self.and_()
        items = [first]
        while self.accept("or"):
            items.append(self.and_())
        return first if len(items) == 1 else BoolOp(first.offset, "or", tuple(items))

    def and_(self) -> Node:
        first = self.not_()
        items = [first]
        while self.accept("and"):
            items.append(self.not_())
        return first if len(items) == 1 else BoolOp(first.offset, "and", tuple(items))

    def not_(self) -> Node:
        tok = self.accept("not")
        if tok:
            self.nest()
            node = Unary(tok.offset, "not", self.not_())
            self.depth -= 1
            return node
        return self.compare()

    def compare(self) -> Node:
        left = self.sum_()
        tok = self.tok
        op = None
        if self.accept("==", "!=", "<", "<=", ">", ">=", "in", "contains"):
            op = tok.text
        elif tok.kind == "keyword" and tok.text == "not" and \
                self.tokens[self.i + 1].text == "in":
            self.i += 2
            op = "not in"
        if op is None:
            return left
        right = self.sum_()
        if self.tok.text in ("==", "!=", "<", "<=", ">", ">="):
            raise ExprError("comparisons cannot be chained; join them with 'and'",
                            self.tok.offset)
        return Compare(tok.offset, op, left, right)

    def sum_(self) -> Node:
        node = self.term()
        while True:
            tok = self.accept("+", "-")
            if not tok:
                return node
            node = Binary(tok.offset, tok.text, node, self.term())

    def term(self) -> Node:
        node = self.unary()
        while True:
            tok = self.accept("*", "/")
            if not tok:
                return node
            node = Binary(tok.offset, tok.text, node, self.unary())

    def unary(self) -> Node:
        tok = self.accept("-")
        if tok:
            self.nest()
            operand = self.unary()
            self.depth -= 1
            if isinstance(operand, Literal) and isinstance(operand.value, (int, float)) \
                    and not isinstance(operand.value, bool):
                return Literal(tok.offset, -operand.value)
            return Unary(tok.offset, "-", operand)
        return self.atom()

    def atom(self) -> Node:
        tok = self.take()
        if tok.kind == "number":
            value = float(tok.text) if any(c in tok.text for c in ".eE") else int(tok.text)
            if not math.isfinite(value) or abs(value) > 1e15:
                raise ExprError(f"number {tok.text} is out of range (at most 1e15)", tok.offset)
            return Literal(tok.offset, value)
        if tok.kind == "string":
            return Literal(tok.offset, tok.text[1:-1])
        if tok.kind == "keyword" and tok.text in ("true", "false"):
            return Literal(tok.offset, tok.text == "true")
        if tok.kind == "param":
            return Param(tok.offset, tok.text[1:])
        if tok.kind == "name":
            if self.tok.text == "(":
                if tok.text not in FUNCTIONS:
                    raise ExprError(f"unknown function '{tok.text}'; functions are "
                                    f"{', '.join(sorted(FUNCTIONS))}", tok.offset)
                self.take()
                args = []
                if not self.accept(")"):
                    self.nest()
                    args.append(self.or_())
                    while self.accept(","):
                        args.append(self.or_())
                    self.depth -= 1
                    self.expect(")")
                try:
                    check_call(tok.text, args)
                except ExprError as exc:
                    raise ExprError(exc.message, tok.offset) from None
                return Call(tok.offset, tok.text, tuple(args))
            return Ref(tok.offset, tuple(tok.text.split(".")))
        if tok.kind == "op" and tok.text == "(":
            self.nest()
            node = self.or_()
            self.depth -= 1
            self.expect(")")
            return node
        if tok.kind == "op" and tok.text == "[":
            items = []
            if not self.accept("]"):
                while True:
                    item = self.unary()
                    if not isinstance(item, (Literal, Param)):
                        raise ExprError("a list may hold only literal values and $parameters",
                                        item.offset)
                    items.append(item)
                    if self.accept("]"):
                        break
                    self.expect(",")
            return ListLit(tok.offset, tuple(items))
        found = "the end of the expression" if tok.kind == "end" else repr(tok.text)
        raise ExprError(f"expected a value, found {found}", tok.offset)


def parse(text: str) -> Node:
    if not isinstance(text, str):
        raise ExprError("expected an expression as a string")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExprError(f"expression is longer than {MAX_EXPRESSION_CHARS} characters")
    if not text.strip():
        raise ExprError("the expression is empty")
    node = _Parser(text).parse()
    _check_depth(node)
    return node


def _check_depth(root: Node) -> None:
    """Every reader of an expression walks its tree recursively: a chain of operations
    (`1+1+1...`, each one inside the next) deeper than MAX_OPERATIONS is refused here,
    where the tree is walked without recursion."""
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_OPERATIONS:
            raise ExprError(f"expression chains more than {MAX_OPERATIONS} operations one "
                            "inside another; compute part of it in a 'let' or a 'derive' "
                            "rule", node.offset)
        stack.extend((child, depth + 1) for child in children(node))


def check_call(name: str, args: list) -> None:
    """The arguments a function accepts: how many, and for round() how many decimals
    (round(x, -10**15) would compute a number of a quadrillion digits)."""
    least, most = ARITY[name]
    if len(args) < least or (most is not None and len(args) > most):
        count = f"{least}" if least == most else f"{least} to {most}" if most else \
            f"at least {least}"
        raise ExprError(f"{name}() takes {count} argument{'s' * (count != '1')}, found "
                        f"{len(args)}")


def round_decimals(value) -> int:
    """round()'s number of decimals, checked: a whole number from -15 to 15."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or value != value or value in (float("inf"), float("-inf")) \
            or value != int(value) or abs(value) > MAX_ROUND_DECIMALS:
        shown = value if not isinstance(value, int) or abs(value) < 10 ** 30 else \
            f"a number of {len(str(abs(value) // 10 ** 30)) + 30} digits"
        raise ExprError(f"round() rounds to a whole number of decimals from "
                        f"-{MAX_ROUND_DECIMALS} to {MAX_ROUND_DECIMALS}, found {shown}")
    return int(value)


# --- evaluation of computed values ----------------------------------------------------------

class Missing:
    """Stands for an absent field: arithmetic on it gives Missing, comparisons give False."""

    def __repr__(self) -> str:
        return "missing"


MISSING = Missing()


def evaluate(node: Node, lookup, params: dict):
    """Value of a value expression; `lookup(parts)` returns a field's value or MISSING."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Param):
        return params[node.name]
    if isinstance(node, Ref):
        return lookup(node.parts)
    if isinstance(node, ListLit):
        return [evaluate(item, lookup, params) for item in node.items]
    if isinstance(node, Unary):
        value = evaluate(node.operand, lookup, params)
        if node.op == "not":
            return value is not True
        return MISSING if value is MISSING else -value
    if isinstance(node, Binary):
        left = evaluate(node.left, lookup, params)
        right = evaluate(node.right, lookup, params)
        if left is MISSING or right is MISSING:
            return MISSING
        if node.op == "/" and right == 0:
            return MISSING
        return _arithmetic(node.op, left, right)
    if isinstance(node, Compare):
        left = evaluate(node.left, lookup, params)
        right = evaluate(node.right, lookup, params)
        if left is MISSING or right is MISSING:
            return node.op in ("not in",) and False
        if node.op == "in":
            return left in right
        if node.op == "not in":
            return left not in right
        if node.op == "contains":
            return right in left
        return {"==": left == right, "!=": left != right, "<": left < right,
                "<=": left <= right, ">": left > right, ">=": left >= right}[node.op]
    if isinstance(node, BoolOp):
        values = [evaluate(item, lookup, params) is True for item in node.items]
        return all(values) if node.op == "and" else any(values)
    if isinstance(node, Call):
        args = [evaluate(arg, lookup, params) for arg in node.args]
        if node.name == "exists":
            return args[0] is not MISSING
        if any(a is MISSING for a in args):
            return MISSING
        if node.name == "abs":
            return abs(args[0])
        if node.name == "min":
            return min(args)
        if node.name == "max":
            return max(args)
        if node.name == "round":
            value = args[0]
            if isinstance(value, float) and value != value or value in (
                    float("inf"), float("-inf")):
                return value   # round(inf) has no whole value; it stays as it is
            return _bounded(round(value, round_decimals(args[1]) if len(args) > 1 else 0))
    raise ExprError(f"cannot evaluate {type(node).__name__}", node.offset)


def _arithmetic(op: str, left, right):
    """+ - * / as floats once a whole number grows past BIG_INT, so that no chain of
    operations makes a number of thousands of digits (or fails turning one into a float:
    Python refuses a quotient of huge whole numbers); a float too large becomes infinite,
    which no comparison passes and no field keeps."""
    if (type(left) is int and abs(left) > BIG_INT) or (type(right) is int
                                                       and abs(right) > BIG_INT):
        left, right = _float(left), _float(right)
    if op == "+":
        return _bounded(left + right)
    if op == "-":
        return _bounded(left - right)
    if op == "*":
        return _bounded(left * right)
    return left / right


def _float(value) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _bounded(value):
    return _float(value) if type(value) is int and abs(value) > BIG_INT else value


def unparse(node: Node) -> str:
    """An expression as text, as a rule would write it (for messages about conditions)."""
    if isinstance(node, Literal):
        return repr(node.value) if isinstance(node.value, str) else str(node.value).lower() \
            if isinstance(node.value, bool) else f"{node.value:g}"
    if isinstance(node, Param):
        return f"${node.name}"
    if isinstance(node, Ref):
        return node.text
    if isinstance(node, ListLit):
        return "[" + ", ".join(unparse(i) for i in node.items) + "]"
    if isinstance(node, Unary):
        return f"not ({unparse(node.operand)})" if node.op == "not" else f"-{unparse(node.operand)}"
    if isinstance(node, Binary):
        return f"{unparse(node.left)} {node.op} {unparse(node.right)}"
    if isinstance(node, Compare):
        return f"{unparse(node.left)} {node.op} {unparse(node.right)}"
    if isinstance(node, BoolOp):
        return f" {node.op} ".join(f"({unparse(i)})" if isinstance(i, BoolOp) else unparse(i)
                                   for i in node.items)
    if isinstance(node, Call):
        return f"{node.name}(" + ", ".join(unparse(a) for a in node.args) + ")"
    return "?"
