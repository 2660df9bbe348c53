"""Ppk, the process performance index, against the spec limits, with a 95 % confidence interval.

Ppk = min(USL - mean, mean - LSL) / (3 s), s the overall sample standard deviation (n - 1) of
every lot charted (baseline and after): performance, not the short-term capability Cpk that
would use MR-bar / 1.128. With one limit only, it is that side's index (Ppu or Ppl).

The interval is Bissell's normal approximation (A. F. Bissell, "How reliable is your capability
index?", Applied Statistics 39(3), 1990, 331-340; also in Montgomery, *Introduction to
Statistical Quality Control*, section 8.3):

    Ppk +- z_(0.975) sqrt(1 / (9 n) + Ppk^2 / (2 (n - 1)))

It assumes independent, normally distributed values; for small n it is only approximate.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

__all__ = ["Performance", "ppk", "ppk_from_summary"]


@dataclass(frozen=True)
class Performance:
    ppk: float
    ci: tuple[float, float]
    n: int
    mean: float
    sd: float


def ppk_from_summary(
    mean: float, sd: float, n: int, lsl: float | None, usl: float | None, level: float = 0.95
) -> Performance:
    """Ppk and its Bissell interval from a sample's mean, standard deviation and size."""
    if lsl is None and usl is None:
        raise ValueError("Ppk needs at least one spec limit")
    if n < 2 or not sd > 0:
        raise ValueError("Ppk needs at least two values that are not all equal")
    sides = [d for d in ((usl - mean) if usl is not None else None,
                         (mean - lsl) if lsl is not None else None) if d is not None]  # fmt: skip
    index = min(sides) / (3.0 * sd)
    z = statistics.NormalDist().inv_cdf(0.5 + level / 2.0)
    half = z * math.sqrt(1.0 / (9.0 * n) + index**2 / (2.0 * (n - 1)))
    return Performance(index, (index - half, index + half), n, mean, sd)


def ppk(
    values: list[float] | tuple[float, ...], lsl: float | None, usl: float | None
) -> Performance | None:
    """Ppk of ``values``, or None when there is no spec limit or no spread to judge."""
    if (lsl is None and usl is None) or len(values) < 2:
        return None
    sd = statistics.stdev(values)
    if sd == 0.0:
        return None
    return ppk_from_summary(statistics.fmean(values), sd, len(values), lsl, usl)
