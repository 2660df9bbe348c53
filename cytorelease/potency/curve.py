"""Four- and five-parameter logistic curves: bounded fits, standard errors, back-calculation.

    4PL  y = D + (A - D) / (1 + (x / C)^B)
    5PL  y = D + (A - D) / (1 + (x / C)^B)^E

``A`` is the response at zero concentration, ``D`` at infinite concentration, ``C`` the
inflection (the EC50 of a 4PL), ``B`` > 0 the slope, ``E`` the asymmetry. Both directions of
curve (sandwich ELISA: A < D; competitive: A > D) are the same model. The fit runs over
(A, B, ln C, D[, ln E]) with :func:`scipy.optimize.least_squares` inside bounds, from starting
values read off the data (asymptotes a little beyond the extreme responses, slope and inflection
from a linear fit of the logit), so it does not depend on a lucky guess. Standard errors come from
the Jacobian at the optimum (covariance = s^2 (J'J)^-1); a back-calculated concentration gets a
confidence interval by the delta method, from both the response noise and the curve's own
uncertainty.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, stats

__all__ = [
    "BackCalc",
    "CurveFit",
    "CurveModel",
    "RangeFlag",
    "Weighting",
    "fit_curve",
    "logistic",
    "logistic_and_jacobian",
]

FloatArray = NDArray[np.float64]


class CurveModel(StrEnum):
    FOUR_PL = "4PL"
    FIVE_PL = "5PL"

    @property
    def names(self) -> tuple[str, ...]:
        return ("A", "B", "C", "D") if self is CurveModel.FOUR_PL else ("A", "B", "C", "D", "E")


class Weighting(StrEnum):
    NONE = "none"
    INVERSE_Y = "1/y"
    INVERSE_Y2 = "1/y^2"

    def weights(self, y: FloatArray) -> FloatArray:
        """Weights w (residual variance proportional to 1/w), floored so a zero OD is finite."""
        if self is Weighting.NONE:
            return np.ones_like(y)
        floor = max(1e-3, 1e-3 * float(np.max(np.abs(y))))
        magnitude = np.maximum(np.abs(y), floor)
        return 1.0 / magnitude if self is Weighting.INVERSE_Y else 1.0 / magnitude**2


class RangeFlag(StrEnum):
    IN_RANGE = ""
    BELOW = "< LLOQ"
    ABOVE = "> ULOQ"


def logistic(x: ArrayLike, a: float, b: float, c: float, d: float, e: float = 1.0) -> FloatArray:
    """The 5PL (4PL when ``e == 1``) response at concentrations ``x`` >= 0."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", over="ignore"):
        u = np.where(x > 0, np.exp(b * (np.log(np.where(x > 0, x, 1.0)) - math.log(c))), 0.0)
    return d + (a - d) / (1.0 + u) ** e


def logistic_and_jacobian(
    theta: FloatArray, log_x: FloatArray, positive: NDArray[np.bool_], five: bool
) -> tuple[FloatArray, FloatArray]:
    """The 4PL (or, ``five``, 5PL) curve at ``log_x`` and its Jacobian in the fitted parameters
    ``theta = (a, b, log c, d[, log e])``; ``positive`` marks the x > 0 points (0 at the others)."""
    a, b, log_c, d = theta[:4]
    e = math.exp(theta[4]) if five else 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        u = np.where(positive, np.exp(np.clip(b * (log_x - log_c), -700, 700)), 0.0)
        s = 1.0 + u
        g = s**-e
        common = (a - d) * (-e) * s ** (-e - 1.0) * u
        jac = np.empty((log_x.size, theta.size))
        jac[:, 0] = g
        jac[:, 1] = np.where(positive, common * (log_x - log_c), 0.0)
        jac[:, 2] = common * (-b)
        jac[:, 3] = 1.0 - g
        if five:
            jac[:, 4] = (a - d) * g * (-np.log(s)) * e
    return d + (a - d) * g, jac


@dataclass(frozen=True, slots=True)
class BackCalc:
    """A response turned back into a concentration (in the well, before any dilution)."""

    concentration: float | None  # None when outside the curve's asymptotes
    lower: float | None  # confidence interval of the concentration
    upper: float | None
    side: RangeFlag  # which end it falls off when outside the asymptotes


