"""Gate dimensions: which values of an event a gate looks at.

A dimension names a channel, the compensation its values pass through first and the scale
transform applied after. :class:`Dimension` is one channel; :class:`RatioDimension` is GatingML's
``fratio`` "new dimension", ``A * (x1 - B) / (x2 - C)`` of two channels.

Values are resolved through an :class:`EventSource`: :class:`~cytorelease.flow.gating.events.
SampleEvents` for an FCS :class:`~cytorelease.flow.sample.Sample` (compensation by reference,
caching), or :class:`ArrayEvents` for columns already compensated (templates placing gates).

Compensation references (the ``compensation`` field) follow GatingML 2.0:
``None`` (written ``"uncompensated"``) means the values as acquired; ``"FCS"`` means the file's own
spillover ($SPILLOVER / $SPILL); any other string is the id of a spillover matrix registered in
the :class:`~cytorelease.flow.gating.strategy.GatingStrategy`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from cytorelease.errors import TemplateError
from cytorelease.flow.transforms import Transform

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

    from cytorelease.flow.gating.gatingml_export import GatingMLWriter

__all__ = [
    "ArrayEvents",
    "CompensationRef",
    "Dimension",
    "EventSource",
    "GateDimension",
    "RatioDimension",
    "RecentValues",
]


class CompensationRef(StrEnum):
    """The two reserved GatingML compensation references."""

    UNCOMPENSATED = "uncompensated"
    FCS = "FCS"  # the spillover matrix stored in the FCS file itself


def _describe_transform(transform: Transform | None) -> dict[str, Any] | None:
    return None if transform is None else {"kind": transform.kind.value, **transform.parameters}


def _normalise_compensation(compensation: str | None) -> str | None:
    if compensation is None or compensation == CompensationRef.UNCOMPENSATED:
        return None
    return str(compensation)


@runtime_checkable
class EventSource(Protocol):
    """What a gate reads events from."""

    @property
    def event_count(self) -> int: ...

    def channel_values(self, channel: str, compensation: str | None) -> np.ndarray:
        """One channel's values (float64) after the given compensation, before any transform."""
        ...

    def membership(self, gate_id: str) -> np.ndarray:
        """Full membership (parents included) of another gate; used by boolean gates."""
        ...


@dataclass(frozen=True, slots=True)
class Dimension:
    """One channel ($PnN, or a compensated fluorochrome name) on an optional transformed scale."""

    channel: str
    transform: Transform | None = None
    compensation: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "compensation", _normalise_compensation(self.compensation))

    @property
    def channels(self) -> tuple[str, ...]:
        return (self.channel,)

    @property
    def label(self) -> str:
        return self.channel

    def values(self, events: EventSource) -> np.ndarray:
        if isinstance(events, RecentValues):
            return events.values_of(self, self._compute)
        return self._compute(events)

    def _compute(self, events: EventSource) -> np.ndarray:
        raw = events.channel_values(self.channel, self.compensation)
        return raw if self.transform is None else self.transform.apply(raw)

    def describe(self) -> dict[str, Any]:
        """As plain data (JSON, the result record)."""
        return {
            "channel": self.channel,
            "compensation": self.compensation,
            "transform": _describe_transform(self.transform),
        }

    def write_gatingml(self, out: GatingMLWriter, element: Element) -> None:
        """The body of a GatingML dimension: the channel, by $PnN."""
        out.child(element, "data-type:fcs-dimension", {"data-type:name": out.channel(self.channel)})


