"""Events of one Sample as gates see them: compensated by reference, cached per reference."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from cytorelease.errors import InputError, TemplateError
from cytorelease.flow.compensation import FCS_SPILL_ID, SpilloverMatrix, sample_spillover
from cytorelease.flow.gating.preprocess import PreprocessedEvents
from cytorelease.flow.sample import Sample

__all__ = ["SampleEvents"]


def _describe_channels(sample: Sample) -> str:
    return ", ".join(f"{c.name} ({c.label})" if c.label else c.name for c in sample.channels)


class SampleEvents:
    """An :class:`~cytorelease.flow.gating.dimensions.EventSource` over a Sample.

    ``events`` defaults to ``sample.scaled_events()`` ($PnE log amplification and $PnG gain
    undone, as GatingML and FlowKit expect). Compensation references resolve to the file's own
    spillover (``"FCS"``; uncompensated when the file has none, as GatingML specifies) or to
    ``spillovers[ref]``. A compensated dimension reads the matrix's column it names (a
    fluorochrome, or in a square matrix a detector: :meth:`SpilloverMatrix.output_index`); a
    channel of the file the matrix does not name passes through as acquired; any other name is
    refused. ``membership`` is answered by the callback the strategy installs.
    """

    def __init__(
        self,
        sample: Sample,
        spillovers: Mapping[str, SpilloverMatrix] | None = None,
        *,
        events: np.ndarray | PreprocessedEvents | None = None,
        membership: Callable[[str], np.ndarray] | None = None,
    ) -> None:
        self.sample = sample
        self._events = sample.scaled_events() if events is None else events
        self._spillovers = dict(spillovers or {})
        self._membership = membership
        self._matrices: dict[str, SpilloverMatrix | None] = {}  # by reference
        self._compensated: dict[str, list[np.ndarray]] = {}  # by matrix id

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
        if reference in self._matrices:
            return self._matrices[reference]
        if reference == FCS_SPILL_ID:
            matrix = sample_spillover(self.sample)
        else:
            try:
                matrix = self._spillovers[reference]
            except KeyError:
                raise TemplateError(
                    f"unknown compensation reference {reference!r}",
                    path=self.sample.path,
                    hint="known: uncompensated, FCS" + "".join(f", {k}" for k in self._spillovers),
                ) from None
        self._matrices[reference] = matrix
        return matrix

    def _compensated_columns(self, matrix: SpilloverMatrix) -> list[np.ndarray]:
        if matrix.id not in self._compensated:
            columns = [self._raw(d) for d in matrix.detectors]
            self._compensated[matrix.id] = matrix.compensate_columns(columns)
        return self._compensated[matrix.id]

    def channel_values(self, channel: str, compensation: str | None) -> np.ndarray:
        if compensation is None:
            return np.asarray(self._raw(channel), dtype=np.float64)
        matrix = self._matrix(compensation)
        if matrix is None:
            # "FCS" on a file without $SPILLOVER: uncompensated, as GatingML specifies (the
            # GatingML run flags it as no_compensation)
            return np.asarray(self._raw(channel), dtype=np.float64)
        try:
            index = matrix.output_index(channel)
            if index is None and channel not in self.sample.channel_names:
                # a $PnS label given: the matrix may know the channel by its $PnN
                name = self._channel_name(channel, matrix)
                index = matrix.output_index(name)
        except TemplateError as error:
            raise error.with_path(self.sample.path) from None
        if index is not None:
            return self._compensated_columns(matrix)[index]
        # a channel of the file the matrix does not touch (scatter, Time): compensation
        # leaves it as acquired, in GatingML as in FlowKit
        return np.asarray(self._raw(channel), dtype=np.float64)

    def _channel_name(self, channel: str, matrix: SpilloverMatrix) -> str:
        """The $PnN of a channel given by name or label; refuses a dimension that is neither
        one of the matrix's names nor a channel of the file."""
        try:
            return self.sample.channels[self.sample.channel_index(channel)].name
        except InputError:
            named = [f for f in matrix.fluorochromes if f]
            raise TemplateError(
                f"compensated dimension {channel!r} (compensation-ref {matrix.id!r}) is "
                f"neither a fluorochrome nor a detector of spillover matrix {matrix.id!r} "
                f"nor a channel of {self.sample.path.name}",
                path=self.sample.path,
                hint="the matrix names: " + ", ".join([*named, *matrix.detectors]),
            ) from None

    def membership(self, gate_id: str) -> np.ndarray:
        if self._membership is None:
            raise TemplateError(f"gate {gate_id!r} is referenced but no strategy supplies it")
        return self._membership(gate_id)
