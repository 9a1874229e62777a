"""The condition language: grammar, canonical text, type check, and the engine's evaluation of it."""

from __future__ import annotations

import math
from typing import ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sigma.backends.okta.engine.evaluate import compile_expression
from sigma.pipelines.okta.expression import (
    And,
    Arithmetic,
    Comparison,
    ExpressionError,
    Name,
    Not,
    Number,
    Or,
    Round,
    ValueType,
    names,
    parse,
    to_text,
    type_of,
)
from sigma.pipelines.okta.semantics import as_number, divide, round_half_away, text_of

ESCU = (
    "((ratio < 0.5 and total_pushes > 1) or total_rejected > 0) and dc_ip > 1 "
    "and suspect_device_from_source > 0 and suspect_ip_from_source > 0"
)


def evaluate(text: str, **environment):
    return compile_expression(parse(text))(environment)


class TestGrammar:
    def test_precedence_not_and_or(self):
        assert parse("a > 1 or b > 1 and not c > 1") == Or(
            (
                Comparison(">", Name("a"), Number(1.0, "1")),
                And(
                    (
                        Comparison(">", Name("b"), Number(1.0, "1")),
                        Not(Comparison(">", Name("c"), Number(1.0, "1"))),
                    )
                ),
            )
        )

    def test_arithmetic_is_left_associative_and_binds_tighter_than_comparison(self):
        tree = parse("a - b - c * d / e < 1")
        assert tree == Comparison(
            "<",
            Arithmetic(
                "-",
                Arithmetic("-", Name("a"), Name("b")),
                Arithmetic("/", Arithmetic("*", Name("c"), Name("d")), Name("e")),
            ),
            Number(1.0, "1"),
        )

    def test_round_and_single_equals(self):
        assert parse("round(x / y, 2) = 0.5") == Comparison(
            "==", Round(Arithmetic("/", Name("x"), Name("y")), 2), Number(0.5, "0.5")
        )

    def test_and_or_flatten(self):
        assert parse("a > 1 and (b > 1 and c > 1)") == And(
            tuple(Comparison(">", Name(n), Number(1.0, "1")) for n in "abc")
        )

    def test_negative_literals_fold(self):
        assert parse("x > -2.5") == Comparison(">", Name("x"), Number(-2.5, "-2.5"))

    def test_escu_condition_round_trips_through_canonical_text(self):
        tree = parse(ESCU)
        assert parse(to_text(tree)) == tree
        assert to_text(tree) == ESCU
        assert names(tree) == [
            "ratio",
            "total_pushes",
            "total_rejected",
            "dc_ip",
            "suspect_device_from_source",
            "suspect_ip_from_source",
        ]

    @pytest.mark.parametrize(
        ("text", "column", "message"),
        [
            ("a < b < c", 6, "do not chain"),
            ("a +", 3, "expected a number"),
            ("(a > 1", 6, "expected ')'"),
            ("a $ b", 2, "unexpected character"),
            ("round(a, 1.5)", 9, "whole number"),
            ("round(a, 16)", 9, "0..15"),
            ("round(a)", 7, "expected ','"),
            ("a > 1 b", 6, "unexpected 'b'"),
            ("", 0, "empty"),
            ("and", 0, "expected a number"),
        ],
    )
    def test_syntax_errors_name_the_column(self, text, column, message):
        with pytest.raises(ExpressionError) as caught:
            parse(text)
        assert caught.value.column == column
        assert message in caught.value.message

    def test_pointer_marks_the_column(self):
        with pytest.raises(ExpressionError) as caught:
            parse("a > 1 and b >")
        assert caught.value.pointer("a > 1 and b >", indent="").splitlines()[1] == " " * 13 + "^"


class TestTypes:
    SYMBOLS: ClassVar = {"n": ValueType.NUMBER, "flag": ValueType.BOOLEAN, "ips": ValueType.LIST}

    def test_condition_types(self):
        assert type_of(parse("n > 1 and not flag"), self.SYMBOLS) is ValueType.BOOLEAN
        assert type_of(parse("round(n / 2, 1) + 1"), self.SYMBOLS) is ValueType.NUMBER

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("unknown > 1", "unknown name 'unknown'"),
            ("ips > 1", "list of values"),
            ("n and flag", "must be a boolean"),
            ("flag + 1 > 0", "must be a number"),
            ("not n", "must be a boolean"),
            ("(n > 1) > 0", "must be a number"),
        ],
    )
    def test_type_errors(self, text, message):
        with pytest.raises(ExpressionError, match=message):
            type_of(parse(text), self.SYMBOLS)


