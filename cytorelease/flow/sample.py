"""The immutable in-memory form of one FCS data set."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from cytorelease.errors import InputError

__all__ = ["Channel", "Sample", "Spill"]


@dataclass(frozen=True, slots=True)
class Channel:
    """One parameter of an FCS data set.

    ``name`` is $PnN (the detector), ``label`` is $PnS (the marker/stain) or None. ``bits`` is
    $PnB; ``range`` is $PnR; ``log_decades``/``log_offset`` come from $PnE (0, 0 when linear);
    ``gain`` is $PnG (1.0 when absent).
    """

    index: int
    name: str
    label: str | None
    range: float
    bits: int
    log_decades: float = 0.0
    log_offset: float = 0.0
    gain: float = 1.0


@dataclass(frozen=True, slots=True)
class Spill:
    """A spillover matrix labelled by the channel names ($PnN) it applies to (rows = sources)."""

    channels: tuple[str, ...]
    matrix: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.channels)
        if self.matrix.shape != (n, n):
            raise InputError(f"spillover matrix is {self.matrix.shape}, expected {n}x{n}")
        self.matrix.setflags(write=False)

    def to_dict(self) -> dict[str, object]:
        return {"channels": list(self.channels), "matrix": self.matrix.tolist()}


@dataclass(frozen=True, slots=True, eq=False)
class Sample:
    """One FCS data set: events (float32, read-only, n_events x n_channels) and metadata.

    ``events`` hold the values as stored: integers after their $PnR bit mask, floats as written;
    no $PnE/$PnG scaling (see :meth:`scaled_events`).

    Two samples are equal only when they are the same object (comparing events element by
    element is neither cheap nor a yes/no); compare ``sha256`` and ``dataset_index`` to ask
    whether they hold the same data. A sample pickles (for worker processes) as a plain one.
    """

    path: Path
    sha256: str
    fcs_version: str
    events: np.ndarray
    channels: tuple[Channel, ...]
    keywords: Mapping[str, str]
    spill: Spill | None = None
    dataset_index: int = 0
    dataset_count: int = 1
    _lookup: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.events.setflags(write=False)
        if not isinstance(self.keywords, MappingProxyType):
            object.__setattr__(self, "keywords", MappingProxyType(dict(self.keywords)))

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # keywords travel as a dict (a mappingproxy does not pickle); a sample still hashing
        # its file is pickled with the finished hash
        return (
            Sample,
            (
                self.path,
                self.sha256,
                self.fcs_version,
                np.array(self.events),
                self.channels,
                dict(self.keywords),
                self.spill,
                self.dataset_index,
                self.dataset_count,
            ),
        )

    @property
    def event_count(self) -> int:
        return int(self.events.shape[0])

    @property
    def channel_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.channels)

    def channel_index(self, name_or_label: str) -> int:
        """Index of a channel by $PnN (exact, then case-insensitive) or $PnS (case-insensitive)."""
        if not self._lookup:
            lookup: dict[str, int] = {}
            for c in reversed(self.channels):  # first occurrence wins
                lookup[c.name] = c.index
                lookup[c.name.casefold()] = c.index
                if c.label:
                    lookup[c.label.casefold()] = c.index
            self._lookup.update(lookup)
        for key in (name_or_label, name_or_label.casefold()):
            if key in self._lookup:
                return self._lookup[key]
        raise InputError(
            f"no channel named {name_or_label!r}",
            path=self.path,
            hint="channels: " + ", ".join(_describe(c) for c in self.channels),
        )

    def column(self, name_or_label: str) -> np.ndarray:
        """One channel's values (a view, read-only)."""
        return self.events[:, self.channel_index(name_or_label)]

    @property
    def timestep(self) -> float:
        """$TIMESTEP in seconds per Time unit; 1.0 when absent or not a number (tolerated)."""
        text = self.keywords.get("$TIMESTEP", "").strip()
        try:
            step = float(text) if text else 1.0
        except ValueError:
            return 1.0
        return step if step > 0 else 1.0

    def scaled_column(self, index: int) -> np.ndarray | None:
        """One channel as FlowKit preprocesses it (float64), or None when it is unchanged.

        Time ($PnN ``time``, any case) is multiplied by $TIMESTEP; otherwise $PnE = f1,f2 with
        f1 > 0 gives f2 * 10 ** (f1 * x / range) (f2 = 0 read as 1), else $PnG = g != 1 gives
        x / g.
        """
        c = self.channels[index]
        column = self.events[:, index]
        if c.name.lower() == "time":
            step = self.timestep
            return column.astype(np.float64) * step if step != 1.0 else None
        if c.log_decades > 0:
            offset = c.log_offset if c.log_offset > 0 else 1.0
            return offset * 10 ** (c.log_decades * column.astype(np.float64) / c.range)
        if c.gain not in (0.0, 1.0):
            return column.astype(np.float64) / c.gain
        return None

    def scaled_events(self) -> np.ndarray:
        """All events as FlowKit preprocesses them (see :meth:`scaled_column`): a new float64 array."""
        out = self.events.astype(np.float64, copy=True)
        for c in self.channels:
            scaled = self.scaled_column(c.index)
            if scaled is not None:
                out[:, c.index] = scaled
        return out


def _describe(channel: Channel) -> str:
    return f"{channel.name} ({channel.label})" if channel.label else channel.name