@dataclass(frozen=True, slots=True)
class CurveFit:
    """A fitted curve. ``converged`` False means: no numbers may be read off it (``message``)."""

    model: CurveModel
    weighting: Weighting
    converged: bool
    message: str
    theta: FloatArray  # (A, B, ln C, D[, ln E])
    covariance: FloatArray  # of theta
    residual_variance: float  # s^2 of the weighted residuals
    dof: int
    r_squared: float
    n_points: int
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def params(self) -> dict[str, float]:
        values = [self.theta[0], self.theta[1], math.exp(self.theta[2]), self.theta[3]]
        if self.model is CurveModel.FIVE_PL:
            values.append(math.exp(self.theta[4]))
        return dict(zip(self.model.names, (float(v) for v in values), strict=True))

    @property
    def standard_errors(self) -> dict[str, float]:
        """SEs of A, B, C, D[, E]; C and E through the delta method from their logarithms."""
        se = np.sqrt(np.clip(np.diag(self.covariance), 0.0, None))
        params = self.params
        out = {"A": se[0], "B": se[1], "C": se[2] * params["C"], "D": se[3]}
        if self.model is CurveModel.FIVE_PL:
            out["E"] = se[4] * params["E"]
        return {k: float(v) for k, v in out.items()}

    def predict(self, x: ArrayLike) -> FloatArray:
        return logistic(x, *self.params.values())

    def inverse(self, y: float, theta: FloatArray | None = None) -> tuple[float, RangeFlag]:
        """The concentration giving response ``y``; NaN and the side when ``y`` is off the curve."""
        t = self.theta if theta is None else theta
        a, b, c, d = t[0], t[1], math.exp(t[2]), t[3]
        e = math.exp(t[4]) if self.model is CurveModel.FIVE_PL else 1.0
        # A is the response at zero concentration and D at infinite concentration: a response
        # past D is above any standard, one past A below
        if (y - d) * (a - d) <= 0:
            return math.nan, RangeFlag.ABOVE
        if abs(y - d) >= abs(a - d):
            return math.nan, RangeFlag.BELOW
        q = (a - d) / (y - d)
        inner = q ** (1.0 / e) - 1.0
        if inner <= 0:
            return math.nan, RangeFlag.BELOW
        return float(c * inner ** (1.0 / b)), RangeFlag.IN_RANGE

    def back_calculate(self, y: ArrayLike, *, level: float = 0.95) -> BackCalc:
        """Concentration from the mean of the replicate responses ``y``, with its CI (delta method)."""
        ys = np.asarray(y, dtype=np.float64).ravel()
        ybar = float(np.mean(ys))
        x, side = self.inverse(ybar)
        if not math.isfinite(x):
            return BackCalc(None, None, None, side)
        weight = float(self.weighting.weights(np.array([ybar]))[0])
        var_y = self.residual_variance / (weight * ys.size)
        grad_y, grad_theta = self._log_gradient(ybar)
        var = grad_y**2 * var_y + float(grad_theta @ self.covariance @ grad_theta)
        if not math.isfinite(var) or self.dof <= 0:
            return BackCalc(x, None, None, side)
        half = float(stats.t.ppf(0.5 + level / 2.0, self.dof)) * math.sqrt(var)
        return BackCalc(x, x * math.exp(-half), x * math.exp(half), side)

    def _log_gradient(self, y: float) -> tuple[float, FloatArray]:
        """d ln x / d y and d ln x / d theta, by central differences of :meth:`inverse`."""

        def log_inverse(yy: float, theta: FloatArray) -> float:
            value, _ = self.inverse(yy, theta)
            return math.log(value) if value > 0 else math.nan

        span = abs(self.theta[3] - self.theta[0])
        step = 1e-6 * max(span, 1e-12)
        grad_y = (log_inverse(y + step, self.theta) - log_inverse(y - step, self.theta)) / (
            2 * step
        )
        grad_theta = np.empty(self.theta.size)
        for i in range(self.theta.size):
            h = 1e-6 * max(abs(self.theta[i]), 1.0)
            up, down = self.theta.copy(), self.theta.copy()
            up[i] += h
            down[i] -= h
            grad_theta[i] = (log_inverse(y, up) - log_inverse(y, down)) / (2 * h)
        if not np.all(np.isfinite(grad_theta)):
            grad_theta = np.where(np.isfinite(grad_theta), grad_theta, 0.0)
        return grad_y, grad_theta

    def to_dict(self) -> dict[str, object]:
        return {
            "model": self.model.value,
            "weighting": self.weighting.value,
            "converged": self.converged,
            "message": self.message,
            "params": self.params if self.converged else None,
            "standard_errors": self.standard_errors if self.converged else None,
            "r_squared": self.r_squared if self.converged else None,
            "n_points": self.n_points,
        }


