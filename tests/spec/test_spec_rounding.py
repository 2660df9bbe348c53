"""USP rounding: half away from zero on the decimal string, to the places of the limit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cytorelease.spec.formula import FormulaError, parse_formula
from cytorelease.spec.model import Limit
from cytorelease.spec.rounding import format_number, to_decimal, usp_round


def _verdict(value: object, limit: Limit, decimals: int, exponent: int = 0) -> tuple[str, bool]:
    rounded = usp_round(to_decimal(value), decimals, exponent)
    return format_number(rounded, decimals, exponent), limit.contains(rounded)


AT_LEAST_80 = Limit(min=Decimal("80"))
AT_LEAST_80_0 = Limit(min=Decimal("80.0"))


@pytest.mark.parametrize(
    ("value", "decimals", "reported", "passes"),
    [
        # against ">= 80.0": one decimal place
        (79.95, 1, "80.0", True),  # the float 79.95 is 79.9499999...; its decimal string is not
        (79.949, 1, "79.9", False),
        (80.05, 1, "80.1", True),
        (79.96, 1, "80.0", True),  # RELEASE_TESTING.md's examples
        (79.94, 1, "79.9", False),
        # against ">= 80": no decimal places
        (79.95, 0, "80", True),
        (79.949, 0, "80", True),
        (80.05, 0, "80", True),
        (79.5, 0, "80", True),
        (79.49, 0, "79", False),
        ("79.95", 1, "80.0", True),  # decimal strings round the same as numbers
        (80, 1, "80.0", True),
    ],
)
def test_usp_boundaries_against_min_80(
    value: object, decimals: int, reported: str, passes: bool
) -> None:
    limit = AT_LEAST_80_0 if decimals else AT_LEAST_80
    assert _verdict(value, limit, decimals) == (reported, passes)


def test_exclusive_limits_compare_the_rounded_value() -> None:
    below_5 = Limit(max=Decimal("5.0"), max_inclusive=False)
    assert _verdict(4.95, below_5, 1) == ("5.0", False)  # rounds up onto the excluded bound
    assert _verdict(4.949, below_5, 1) == ("4.9", True)
    above_80 = Limit(min=Decimal("80.0"), min_inclusive=False)
    assert _verdict(80.04, above_80, 1) == ("80.0", False)
    assert _verdict(80.05, above_80, 1) == ("80.1", True)


def test_negative_values_round_away_from_zero() -> None:
    assert format_number(usp_round(to_decimal(-0.05), 1), 1) == "-0.1"
    assert format_number(usp_round(to_decimal(-2.5), 0), 0) == "-3"
    assert format_number(usp_round(to_decimal(-0.04), 1), 1) == "0.0"  # never "-0.0"
    at_least_minus_1 = Limit(min=Decimal("-1.0"))
    assert _verdict(-1.05, at_least_minus_1, 1) == ("-1.1", False)
    assert _verdict(-1.04, at_least_minus_1, 1) == ("-1.0", True)


def test_rounding_uses_the_decimal_string_not_the_binary_float() -> None:
    # float(2.675) is 2.67499999...; Python's round() gives 2.67, USP on "2.675" gives 2.68
    assert round(2.675, 2) == 2.67
    assert format_number(usp_round(to_decimal(2.675), 2), 2) == "2.68"


def test_scientific_reporting_for_doses() -> None:
    dose = Limit(min=Decimal("0.6e8"), max=Decimal("6.0e8"))
    assert _verdict(389_400_000, dose, 1, 8) == ("3.9E8", True)
    assert _verdict(6.04e8, dose, 1, 8) == ("6.0E8", True)
    assert _verdict(6.05e8, dose, 1, 8) == ("6.1E8", False)
    assert _verdict(5.5e7, dose, 1, 8) == ("0.6E8", True)  # 0.55 x 10^8 rounds up to the limit
    rounded = usp_round(to_decimal(1.5e9), 1, 8)
    assert format_number(rounded, 1, 8, display=True) == "15.0 x 10^8"
    assert dose.printed(1, 8, "cells") == ">= 0.6 x 10^8 and <= 6.0 x 10^8 cells"


def test_limits_print_as_a_coa_shows_them() -> None:
    assert AT_LEAST_80_0.printed(1, 0, "%") == ">= 80.0 %"
    assert AT_LEAST_80.printed(0, 0, "%") == ">= 80 %"
    assert Limit(max=Decimal(5), max_inclusive=False).printed(1, 0, "") == "< 5.0"


@pytest.mark.parametrize(
    ("value", "message"),
    [(True, "yes/no value"), (float("nan"), "not a finite number"), ("abc", "not a number")],
)
def test_to_decimal_refuses_non_numbers(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        to_decimal(value)


def test_formula_arithmetic_is_decimal_and_safe() -> None:
    formula = parse_formula("manual.total_viable_cells * flow.car_pct_of_viable_cd3 / 100")
    assert formula.names == ("manual.total_viable_cells", "flow.car_pct_of_viable_cd3")
    values = {
        "manual.total_viable_cells": Decimal("1.2E9"),
        "flow.car_pct_of_viable_cd3": Decimal("32.45"),
    }
    assert formula.evaluate(values) == Decimal("389400000")
    assert parse_formula("max(a.x, 2) - -1").evaluate({"a.x": Decimal("0.5")}) == Decimal(3)
    with pytest.raises(FormulaError, match="divides by zero"):
        parse_formula("a.x / (a.y - a.y)").evaluate({"a.x": Decimal(1), "a.y": Decimal(2)})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os').system('true')", "not allowed"),
        ("a.x ** 2", "not allowed"),
        ("a.x if a.y else 1", "not allowed"),
        ("abs(a.x)", "not allowed"),
        ("a.x * (", "not a valid formula"),
        ("x * 2", "'x' is not an attribute name"),
        ("a.x * 'text'", "not a number"),
    ],
)
def test_formula_refuses_anything_but_arithmetic(text: str, message: str) -> None:
    with pytest.raises(FormulaError, match=message):
        parse_formula(text)
