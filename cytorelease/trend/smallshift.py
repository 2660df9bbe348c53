"""EWMA and tabular CUSUM: the charts for shifts too small for the Shewhart limits.

Both run on the lots after the baseline, with the baseline's centre as target mu0 and its
short-term sigma = MR-bar / 1.128 (Montgomery, *Introduction to Statistical Quality Control*,
chapter 9; NIST/SEMATECH e-Handbook 6.3.2.4 for the EWMA).

EWMA, lambda = 0.2, L = 3: z_0 = mu0, z_i = lambda x_i + (1 - lambda) z_(i-1), with the exact
time-varying limits mu0 +- L sigma sqrt(lambda / (2 - lambda) (1 - (1 - lambda)^(2i))).

Tabular CUSUM, k = 0.5 sigma, h = 5 sigma: C+_i = max(0, x_i - (mu0 + k) + C+_(i-1)),
C-_i = max(0, (mu0 - k) - x_i + C-_(i-1)), C+_0 = C-_0 = 0; a signal when either exceeds h.

Neither is reset after a signal: every lot whose statistic is beyond its limit is listed, so a
sustained shift shows as a run of signals from the lot where it was first seen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "CUSUM_H",
    "CUSUM_K",
    "EWMA_L",
    "EWMA_LAMBDA",
    "Signal",
    "cusum",
    "cusum_signals",
    "ewma",
    "ewma_signals",
]

EWMA_LAMBDA = 0.2
EWMA_L = 3.0
CUSUM_K = 0.5  # in sigma
CUSUM_H = 5.0  # in sigma


@dataclass(frozen=True)
class Signal:
    lot: str
    side: str  # "high" or "low"
    statistic: float
    limit: float

    def to_dict(self) -> dict[str, object]:
        return {
            "lot": self.lot,
            "side": self.side,
            "statistic": self.statistic,
            "limit": self.limit,
        }


def ewma(
    values: list[float],
    target: float,
    sigma: float,
    lam: float = EWMA_LAMBDA,
    width: float = EWMA_L,
) -> list[tuple[float, float, float]]:
    """(z_i, lower limit, upper limit) for each value, i counted from 1."""
    out, z = [], target
    keep, scale = 1.0 - lam, width * sigma
    for x, term in zip(values, _limit_terms(lam, len(values)), strict=False):
        z = lam * x + keep * z
        half = scale * term
        out.append((z, target - half, target + half))
    return out


_TERMS: dict[float, list[float]] = {}


def _limit_terms(lam: float, n: int) -> list[float]:
    """sqrt(lambda / (2 - lambda) (1 - (1 - lambda)^(2i))) for i = 1 .. n, kept for the next
    chart (the same for every chart: only sigma scales them)."""
    terms = _TERMS.setdefault(lam, [])
    keep, spread = 1.0 - lam, lam / (2.0 - lam)
    terms += [math.sqrt(spread * (1.0 - keep ** (2 * i))) for i in range(len(terms) + 1, n + 1)]
    return terms


def cusum(
    values: list[float], target: float, sigma: float, k: float = CUSUM_K
) -> list[tuple[float, float]]:
    """(C+_i, C-_i) for each value."""
    out, high, low = [], 0.0, 0.0
    above, below = target + k * sigma, target - k * sigma
    for x in values:
        # max(0.0, y), as a comparison: the same value (0.0 unless y > 0), without a call
        high = x - above + high
        high = high if high > 0.0 else 0.0
        low = below - x + low
        low = low if low > 0.0 else 0.0
        out.append((high, low))
    return out


def ewma_signals(lots: list[str], values: list[float], target: float, sigma: float) -> list[Signal]:
    found = []
    for lot, (z, lcl, ucl) in zip(lots, ewma(values, target, sigma), strict=True):
        if z > ucl:
            found.append(Signal(lot, "high", z, ucl))
        elif z < lcl:
            found.append(Signal(lot, "low", z, lcl))
    return found


def cusum_signals(
    lots: list[str], values: list[float], target: float, sigma: float
) -> list[Signal]:
    found, h = [], CUSUM_H * sigma
    for lot, (high, low) in zip(lots, cusum(values, target, sigma), strict=True):
        if high > h:
            found.append(Signal(lot, "high", high, h))
        if low > h:
            found.append(Signal(lot, "low", low, h))
    return found
