"""Event values as gates read them, the way FlowKit (flowio's preprocessing) reads them.

FlowKit multiplies the Time channel ($PnN ``time``, any case) by $TIMESTEP, undoes $PnE log
amplification and divides by $PnG (never for Time). Placed gates must see the same numbers or
an exported GatingML document would not reproduce our counts. Only the columns that change are
computed (float64); the stored float32 matrix is not copied, which keeps peak memory low on
million-event tubes.
"""

from __future__ import annotations

import numpy as np

from cytorelease.flow.sample import Sample

__all__ = ["PreprocessedEvents", "preprocessed_events"]


class PreprocessedEvents:
    """The stored event matrix with some columns replaced: supports ``[:, column]`` and
    ``shape``, which is all an event source reads."""

    def __init__(self, stored: np.ndarray, replaced: dict[int, np.ndarray]) -> None:
        self._stored = stored
        self._replaced = replaced

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._stored.shape)

    def __getitem__(self, key: tuple[slice, int]) -> np.ndarray:
        rows, column = key
        if isinstance(column, int | np.integer) and int(column) in self._replaced:
            return self._replaced[int(column)][rows]
        return self._stored[key]


def preprocessed_events(sample: Sample) -> np.ndarray | PreprocessedEvents:
    """The sample's events as FlowKit preprocesses them (the stored array when nothing changes)."""
    replaced = {
        c.index: scaled
        for c in sample.channels
        if (scaled := sample.scaled_column(c.index)) is not None
    }
    return PreprocessedEvents(sample.events, replaced) if replaced else sample.events
