"""The condition language of the `aggregate` correlation: grammar, syntax tree and type check.

One parser, one tree: every target renders this tree and the engine compiles it into a closure. The
value rules (null, division, rounding, three-valued logic) are in :mod:`.semantics`.

Grammar (lowest precedence first)::

    condition  := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := sum (("<" | "<=" | ">" | ">=" | "==" | "=" | "!=") sum)?
    sum        := product (("+" | "-") product)*
    product    := unary (("*" | "/") unary)*
    unary      := "-" unary | primary
    primary    := NUMBER | NAME | "round" "(" sum "," INTEGER ")" | "(" or ")"

Comparisons do not chain (``a < b < c`` is an error), keywords are lower case, names are metric or
derived-value names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum


class ExpressionError(ValueError):
    """A syntax or type error in a condition, with the 0-based column where it was found."""

    def __init__(self, message: str, column: int | None = None):
        super().__init__(message)
        self.message = message
        self.column = column

    def pointer(self, text: str, indent: str = "    ") -> str:
        """The expression with a caret under the offending column, for error messages."""
        if self.column is None:
            return indent + text
        return f"{indent}{text}\n{indent}{' ' * self.column}^"


class ValueType(Enum):
    NUMBER = "number"
    BOOLEAN = "boolean"
    LIST = "list"  # `values` metrics: carried in alerts, never computed with


# --- syntax tree ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    value: float
    text: str  # as written, so that renderers reproduce the literal exactly


@dataclass(frozen=True)
class Name:
    name: str
    column: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Negate:
    operand: Expression


@dataclass(frozen=True)
class Arithmetic:
    operator: str  # + - * /
    left: Expression
    right: Expression


@dataclass(frozen=True)
class Round:
    operand: Expression
    digits: int


@dataclass(frozen=True)
class Comparison:
    operator: str  # < <= > >= == !=
    left: Expression
    right: Expression


@dataclass(frozen=True)
class Not:
    operand: Expression


@dataclass(frozen=True)
class And:
    operands: tuple[Expression, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Expression, ...]


Expression = Number | Name | Negate | Arithmetic | Round | Comparison | Not | And | Or

COMPARISON_OPERATORS = ("<", "<=", ">", ">=", "==", "!=")
MAX_ROUND_DIGITS = 15


def walk(expression: Expression) -> Iterator[Expression]:
    """Every node of the tree, parents before children."""
    yield expression
    match expression:
        case Negate(operand) | Not(operand) | Round(operand, _):
            yield from walk(operand)
        case Arithmetic(_, left, right) | Comparison(_, left, right):
            yield from walk(left)
            yield from walk(right)
        case And(operands) | Or(operands):
            for operand in operands:
                yield from walk(operand)


def substitute(expression: Expression, definitions: Mapping[str, Expression]) -> Expression:
    """``expression`` with each name in ``definitions`` replaced by its definition."""
    match expression:
        case Name(name) if name in definitions:
            return definitions[name]
        case Number() | Name():
            return expression
        case Negate(operand):
            return Negate(substitute(operand, definitions))
        case Not(operand):
            return Not(substitute(operand, definitions))
        case Round(operand, digits):
            return Round(substitute(operand, definitions), digits)
        case Arithmetic(operator, left, right):
            return Arithmetic(operator, substitute(left, definitions), substitute(right, definitions))
        case Comparison(operator, left, right):
            return Comparison(operator, substitute(left, definitions), substitute(right, definitions))
        case And(operands):
            return And(tuple(substitute(operand, definitions) for operand in operands))
        case Or(operands):
            return Or(tuple(substitute(operand, definitions) for operand in operands))
    raise TypeError(f"not an expression node: {expression!r}")


def names(expression: Expression) -> list[str]:
    """The names an expression reads, in order of first appearance."""
    seen: dict[str, None] = {}
    for node in walk(expression):
        if isinstance(node, Name):
            seen.setdefault(node.name)
    return list(seen)


def to_text(expression: Expression) -> str:
    """Canonical source text (fully parenthesised where precedence needs it); parses back to the same tree."""
    return _to_text(expression, 0)


_PRECEDENCE = {Or: 1, And: 2, Not: 3, Comparison: 4}


def _precedence(expression: Expression) -> int:
    if isinstance(expression, Arithmetic):
        return 5 if expression.operator in "+-" else 6
    if isinstance(expression, Negate):
        return 7
    return _PRECEDENCE.get(type(expression), 8)


def _to_text(expression: Expression, outer: int) -> str:
    own = _precedence(expression)
    match expression:
        case Number(_, text):
            return text
        case Name(name):
            return name
        case Negate(operand):
            text = "-" + _to_text(operand, own)
        case Round(operand, digits):
            return f"round({_to_text(operand, 0)}, {digits})"
        case Arithmetic(operator, left, right):
            # left-associative: the right operand needs brackets at equal precedence
            text = f"{_to_text(left, own)} {operator} {_to_text(right, own + 1)}"
        case Comparison(operator, left, right):
            text = f"{_to_text(left, own + 1)} {operator} {_to_text(right, own + 1)}"
        case Not(operand):
            text = "not " + _to_text(operand, own)
        case And(operands):
            text = " and ".join(_to_text(operand, own + 1) for operand in operands)
        case Or(operands):
            # `and` inside `or` is bracketed although precedence makes it optional: easier to read
            text = " or ".join(_to_text(operand, _precedence(And((operand,))) + 1) for operand in operands)
    return f"({text})" if own < outer else text


# --- tokenizer -----------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<operator><=|>=|==|!=|<|>|=|\+|-|\*|/|\(|\)|,)
    """,
    re.VERBOSE,
)
KEYWORDS = frozenset({"and", "or", "not", "round"})


