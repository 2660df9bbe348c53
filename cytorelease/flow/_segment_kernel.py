"""numba kernels of acquisition QC: events to time segments, per-segment medians, and counts of
events at a channel's ceiling."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = ["count_at_or_above", "segment_medians", "time_segments"]

_CHUNKS = 16  # row blocks counted in parallel


@njit(cache=True, parallel=True)
def time_segments(time: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The segment ``s`` with ``edges[s] <= t < edges[s + 1]`` of every event (first and last
    segment for times before and after the edges, and NaN in the last), exactly as
    ``clip(searchsorted(edges, t, "right") - 1, 0, segments - 1)``.

    Edges are evenly spaced, so arithmetic gives the segment to within one of the right one;
    comparing with the edges themselves settles it.
    """
    segments = edges.shape[0] - 1
    t0 = edges[0]
    scale = segments / (edges[-1] - t0)
    out = np.empty(time.shape[0], dtype=np.int64)
    for k in prange(time.shape[0]):
        t = time[k]
        if not t >= t0:  # before the first edge
            out[k] = segments - 1 if math.isnan(t) else 0
            continue
        guess = (t - t0) * scale
        s = segments - 1 if guess >= segments else int(guess)
        while s > 0 and t < edges[s]:
            s -= 1
        while s < segments - 1 and t >= edges[s + 1]:
            s += 1
        out[k] = s
    return out


@njit(cache=True, parallel=True)
def segment_medians(values: np.ndarray, segment: np.ndarray, segments: int) -> np.ndarray:
    """Median of the finite ``values`` of each segment (NaN for a segment with none)."""
    counts = np.zeros(segments + 1, dtype=np.int64)
    for k in range(values.shape[0]):
        if np.isfinite(values[k]):
            counts[segment[k] + 1] += 1
    starts = np.cumsum(counts)
    grouped = np.empty(starts[-1])
    fill = starts[:-1].copy()
    for k in range(values.shape[0]):
        if np.isfinite(values[k]):
            s = segment[k]
            grouped[fill[s]] = values[k]
            fill[s] += 1
    medians = np.full(segments, np.nan)
    for s in prange(segments):
        if starts[s + 1] > starts[s]:
            medians[s] = np.median(grouped[starts[s] : starts[s + 1]])
    return medians


@njit(cache=True, parallel=True)
def count_at_or_above(events: np.ndarray, columns: np.ndarray, ceilings: np.ndarray) -> np.ndarray:
    """For each ``columns[j]``, how many rows of ``events`` hold a value >= ``ceilings[j]``
    (NaN never counts): one pass over the rows, not a temporary per channel."""
    n = events.shape[0]
    m = columns.shape[0]
    partial = np.zeros((_CHUNKS, m), dtype=np.int64)
    size = (n + _CHUNKS - 1) // _CHUNKS
    for chunk in prange(_CHUNKS):
        for k in range(chunk * size, min(n, (chunk + 1) * size)):
            for j in range(m):
                if events[k, columns[j]] >= ceilings[j]:
                    partial[chunk, j] += 1
    return partial.sum(axis=0)
