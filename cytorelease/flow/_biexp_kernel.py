"""numba kernels of the logicle and hyperlog scales (GatingML 2.0; Moore & Parks 2012, Bagwell 2005).

Both scales are the root y of ``F(y) = x`` for a monotone biexponential ``F``:

- logicle: ``B(y) = a e^(b y) - c e^(-d y) - f``
- hyperlog: ``EH(y) = a e^(b y) + c y - f``

with ``y = x1`` at ``x = 0`` and the negative branch mirrored about ``x1``. Near ``x1`` ``F`` is
evaluated from its Taylor series (cancellation would cost digits otherwise). The parameters
(``a, b, c, d, f, x1, ...``) are derived once per transform in Python and passed as one float64
vector; the per-value root finding runs in parallel over the values.

Root finding: a starting point from a table of ``y`` against ``u = asinh(x / s)`` (``F`` is close
to a scaled sinh, so ``y(u)`` is smooth and nearly linear), then Halley steps until the update
is below ``3 b eps``, usually one or two. Values beyond the table start from the logarithm.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np
from numba import njit, prange

from cytorelease.errors import TemplateError

__all__ = [
    "hyperlog_inverse_many",
    "hyperlog_parameters",
    "hyperlog_scale_many",
    "logicle_inverse_many",
    "logicle_parameters",
    "logicle_scale_many",
    "run",
]

TAYLOR_LENGTH = 16
TABLE_SIZE = 16384
# layout of the parameter vector
_A, _B, _C, _D, _F, _X1, _XTAYLOR, _S, _DU, _KIND, _INV_S, _INV_DU = range(12)
_TAYLOR = 12
_TABLE = _TAYLOR + TAYLOR_LENGTH
_SLOPES = _TABLE + TABLE_SIZE
_LOGICLE, _HYPERLOG = 0.0, 1.0


def _solve_logicle_d(b: float, w: float) -> float:
    """d > 0 with 2 (ln d - ln b) + w (b + d) = 0 (the logicle's linearity condition)."""
    if w == 0:
        return b
    lo, hi = 0.0, b
    for _ in range(200):  # bisection on a monotone function: plain and exact enough
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        value = 2.0 * math.log(mid) + w * mid - 2.0 * math.log(b) + w * b
        if value < 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@njit(cache=True, inline="always")
def _series(p: np.ndarray, scale: float) -> float:
    x = scale - p[_X1]
    total = p[_TAYLOR + TAYLOR_LENGTH - 1] * x
    for i in range(TAYLOR_LENGTH - 2, 0, -1):
        total = (total + p[_TAYLOR + i]) * x
    return (total + p[_TAYLOR]) * x


@njit(cache=True, inline="always")
def _forward(p: np.ndarray, y: float) -> float:
    """F(y) for y >= x1 (the caller mirrors negative values)."""
    if y < p[_XTAYLOR]:
        return _series(p, y)
    if p[_KIND] == _LOGICLE:
        return (p[_A] * math.exp(p[_B] * y) + p[_F]) - p[_C] * math.exp(-p[_D] * y)
    return (p[_A] * math.exp(p[_B] * y) + p[_C] * y) - p[_F]


@njit(cache=True)
def _halley(p: np.ndarray, value: float, y: float) -> float:
    """Solve F(y) = value (value > 0) by Halley's method from y, to full double precision."""
    b = p[_B]
    d = p[_D]
    tolerance = 3.0 * b * 2.220446049250313e-16
    logicle = p[_KIND] == _LOGICLE
    for _ in range(60):
        ae2by = p[_A] * math.exp(b * y)
        if logicle:
            ce2mdy = p[_C] * math.exp(-d * y)
            if y < p[_XTAYLOR]:
                residual = _series(p, y) - value
            else:
                residual = (ae2by + p[_F]) - (ce2mdy + value)
            slope = b * ae2by + d * ce2mdy
            curvature = b * b * ae2by - d * d * ce2mdy
        else:
            if y < p[_XTAYLOR]:
                residual = _series(p, y) - value
            else:
                residual = (ae2by + p[_C] * y) - (p[_F] + value)
            slope = b * ae2by + p[_C]
            curvature = b * b * ae2by
        delta = residual / (slope * (1.0 - residual * curvature / (2.0 * slope * slope)))
        y -= delta
        if abs(delta) < tolerance:
            break
    return y


@njit(cache=True)
def _scale_far(p: np.ndarray, value: float) -> float:
    """y for |x| beyond the table (and NaN / inf): Halley from the logarithm."""
    if value != value or value == math.inf:
        return value
    return _halley(p, value, max(p[_X1], math.log(value / p[_A]) / p[_B]))


@njit(cache=True)
def _scale_one(p: np.ndarray, value: float) -> float:
    # kept free of data-dependent branches in the common path: the sign of flow data is
    # random, and a mispredicted branch costs more than the arithmetic it would skip
    z = abs(value) * p[_INV_S]
    # asinh(z) by its log form: glibc's asinh is five times slower, and the absolute error
    # this form has for tiny z is far below what matters on the 0..1 scale
    pos = math.log(z + math.sqrt(z * z + 1.0)) * p[_INV_DU]
    if pos < TABLE_SIZE - 1:
        # cubic Hermite interpolation of y(u) from exact values and slopes at the nodes
        i = int(pos)
        t = pos - i
        t2 = t * t
        t3 = t2 * t
        h = p[_DU]
        y = (
            (2.0 * t3 - 3.0 * t2 + 1.0) * p[_TABLE + i]
            + (t3 - 2.0 * t2 + t) * h * p[_SLOPES + i]
            + (3.0 * t2 - 2.0 * t3) * p[_TABLE + i + 1]
            + (t3 - t2) * h * p[_SLOPES + i + 1]
        )
    else:
        y = _scale_far(p, abs(value))
    # negative values mirror about x1
    return p[_X1] + math.copysign(y - p[_X1], value)


@njit(cache=True, parallel=True)
def _solve_many(p: np.ndarray, values: np.ndarray, guesses: np.ndarray, out: np.ndarray) -> None:
    for i in prange(values.shape[0]):
        out[i] = _halley(p, values[i], guesses[i]) if values[i] > 0 else p[_X1]


@njit(cache=True)
def _inverse_one(p: np.ndarray, scale: float) -> float:
    negative = scale < p[_X1]
    if negative:
        scale = 2.0 * p[_X1] - scale
    value = _forward(p, scale)
    return -value if negative else value


@njit(cache=True, parallel=True)
def _scale_many(p: np.ndarray, values: np.ndarray, out: np.ndarray) -> None:
    for i in prange(values.shape[0]):
        out[i] = _scale_one(p, values[i])


@njit(cache=True, parallel=True)
def _inverse_many(p: np.ndarray, values: np.ndarray, out: np.ndarray) -> None:
    for i in prange(values.shape[0]):
        out[i] = _inverse_one(p, values[i])


logicle_scale_many = _scale_many
logicle_inverse_many = _inverse_many
hyperlog_scale_many = _scale_many
hyperlog_inverse_many = _inverse_many


def _finish(
    head: list[float], taylor: list[float], slope: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Append the Taylor coefficients and the interpolation table to the parameter vector.

    The table holds y and dy/du at uniform nodes of u = asinh(x / s) for y in [x1, 1.2]
    (M * 0.2 decades beyond T); cubic Hermite interpolation between them is accurate to about
    1e-13 because y(u) is smooth and nearly straight. Node values are exact Halley roots.
    """
    p = np.zeros(_SLOPES + TABLE_SIZE, dtype=np.float64)
    p[: len(head)] = head
    p[_TAYLOR:_TABLE] = taylor
    y_dense = np.linspace(p[_X1], 1.2, 4 * TABLE_SIZE + 1)
    x_dense = np.empty_like(y_dense)
    _inverse_many(p, y_dense, x_dense)
    u_dense = np.arcsinh(x_dense / p[_S])
    p[_DU] = u_dense[-1] / (TABLE_SIZE - 1)
    p[_INV_DU] = 1.0 / p[_DU]
    p[_INV_S] = 1.0 / p[_S]
    u_nodes = p[_DU] * np.arange(TABLE_SIZE)
    x_nodes = p[_S] * np.sinh(u_nodes)
    y_nodes = np.empty_like(x_nodes)
    _solve_many(p, x_nodes, np.interp(u_nodes, u_dense, y_dense), y_nodes)
    p[_TABLE:_SLOPES] = y_nodes
    # dy/du = (dx/du) / (dF/dy) = s cosh(u) / F'(y)
    p[_SLOPES:] = p[_S] * np.cosh(u_nodes) / slope(y_nodes)
    return p


@lru_cache(maxsize=64)
def logicle_parameters(T: float, W: float, M: float, A: float) -> np.ndarray:
    """The logicle's parameter vector (Moore & Parks 2012, as GatingML 2.0 defines it)."""
    w = W / (M + A)
    x2 = A / (M + A)
    x1 = x2 + w
    x0 = x2 + 2 * w
    b = (M + A) * math.log(10.0)
    d = _solve_logicle_d(b, w)
    c_a = math.exp(x0 * (b + d))
    mf_a = math.exp(b * x1) - c_a / math.exp(d * x1)
    a = T / ((math.exp(b) - mf_a) - c_a / math.exp(d))
    c = c_a * a
    f = -mf_a * a
    if not all(math.isfinite(v) for v in (a, c, f)):
        raise TemplateError(f"logicle(T={T:g}, W={W:g}, M={M:g}, A={A:g}) is not defined")
    taylor = []
    pos, neg = a * math.exp(b * x1), -c / math.exp(d * x1)
    for i in range(TAYLOR_LENGTH):
        pos *= b / (i + 1)
        neg *= -d / (i + 1)
        taylor.append(pos + neg)
    taylor[1] = 0.0  # zero by construction (the second derivative vanishes at x1)
    x_taylor = x1 + w / 4
    scale_s = _asinh_scale(taylor[0], b)
    head = [a, b, c, d, f, x1, x_taylor, scale_s, 0.0, _LOGICLE]
    return _finish(head, taylor, lambda y: a * b * np.exp(b * y) + c * d * np.exp(-d * y))


@lru_cache(maxsize=64)
def hyperlog_parameters(T: float, W: float, M: float, A: float) -> np.ndarray:
    """The hyperlog's parameter vector (Bagwell 2005, as GatingML 2.0 defines it)."""
    w = W / (M + A)
    x2 = A / (M + A)
    x1 = x2 + w
    x0 = x2 + 2 * w
    b = (M + A) * math.log(10.0)
    e0 = math.exp(b * x0)
    c_a = e0 / w if w > 0 else 0.0
    f_a = math.exp(b * x1) + c_a * x1
    a = T / ((math.exp(b) + c_a) - f_a)
    c = c_a * a
    f = f_a * a
    if not all(math.isfinite(v) for v in (a, c, f)):
        raise TemplateError(f"hyperlog(T={T:g}, W={W:g}, M={M:g}, A={A:g}) is not defined")
    taylor = []
    pos = a * math.exp(b * x1)
    for i in range(TAYLOR_LENGTH):
        pos *= b / (i + 1)
        taylor.append(pos)
    taylor[0] += c
    x_taylor = x1 + w / 4
    scale_s = _asinh_scale(taylor[0], b)
    head = [a, b, c, 0.0, f, x1, x_taylor, scale_s, 0.0, _HYPERLOG]
    return _finish(head, taylor, lambda y: a * b * np.exp(b * y) + c)


def _asinh_scale(slope_at_x1: float, b: float) -> float:
    # y rises like x / slope near x1 and like ln(x) / b far out; asinh(x / s) with
    # s = slope / b rises the same way in both zones, so y(u) is nearly a straight line
    return max(1e-300, abs(slope_at_x1) / b)


def run(
    kernel: Callable[[np.ndarray, np.ndarray, np.ndarray], None],
    params: np.ndarray,
    values: np.ndarray,
) -> np.ndarray:
    """Apply a ``*_many`` kernel to an array of any shape; returns a new float64 array."""
    flat = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
    out = np.empty_like(flat)
    kernel(params, flat, out)
    return out.reshape(np.shape(values))