@dataclass(frozen=True)
class _Token:
    kind: str  # number, name, keyword, operator, end
    text: str
    column: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ExpressionError(f"unexpected character {text[position]!r}", position)
        kind = match.lastgroup
        value = match.group()
        if kind == "name" and value in KEYWORDS:
            kind = "keyword"
        if kind != "space":
            tokens.append(_Token(kind, "==" if value == "=" else value, position))
        position = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


# --- parser --------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str):
        self.tokens = _tokenize(text)
        self.index = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def accept(self, *texts: str) -> _Token | None:
        token = self.current
        if token.kind in ("operator", "keyword") and token.text in texts:
            self.index += 1
            return token
        return None

    def expect(self, text: str) -> _Token:
        token = self.accept(text)
        if token is None:
            raise ExpressionError(
                f"expected {text!r} but found {self.describe(self.current)}", self.current.column
            )
        return token

    @staticmethod
    def describe(token: _Token) -> str:
        return "the end of the condition" if token.kind == "end" else repr(token.text)

    def parse(self) -> Expression:
        expression = self.disjunction()
        if self.current.kind != "end":
            raise ExpressionError(f"unexpected {self.describe(self.current)}", self.current.column)
        return expression

    def disjunction(self) -> Expression:
        operands = [self.conjunction()]
        while self.accept("or"):
            operands.append(self.conjunction())
        return operands[0] if len(operands) == 1 else Or(_flatten(Or, operands))

    def conjunction(self) -> Expression:
        operands = [self.negation()]
        while self.accept("and"):
            operands.append(self.negation())
        return operands[0] if len(operands) == 1 else And(_flatten(And, operands))

    def negation(self) -> Expression:
        if self.accept("not"):
            return Not(self.negation())
        return self.comparison()

    def comparison(self) -> Expression:
        left = self.sum()
        operator = self.accept(*COMPARISON_OPERATORS)
        if operator is None:
            return left
        right = self.sum()
        chained = self.accept(*COMPARISON_OPERATORS)
        if chained is not None:
            raise ExpressionError("comparisons do not chain: combine them with 'and'", chained.column)
        return Comparison(operator.text, left, right)

    def sum(self) -> Expression:
        expression = self.product()
        while operator := self.accept("+", "-"):
            expression = Arithmetic(operator.text, expression, self.product())
        return expression

    def product(self) -> Expression:
        expression = self.unary()
        while operator := self.accept("*", "/"):
            expression = Arithmetic(operator.text, expression, self.unary())
        return expression

    def unary(self) -> Expression:
        if self.accept("-"):
            operand = self.unary()
            if isinstance(operand, Number):  # fold the sign into the literal: `- -2` is 2, written "2"
                text = operand.text[1:] if operand.text.startswith("-") else "-" + operand.text
                return Number(-operand.value, text)
            return Negate(operand)
        return self.primary()

    def primary(self) -> Expression:
        token = self.current
        if token.kind == "number":
            self.index += 1
            return Number(float(token.text), token.text)
        if token.kind == "name":
            self.index += 1
            return Name(token.text, token.column)
        if self.accept("round"):
            self.expect("(")
            operand = self.sum()
            self.expect(",")
            digits_token = self.current
            if digits_token.kind != "number" or not digits_token.text.isdigit():
                raise ExpressionError(
                    f"round() takes a whole number of digits 0..{MAX_ROUND_DIGITS}", digits_token.column
                )
            self.index += 1
            digits = int(digits_token.text)
            if digits > MAX_ROUND_DIGITS:
                raise ExpressionError(f"round() digits must be 0..{MAX_ROUND_DIGITS}", digits_token.column)
            self.expect(")")
            return Round(operand, digits)
        if self.accept("("):
            expression = self.disjunction()
            self.expect(")")
            return expression
        raise ExpressionError(
            f"expected a number, a name or '(' but found {self.describe(token)}", token.column
        )


