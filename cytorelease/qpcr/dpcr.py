"""Digital PCR by Poisson statistics: lambda, copies/µL with a 95% interval, and flags.

lambda = -ln(negatives / accepted) copies per partition; copies/µL = lambda / partition volume
(nL -> µL: x 1e-3). The interval is the Wilson score interval of the positive fraction
p = positives / accepted, carried through lambda = -ln(1 - p) (monotone, so the bounds map
directly). A sample measured in several wells is one pooled estimate
(:func:`pooled_concentration`): lambda from its wells' summed positives and partitions, over the
mean partition volume of those same wells (each well's own volume, weighted by its partitions),
i.e. the pooled copies over the pooled analysed volume, as QX Manager merges wells and dMIQE
pools partitions; with one volume for every well this is lambda / volume. A well is flagged ``saturated`` when too few partitions stayed negative for lambda to
be estimated well, and ``too_few_partitions`` below the assay's minimum accepted partitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

__all__ = [
    "DpcrFlag",
    "PoissonEstimate",
    "concentration",
    "differs_from_reported",
    "poisson_estimate",
    "poisson_lambda",
    "pooled_concentration",
]

Z95 = 1.959963984540054
MIN_NEGATIVE_FRACTION = 0.01  # fewer negatives than this and lambda is a guess


class DpcrFlag(StrEnum):
    SATURATED = "saturated"
    TOO_FEW_PARTITIONS = "too_few_partitions"
    NO_PARTITIONS = "no_partitions"


def poisson_lambda(positives: np.ndarray | float, partitions: np.ndarray | float) -> np.ndarray:
    """Mean copies per partition; inf when every partition is positive."""
    positives = np.asarray(positives, dtype=np.float64)
    partitions = np.asarray(partitions, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 0.0 - np.log1p(-positives / partitions)  # 0.0 - ...: no negative zero


def concentration(
    positives: np.ndarray | float, partitions: np.ndarray | float, volume_nl: np.ndarray | float
) -> np.ndarray:
    """Copies per µL of reaction."""
    return poisson_lambda(positives, partitions) / (np.asarray(volume_nl, np.float64) * 1e-3)


def pooled_concentration(
    positives: np.ndarray, partitions: np.ndarray, volume_nl: np.ndarray
) -> float | None:
    """Copies per µL of one sample from its wells, each with its own partition volume.

    None when a well's volume is not known: a volume borrowed from other wells (or other
    samples) would be a silent wrong number, since partition volumes differ by well (QIAcuity
    "Volume per well" varies by some percent across a plate).
    """
    positives = np.asarray(positives, np.float64)
    partitions = np.asarray(partitions, np.float64)
    volume_nl = np.asarray(volume_nl, np.float64)
    if partitions.size == 0 or not np.isfinite(volume_nl).all() or not (volume_nl > 0).all():
        return None
    total = float(partitions.sum())
    lam = float(poisson_lambda(positives.sum(), total))
    mean_volume_nl = float((partitions * volume_nl).sum() / total)
    return lam / (mean_volume_nl * 1e-3)


# Beyond this our copies/µL of a well and the instrument's are not the same computation (exports
# print 3-4 significant digits: real QX, QIAcuity and Absolute Q files agree to 0.05 %).
REPORTED_TOLERANCE = 0.01
REPORTED_PRINT_STEP = 0.006  # copies/µL: printed to 2-3 decimals at low counts


def differs_from_reported(ours: np.ndarray, reported: np.ndarray) -> np.ndarray:
    """Wells whose copies/µL from their partitions and volume is not the instrument's own."""
    ours = np.asarray(ours, np.float64)
    reported = np.asarray(reported, np.float64)
    both = np.isfinite(ours) & np.isfinite(reported)
    with np.errstate(invalid="ignore"):
        apart = (
            np.abs(ours - reported) > REPORTED_TOLERANCE * np.abs(reported) + REPORTED_PRINT_STEP
        )
    return both & apart


def _wilson(positives: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        p = positives / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


@dataclass(frozen=True, slots=True)
class PoissonEstimate:
    """Per-well (or pooled) estimates; arrays share one shape."""

    lambda_: np.ndarray
    lambda_low: np.ndarray
    lambda_high: np.ndarray
    flags: list[list[DpcrFlag]]

    def copies_per_ul(self, volume_nl: np.ndarray | float) -> tuple[np.ndarray, ...]:
        scale = 1.0 / (np.asarray(volume_nl, np.float64) * 1e-3)
        return self.lambda_ * scale, self.lambda_low * scale, self.lambda_high * scale


def poisson_estimate(
    positives: np.ndarray | float,
    partitions: np.ndarray | float,
    *,
    min_partitions: int = 0,
    z: float = Z95,
) -> PoissonEstimate:
    """Lambda with its interval and the saturation / partition-count flags."""
    pos = np.atleast_1d(np.asarray(positives, dtype=np.float64))
    n = np.atleast_1d(np.asarray(partitions, dtype=np.float64))
    low_p, high_p = _wilson(pos, n, z)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = pos / n
    # Rounding can push a Wilson bound a hair past the estimate at p = 0 or 1.
    low_p, high_p = np.fmin(low_p, p), np.fmax(high_p, p)
    with np.errstate(divide="ignore"):
        lam_low, lam_high = -np.log1p(-low_p), -np.log1p(-high_p)
    flags: list[list[DpcrFlag]] = []
    for k, total in zip(pos, n, strict=True):
        row: list[DpcrFlag] = []
        if not np.isfinite(total) or total <= 0:
            row.append(DpcrFlag.NO_PARTITIONS)
        else:
            if total - k < MIN_NEGATIVE_FRACTION * total:
                row.append(DpcrFlag.SATURATED)
            if total < min_partitions:
                row.append(DpcrFlag.TOO_FEW_PARTITIONS)
        flags.append(row)
    return PoissonEstimate(poisson_lambda(pos, n), lam_low, lam_high, flags)
