"""Events of one Sample as gates see them: compensated by reference, cached per reference."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from cytorelease.errors import InputError, TemplateError
from cytorelease.flow.compensation import FCS_SPILL_ID, SpilloverMatrix, sample_spillover
from cytorelease.flow.sample import Sample

__all__ = ["SampleEvents"]


def _describe_channels(sample: Sample) -> str:
    return ", ".join(f"{c.name} ({c.label})" if c.label else c.name for c in sample.channels)


class SampleEvents:
    """An :class:`~cytorelease.flow.gating.dimensions.EventSource` over a Sample.

    ``events`` defaults to ``sample.scaled_events()`` ($PnE log amplification and $PnG gain
    undone, as GatingML and FlowKit expect). Compensation references resolve to the file's own
    spillover (``"FCS"``; uncompensated when the file has none, as GatingML specifies) or to
    ``spillovers[ref]``. ``membership`` is answered by the callback the strategy installs.
    """

    def __init__(
        self,
        sample: Sample,
        spillovers: Mapping[str, SpilloverMatrix] | None = None,
        *,
        events: np.ndarray | None = None,
        membership: Callable[[str], np.ndarray] | None = None,
    ) -> None:
        self.sample = sample
        self._events = sample.scaled_events() if events is None else events
        self._spillovers = dict(spillovers or {})
        self._membership = membership
        self._compensated: dict[str, dict[str, np.ndarray]] = {}

    @property
    def event_count(self) -> int:
        return int(self._events.shape[0])

    def column_index(self, channel: str) -> int:
        """A channel's column by $PnN or $PnS; a TemplateError listing the file's channels."""
        try:
            return self.sample.channel_index(channel)
        except InputError:
            raise TemplateError(
                f"the gates use channel {channel!r}, which {self.sample.path.name} lacks",
                path=self.sample.path,
                hint="channels in the file: " + _describe_channels(self.sample),
            ) from None

    def _raw(self, channel: str) -> np.ndarray:
        return self._events[:, self.column_index(channel)]

    def _matrix(self, reference: str) -> SpilloverMatrix | None:
        if reference == FCS_SPILL_ID:
            return sample_spillover(self.sample)
        try:
            return self._spillovers[reference]
        except KeyError:
            raise TemplateError(
                f"unknown compensation reference {reference!r}",
                path=self.sample.path,
                hint="known: uncompensated, FCS" + "".join(f", {k}" for k in self._spillovers),
            ) from None

    def _compensated_columns(self, reference: str) -> dict[str, np.ndarray]:
        if reference not in self._compensated:
            matrix = self._matrix(reference)
            columns: dict[str, np.ndarray] = {}
            if matrix is not None:
                solved = matrix.compensate_columns([self._raw(d) for d in matrix.detectors])
                columns = dict(zip(matrix.fluorochromes, solved, strict=True))
            self._compensated[reference] = columns
        return self._compensated[reference]

    def channel_values(self, channel: str, compensation: str | None) -> np.ndarray:
        if compensation is not None:
            columns = self._compensated_columns(compensation)
            if channel in columns:
                return columns[channel]
            name = self.sample.channels[self.column_index(channel)].name  # a $PnS label given
            if name in columns:
                return columns[name]
        # uncompensated, or a channel outside the spillover matrix: the value as acquired
        return np.asarray(self._raw(channel), dtype=np.float64)

    def membership(self, gate_id: str) -> np.ndarray:
        if self._membership is None:
            raise TemplateError(f"gate {gate_id!r} is referenced but no strategy supplies it")
        return self._membership(gate_id)
