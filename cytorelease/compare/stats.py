"""The statistics of a comparison, on plain arrays: paired (Bland-Altman, Deming, paired TOST) and
unpaired (Welch TOST, two-sample Kolmogorov-Smirnov).

Differences are always B - A. Equivalence is two one-sided t tests (Schuirmann 1987) against
the symmetric margin (-m, +m): H0 is |mean difference| >= m, rejected when both one-sided
p-values are below alpha, so ``tost_p`` is the larger of the two. A statistic that cannot be
computed (too few values, no spread) is None with the reason, never a number that looks fine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

__all__ = [
    "PairedStats",
    "UnpairedStats",
    "deming",
    "deming_jackknife_ci",
    "paired_stats",
    "unpaired_stats",
]

Z_LOA = 1.96  # Bland-Altman limits: bias +- 1.96 SD of the differences


def _f(value: float) -> float:
    return float(value)


def deming(a: np.ndarray, b: np.ndarray, ratio: float = 1.0) -> tuple[float, float] | None:
    """Deming regression of B on A: (slope, intercept), ``ratio`` = error variance of B / of A.

    Closed form (Deming 1943; Linnet 1993): with s_xx, s_yy, s_xy the centred sums of squares,
    slope = (s_yy - r s_xx + sqrt((s_yy - r s_xx)^2 + 4 r s_xy^2)) / (2 s_xy). None when the
    sets do not co-vary (s_xy = 0: no line is better than another).
    """
    x, y = a - a.mean(), b - b.mean()
    sxx, syy, sxy = float(x @ x), float(y @ y), float(x @ y)
    if sxy == 0 or len(a) < 2:
        return None
    u = syy - ratio * sxx
    slope = (u + math.sqrt(u * u + 4 * ratio * sxy * sxy)) / (2 * sxy)
    return slope, float(b.mean() - slope * a.mean())


def deming_jackknife_ci(
    a: np.ndarray, b: np.ndarray, ratio: float = 1.0
) -> tuple[list[float], list[float]] | None:
    """95 % intervals of the Deming slope and intercept by the jackknife (Linnet 1990): each
    estimate +- t(0.975, n-2) x its leave-one-out standard error. None below 3 pairs or when a
    leave-one-out set does not co-vary."""
    n = len(a)
    line = deming(a, b, ratio)
    if n < 3 or line is None:
        return None
    fits = [deming(np.delete(a, i), np.delete(b, i), ratio) for i in range(n)]
    if any(f is None for f in fits):
        return None
    q = _f(stats.t.ppf(0.975, n - 2))
    intervals = []
    for k, estimate in enumerate(line):
        leave_out = np.array([f[k] for f in fits if f is not None])
        se = math.sqrt((n - 1) / n * float(((leave_out - leave_out.mean()) ** 2).sum()))
        intervals.append([estimate - q * se, estimate + q * se])
    return intervals[0], intervals[1]


def _tost(diff: float, se: float, df: float, margin: float) -> tuple[float, float, float]:
    """(p of H0 diff <= -m, p of H0 diff >= +m, the larger)."""
    p_low = _f(stats.t.sf((diff + margin) / se, df))
    p_high = _f(stats.t.cdf((diff - margin) / se, df))
    return p_low, p_high, max(p_low, p_high)


@dataclass
class _Common:
    n: int
    bias: float | None = None
    bias_ci: list[float] | None = None
    tost_p: float | None = None
    tost_p_lower: float | None = None
    tost_p_upper: float | None = None
    tost_ci: list[float] | None = None  # the (1 - 2 alpha) interval TOST is the same as
    reasons: list[str] = field(default_factory=list)

    def _test(self, se: float, df: float, margin: float | None, alpha: float) -> None:
        assert self.bias is not None
        q = _f(stats.t.ppf(0.975, df))
        self.bias_ci = [self.bias - q * se, self.bias + q * se]
        q2 = _f(stats.t.ppf(1 - alpha, df))
        self.tost_ci = [self.bias - q2 * se, self.bias + q2 * se]
        if margin is not None:
            self.tost_p_lower, self.tost_p_upper, self.tost_p = _tost(self.bias, se, df, margin)


@dataclass
class PairedStats(_Common):
    sd: float | None = None
    loa_low: float | None = None
    loa_high: float | None = None
    loa_low_ci: list[float] | None = None
    loa_high_ci: list[float] | None = None
    deming_slope: float | None = None
    deming_intercept: float | None = None
    deming_slope_ci: list[float] | None = None
    deming_intercept_ci: list[float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "reasons"}


@dataclass
class UnpairedStats(_Common):
    n_a: int = 0
    n_b: int = 0
    mean_a: float | None = None
    mean_b: float | None = None
    sd_a: float | None = None
    sd_b: float | None = None
    df: float | None = None
    ks_statistic: float | None = None
    ks_p: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "reasons"}


def paired_stats(
    a: np.ndarray, b: np.ndarray, *, margin: float | None, alpha: float, ratio: float = 1.0
) -> PairedStats:
    """Bias, its CI, limits of agreement (with Bland & Altman's 1986 approximate CIs, SE =
    sqrt(3 s^2 / n)), Deming slope and intercept, and the paired TOST, of the pairs (a_i, b_i)."""
    n = len(a)
    out = PairedStats(n=n)
    if n == 0:
        out.reasons.append("no lot is in both sets")
        return out
    d = b - a
    out.bias = _f(d.mean())
    if n < 2:
        out.reasons.append("one pair: no spread to estimate")
        return out
    sd = _f(d.std(ddof=1))
    out.sd = sd
    out.loa_low, out.loa_high = out.bias - Z_LOA * sd, out.bias + Z_LOA * sd
    line = deming(a, b, ratio)
    if line is not None:
        out.deming_slope, out.deming_intercept = line
        intervals = deming_jackknife_ci(a, b, ratio)
        if intervals is not None:
            out.deming_slope_ci, out.deming_intercept_ci = intervals
    else:
        out.reasons.append("Deming: A and B do not co-vary")
    if sd == 0:
        out.reasons.append("the differences are all equal: no spread to test against")
        return out
    se = sd / math.sqrt(n)
    out._test(se, n - 1, margin, alpha)
    q = _f(stats.t.ppf(0.975, n - 1))
    se_loa = math.sqrt(3 * sd * sd / n)
    out.loa_low_ci = [out.loa_low - q * se_loa, out.loa_low + q * se_loa]
    out.loa_high_ci = [out.loa_high - q * se_loa, out.loa_high + q * se_loa]
    return out


def unpaired_stats(
    a: np.ndarray, b: np.ndarray, *, margin: float | None, alpha: float
) -> UnpairedStats:
    """Difference of means B - A with its Welch CI and TOST, and the two-sample KS test."""
    out = UnpairedStats(n=len(a) + len(b), n_a=len(a), n_b=len(b))
    if len(a):
        out.mean_a = _f(a.mean())
    if len(b):
        out.mean_b = _f(b.mean())
    if len(a) and len(b):
        ks = stats.ks_2samp(a, b)
        out.ks_statistic, out.ks_p = _f(ks.statistic), _f(ks.pvalue)
        assert out.mean_a is not None and out.mean_b is not None
        out.bias = out.mean_b - out.mean_a
    if len(a) < 2 or len(b) < 2:
        out.reasons.append("fewer than 2 values in a set: no spread to estimate")
        return out
    va, vb = _f(a.var(ddof=1)), _f(b.var(ddof=1))
    out.sd_a, out.sd_b = math.sqrt(va), math.sqrt(vb)
    if va == 0 and vb == 0:
        out.reasons.append("both sets hold one repeated value: no spread to test against")
        return out
    wa, wb = va / len(a), vb / len(b)
    se = math.sqrt(wa + wb)
    # Welch-Satterthwaite degrees of freedom
    out.df = (wa + wb) ** 2 / (wa * wa / (len(a) - 1) + wb * wb / (len(b) - 1))
    out._test(se, out.df, margin, alpha)
    return out