@dataclass(frozen=True, slots=True)
class RatioDimension:
    """GatingML ``fratio``: ``A * (numerator - B) / (denominator - C)``, then ``transform``.

    ``id`` is the transformation id the ratio is known by (GatingML ``transformation-ref``).
    """

    id: str
    numerator: str
    denominator: str
    A: float = 1.0
    B: float = 0.0
    C: float = 0.0
    transform: Transform | None = None
    compensation: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "compensation", _normalise_compensation(self.compensation))

    @property
    def channels(self) -> tuple[str, ...]:
        return (self.numerator, self.denominator)

    @property
    def label(self) -> str:
        return self.id

    def values(self, events: EventSource) -> np.ndarray:
        if isinstance(events, RecentValues):
            return events.values_of(self, self._compute)
        return self._compute(events)

    def _compute(self, events: EventSource) -> np.ndarray:
        x1 = events.channel_values(self.numerator, self.compensation)
        x2 = events.channel_values(self.denominator, self.compensation)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = self.A * (x1 - self.B) / (x2 - self.C)
        return ratio if self.transform is None else self.transform.apply(ratio)

    def describe(self) -> dict[str, Any]:
        """As plain data (JSON, the result record)."""
        return {
            "ratio": self.id,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "A": self.A,
            "B": self.B,
            "C": self.C,
            "compensation": self.compensation,
            "transform": _describe_transform(self.transform),
        }

    def write_gatingml(self, out: GatingMLWriter, element: Element) -> None:
        """The body of a GatingML dimension: a new dimension, the document's fratio."""
        ref = out.ratio_ref(self)
        out.child(element, "data-type:new-dimension", {"data-type:transformation-ref": ref})


GateDimension = Dimension | RatioDimension


class RecentValues:
    """An :class:`EventSource` that remembers the values of the last ``keep`` dimensions read.

    Placing a gate and then applying it read the same dimensions one after the other; without
    this, each read would convert and transform a million values again. Only a few are kept,
    because every kept column costs as much memory as one channel of the tube; values that are
    a view of columns held anyway (an untransformed compensated channel, the scaled Time) are
    free to read again and are not kept. Remembered arrays are read-only.
    """

    def __init__(self, source: EventSource, keep: int = 2) -> None:
        self.source = source
        self._keep = keep
        self._recent: dict[GateDimension, np.ndarray] = {}  # oldest first

    @property
    def event_count(self) -> int:
        return self.source.event_count

    def channel_values(self, channel: str, compensation: str | None) -> np.ndarray:
        return self.source.channel_values(channel, compensation)

    def membership(self, gate_id: str) -> np.ndarray:
        return self.source.membership(gate_id)

    def values_of(
        self, dimension: GateDimension, compute: Callable[[EventSource], np.ndarray]
    ) -> np.ndarray:
        values = self._recent.pop(dimension, None)
        if values is None:
            values = compute(self.source)
            if values.base is not None:  # a view: nothing was computed
                return values
            values.flags.writeable = False
            while len(self._recent) >= self._keep:
                del self._recent[next(iter(self._recent))]
        self._recent[dimension] = values  # now the most recent
        return values


class ArrayEvents:
    """An :class:`EventSource` over plain columns, e.g. ``{"FSC-A": array, ...}``.

    The columns are taken as already compensated: every compensation reference reads the same
    column. ``memberships`` supplies other gates' memberships for boolean gates.
    """

    def __init__(
        self,
        columns: Mapping[str, np.ndarray],
        memberships: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        self._columns = {
            name: np.asarray(values, dtype=np.float64) for name, values in columns.items()
        }
        self._memberships = dict(memberships or {})
        lengths = {len(v) for v in self._columns.values()} | {
            len(v) for v in self._memberships.values()
        }
        if len(lengths) > 1:
            raise TemplateError(f"event columns differ in length: {sorted(lengths)}")
        self._count = lengths.pop() if lengths else 0

    @property
    def event_count(self) -> int:
        return self._count

    def channel_values(self, channel: str, compensation: str | None) -> np.ndarray:
        try:
            return self._columns[channel]
        except KeyError:
            raise TemplateError(
                f"no column named {channel!r}",
                hint="columns: " + ", ".join(self._columns),
            ) from None

    def membership(self, gate_id: str) -> np.ndarray:
        try:
            return self._memberships[gate_id]
        except KeyError:
            raise TemplateError(
                f"boolean gate refers to gate {gate_id!r}, whose membership was not supplied",
                hint="apply boolean gates through a GatingStrategy",
            ) from None


def as_event_source(events: EventSource | Mapping[str, np.ndarray]) -> EventSource:
    """Accept an EventSource or a plain mapping of columns."""
    if isinstance(events, Mapping):
        return ArrayEvents(events)
    return events
