"""Standard curves: Cq = slope x log10(copies) + intercept, by ordinary least squares.

Efficiency E = 10^(-1/slope) - 1 (MIQE; slope -3.32 is 100%). Unknowns are read back by
inverse prediction: log10(copies) = (mean Cq - intercept) / slope, with the classical
calibration interval (Draper & Smith): the standard error of x0 for the mean of m replicate
Cqs is s/|slope| x sqrt(1/m + 1/n + (ybar0 - ybar)^2 / (slope^2 Sxx)), t with n-2 degrees of
freedom. :meth:`StandardCurve.calibration_interval` gives the exact inverse-regression
(Fieller) interval instead, which stays correct far from the standards' centre and says when the
fit cannot bound x0 at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cytorelease.errors import AssayError

__all__ = ["CalibrationInterval", "InversePrediction", "StandardCurve", "fit_standard_curve"]


@dataclass(frozen=True, slots=True)
class InversePrediction:
    copies: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class CalibrationInterval:
    """Copies for a mean Cq and its interval; ``bounded`` False when the fit cannot bound it."""

    copies: float
    low: float
    high: float
    bounded: bool


@dataclass(frozen=True, slots=True)
class StandardCurve:
    target: str
    slope: float
    intercept: float
    r_squared: float
    n: int
    levels: int
    residual_sd: float
    x_mean: float
    sxx: float
    y_mean: float
    cq_range: tuple[float, float]  # the Cq span of the standards (LOQ window)
    copies_range: tuple[float, float]
    points: tuple[tuple[float, float], ...] = ()  # (log10 copies, Cq) of every standard well

    @property
    def efficiency_pct(self) -> float:
        return (10.0 ** (-1.0 / self.slope) - 1.0) * 100.0

    def copies(self, cq: np.ndarray | float) -> np.ndarray:
        """Point estimates of copies per reaction for Cq values (NaN stays NaN)."""
        return 10.0 ** ((np.asarray(cq, np.float64) - self.intercept) / self.slope)

    def inverse_predict(self, cqs: np.ndarray, confidence: float = 0.95) -> InversePrediction:
        """Copies for the mean of replicate Cqs, with its interval."""
        from scipy.stats import t as student_t

        cqs = np.asarray(cqs, np.float64)
        cqs = cqs[np.isfinite(cqs)]
        if cqs.size == 0:
            return InversePrediction(math.nan, math.nan, math.nan)
        y0 = float(cqs.mean())
        x0 = (y0 - self.intercept) / self.slope
        se = (
            self.residual_sd
            / abs(self.slope)
            * math.sqrt(
                1.0 / cqs.size + 1.0 / self.n + (y0 - self.y_mean) ** 2 / (self.slope**2 * self.sxx)
            )
        )
        t = float(student_t.ppf(0.5 + confidence / 2, max(self.n - 2, 1)))
        return InversePrediction(10.0**x0, 10.0 ** (x0 - t * se), 10.0 ** (x0 + t * se))

    def calibration_interval(
        self, cqs: np.ndarray, confidence: float = 0.95
    ) -> CalibrationInterval:
        """Copies for the mean of ``m`` replicate Cqs, with the Fieller calibration interval.

        The interval holds every log10(copies) x whose prediction interval for a mean of m new
        Cqs contains the observed mean y0 (Draper & Smith, "Applied Regression Analysis",
        3rd ed., section 3.2; Fieller's theorem): with g = t^2 s^2 / (b^2 Sxx), x^ = (y0 - a)/b,
        x^ - xbar = d, its ends are xbar + (d +/- t s/|b| sqrt(d^2/Sxx + (1 - g)(1/m + 1/n)))
        / (1 - g), t with n - 2 degrees of freedom. When g >= 1 the slope is not significantly
        different from zero at this confidence and the set is unbounded: ``bounded`` is False
        and the ends are NaN.
        """
        from scipy.stats import t as student_t

        cqs = np.asarray(cqs, np.float64)
        cqs = cqs[np.isfinite(cqs)]
        if cqs.size == 0:
            return CalibrationInterval(math.nan, math.nan, math.nan, bounded=False)
        y0 = float(cqs.mean())
        x_hat = (y0 - self.intercept) / self.slope
        t = float(student_t.ppf(0.5 + confidence / 2, max(self.n - 2, 1)))
        g = (t * self.residual_sd) ** 2 / (self.slope**2 * self.sxx)
        if g >= 1.0:
            return CalibrationInterval(10.0**x_hat, math.nan, math.nan, bounded=False)
        d = x_hat - self.x_mean
        half = (
            t
            * self.residual_sd
            / abs(self.slope)
            * math.sqrt(d**2 / self.sxx + (1.0 - g) * (1.0 / cqs.size + 1.0 / self.n))
        )
        low = self.x_mean + (d - half) / (1.0 - g)
        high = self.x_mean + (d + half) / (1.0 - g)
        return CalibrationInterval(10.0**x_hat, 10.0**low, 10.0**high, bounded=True)

    def to_dict(self) -> dict[str, object]:
        return {
            "target": self.target,
            "slope": self.slope,
            "intercept": self.intercept,
            "efficiency_pct": self.efficiency_pct,
            "r_squared": self.r_squared,
            "n": self.n,
            "levels": self.levels,
            "cq_range": list(self.cq_range),
            "copies_range": list(self.copies_range),
        }


def fit_standard_curve(target: str, copies: np.ndarray, cq: np.ndarray) -> StandardCurve:
    """OLS fit of Cq on log10(copies); undetermined standards are left out of the fit."""
    import statsmodels.api as sm

    copies = np.asarray(copies, np.float64)
    cq = np.asarray(cq, np.float64)
    keep = np.isfinite(cq) & np.isfinite(copies) & (copies > 0)
    x, y = np.log10(copies[keep]), cq[keep]
    levels = int(np.unique(x).size)
    if levels < 2 or x.size < 3:
        raise AssayError(
            f"target {target}: {x.size} amplified standard wells over {levels} level(s); a "
            "standard curve needs at least 3 wells over 2 levels"
        )
    fit = sm.OLS(y, sm.add_constant(x)).fit()
    intercept, slope = (float(v) for v in fit.params)
    if slope >= 0:
        raise AssayError(
            f"target {target}: standard curve slope is {slope:.3f} (Cq must fall as copies rise;"
            " are the standards' copies right?)"
        )
    return StandardCurve(
        target=target,
        slope=slope,
        intercept=intercept,
        r_squared=float(fit.rsquared),
        n=int(x.size),
        levels=levels,
        residual_sd=float(math.sqrt(fit.scale)),
        x_mean=float(x.mean()),
        sxx=float(((x - x.mean()) ** 2).sum()),
        y_mean=float(y.mean()),
        cq_range=(float(y.min()), float(y.max())),
        copies_range=(float(10 ** x.min()), float(10 ** x.max())),
        points=tuple((float(a), float(b)) for a, b in zip(x, y, strict=True)),
    )
