"""Small inputs run the parallel kernels on one thread, and the thread count comes back."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from cytorelease.flow._numba_threads import one_thread_below
from cytorelease.flow.gating._polygon_kernel import PARALLEL_THRESHOLD, points_in_polygon


def test_one_thread_below_the_threshold_and_restored_after() -> None:
    before = numba.get_num_threads()
    with one_thread_below(10, 100):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before
    with one_thread_below(100, 100):
        assert numba.get_num_threads() == before
    with pytest.raises(RuntimeError), one_thread_below(1, 100):
        raise RuntimeError("a kernel failed")
    assert numba.get_num_threads() == before


def test_small_and_large_inputs_give_the_same_membership() -> None:
    rng = np.random.default_rng(2)
    xs, ys = rng.normal(0, 1, 2 * PARALLEL_THRESHOLD), rng.normal(0, 1, 2 * PARALLEL_THRESHOLD)
    square = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    whole = points_in_polygon(square, xs, ys)
    head = points_in_polygon(square, xs[:500], ys[:500])  # one thread
    np.testing.assert_array_equal(head, whole[:500])
    assert 0 < whole.sum() < len(whole)