def _flatten(kind: type, operands: list[Expression]) -> tuple[Expression, ...]:
    flat: list[Expression] = []
    for operand in operands:
        flat.extend(operand.operands if isinstance(operand, kind) else (operand,))
    return tuple(flat)


def parse(text: str) -> Expression:
    """Parse a condition or derived-value expression; raises :class:`ExpressionError`."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("the expression is empty", 0)
    return _Parser(text).parse()


# --- type check ----------------------------------------------------------------------------------


def type_of(expression: Expression, symbols: Mapping[str, ValueType]) -> ValueType:
    """The type of an expression given the types of the names; raises :class:`ExpressionError`."""
    check: Callable[[Expression], ValueType] = lambda node: type_of(node, symbols)  # noqa: E731

    def require(node: Expression, wanted: ValueType, role: str) -> None:
        found = check(node)
        if found is not wanted:
            raise ExpressionError(f"{role} must be a {wanted.value}, not a {found.value}", _column(node))

    match expression:
        case Number():
            return ValueType.NUMBER
        case Name(name, column):
            if name not in symbols:
                known = ", ".join(sorted(symbols)) or "none"
                raise ExpressionError(f"unknown name '{name}' (known: {known})", column)
            if symbols[name] is ValueType.LIST:
                raise ExpressionError(f"'{name}' is a list of values and cannot be computed with", column)
            return symbols[name]
        case Negate(operand) | Round(operand, _):
            require(operand, ValueType.NUMBER, "an arithmetic operand")
            return ValueType.NUMBER
        case Arithmetic(operator, left, right):
            require(left, ValueType.NUMBER, f"the left operand of '{operator}'")
            require(right, ValueType.NUMBER, f"the right operand of '{operator}'")
            return ValueType.NUMBER
        case Comparison(operator, left, right):
            require(left, ValueType.NUMBER, f"the left operand of '{operator}'")
            require(right, ValueType.NUMBER, f"the right operand of '{operator}'")
            return ValueType.BOOLEAN
        case Not(operand):
            require(operand, ValueType.BOOLEAN, "the operand of 'not'")
            return ValueType.BOOLEAN
        case And(operands) | Or(operands):
            word = "and" if isinstance(expression, And) else "or"
            for operand in operands:
                require(operand, ValueType.BOOLEAN, f"an operand of '{word}'")
            return ValueType.BOOLEAN
    raise TypeError(f"not an expression node: {expression!r}")


def _column(expression: Expression) -> int | None:
    for node in walk(expression):
        if isinstance(node, Name):
            return node.column
    return None
