"""numba kernels of the batch self-organising map: best-matching units, node sums, updates.

The hot path is the best-matching-unit (BMU) search: every event against every node, run in
parallel over events (``prange``). It runs in float32 (events and codes; twice the SIMD width of
float64, and the data's own precision: FCS events are float32); the per-node sums that become the
new codes are float64. Distances are squared Euclidean, summed over markers in marker order, and
the BMU is the first node with the smallest distance (as ``numpy.argmin``).
The inner loop runs over nodes with the codes stored transposed (markers x nodes), so it
vectorises across nodes without changing the order of the additions of any one distance.

Reproducibility independent of the thread count: events are cut into blocks of a fixed size
(``BLOCK_EVENTS``, not one block per thread); each block sums its events into its own
per-node partial sums, in event order, and the partials are added serially in block order.
The same data, codes and radius therefore give the same bytes on 1 or 64 threads.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = [
    "BLOCK_EVENTS",
    "batch_epoch",
    "map_events",
    "neighbourhood_update",
]

BLOCK_EVENTS = 8192


@njit(cache=True, inline="always")
def _nearest(data: np.ndarray, row: int, codes_t: np.ndarray, dist: np.ndarray) -> int:
    n_markers, n_nodes = codes_t.shape
    for k in range(n_nodes):
        dist[k] = 0.0
    for j in range(n_markers):
        value = data[row, j]
        for k in range(n_nodes):
            diff = value - codes_t[j, k]
            dist[k] += diff * diff
    best = 0
    smallest = dist[0]
    for k in range(1, n_nodes):
        if dist[k] < smallest:
            smallest = dist[k]
            best = k
    return best


@njit(parallel=True, cache=True)
def _block_sums(
    data: np.ndarray, codes_t: np.ndarray, bmu: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n_events, n_markers = data.shape
    n_nodes = codes_t.shape[1]
    n_blocks = (n_events + BLOCK_EVENTS - 1) // BLOCK_EVENTS
    sums = np.zeros((n_blocks, n_nodes, n_markers))
    counts = np.zeros((n_blocks, n_nodes), dtype=np.int64)
    for block in prange(n_blocks):
        dist = np.empty(n_nodes, dtype=np.float32)
        stop = min(n_events, (block + 1) * BLOCK_EVENTS)
        for i in range(block * BLOCK_EVENTS, stop):
            best = _nearest(data, i, codes_t, dist)
            bmu[i] = best
            counts[block, best] += 1
            for j in range(n_markers):
                sums[block, best, j] += data[i, j]
    return sums, counts


@njit(cache=True)
def _reduce_blocks(sums: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n_blocks, n_nodes, n_markers = sums.shape
    total = np.zeros((n_nodes, n_markers))
    total_counts = np.zeros(n_nodes, dtype=np.int64)
    for block in range(n_blocks):  # serial, in block order: the same sum on any thread count
        for k in range(n_nodes):
            total_counts[k] += counts[block, k]
            for j in range(n_markers):
                total[k, j] += sums[block, k, j]
    return total, total_counts


def batch_epoch(
    data: np.ndarray, codes: np.ndarray, bmu: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Assign every event of ``data`` (float32, C order) its BMU (written into ``bmu``); return
    the per-node sums (float64) and counts."""
    codes_t = np.ascontiguousarray(codes.T, dtype=np.float32)
    sums, counts = _block_sums(data, codes_t, bmu)
    return _reduce_blocks(sums, counts)


@njit(cache=True)
def neighbourhood_update(
    codes: np.ndarray,
    sums: np.ndarray,
    counts: np.ndarray,
    grid_distance: np.ndarray,
    radius: float,
) -> np.ndarray:
    """Kohonen's batch map with a bubble neighbourhood: each node becomes the mean of the events
    whose BMU lies within ``radius`` of it on the grid; a node with no such event keeps its code.
    """
    n_nodes, n_markers = codes.shape
    out = codes.copy()
    for k in range(n_nodes):
        weight = 0
        acc = np.zeros(n_markers)
        for m in range(n_nodes):  # node order: a fixed summation order
            if grid_distance[k, m] <= radius and counts[m] > 0:
                weight += counts[m]
                for j in range(n_markers):
                    acc[j] += sums[m, j]
        if weight > 0:
            for j in range(n_markers):
                out[k, j] = acc[j] / weight
    return out


@njit(parallel=True, cache=True)
def _map(data: np.ndarray, codes_t: np.ndarray, bmu: np.ndarray, distance: np.ndarray) -> None:
    n_events = data.shape[0]
    n_nodes = codes_t.shape[1]
    n_blocks = (n_events + BLOCK_EVENTS - 1) // BLOCK_EVENTS
    for block in prange(n_blocks):
        dist = np.empty(n_nodes, dtype=np.float32)
        stop = min(n_events, (block + 1) * BLOCK_EVENTS)
        for i in range(block * BLOCK_EVENTS, stop):
            best = _nearest(data, i, codes_t, dist)
            bmu[i] = best
            distance[i] = math.sqrt(dist[best])


def map_events(data: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each event's BMU (int32) and its Euclidean distance to that node's code (float32)."""
    bmu = np.empty(data.shape[0], dtype=np.int32)
    distance = np.empty(data.shape[0], dtype=np.float32)
    _map(data, np.ascontiguousarray(codes.T, dtype=np.float32), bmu, distance)
    return bmu, distance
