"""FlowJo 10's own scales, which GatingML 2.0 has no element for: its log and its biex.

Both map data values to a 0..1 display scale, like the GatingML transforms in
:mod:`cytorelease.flow.transforms`, so gates on them are drawn and compared the same way.

- :class:`FlowJoLogTransform` (``offset``, ``decades``): values below ``offset`` sit at the
  bottom of the scale, ``(log10(max(x, offset)) - log10(offset)) / decades`` above it.
- :class:`FlowJoBiexTransform` (``negative``, ``width``, ``positive``, ``max_range``, ``length``):
  FlowJo does not compute its biex in closed form. It tabulates a biexponential on 4,097 channel
  points (0..4096) and reads values off that table by linear interpolation, clamped to its
  ends; the table is what FlowJo draws and gates on, so it is what is computed here. ``width``
  is FlowJo's negative "width basis" (-10, -100...), whose log10 sets the linear region.
  Only ``length`` 256 (FlowJo 10's display resolution, the one value whose table is known) is
  accepted; another is refused rather than guessed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import ClassVar

import numpy as np

from cytorelease.flow.transforms import Transform, TransformKind

__all__ = ["BIEX_CHANNELS", "FlowJoBiexTransform", "FlowJoLogTransform", "biex_table"]

# the channel range FlowJo 10 tabulates its biex on (its "4096 channel" scale)
BIEX_CHANNELS = 4096
_LN10 = math.log(10.0)


def _negative_range(positive_range: float, width: float) -> float:
    """The root d in (0, positive_range] of ``2 ln d + width d = 2 ln p - width p``.

    The left side rises with d, so bisection brackets the root; a few Newton steps from the
    bracket's middle would do, but bisection to the float's resolution is as fast and never
    leaves the bracket.
    """
    if width == 0:
        return positive_range
    target = 2.0 * math.log(positive_range) - width * positive_range
    low, high = 0.0, positive_range
    for _ in range(200):
        middle = 0.5 * (low + high)
        if middle in (low, high):
            break
        if 2.0 * math.log(middle) + width * middle < target:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


@lru_cache(maxsize=64)
def biex_table(
    negative: float, width: float, positive: float, max_range: float
) -> tuple[np.ndarray, np.ndarray]:
    """FlowJo's biex table: data values and the channel (0..4096) each is drawn at."""
    channels = BIEX_CHANNELS
    half_width = math.log10(-width) / 2.0
    decades = positive - half_width
    extra = max(negative, 0.0) + half_width
    zero = min(int(extra * channels / (extra + decades)), channels // 2)
    if zero > 0:
        decades = extra * channels / zero
    slope = half_width / decades  # the width on the table's own scale
    positive_range = _LN10 * decades
    minimum = max_range / math.exp(positive_range)
    negative_range = _negative_range(positive_range, slope)
    points = channels + 1
    steps = np.arange(points, dtype=np.float64)
    rising = np.exp(steps / points * positive_range)
    falling = np.exp(steps / points * -negative_range)
    falling *= math.exp((positive_range + negative_range) * (slope + extra / decades))
    offset = rising[zero] - falling[zero]
    values = np.empty(points, dtype=np.float64)
    values[zero:] = minimum * (rising[zero:] - falling[zero:] - offset)
    # below the zero channel the table mirrors the values above it
    values[:zero] = -values[2 * zero - np.arange(zero)]
    values.setflags(write=False)
    steps.setflags(write=False)
    return values, steps


@dataclass(frozen=True)
class FlowJoBiexTransform(Transform):
    """FlowJo 10's biex; parameters as the workspace names them (``neg``, ``width``, ``pos``,
    ``maxRange``, ``length``)."""

    kind: ClassVar[TransformKind] = TransformKind.FLOWJO_BIEX
    negative: float = 0.0
    width: float = -10.0
    positive: float = 4.418539922
    max_range: float = 262144.0
    length: float = 256.0
    _table: tuple[np.ndarray, np.ndarray] = field(
        init=False, repr=False, compare=False, hash=False, default=(np.empty(0), np.empty(0))
    )

    def __post_init__(self) -> None:
        self._require(self.length == 256, "only length 256 (FlowJo 10's table) is defined")
        self._require(self.width < 0, "the width basis must be negative (e.g. -10)")
        self._require(self.max_range > 0 and self.positive > 0, "needs maxRange > 0, pos > 0")
        self._require(self.negative >= 0, "needs neg >= 0")
        self._require(
            math.log10(-self.width) / 2.0 < self.positive,
            "the width basis leaves no positive decades",
        )
        table = biex_table(self.negative, self.width, self.positive, self.max_range)
        self._require(bool(np.all(np.diff(table[0]) > 0)), "its table is not increasing")
        object.__setattr__(self, "_table", table)

    def apply(self, x: np.ndarray | float) -> np.ndarray:
        values, channels = self._table
        return np.interp(np.asarray(x, dtype=np.float64), values, channels) / BIEX_CHANNELS

    def inverse(self, y: np.ndarray | float) -> np.ndarray:
        values, channels = self._table
        return np.interp(np.asarray(y, dtype=np.float64) * BIEX_CHANNELS, channels, values)

    @property
    def parameters(self) -> dict[str, float]:
        return {
            "neg": self.negative,
            "width": self.width,
            "pos": self.positive,
            "maxRange": self.max_range,
            "length": self.length,
        }


@dataclass(frozen=True)
class FlowJoLogTransform(Transform):
    """FlowJo 10's log: ``offset`` is the bottom of the scale, ``decades`` its height."""

    kind: ClassVar[TransformKind] = TransformKind.FLOWJO_LOG
    offset: float = 1.0
    decades: float = 4.5

    def __post_init__(self) -> None:
        self._require(self.offset > 0 and self.decades > 0, "needs offset > 0 and decades > 0")

    def apply(self, x: np.ndarray | float) -> np.ndarray:
        clipped = np.maximum(np.asarray(x, dtype=np.float64), self.offset)
        return (np.log10(clipped) - math.log10(self.offset)) / self.decades

    def inverse(self, y: np.ndarray | float) -> np.ndarray:
        return self.offset * 10.0 ** (np.asarray(y, dtype=np.float64) * self.decades)

    @property
    def parameters(self) -> dict[str, float]:
        return {"offset": self.offset, "decades": self.decades}
