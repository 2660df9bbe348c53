"""numba kernels of the logicle and hyperlog scales (GatingML 2.0; Moore & Parks 2012, Bagwell 2005).

Both scales are the root y of ``F(y) = x`` for a monotone biexponential ``F``:

- logicle: ``B(y) = a e^(b y) - c e^(-d y) - f``
- hyperlog: ``EH(y) = a e^(b y) + c y - f``

with ``y = x1`` at ``x = 0`` and negative values mirrored about ``x1``. Near ``x1`` ``F`` is
evaluated from its Taylor series (the exponentials would cancel and lose digits there).

Forward transform, per value (parallel over values, no transcendental function on the common
path): the value's binary exponent and leading mantissa bits select a bin (bins are 1/128 of a
binade wide, so they are log-spaced like the data); inside the bin, ``y`` is the quintic Hermite
interpolant of the exact root, slope and curvature (``dy/dx = 1 / F'``,
``d2y/dx2 = -F'' / F'^3``) at the two bin edges, one 64-byte table row per bin. Over a relative
width of 1/128 the interpolation error is about 1e-15 on the 0..1 scale. Below the
first bin ``y`` is linear in ``x``; beyond the last one (and for NaN and infinity) Halley's
method from the logarithm solves ``F(y) = x`` to full precision, as do the bin-edge roots.
The inverse is ``F`` itself, evaluated directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numba import njit, prange

from cytorelease.errors import TemplateError
from cytorelease.flow._numba_threads import one_thread_below

__all__ = ["BiexponentialScale", "hyperlog_scale", "logicle_scale"]

TAYLOR_LENGTH = 16
MANTISSA_BITS = 7  # bins per binade = 2 ** MANTISSA_BITS
_SHIFT = 52 - MANTISSA_BITS
_ABS_MASK = np.int64(0x7FFFFFFFFFFFFFFF)
_ROW = 8  # per bin: x at the lower edge, 1 / width, six polynomial coefficients (64 bytes)
# layout of the parameter vector
_A, _B, _C, _D, _F, _X1, _XTAYLOR, _SLOPE0, _KIND = range(9)
_TAYLOR = 9
_LOGICLE, _HYPERLOG = 0.0, 1.0
# below the first bin, y = x1 + x * slope0 is exact to rounding: x / F'(x1) < 1e-10 there
_TINY = 1e-10
_TOP_OF_TABLE = 1.25  # bins reach y = 1.25, a quarter of M decades above T


@njit(cache=True, inline="always")
def _series(p: np.ndarray, scale: float) -> float:
    x = scale - p[_X1]
    total = p[_TAYLOR + TAYLOR_LENGTH - 1] * x
    for i in range(TAYLOR_LENGTH - 2, 0, -1):
        total = (total + p[_TAYLOR + i]) * x
    return (total + p[_TAYLOR]) * x


@njit(cache=True)
def _forward(p: np.ndarray, y: float) -> float:
    """F(y) for y >= x1 (callers mirror values below x1)."""
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


@njit(cache=True, inline="always")
def _scale_one(
    p: np.ndarray, table: np.ndarray, base: int, bins: int, value: float, bits: np.int64
) -> float:
    # the common path has no data-dependent branch but the bin test: the sign of flow data is
    # random, and a mispredicted branch costs more than the arithmetic it would skip
    magnitude = abs(value)
    index = ((bits & _ABS_MASK) >> _SHIFT) - base
    if index >= 0 and index < bins:
        row = index * _ROW
        t = (magnitude - table[row]) * table[row + 1]
        y = table[row + 7]
        for k in range(6, 1, -1):
            y = y * t + table[row + k]
    elif index < 0:
        y = p[_X1] + magnitude * p[_SLOPE0]
    else:
        y = _scale_far(p, magnitude)
    return p[_X1] + math.copysign(y - p[_X1], value)


@njit(cache=True, parallel=True)
def _scale_values(
    p: np.ndarray,
    table: np.ndarray,
    base: int,
    values: np.ndarray,
    bits: np.ndarray,
    out: np.ndarray,
) -> None:
    bins = table.shape[0] // _ROW
    for i in prange(values.shape[0]):
        out[i] = _scale_one(p, table, base, bins, values[i], bits[i])


@njit(cache=True, inline="always")
def _inverse_one(p: np.ndarray, scale: float) -> float:
    negative = scale < p[_X1]
    if negative:
        scale = 2.0 * p[_X1] - scale
    value = _forward(p, scale)
    return -value if negative else value


@njit(cache=True, parallel=True)
def _inverse_values(p: np.ndarray, values: np.ndarray, out: np.ndarray) -> None:
    for i in prange(values.shape[0]):
        out[i] = _inverse_one(p, values[i])


@njit(cache=True, parallel=True)
def _solve_many(p: np.ndarray, values: np.ndarray, guesses: np.ndarray, out: np.ndarray) -> None:
    for i in prange(values.shape[0]):
        out[i] = _halley(p, values[i], guesses[i]) if values[i] > 0 else p[_X1]


# below this many values, starting the thread team costs more than it saves (and on a busy
# machine a parallel region can wait milliseconds for its threads)
PARALLEL_THRESHOLD = 50_000


@dataclass(frozen=True, eq=False)
class BiexponentialScale:
    """A logicle or hyperlog scale ready to run: parameters, bins and the first bin's index."""

    params: np.ndarray
    table: np.ndarray
    base: int

    def scale(self, values: np.ndarray) -> np.ndarray:
        flat = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
        out = np.empty_like(flat)
        with one_thread_below(flat.size, PARALLEL_THRESHOLD):
            _scale_values(self.params, self.table, self.base, flat, flat.view(np.int64), out)
        return out.reshape(np.shape(values))

    def inverse(self, values: np.ndarray) -> np.ndarray:
        flat = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
        out = np.empty_like(flat)
        with one_thread_below(flat.size, PARALLEL_THRESHOLD):
            _inverse_values(self.params, flat, out)
        return out.reshape(np.shape(values))


