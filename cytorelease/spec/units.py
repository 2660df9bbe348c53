"""Unit comparison: spellings of the same unit are equal; anything else is a different unit.

No numeric conversion happens anywhere: a measurement in ng/mL against a limit in pg/mL is an
error, not a silent factor of 1000. Only spellings are reconciled: case (``pg/ml`` = ``pg/mL``),
micro signs (``µ``, ``μ``, ``u``), spaces, and a few written-out names (``percent`` = ``%``).
"""

from __future__ import annotations

__all__ = ["normalise_unit", "same_unit"]

_ALIASES = {
    "percent": "%",
    "pct": "%",
    "cell": "cells",
    "x": "fold",
    "fold-change": "fold",
    "none": "",
    "-": "",
}


def normalise_unit(unit: str | None) -> str:
    """A comparison key for a unit spelling."""
    text = (unit or "").strip().replace("µ", "u").replace("μ", "u").replace(" ", "").casefold()
    return _ALIASES.get(text, text)


def same_unit(a: str | None, b: str | None) -> bool:
    return normalise_unit(a) == normalise_unit(b)