def _start(x: FloatArray, y: FloatArray) -> FloatArray:
    """Starting (A, B, ln C, D): asymptotes just beyond the extremes, slope from the logit."""
    levels = np.unique(x)
    means = np.array([y[x == level].mean() for level in levels])
    low, high = means[0], means[-1]
    span = high - low if high != low else 1e-3
    a0, d0 = low - 0.05 * span, high + 0.05 * span
    positive = levels > 0
    ratio = (means - a0) / (d0 - means)
    usable = positive & (ratio > 0)
    if usable.sum() >= 2:
        slope, intercept = np.polyfit(np.log(levels[usable]), np.log(ratio[usable]), 1)
    else:
        slope, intercept = 1.0, -float(np.log(np.median(levels[positive])))
    b0 = float(np.clip(slope, 0.2, 10.0)) if slope > 0 else 1.0
    log_c0 = -intercept / slope if slope > 0 else float(np.log(np.median(levels[positive])))
    return np.array([a0, b0, log_c0, d0])


def _bounds(x: FloatArray, y: FloatArray, five: bool) -> tuple[FloatArray, FloatArray]:
    positive = x[x > 0]
    span = max(float(np.ptp(y)), 1e-6)
    lo_y, hi_y = float(y.min()) - 5 * span, float(y.max()) + 5 * span
    lo_c, hi_c = math.log(positive.min()) - math.log(1e3), math.log(positive.max()) + math.log(1e3)
    lower = [lo_y, 0.05, lo_c, lo_y]
    upper = [hi_y, 20.0, hi_c, hi_y]
    if five:
        lower.append(math.log(0.05))
        upper.append(math.log(20.0))
    return np.array(lower), np.array(upper)


def fit_curve(
    x: ArrayLike,
    y: ArrayLike,
    *,
    model: CurveModel | str = CurveModel.FOUR_PL,
    weighting: Weighting | str = Weighting.NONE,
) -> CurveFit:
    """Fit a 4PL or 5PL to concentrations ``x`` (>= 0) and responses ``y``."""
    model, weighting = CurveModel(model), Weighting(weighting)
    xs = np.asarray(x, dtype=np.float64).ravel()
    ys = np.asarray(y, dtype=np.float64).ravel()
    five = model is CurveModel.FIVE_PL
    n_params = 5 if five else 4
    keep = np.isfinite(xs) & np.isfinite(ys) & (xs >= 0)
    xs, ys = xs[keep], ys[keep]
    n_levels = np.unique(xs[xs > 0]).size
    if n_levels < n_params or xs.size <= n_params:
        return _failed(
            model,
            weighting,
            xs.size,
            f"{n_levels} standard levels, a {model} needs "
            f"at least {n_params} and more points than parameters",
        )
    sqrt_w = np.sqrt(weighting.weights(ys))
    positive = xs > 0
    log_x = np.log(np.where(positive, xs, 1.0))

    def residuals(theta: FloatArray) -> FloatArray:
        return (logistic_and_jacobian(theta, log_x, positive, five)[0] - ys) * sqrt_w

    def jacobian(theta: FloatArray) -> FloatArray:
        return logistic_and_jacobian(theta, log_x, positive, five)[1] * sqrt_w[:, None]

    lower, upper = _bounds(xs, ys, five)
    theta0 = np.clip(_start(xs, ys), lower[:4] + 1e-9, upper[:4] - 1e-9)
    try:
        if five:  # 5PL: start from the 4PL optimum (E = 1)
            four = logistic_and_jacobian
            result = _solve(
                lambda t: (four(t, log_x, positive, False)[0] - ys) * sqrt_w,
                lambda t: four(t, log_x, positive, False)[1] * sqrt_w[:, None],
                theta0,
                lower[:4],
                upper[:4],
            )
            theta0 = np.append(result.x, 0.0)
        result = _solve(residuals, jacobian, theta0, lower, upper)
    except (ValueError, np.linalg.LinAlgError) as exc:
        return _failed(model, weighting, xs.size, f"the fit failed: {exc}")
    return _summarise(model, weighting, result, xs, ys, sqrt_w, lower, upper)


