"""Peaks of a 1-D density and their prominences, without ``scipy.signal``.

The density valley needs the density's modes: local maxima whose prominence (the height above
the higher of the two lowest points reached before a higher sample on either side) is at least
a given value. ``scipy.signal.find_peaks`` gave them, but importing ``scipy.signal`` loads
``scipy.stats`` and costs a gating process about a second. This follows its definitions
exactly (a test compares them): a flat-topped maximum is one peak at the middle of the plateau
(rounded down), and a maximum at either end of the array is not a peak.
"""

from __future__ import annotations

import numpy as np

__all__ = ["find_peaks"]


def _local_maxima(x: np.ndarray) -> list[int]:
    peaks = []
    i, last = 1, len(x) - 1
    while i < last:
        if x[i - 1] < x[i]:
            ahead = i + 1
            while ahead < last and x[ahead] == x[i]:
                ahead += 1
            if x[ahead] < x[i]:
                peaks.append((i + ahead - 1) // 2)
                i = ahead
        i += 1
    return peaks


def _prominence(x: np.ndarray, peak: int) -> float:
    top = x[peak]
    left_min = top
    i = peak
    while i >= 0 and x[i] <= top:
        left_min = min(left_min, x[i])
        i -= 1
    right_min = top
    i = peak
    while i < len(x) and x[i] <= top:
        right_min = min(right_min, x[i])
        i += 1
    return float(top - max(left_min, right_min))


def find_peaks(x: np.ndarray, *, prominence: float) -> np.ndarray:
    """Indices (int64, ascending) of the local maxima of ``x`` at least ``prominence`` high."""
    x = np.asarray(x, dtype=np.float64)
    peaks = [p for p in _local_maxima(x) if _prominence(x, p) >= prominence]
    return np.asarray(peaks, dtype=np.int64)
