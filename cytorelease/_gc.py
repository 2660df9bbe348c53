"""The cyclic garbage collector paused while a command builds a large acyclic table.

``trend`` and ``lots table`` over 100,000 rows make about a million tuples, strings and dicts
that refer to nothing that refers back (rows, points, the JSON text's pieces): reference
counting frees each of them. The collector still runs every 700 new containers and, as the
heap grows, passes over all of them again; on 10,000 lots x 10 attributes those passes were a
fifth of the process's CPU time and found no cycle. Paused for the command, not for good: the
previous state is restored on the way out, and whatever cycles were made meanwhile are
collected then as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]


@contextmanager
def collector_paused() -> Iterator[None]:
    """The body runs without cyclic collections; the collector's state is restored after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