class TestNullSemantics:
    """Null propagates through arithmetic; comparisons with null are unknown; and/or/not are 3VL."""

    def test_division_by_zero_is_null(self):
        assert evaluate("a / b", a=1, b=0) is None
        assert divide(0, 0) is None

    def test_arithmetic_with_null_is_null(self):
        for operator in "+-*/":
            assert evaluate(f"a {operator} b", a=None, b=2) is None
            assert evaluate(f"a {operator} b", a=2, b=None) is None
        assert evaluate("-a", a=None) is None
        assert evaluate("round(a, 2)", a=None) is None

    def test_comparison_with_null_is_unknown(self):
        for operator in ("<", "<=", ">", ">=", "==", "!="):
            assert evaluate(f"a {operator} 1", a=None) is None

    @pytest.mark.parametrize(
        ("left", "right", "conjunction", "disjunction"),
        [
            (True, True, True, True),
            (True, False, False, True),
            (True, None, None, True),
            (False, None, False, None),
            (None, None, None, None),
            (False, False, False, False),
        ],
    )
    def test_three_valued_and_or(self, left, right, conjunction, disjunction):
        def literal(value):
            return {True: "1 > 0", False: "1 < 0", None: "n > 0"}[value]

        for a, b in ((left, right), (right, left)):
            assert evaluate(f"{literal(a)} and {literal(b)}", n=None) is conjunction
            assert evaluate(f"{literal(a)} or {literal(b)}", n=None) is disjunction

    def test_not_unknown_is_unknown(self):
        assert evaluate("not n > 0", n=None) is None
        assert evaluate("not n > 0", n=-1) is True

    def test_escu_condition_with_no_pushes_falls_back_to_rejections(self):
        environment = dict(
            total_pushes=0,
            total_rejected=1,
            dc_ip=2,
            suspect_device_from_source=1,
            suspect_ip_from_source=1,
        )
        environment["ratio"] = evaluate(
            "round(total_successes / total_pushes, 2)", total_successes=0, total_pushes=0
        )
        assert environment["ratio"] is None
        assert evaluate(ESCU, **environment) is True
        assert evaluate(ESCU, **{**environment, "total_rejected": 0}) is False


class TestRounding:
    @pytest.mark.parametrize(
        ("value", "digits", "expected"),
        [
            (0.5, 0, 1.0),
            (-0.5, 0, -1.0),
            (1.5, 0, 2.0),
            (2.5, 0, 3.0),  # not banker's rounding
            (0.125, 2, 0.13),
            (-0.125, 2, -0.13),
            (99 / 200, 2, 0.5),  # the double below 0.495 still rounds up: shortest decimal is 0.495
            (1.005, 2, 1.01),
            (1 / 3, 2, 0.33),
            (2 / 3, 2, 0.67),
            (0.494999, 2, 0.49),
            (7.0, 2, 7.0),
        ],
    )
    def test_half_away_from_zero_on_the_shortest_decimal(self, value, digits, expected):
        assert round_half_away(value, digits) == expected
        assert evaluate(f"round(x, {digits})", x=value) == expected

    def test_ratio_thresholds_of_the_rule(self):
        assert evaluate("round(s / p, 2) < 0.5", s=1, p=2) is False  # exactly 0.5
        assert evaluate("round(s / p, 2) < 0.5", s=49, p=100) is True
        assert evaluate("round(s / p, 2) < 0.5", s=99, p=200) is False  # 0.495 rounds to 0.50
        assert evaluate("round(s / p, 2) < 0.5", s=98, p=199) is True  # 0.4924...

    @given(st.integers(0, 10_000), st.integers(1, 10_000))
    def test_agrees_with_exact_decimal_rounding_of_ratios(self, numerator, denominator):
        # For ratios of counts the shortest decimal of the double is the value the user reads.
        value = numerator / denominator
        rounded = round_half_away(value, 2)
        assert abs(rounded - value) <= 0.005 + 1e-12
        assert math.isclose(rounded * 100, round(rounded * 100), abs_tol=1e-9)


class TestTexts:
    @pytest.mark.parametrize(
        ("value", "text"),
        [
            ("abc", "abc"),
            (None, None),
            (True, "true"),
            (False, "false"),
            (42, "42"),
            (1.5, "1.5"),
            ({"New Device": "POSITIVE", "New IP": None}, "{New Device=POSITIVE, New IP=null}"),
            (["a", 1], "[a, 1]"),
        ],
    )
    def test_text_of(self, value, text):
        assert text_of(value) == text

    @pytest.mark.parametrize(
        ("value", "number"),
        [
            (3, 3),
            (2.5, 2.5),
            ("42", 42),
            (" -1.5e3 ", -1500.0),
            ("abc", None),
            (True, None),
            (None, None),
            ("", None),
        ],
    )
    def test_as_number(self, value, number):
        assert as_number(value) == number


def test_rounding_large_values_keeps_them():
    assert round_half_away(1e20, 10) == 1e20
    assert round_half_away(1.7976931348623157e308, 15) == 1.7976931348623157e308


def test_double_negation_of_a_literal_folds():
    assert parse("x > - -2") == Comparison(">", Name("x"), Number(2.0, "2"))
    assert parse("x > - - -1e3") == Comparison(">", Name("x"), Number(-1000.0, "-1e3"))
