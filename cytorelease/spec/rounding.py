"""USP rounding: a result is rounded to the places of its limit before it is compared.

USP General Notices 7.20: round half away from zero to the number of decimal places of the
limit, then compare. Rounding works on the *decimal string* of a value (``repr`` of a float is
the shortest string that round-trips), never on the binary float: 79.95 must round to 80.0
although the float nearest to 79.95 is slightly below it.

Large quantities such as a dose are written in scientific form: ``exponent: 8, decimals: 1``
rounds to units of 10^7 and prints ``6.0 x 10^8``; the decimal string then reads ``6.0E8``.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

__all__ = ["format_number", "quantum", "to_decimal", "usp_round"]

# Wide enough for cell counts with many decimals; quantize raises instead of silently rounding.
_CONTEXT = Context(prec=60)


def to_decimal(value: object) -> Decimal:
    """An exact Decimal from an int, a float (via its shortest repr) or a decimal string.

    Raises ``ValueError`` for booleans, non-finite numbers and strings that are not numbers.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is a yes/no value, not a number")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number")
        result = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip().replace("_", "")
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
    else:
        raise ValueError(f"{value!r} is not a number")
    if not result.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return result


def quantum(decimals: int, exponent: int = 0) -> Decimal:
    """The unit of the last reported digit: 10^(exponent - decimals)."""
    return Decimal(1).scaleb(exponent - decimals)


def usp_round(value: Decimal, decimals: int, exponent: int = 0) -> Decimal:
    """Round half away from zero to ``decimals`` places (of the value in units of 10^exponent).

    Negative zero is reported as zero: -0.04 rounded to one place is 0.0, not -0.0.
    """
    rounded = value.quantize(quantum(decimals, exponent), rounding=ROUND_HALF_UP, context=_CONTEXT)
    return rounded.copy_abs() if rounded.is_zero() else rounded


def _mantissa(value: Decimal, decimals: int, exponent: int) -> str:
    scaled = value.scaleb(-exponent, context=_CONTEXT)
    fixed = scaled.quantize(quantum(decimals), rounding=ROUND_HALF_UP, context=_CONTEXT)
    if fixed.is_zero():
        fixed = fixed.copy_abs()
    return format(fixed, "f")


def format_number(
    value: Decimal, decimals: int, exponent: int = 0, *, display: bool = False
) -> str:
    """A rounded value as its decimal string: ``80.0``; ``6.0E8`` (or ``6.0 x 10^8`` for display)."""
    mantissa = _mantissa(value, decimals, exponent)
    if exponent == 0:
        return mantissa
    return f"{mantissa} x 10^{exponent}" if display else f"{mantissa}E{exponent}"
