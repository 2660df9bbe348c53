"""numba kernel: narrow a membership to the events whose value lies in ``[lo, hi)``.

A rectangle gate over a million events, written with numpy, makes a temporary per bound and
walks the membership twice for each; this is one pass per dimension, in parallel. The rule is
the same comparison (``lo <= x < hi``; NaN is never inside), so membership is identical.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["and_in_range"]


@njit(cache=True, parallel=True)
def _and_in_range(
    values: np.ndarray, lo: float, hi: float, has_lo: bool, has_hi: bool, inside: np.ndarray
) -> None:
    for k in prange(values.shape[0]):
        if inside[k]:
            v = values[k]
            if (has_lo and not v >= lo) or (has_hi and not v < hi):
                inside[k] = False


def and_in_range(
    values: np.ndarray, lo: float | None, hi: float | None, inside: np.ndarray
) -> None:
    """``inside &= (lo <= values < hi)`` in place; a ``None`` bound is open."""
    _and_in_range(
        np.ascontiguousarray(values, dtype=np.float64),
        0.0 if lo is None else float(lo),
        0.0 if hi is None else float(hi),
        lo is not None,
        hi is not None,
        inside,
    )
