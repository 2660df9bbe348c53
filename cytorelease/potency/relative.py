"""Relative potency of a test preparation against a reference standard (USP <1032>/<1034>).

Parallelism first, by equivalence: each series gets its own 4PL; the ratios of their slopes and
of their spans (D - A) are estimated with a (1 - 2 alpha) confidence interval (90% for alpha 5%,
the two one-sided tests of an equivalence test), and each interval must lie inside the assay's
equivalence margins. Only then the constrained model, one 4PL with shared A, B, D and a C per
series, gives RP = C_ref / C_test with a confidence interval from its covariance. Non-parallel
curves give no RP, and the result says which ratio failed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from scipy import optimize, stats

from cytorelease.potency.curve import CurveFit, fit_curve, logistic_and_jacobian

__all__ = ["RelativePotencyResult", "relative_potency"]

Series = Sequence[tuple[float, Sequence[float]]]  # (dose, replicate responses)


class _Window(Protocol):
    min: float
    max: float


class _Margins(Protocol):
    @property
    def slope_ratio(self) -> _Window: ...
    @property
    def span_ratio(self) -> _Window: ...
    @property
    def confidence(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Ratio:
    estimate: float | None
    lower: float | None
    upper: float | None
    margin: tuple[float, float]

    @property
    def equivalent(self) -> bool:
        return (
            self.lower is not None
            and self.upper is not None
            and self.margin[0] <= self.lower
            and self.upper <= self.margin[1]
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimate": self.estimate,
            "ci": [self.lower, self.upper],
            "margin": list(self.margin),
            "equivalent": self.equivalent,
        }


@dataclass(frozen=True, slots=True)
class RelativePotencyResult:
    parallel: bool
    reason: str
    slope_ratio: Ratio
    span_ratio: Ratio
    relative_potency: float | None
    lower: float | None
    upper: float | None
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "parallel": self.parallel,
            "reason": self.reason,
            "slope_ratio": self.slope_ratio.to_dict(),
            "span_ratio": self.span_ratio.to_dict(),
            "relative_potency": self.relative_potency,
            "ci": [self.lower, self.upper],
            "confidence": self.confidence,
        }


def _flatten(series: Series) -> tuple[np.ndarray, np.ndarray]:
    doses = [dose for dose, values in series for _ in values]
    responses = [v for _, values in series for v in values]
    return np.asarray(doses, dtype=np.float64), np.asarray(responses, dtype=np.float64)


def _ratio(
    log_estimate: float, log_var: float, dof: int, confidence: float, margin: tuple[float, float]
) -> Ratio:
    if not math.isfinite(log_estimate) or not math.isfinite(log_var) or dof <= 0:
        return Ratio(None, None, None, margin)
    half = float(stats.t.ppf(0.5 + confidence / 2, dof)) * math.sqrt(max(log_var, 0.0))
    return Ratio(
        math.exp(log_estimate), math.exp(log_estimate - half), math.exp(log_estimate + half), margin
    )


def _parallelism(ref: CurveFit, test: CurveFit, margins: _Margins) -> tuple[Ratio, Ratio]:
    dof = ref.dof + test.dof
    slope_margin = (margins.slope_ratio.min, margins.slope_ratio.max)
    span_margin = (margins.span_ratio.min, margins.span_ratio.max)
    # ln(B_t / B_r): independent fits, so the variances add (delta method on ln B)
    b_r, b_t = ref.theta[1], test.theta[1]
    slope = _ratio(
        math.log(b_t / b_r),
        test.covariance[1, 1] / b_t**2 + ref.covariance[1, 1] / b_r**2,
        dof,
        margins.confidence,
        slope_margin,
    )
    span_r, span_t = ref.theta[3] - ref.theta[0], test.theta[3] - test.theta[0]
    if span_r * span_t <= 0:
        return slope, Ratio(None, None, None, span_margin)

    def span_var(fit: CurveFit, span: float) -> float:
        c = fit.covariance
        return float(c[3, 3] + c[0, 0] - 2 * c[0, 3]) / span**2

    span = _ratio(
        math.log(span_t / span_r),
        span_var(test, span_t) + span_var(ref, span_r),
        dof,
        margins.confidence,
        span_margin,
    )
    return slope, span


def relative_potency(
    reference: Series, test: Series, *, margins: _Margins, confidence: float = 0.95
) -> RelativePotencyResult:
    """Parallelism by equivalence, then RP = C_ref / C_test from the constrained 4PL."""
    x_r, y_r = _flatten(reference)
    x_t, y_t = _flatten(test)
    ref_fit, test_fit = fit_curve(x_r, y_r), fit_curve(x_t, y_t)
    if not (ref_fit.converged and test_fit.converged):
        failed = "reference" if not ref_fit.converged else "test"
        message = (ref_fit if failed == "reference" else test_fit).message
        empty = Ratio(None, None, None, (margins.slope_ratio.min, margins.slope_ratio.max))
        span_empty = Ratio(None, None, None, (margins.span_ratio.min, margins.span_ratio.max))
        return RelativePotencyResult(
            False,
            f"no RP: the {failed} curve did not converge ({message})",
            empty,
            span_empty,
            None,
            None,
            None,
            confidence,
        )
    slope, span = _parallelism(ref_fit, test_fit, margins)
    failures = [
        f"{name} {r.estimate:.3g} ({margins.confidence:.0%} CI {r.lower:.3g}-{r.upper:.3g}) is "
        f"not within the equivalence margin {r.margin[0]:g}-{r.margin[1]:g}"
        if r.estimate is not None and r.lower is not None and r.upper is not None
        else f"{name} could not be estimated (curves run in opposite directions?)"
        for name, r in (("slope ratio", slope), ("span ratio", span))
        if not r.equivalent
    ]
    if failures:
        return RelativePotencyResult(
            False,
            "no RP: curves not parallel: " + "; ".join(failures),
            slope,
            span,
            None,
            None,
            None,
            confidence,
        )
    rp, lower, upper, message = _constrained(x_r, y_r, x_t, y_t, ref_fit, test_fit, confidence)
    return RelativePotencyResult(rp is not None, message, slope, span, rp, lower, upper, confidence)


def _constrained(
    x_r: np.ndarray,
    y_r: np.ndarray,
    x_t: np.ndarray,
    y_t: np.ndarray,
    ref_fit: CurveFit,
    test_fit: CurveFit,
    confidence: float,
) -> tuple[float | None, float | None, float | None, str]:
    """Shared (A, B, D), separate ln C: theta = (A, B, ln C_ref, D, ln C_test)."""
    x = np.concatenate([x_r, x_t])
    y = np.concatenate([y_r, y_t])
    is_test = np.concatenate([np.zeros(x_r.size, bool), np.ones(x_t.size, bool)])
    positive = x > 0
    log_x = np.log(np.where(positive, x, 1.0))

    def evaluate(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ref_theta = theta[:4]
        test_theta = np.array([theta[0], theta[1], theta[4], theta[3]])
        f_r, j_r = logistic_and_jacobian(ref_theta, log_x, positive, False)
        f_t, j_t = logistic_and_jacobian(test_theta, log_x, positive, False)
        f = np.where(is_test, f_t, f_r)
        jac = np.zeros((x.size, 5))
        jac[:, [0, 1, 3]] = np.where(is_test[:, None], j_t[:, [0, 1, 3]], j_r[:, [0, 1, 3]])
        jac[:, 2] = np.where(is_test, 0.0, j_r[:, 2])
        jac[:, 4] = np.where(is_test, j_t[:, 2], 0.0)
        return f, jac

    start = np.array(
        [
            (ref_fit.theta[0] + test_fit.theta[0]) / 2,
            (ref_fit.theta[1] + test_fit.theta[1]) / 2,
            ref_fit.theta[2],
            (ref_fit.theta[3] + test_fit.theta[3]) / 2,
            test_fit.theta[2],
        ]
    )
    result = optimize.least_squares(
        lambda t: evaluate(t)[0] - y,
        start,
        jac=lambda t: evaluate(t)[1],
        method="lm",
        xtol=1e-12,
        ftol=1e-12,
        max_nfev=500,
    )
    dof = x.size - 5
    if not result.success or dof <= 0:
        return None, None, None, f"no RP: the constrained fit did not converge ({result.message})"
    s2 = float(np.sum(result.fun**2)) / dof
    try:
        cov = s2 * np.linalg.inv(result.jac.T @ result.jac)
    except np.linalg.LinAlgError:
        return None, None, None, "no RP: the constrained fit is singular"
    log_rp = float(result.x[2] - result.x[4])
    var = float(cov[2, 2] + cov[4, 4] - 2 * cov[2, 4])
    half = float(stats.t.ppf(0.5 + confidence / 2, dof)) * math.sqrt(max(var, 0.0))
    return (
        math.exp(log_rp),
        math.exp(log_rp - half),
        math.exp(log_rp + half),
        "parallel within the equivalence margins",
    )
