"""Medians by group, in numpy: per time segment (acquisition QC), per SOM node and metacluster
(clustering and its cross-check).

These were numba kernels calling ``np.median`` inside ``prange``. numba compiles its median
(select, partition and their helpers) for every kernel that uses it, several seconds each on
the first run after an install, and loading a cached parallel kernel costs a whole process more
than numpy takes to do the work. Here the events are put in group order once (a stable
argsort) and each group's median is numpy's own on a contiguous slice: the same values, since a
median is a selection (and the mean of the two middle values for an even count).
"""

from __future__ import annotations

import numpy as np

__all__ = ["group_medians", "medians_of_finite"]


def _group_bounds(labels: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The stable order that sorts ``labels``, each group's size and its start in that order."""
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= n_groups):
        raise ValueError(f"labels must lie in [0, {n_groups})")
    # a stable sort of labels of 16 bits or fewer is numpy's radix sort: one linear pass
    small = np.uint16 if n_groups <= 1 << 16 else np.int64
    order = np.argsort(labels.astype(small, copy=False), kind="stable")
    counts = np.bincount(labels, minlength=n_groups)
    starts = np.zeros(n_groups + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    return order, counts, starts


def group_medians(data: np.ndarray, labels: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of every column of ``data`` (events x markers) within every group of ``labels``
    (0 .. n_groups - 1), float64, NaN for an empty group; a NaN value makes its group's median
    NaN, as ``np.median`` does."""
    data = np.asarray(data)
    order, counts, starts = _group_bounds(labels, n_groups)
    out = np.full((n_groups, data.shape[1]), np.nan)
    present = np.flatnonzero(counts)
    for j in range(data.shape[1]):
        # one column at a time, gathered into group order (a row gather of the whole matrix
        # is several times slower), so each group is a contiguous slice
        column = np.take(data[:, j].astype(np.float64), order)
        for g in present:
            out[g, j] = np.median(column[starts[g] : starts[g + 1]])
    return out


def medians_of_finite(values: np.ndarray, labels: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of the finite ``values`` (1-D) within every group of ``labels``; NaN for a group
    with none."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    return group_medians(values[finite, None], np.asarray(labels)[finite], n_groups)[:, 0]
