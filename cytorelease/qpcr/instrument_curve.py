"""The standard curve an instrument's own software fitted, as its export states it.

QuantStudio writes the curve of each target on every row of that target (``Slope``,
``Y-Intercept``, ``R(superscript 2)`` or ``R2``, ``Efficiency`` in percent). cytorelease fits its
own curve from the standards; the instrument's is kept beside it so a reviewer sees whether the
two agree (a difference means the export does not hold the standards the instrument used, or
that the analyses differ).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cytorelease.errors import InputError

__all__ = ["InstrumentCurve", "collect_instrument_curves"]


@dataclass(frozen=True, slots=True)
class InstrumentCurve:
    target: str
    slope: float
    intercept: float
    r_squared: float
    efficiency_pct: float

    def to_dict(self) -> dict[str, object]:
        def num(value: float) -> float | None:
            return value if math.isfinite(value) else None

        return {
            "target": self.target,
            "slope": num(self.slope),
            "intercept": num(self.intercept),
            "r_squared": num(self.r_squared),
            "efficiency_pct": num(self.efficiency_pct),
        }


def collect_instrument_curves(
    curves: Iterable[InstrumentCurve], path: Path
) -> dict[str, InstrumentCurve]:
    """One curve per target from the per-row copies; rows without a slope state none.

    Every row of a target must state the same curve: two different curves for one target
    cannot be told apart afterwards, so the export is refused rather than one picked.
    """
    found: dict[str, InstrumentCurve] = {}
    for curve in curves:
        if not math.isfinite(curve.slope):
            continue
        seen = found.setdefault(curve.target, curve)
        if seen.to_dict() != curve.to_dict():  # NaN-safe: missing values compare as None
            raise InputError(
                f"the export states two different standard curves for target {curve.target!r} "
                f"(slope {seen.slope:g} and {curve.slope:g}); which one the instrument used "
                "cannot be told",
                path=path,
            )
    return found