def _solve(
    residuals: Callable[[FloatArray], FloatArray],
    jacobian: Callable[[FloatArray], FloatArray],
    theta0: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
) -> optimize.OptimizeResult:
    return optimize.least_squares(
        residuals,
        theta0,
        jac=jacobian,
        bounds=(lower, upper),
        method="trf",
        x_scale="jac",
        ftol=1e-14,
        xtol=1e-14,
        gtol=1e-14,
        max_nfev=300,
    )


def _summarise(
    model: CurveModel,
    weighting: Weighting,
    result: optimize.OptimizeResult,
    xs: FloatArray,
    ys: FloatArray,
    sqrt_w: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
) -> CurveFit:
    n, p = xs.size, result.x.size
    names = ("A", "B", "ln C", "D", "ln E")
    if not result.success or not np.all(np.isfinite(result.x)):
        return _failed(model, weighting, n, f"the optimiser did not converge ({result.message})")
    span = upper - lower
    at_bound = [
        names[i]
        for i in range(p)
        if min(result.x[i] - lower[i], upper[i] - result.x[i]) < 1e-6 * span[i]
    ]
    if at_bound:
        return _failed(
            model,
            weighting,
            n,
            f"the curve did not converge: {', '.join(at_bound)} ran to its bound "
            "(no sigmoid in the standards?)",
        )
    ssr = float(np.sum(result.fun**2))
    dof = n - p
    s2 = ssr / dof if dof > 0 else math.nan
    jtj = result.jac.T @ result.jac
    try:
        covariance = s2 * np.linalg.inv(jtj)
    except np.linalg.LinAlgError:
        return _failed(model, weighting, n, "the curve did not converge: singular Jacobian")
    indeterminate = _indeterminate(result.x, covariance)
    if indeterminate:
        return _failed(model, weighting, n, f"the curve did not converge: {indeterminate}")
    fitted = ys - result.fun / sqrt_w
    sst = float(np.sum((ys - ys.mean()) ** 2))
    r_squared = 1.0 - float(np.sum((ys - fitted) ** 2)) / sst if sst > 0 else math.nan
    return CurveFit(
        model, weighting, True, "converged", result.x.copy(), covariance, s2, dof, r_squared, n
    )


# An optimiser can stop "successfully" on standards that hold no sigmoid (a flat plate): the
# optimum then has no dose-response worth the name, or an inflection it cannot place.
_MAX_SE_LOG_C = 1.0  # the EC50 known to within a factor e, at least


def _indeterminate(theta: FloatArray, covariance: FloatArray) -> str:
    span = theta[3] - theta[0]
    span_se = math.sqrt(max(covariance[0, 0] + covariance[3, 3] - 2 * covariance[0, 3], 0.0))
    if not math.isfinite(span_se) or abs(span) < 2 * span_se:
        return "no dose-response (the span D - A is within twice its standard error)"
    se_log_c = math.sqrt(max(covariance[2, 2], 0.0))
    if not math.isfinite(se_log_c) or se_log_c > _MAX_SE_LOG_C:
        return "the inflection C is not determined by the standards"
    return ""


def _failed(model: CurveModel, weighting: Weighting, n: int, message: str) -> CurveFit:
    size = 5 if model is CurveModel.FIVE_PL else 4
    nan = np.full(size, np.nan)
    return CurveFit(
        model,
        weighting,
        False,
        message,
        nan,
        np.full((size, size), np.nan),
        math.nan,
        0,
        math.nan,
        n,
    )
