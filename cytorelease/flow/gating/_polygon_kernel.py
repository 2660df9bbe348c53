"""Point-in-polygon over many events (numba, parallel over events).

The winding number is counted with Sunday's crossing rule: an edge counts when it crosses the
horizontal line through the point with its lower end at or below and its upper end above the
point (``y_lo <= y < y_hi``), +1 upward with the point on its left, -1 downward with the point on
its right. A point is inside when the count is odd, which makes the overlapping parts of a
self-intersecting polygon holes, as the GatingML 2.0 compliance data expects.

Only edges whose y-range holds the point can count, and which edges those are changes only at
vertex heights. So the distinct vertex heights cut the plane into horizontal slabs, each with
its list of spanning edges (built once per polygon); a point finds its slab by binary search
and tests only that slab's edges (two for a convex gate, instead of all of them). An edge
outside the list would have failed the rule's y test, so membership is bit-identical to
testing every edge.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from cytorelease.flow._numba_threads import one_thread_below

__all__ = ["points_in_polygon"]


_CELLS_PER_SLAB = 4  # lookup-table cells per slab: most points land in their slab's cell


# Slab index entries allowed per edge (and in all, at least): bounds the index's memory to
# a small multiple of the vertices whatever the polygon's shape.
_INDEX_PER_EDGE = 16
_INDEX_FLOOR = 1 << 16


def _edge_slabs(
    heights: np.ndarray, low: np.ndarray, high: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per edge, the range ``[first, last)`` of slabs its y-range overlaps."""
    first = np.searchsorted(heights, low, side="right") - 1
    last = np.searchsorted(heights, high, side="left")
    return first, np.maximum(last, first)


def _slabs(
    vertices: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, float, float]:
    """The polygon indexed by height: distinct vertex heights; per slab
    ``[heights[s], heights[s + 1])`` the edges (by first vertex) spanning it, as CSR offsets and
    indices; a table of equal height cells giving the slab where each cell starts, with its
    scale (cells per unit height); and the vertices' x range."""
    n = len(vertices)
    if not np.isfinite(vertices).all():
        # an undefined vertex orders nothing: one slab holding every edge, no box rejection
        every = np.arange(n, dtype=np.int64)
        return (
            np.array([-np.inf, np.inf]),
            np.array([0, n], dtype=np.int64),
            every,
            np.zeros(1, dtype=np.int64),
            0.0,
            -np.inf,
            np.inf,
        )
    ys = vertices[:, 1]
    heights = np.unique(ys)
    low = np.minimum(ys, np.roll(ys, -1))
    high = np.maximum(ys, np.roll(ys, -1))
    # edge i can count in slab s, [heights[s], heights[s + 1]), when low_i < heights[s + 1]
    # and high_i > heights[s]: from the slab holding its lower end up to the one below its
    # upper end
    first, last = _edge_slabs(heights, low, high)
    budget = max(_INDEX_PER_EDGE * n, _INDEX_FLOOR)
    if int((last - first).sum()) > budget:
        # Edges spanning many slabs (a zigzag of thousands of vertices) would make the index
        # quadratic in the vertices: keep every k-th height (the lowest and highest always),
        # so no edge is listed in more than budget / n slabs. Exact all the same: a slab only
        # lists more edges than it needs, and each edge is still tested by the rule.
        keep = max(budget // n, 1)
        picks = np.unique(np.linspace(0, len(heights) - 1, keep + 1).round().astype(np.int64))
        heights = heights[picks]
        first, last = _edge_slabs(heights, low, high)
    slabs = max(len(heights) - 1, 0)
    spans = [np.arange(lo, hi) for lo, hi in zip(first, last, strict=True)]
    slab_of = np.concatenate(spans).astype(np.int64) if spans else np.empty(0, np.int64)
    edge_of = np.repeat(np.arange(n, dtype=np.int64), [len(r) for r in spans])
    order = np.argsort(slab_of, kind="stable")  # edges in vertex order within each slab
    offsets = np.zeros(slabs + 1, dtype=np.int64)
    np.cumsum(np.bincount(slab_of, minlength=slabs), out=offsets[1:])
    cells = max(slabs, 1) * _CELLS_PER_SLAB
    span = float(heights[-1] - heights[0])
    scale = cells / span if span > 0 else 0.0
    starts = heights[0] + np.arange(cells) * (span / cells)
    lookup = np.clip(np.searchsorted(heights, starts, side="right") - 1, 0, max(slabs - 1, 0))
    x = vertices[:, 0]
    return heights, offsets, edge_of[order], lookup.astype(np.int64), scale, x.min(), x.max()


@njit(cache=True, inline="always")
def _odd_count(
    vertices: np.ndarray,
    heights: np.ndarray,
    offsets: np.ndarray,
    edges: np.ndarray,
    lookup: np.ndarray,
    cell_scale: float,
    x_lo: float,
    x_hi: float,
    x: float,
    y: float,
) -> bool:
    # Left of, right of, below, or at or above the top of the vertices a point crosses no
    # edge under the rule (y_lo <= y < y_hi), so its count is exactly 0 (NaN fails every test).
    if not (x >= x_lo and x <= x_hi and y >= heights[0] and y < heights[-1]):
        return False
    # the slab from the lookup table's guess, settled against the heights themselves
    cell = (y - heights[0]) * cell_scale
    last = lookup.shape[0] - 1
    lo = lookup[int(cell) if cell < last else last] if cell >= 0.0 else 0  # NaN: 0 * inf
    while heights[lo] > y:
        lo -= 1
    while heights[lo + 1] <= y:
        lo += 1
    n = vertices.shape[0]
    count = 0
    for e in range(offsets[lo], offsets[lo + 1]):
        i = edges[e]
        ax, ay = vertices[i, 0], vertices[i, 1]
        j = i + 1 if i + 1 < n else 0
        bx, by = vertices[j, 0], vertices[j, 1]
        side = (bx - ax) * (y - ay) - (x - ax) * (by - ay)
        if ay <= y:
            if y < by and side > 0:
                count += 1
        elif by <= y and side < 0:
            count -= 1
    return count % 2 != 0


@njit(cache=True, parallel=True)
def _inside(
    vertices: np.ndarray,
    heights: np.ndarray,
    offsets: np.ndarray,
    edges: np.ndarray,
    lookup: np.ndarray,
    cell_scale: float,
    x_lo: float,
    x_hi: float,
    xs: np.ndarray,
    ys: np.ndarray,
    out: np.ndarray,
) -> None:
    for k in prange(xs.shape[0]):
        out[k] = _odd_count(
            vertices, heights, offsets, edges, lookup, cell_scale, x_lo, x_hi, xs[k], ys[k]
        )


# small inputs run on one thread: starting the thread team costs more than it saves
PARALLEL_THRESHOLD = 20_000


def points_in_polygon(vertices: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Boolean membership of the points (xs[k], ys[k]) in the polygon (an n x 2 vertex array)."""
    out = np.zeros(len(xs), dtype=np.bool_)
    vertices = np.ascontiguousarray(vertices, dtype=np.float64)
    if len(vertices) < 2:
        return out  # no edge: no crossing
    with one_thread_below(len(xs), PARALLEL_THRESHOLD):
        _inside(
            vertices,
            *_slabs(vertices),
            np.ascontiguousarray(xs, dtype=np.float64),
            np.ascontiguousarray(ys, dtype=np.float64),
            out,
        )
    return out