def _exponent_bin(x: float) -> int:
    """The bin number (biased exponent and leading mantissa bits) of a positive double."""
    return int(np.array([x], dtype=np.float64).view(np.int64)[0] >> _SHIFT)


def _build(head: list[float], taylor: list[float]) -> BiexponentialScale:
    """Parameters plus the bin table: exact roots and slopes at every bin edge."""
    p = np.zeros(_TAYLOR + TAYLOR_LENGTH, dtype=np.float64)
    p[: len(head)] = head
    p[_TAYLOR:] = taylor
    p[_SLOPE0] = 1.0 / taylor[0]  # dy/dx at x = 0
    top = _forward(p, _TOP_OF_TABLE)
    base = _exponent_bin(_TINY * taylor[0])
    bins = _exponent_bin(top) + 1 - base
    edges = ((np.arange(bins + 1, dtype=np.int64) + base) << _SHIFT).view(np.float64)
    # starting points for the roots: y against x on a dense grid, interpolated
    y_dense = np.linspace(p[_X1], _TOP_OF_TABLE + 0.05, 200_001)
    x_dense = np.empty_like(y_dense)
    _inverse_values(p, y_dense, x_dense)
    y_edges = np.empty_like(edges)
    _solve_many(p, edges, np.interp(edges, x_dense, y_dense), y_edges)
    # quintic Hermite on each bin from y, dy/dx and d2y/dx2 at both edges, in powers of the
    # position t in the bin: y = c0 + c1 t + ... + c5 t^5
    first, second = _derivatives(p, y_edges)
    slope = 1.0 / first
    curvature = -second * slope**3
    width = np.diff(edges)
    y0, y1 = y_edges[:-1], y_edges[1:]
    d0, d1 = width * slope[:-1], width * slope[1:]
    s0, s1 = width**2 * curvature[:-1], width**2 * curvature[1:]
    rise = y1 - y0
    table = np.empty((bins, _ROW), dtype=np.float64)
    table[:, 0] = edges[:-1]
    table[:, 1] = 1.0 / width
    table[:, 2] = y0
    table[:, 3] = d0
    table[:, 4] = s0 / 2
    table[:, 5] = 10 * rise - 6 * d0 - 4 * d1 - 1.5 * s0 + 0.5 * s1
    table[:, 6] = -15 * rise + 8 * d0 + 7 * d1 + 1.5 * s0 - s1
    table[:, 7] = 6 * rise - 3 * (d0 + d1) - 0.5 * (s0 - s1)
    return BiexponentialScale(p, table.reshape(-1), base)


def _derivatives(p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F'(y) and F''(y)."""
    a, b, c, d = p[_A], p[_B], p[_C], p[_D]
    grow = a * np.exp(b * y)
    if p[_KIND] == _LOGICLE:
        decay = c * np.exp(-d * y)
        return b * grow + d * decay, b * b * grow - d * d * decay
    return b * grow + c, b * b * grow


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


def _undefined(kind: str, T: float, W: float, M: float, A: float) -> TemplateError:
    return TemplateError(f"{kind}(T={T:g}, W={W:g}, M={M:g}, A={A:g}) is not defined")


@lru_cache(maxsize=64)
def logicle_scale(T: float, W: float, M: float, A: float) -> BiexponentialScale:
    """The logicle of Moore & Parks (2012) with GatingML 2.0 parameters."""
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
    if not all(math.isfinite(v) and v != 0 for v in (a, c)):
        raise _undefined("logicle", T, W, M, A)
    taylor = []
    pos, neg = a * math.exp(b * x1), -c / math.exp(d * x1)
    for i in range(TAYLOR_LENGTH):
        pos *= b / (i + 1)
        neg *= -d / (i + 1)
        taylor.append(pos + neg)
    taylor[1] = 0.0  # zero by construction (the second derivative vanishes at x1)
    return _build([a, b, c, d, f, x1, x1 + w / 4, 0.0, _LOGICLE], taylor)


@lru_cache(maxsize=64)
def hyperlog_scale(T: float, W: float, M: float, A: float) -> BiexponentialScale:
    """The hyperlog of Bagwell (2005) with GatingML 2.0 parameters."""
    w = W / (M + A)
    x2 = A / (M + A)
    x1 = x2 + w
    x0 = x2 + 2 * w
    b = (M + A) * math.log(10.0)
    if w <= 0:
        raise _undefined("hyperlog", T, W, M, A)
    c_a = math.exp(b * x0) / w
    f_a = math.exp(b * x1) + c_a * x1
    a = T / ((math.exp(b) + c_a) - f_a)
    c = c_a * a
    f = f_a * a
    if not all(math.isfinite(v) and v != 0 for v in (a, c)):
        raise _undefined("hyperlog", T, W, M, A)
    taylor = []
    pos = a * math.exp(b * x1)
    for i in range(TAYLOR_LENGTH):
        pos *= b / (i + 1)
        taylor.append(pos)
    taylor[0] += c
    return _build([a, b, c, 0.0, f, x1, x1 + w / 4, 0.0, _HYPERLOG], taylor)
