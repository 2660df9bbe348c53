"""The slab-indexed point-in-polygon kernel against the crossing rule over every edge."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cytorelease.flow.gating._polygon_kernel import PARALLEL_THRESHOLD, points_in_polygon


def _every_edge(vertices: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Sunday's crossing rule, each point against each edge: the definition, unindexed."""
    a = vertices
    b = np.roll(vertices, -1, axis=0)
    x, y = xs[:, None], ys[:, None]
    with np.errstate(invalid="ignore"):
        side = (b[:, 0] - a[:, 0]) * (y - a[:, 1]) - (x - a[:, 0]) * (b[:, 1] - a[:, 1])
        up = (a[:, 1] <= y) & (y < b[:, 1]) & (side > 0)
        down = ~(a[:, 1] <= y) & (b[:, 1] <= y) & (side < 0)
    return (up.sum(axis=1) - down.sum(axis=1)) % 2 != 0


# few distinct coordinates, so points fall on vertices, edges and shared heights often
_coordinate = st.integers(-4, 4).map(float)
_vertex = st.tuples(_coordinate, _coordinate)


@settings(max_examples=300, deadline=None)
@given(
    vertices=st.lists(_vertex, min_size=3, max_size=12),
    points=st.lists(st.tuples(_coordinate.map(lambda v: v / 2), _coordinate), min_size=1),
)
def test_slabs_agree_with_every_edge(
    vertices: list[tuple[float, float]], points: list[tuple[float, float]]
) -> None:
    polygon = np.array(vertices)
    xs, ys = np.array(points).T.copy()
    np.testing.assert_array_equal(points_in_polygon(polygon, xs, ys), _every_edge(polygon, xs, ys))


def test_parallel_path_and_undefined_values_agree_with_every_edge() -> None:
    rng = np.random.default_rng(4)
    n = 2 * PARALLEL_THRESHOLD
    xs, ys = rng.normal(0, 2, n), rng.normal(0, 2, n)
    xs[::97], ys[::89] = np.nan, np.inf
    angles = np.sort(rng.uniform(0, 2 * np.pi, 40))
    star = np.column_stack([np.cos(angles), np.sin(angles)]) * rng.uniform(1, 3, (40, 1))
    for polygon in (star, star[::-1], np.vstack([star, star * 0.5])):
        expected = _every_edge(polygon, xs, ys)
        np.testing.assert_array_equal(points_in_polygon(polygon, xs, ys), expected)
    undefined = star.copy()
    undefined[5, 1] = np.nan  # an undefined vertex: the rule still applies to the other edges
    np.testing.assert_array_equal(
        points_in_polygon(undefined, xs, ys), _every_edge(undefined, xs, ys)
    )
