"""The Huber line of the singlet gate, without scikit-learn.

The singlet band starts from a robust line through height vs area. scikit-learn's
``HuberRegressor(epsilon=1.35, max_iter=500)`` gave it, at the price of importing
scikit-learn (about 2 s of a gating process's start-up). This is the same estimator on the
same optimiser, so the line is the same (a test compares them): Owen's joint estimate of the
line and the scale ``sigma``, minimising over ``(slope, intercept, sigma)``

    n sigma + sum_inliers r^2 / sigma + sum_outliers (2 eps |r| - sigma eps^2) + alpha slope^2

where ``r = y - slope x - intercept`` and an outlier has ``|r| > eps sigma``, with its
gradient, by L-BFGS-B from ``(0, 0, 1)``, ``sigma`` bounded below by ``10 * machine eps``,
stopping at a projected gradient of ``tol`` or ``max_iter`` iterations.
"""

from __future__ import annotations

import numpy as np

__all__ = ["huber_line"]


def _loss_and_gradient(
    w: np.ndarray, x: np.ndarray, y: np.ndarray, epsilon: float, alpha: float
) -> tuple[float, np.ndarray]:
    slope, intercept, sigma = w[:1], w[1], w[2]
    n = float(len(y))
    residual = y - x @ slope
    residual -= intercept
    outlier = np.abs(residual) > epsilon * sigma
    outliers = np.abs(residual)[outlier]
    n_outliers = float(np.count_nonzero(outlier))
    outlier_loss = 2.0 * epsilon * np.sum(outliers) - sigma * n_outliers * epsilon**2
    inliers = residual[~outlier]
    squared_loss = np.dot(inliers.T, inliers) / sigma

    grad = np.zeros(3)
    grad[:1] = 2.0 / sigma * (inliers @ -x[~outlier])
    signs = np.ones_like(outliers)
    signs[residual[outlier] < 0] = -1.0
    grad[:1] -= 2.0 * epsilon * (signs @ x[outlier])
    grad[:1] += alpha * 2.0 * slope
    grad[2] = n - n_outliers * epsilon**2 - squared_loss / sigma
    grad[1] = -2.0 * np.sum(inliers) / sigma - 2.0 * epsilon * np.sum(signs)
    loss = n * sigma + squared_loss + outlier_loss + alpha * np.dot(slope, slope)
    return float(loss), grad


def huber_line(
    x: np.ndarray,
    y: np.ndarray,
    *,
    epsilon: float = 1.35,
    alpha: float = 1e-4,
    max_iter: int = 500,
    tol: float = 1e-5,
) -> tuple[float, float]:
    """``(slope, intercept)`` of the Huber fit of ``y`` on ``x`` (both 1-D)."""
    from scipy.optimize import minimize

    xs = np.asarray(x, dtype=np.float64).reshape(-1, 1)
    ys = np.asarray(y, dtype=np.float64)
    bounds = [(-np.inf, np.inf), (-np.inf, np.inf), (10 * np.finfo(np.float64).eps, np.inf)]
    result = minimize(
        _loss_and_gradient,
        np.array([0.0, 0.0, 1.0]),
        method="L-BFGS-B",
        jac=True,
        args=(xs, ys, epsilon, alpha),
        options={"maxiter": max_iter, "gtol": tol},
        bounds=bounds,
    )
    return float(result.x[0]), float(result.x[1])
