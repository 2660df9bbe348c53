"""Point-in-polygon over many events (numba, parallel over events).

The winding number is counted with Sunday's crossing rule: an edge counts when it crosses the
horizontal line through the point with its lower end at or below and its upper end above the
point (``y_lo <= y < y_hi``), +1 upward with the point on its left, -1 downward with the point on
its right. A point is inside when the count is odd, which makes the overlapping parts of a
self-intersecting polygon holes, as the GatingML 2.0 compliance data expects.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["points_in_polygon"]


@njit(cache=True)
def _winding(vertices: np.ndarray, x: float, y: float) -> int:
    n = vertices.shape[0]
    count = 0
    for i in range(n):
        ax, ay = vertices[i, 0], vertices[i, 1]
        j = i + 1 if i + 1 < n else 0
        bx, by = vertices[j, 0], vertices[j, 1]
        side = (bx - ax) * (y - ay) - (x - ax) * (by - ay)
        if ay <= y:
            if y < by and side > 0:
                count += 1
        elif by <= y and side < 0:
            count -= 1
    return count


# A point left of, right of, below, or at or above the top of the vertices' bounding box
# crosses no edge under the rule above (y_lo <= y < y_hi), so its count is exactly 0: such
# points are rejected without walking the edges. Membership stays bit-identical.


@njit(cache=True, parallel=True)
def _odd_winding(vertices: np.ndarray, xs: np.ndarray, ys: np.ndarray, out: np.ndarray) -> None:
    x_lo, x_hi = vertices[:, 0].min(), vertices[:, 0].max()
    y_lo, y_hi = vertices[:, 1].min(), vertices[:, 1].max()
    for k in prange(xs.shape[0]):
        x, y = xs[k], ys[k]
        if x < x_lo or x > x_hi or y < y_lo or y >= y_hi:
            out[k] = False
        else:
            out[k] = _winding(vertices, x, y) % 2 != 0


@njit(cache=True)
def _odd_winding_serial(
    vertices: np.ndarray, xs: np.ndarray, ys: np.ndarray, out: np.ndarray
) -> None:
    x_lo, x_hi = vertices[:, 0].min(), vertices[:, 0].max()
    y_lo, y_hi = vertices[:, 1].min(), vertices[:, 1].max()
    for k in range(xs.shape[0]):
        x, y = xs[k], ys[k]
        if x < x_lo or x > x_hi or y < y_lo or y >= y_hi:
            out[k] = False
        else:
            out[k] = _winding(vertices, x, y) % 2 != 0


# small inputs run serially: starting the thread team costs more than it saves
PARALLEL_THRESHOLD = 20_000


def points_in_polygon(vertices: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Boolean membership of the points (xs[k], ys[k]) in the polygon (an n x 2 vertex array)."""
    out = np.empty(len(xs), dtype=np.bool_)
    kernel = _odd_winding if len(xs) >= PARALLEL_THRESHOLD else _odd_winding_serial
    kernel(
        np.ascontiguousarray(vertices, dtype=np.float64),
        np.ascontiguousarray(xs, dtype=np.float64),
        np.ascontiguousarray(ys, dtype=np.float64),
        out,
    )
    return out
