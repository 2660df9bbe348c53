"""Censored results: ``"< 0.50"`` (endotoxin below the LAL sensitivity), ``"> 2000"`` (above ULOQ).

A censored value says on which side of a bound the true value lies. It is judged against a
limit only when *every* value it allows gives the same verdict after USP rounding: ``< 0.50``
passes ``<= 5.0`` and fails ``>= 1.0``; ``< 60`` against ``>= 50`` cannot be decided (the lab
must retest within range), so the criterion gets no verdict from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from cytorelease.spec.model import Limit
from cytorelease.spec.rounding import format_number, to_decimal, usp_round

__all__ = ["Censored", "parse_censored"]

_PATTERN = re.compile(r"^\s*(<=|>=|<|>|≤|≥)\s*([-+]?[0-9][0-9_.eE+-]*)\s*$")
_ASCII = {"≤": "<=", "≥": ">="}


@dataclass(frozen=True, slots=True)
class Censored:
    operator: str  # "<", "<=", ">", ">="
    bound: Decimal

    @property
    def below(self) -> bool:
        return self.operator.startswith("<")

    def reported(self, decimals: int, exponent: int) -> str:
        rounded = usp_round(self.bound, decimals, exponent)
        return f"{self.operator} {format_number(rounded, decimals, exponent)}"

    def judge(self, limit: Limit, decimals: int, exponent: int) -> bool | None:
        """True: every allowed value passes; False: every one fails; None: undecidable.

        Every value below ``x`` rounds to at most ``round(x)`` (and values reach down without
        end), so ``< x`` passes only a limit without a minimum, and fails only when ``round(x)``
        already fails the minimum. ``> x`` is the mirror image.
        """
        edge = usp_round(self.bound, decimals, exponent)
        if self.below:
            if limit.min is None:
                return True if limit.contains(edge) else None
            return (
                None
                if Limit(min=limit.min, min_inclusive=limit.min_inclusive).contains(edge)
                else False
            )
        if limit.max is None:
            return True if limit.contains(edge) else None
        return (
            None
            if Limit(max=limit.max, max_inclusive=limit.max_inclusive).contains(edge)
            else False
        )


def parse_censored(value: object) -> Censored | None:
    """A :class:`Censored` for strings such as ``"< 0.50"``; None for anything else."""
    if not isinstance(value, str):
        return None
    match = _PATTERN.match(value)
    if match is None:
        return None
    try:
        bound = to_decimal(match[2])
    except ValueError:
        return None
    return Censored(_ASCII.get(match[1], match[1]), bound)
