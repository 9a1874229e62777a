"""Compile a condition or derived-value tree into a closure, once per rule.

The closure reads a mapping of names to values (metrics and derived values; None is null) and follows
:mod:`sigma.pipelines.okta.semantics`: null propagates through arithmetic, ``x / 0`` is null,
``round`` is half away from zero on the shortest decimal, comparisons with null are unknown (None),
and/or/not are SQL's three-valued logic. A condition holds only when its value ``is True``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from sigma.pipelines.okta.expression import (
    And,
    Arithmetic,
    Comparison,
    Expression,
    Name,
    Negate,
    Not,
    Number,
    Or,
    Round,
)
from sigma.pipelines.okta.semantics import conjunction, disjunction, divide, finite, negation, round_half_away

Environment = Mapping[str, Any]
Compiled = Callable[[Environment], Any]

# a result beyond the double range is null, as in ES|QL (semantics.finite)
_ARITHMETIC = {
    "+": lambda a, b: finite(a + b),
    "-": lambda a, b: finite(a - b),
    "*": lambda a, b: finite(a * b),
}
_COMPARISON = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def compile_expression(expression: Expression) -> Compiled:
    match expression:
        case Number(value, _):
            return lambda env: value
        case Name(name):
            return lambda env: env[name]
        case Negate(operand):
            inner = compile_expression(operand)
            return lambda env: None if (v := inner(env)) is None else -v
        case Round(operand, digits):
            inner = compile_expression(operand)
            return lambda env: round_half_away(inner(env), digits)
        case Arithmetic("/", left, right):
            numerator, denominator = compile_expression(left), compile_expression(right)
            return lambda env: divide(numerator(env), denominator(env))
        case Arithmetic(symbol, left, right):
            return _null_propagating(_ARITHMETIC[symbol], compile_expression(left), compile_expression(right))
        case Comparison(symbol, left, right):
            return _null_propagating(_COMPARISON[symbol], compile_expression(left), compile_expression(right))
        case Not(operand):
            inner = compile_expression(operand)
            return lambda env: negation(inner(env))
        case And(operands):
            return _conjunction(tuple(compile_expression(operand) for operand in operands))
        case Or(operands):
            return _disjunction(tuple(compile_expression(operand) for operand in operands))
    raise TypeError(f"not an expression node: {expression!r}")


def _null_propagating(function: Callable[[Any, Any], Any], left: Compiled, right: Compiled) -> Compiled:
    def apply(env: Environment) -> Any:
        a = left(env)
        if a is None:
            return None
        b = right(env)
        if b is None:
            return None
        return function(a, b)

    return apply


def _conjunction(operands: tuple[Compiled, ...]) -> Compiled:
    return lambda env: conjunction(operand(env) for operand in operands)


def _disjunction(operands: tuple[Compiled, ...]) -> Compiled:
    return lambda env: disjunction(operand(env) for operand in operands)
