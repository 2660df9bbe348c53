"""Small inputs on one thread, through the same compiled kernel as large ones.

A kernel used to come twice, a serial and a parallel variant, so that a small input would not
start the thread team (on a busy machine a parallel region can wait milliseconds for its
threads). Each variant is a separate compile on the first run after an install and a separate
load in every process. Run with one thread, the parallel kernel is as fast as the serial one
on small inputs (both ~3 us on 100 points in a polygon), so one compiled kernel serves both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numba

__all__ = ["one_thread_below"]


@contextmanager
def one_thread_below(size: int, threshold: int) -> Iterator[None]:
    """Within the block, numba's parallel regions started from this thread use one thread when
    ``size < threshold``; the thread count is restored after."""
    if size >= threshold:
        yield
        return
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)
