"""What a typed manual value is, and when two typed values are the same result.

Numeric attributes take a number or a censored bound (``< 0.50``); qualitative ones take a word
or phrase. Two entries match when they are the same number (``0.5`` and ``0.50`` agree: the
spec rounds both the same) or the same words ignoring case and spacing, in the same unit.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

from cytorelease.errors import InputError

__all__ = ["MAX_VALUE_LENGTH", "canonical", "measurement_value", "parse_value", "values_match"]

MAX_VALUE_LENGTH = 200
_CENSORED = re.compile(r"^(<=|>=|<|>)\s*(.+)$")


def _number(text: str) -> Decimal | None:
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def parse_value(attribute: str, text: str, unit: str | None) -> tuple[str, str | None]:
    """(the value as recorded, its unit): whitespace collapsed, checked against the attribute.

    Raises ``InputError`` for an unknown or non-manual attribute, a numeric attribute given no
    number, a unit the attribute does not use, or a value that is empty, too long or not
    printable.
    """
    from cytorelease.attributes import ATTRIBUTES

    known = ATTRIBUTES.get(attribute)
    if known is None or not attribute.startswith("manual."):
        names = ", ".join(a for a in ATTRIBUTES if a.startswith("manual."))
        raise InputError(f"'{attribute}' is not a manual attribute (one of: {names})")
    value = " ".join(text.split())
    if not value or len(value) > MAX_VALUE_LENGTH or not value.isprintable():
        raise InputError(f"{attribute}: a value is 1 to {MAX_VALUE_LENGTH} printable characters")
    if unit is not None:
        unit = " ".join(unit.split()) or None
    if known.kind == "numeric":
        censored = _CENSORED.match(value)
        number = _number(censored[2] if censored else value)
        if number is None:
            raise InputError(f"{attribute}: {value!r} is not a number (nor a bound like '< 0.5')")
        if not math.isfinite(float(number)):
            # judged as a float: a number past its range would be infinite, not this value
            raise InputError(f"{attribute}: {value!r} is out of range")
        value = f"{censored[1]} {censored[2]}" if censored else value
        if unit is None:
            unit = known.unit or None
        if (unit or "") != known.unit:
            raise InputError(
                f"{attribute} is recorded in '{known.unit or '(no unit)'}', not '{unit}'"
            )
    elif unit is not None and unit != (known.unit or None):
        raise InputError(f"{attribute} has no unit; '{unit}' was given")
    return value, unit


def canonical(value: str) -> str:
    """The form two entries are compared in."""
    censored = _CENSORED.match(value)
    if censored:
        number = _number(censored[2])
        return f"{censored[1]}{number.normalize()}" if number is not None else value.casefold()
    number = _number(value)
    if number is not None:
        return str(number.normalize())
    return " ".join(value.casefold().split())


def values_match(first: str, first_unit: str | None, second: str, second_unit: str | None) -> bool:
    return (first_unit or None) == (second_unit or None) and canonical(first) == canonical(second)


def measurement_value(attribute: str, value: str) -> float | str:
    """The value the spec judges: a number as a float (as a lot.yaml number is), a bound or a
    qualitative result as its text."""
    from cytorelease.attributes import ATTRIBUTES

    known = ATTRIBUTES.get(attribute)
    if known is not None and known.kind == "numeric":
        number = _number(value)
        if number is not None:
            return float(number)
    return value
