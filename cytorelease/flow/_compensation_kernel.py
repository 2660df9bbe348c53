"""numba kernels: many right-hand sides solved against one LU-factored spillover system.

``np.linalg.solve`` on a (detectors x events) block refactors the small matrix for every block
and, for a million events, spends most of its time in call overhead and copies. Here the
system is factored once (LAPACK ``getrf``, partial pivoting, through scipy) and each block of
events is solved by forward and back substitution, row by row so the inner loops run over
contiguous events and vectorise. The arithmetic is that of LAPACK's ``getrs``: a solve, not a
multiplication by an explicit inverse.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["lu_solve_columns", "lu_system", "solve_columns_into"]

_BLOCK = 4096  # events per block: the block's (detectors x block) scratch stays in L2 cache


def lu_system(system: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LU factors of a square ``system`` and the row order its pivots give."""
    from scipy.linalg import lu_factor

    lu, pivots = lu_factor(np.asarray(system, dtype=np.float64), check_finite=True)
    order = np.arange(len(pivots))
    for i, p in enumerate(pivots):  # LAPACK's row swaps, applied in turn
        order[i], order[p] = order[p], order[i]
    return np.ascontiguousarray(lu), order


@njit(cache=True, inline="always")
def _substitute(lu: np.ndarray, b: np.ndarray, m: int) -> None:
    """Solve ``L U x = b`` in place for the ``m`` columns of ``b`` (rows already pivoted)."""
    d = lu.shape[0]
    for i in range(d):  # L has a unit diagonal
        for j in range(i):
            factor = lu[i, j]
            for k in range(m):
                b[i, k] -= factor * b[j, k]
    for i in range(d - 1, -1, -1):
        for j in range(i + 1, d):
            factor = lu[i, j]
            for k in range(m):
                b[i, k] -= factor * b[j, k]
        pivot = lu[i, i]
        for k in range(m):
            b[i, k] /= pivot


@njit(cache=True, parallel=True)
def lu_solve_columns(lu: np.ndarray, order: np.ndarray, values: np.ndarray) -> None:
    """Overwrite ``values`` (rows = right-hand-side components, columns = events) with the
    solution of ``system @ x = values[:, k]`` for every event ``k``."""
    d = lu.shape[0]
    n = values.shape[1]
    for block in prange((n + _BLOCK - 1) // _BLOCK):
        start = block * _BLOCK
        m = min(n, start + _BLOCK) - start
        b = np.empty((d, m))
        for i in range(d):
            row = order[i]
            for k in range(m):
                b[i, k] = values[row, start + k]
        _substitute(lu, b, m)
        for i in range(d):
            for k in range(m):
                values[i, start + k] = b[i, k]


@njit(cache=True, parallel=True)
def solve_columns_into(lu: np.ndarray, order: np.ndarray, columns: tuple, out: np.ndarray) -> None:  # type: ignore[type-arg]
    """Solve for every event from detector ``columns`` (a tuple of equal-typed 1-D arrays, e.g.
    strided float32 views of the event matrix) straight into ``out`` (components x events):
    each block of events is read once from the rows it sits in, without a float64 copy of the
    detector values first."""
    d = lu.shape[0]
    n = out.shape[1]
    for block in prange((n + _BLOCK - 1) // _BLOCK):
        start = block * _BLOCK
        m = min(n, start + _BLOCK) - start
        b = np.empty((d, m))
        for i in range(d):
            column = columns[order[i]]
            for k in range(m):
                b[i, k] = column[start + k]
        _substitute(lu, b, m)
        for i in range(d):
            for k in range(m):
                out[i, start + k] = b[i, k]
