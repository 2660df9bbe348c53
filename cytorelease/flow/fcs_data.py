"""Decoding an FCS DATA segment into float32 events, with as few copies as the layout allows.

Native float32 data come back as a view of the bytes read; other float layouts cost one
``astype``. Integers are viewed in place with their width and byte order (strided per column
when widths are mixed, a cache-sized block of events at a time), masked with their $PnR bit mask
and cast once. Odd widths (24, 40, 48, 56 bits) are read through overlapping machine-word views
and masked: no loop over events.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import numpy as np

__all__ = ["DataLayout", "Datatype", "decode_events", "range_mask"]

_MACHINE_BYTES = (1, 2, 4, 8)
_NATIVE_BIG = sys.byteorder == "big"


class Datatype(StrEnum):
    INTEGER = "I"
    FLOAT = "F"
    DOUBLE = "D"


@dataclass(frozen=True, slots=True)
class DataLayout:
    """How one event is stored: datatype, byte order, bits per channel, integer bit masks."""

    datatype: Datatype
    big_endian: bool
    bits: tuple[int, ...]
    masks: tuple[int | None, ...]

    @property
    def bytes_per_event(self) -> int:
        return sum(self.bits) // 8

    @property
    def channel_count(self) -> int:
        return len(self.bits)


def range_mask(range_value: float, bits: int) -> int | None:
    """The $PnR bit mask of an integer channel, or None when it would keep every bit.

    FCS 3.1: integer values are masked with the next power of two at or above $PnR, minus one
    ($PnR 1024 keeps the low 10 bits); a mask as wide as the stored value changes nothing.
    """
    if not math.isfinite(range_value) or range_value < 2:
        return None
    ceiling = math.ceil(range_value)
    mask = (1 << (ceiling - 1).bit_length()) - 1
    return mask if mask < (1 << bits) - 1 else None


def decode_events(data: np.ndarray, n_events: int, layout: DataLayout) -> np.ndarray:
    """float32 events (n_events x channels) from exactly ``n_events * bytes_per_event`` bytes.

    ``data`` is a contiguous 1-D uint8 array; the result may be a view of it.
    """
    order = ">" if layout.big_endian else "<"
    n_channels = layout.channel_count
    if n_events == 0:
        return np.empty((0, n_channels), dtype=np.float32)
    if layout.datatype is not Datatype.INTEGER:
        itemsize = 4 if layout.datatype is Datatype.FLOAT else 8
        values = data.view(f"{order}f{itemsize}").reshape(n_events, n_channels)
        native = itemsize == 4 and layout.big_endian == _NATIVE_BIG
        if native and values.ctypes.data % 4 == 0:
            return values  # zero copies: the bytes as read are already native float32
        with np.errstate(over="ignore"):  # doubles beyond float32's range become +/-inf
            return values.astype(np.float32)
    widths = {b // 8 for b in layout.bits}
    if len(widths) == 1:
        return _uniform_integers(data, n_events, layout, widths.pop(), order)
    return _mixed_integers(data, n_events, layout, order)


def _uniform_integers(
    data: np.ndarray, n_events: int, layout: DataLayout, width: int, order: str
) -> np.ndarray:
    n_channels = layout.channel_count
    if width in _MACHINE_BYTES:
        values = data.view(f"{order}u{width}").reshape(n_events, n_channels)
    else:
        values = _odd_width_values(data, n_events * n_channels, width, 0, width, order)
        values = values.reshape(n_events, n_channels)
    if all(mask is None for mask in layout.masks):
        return values.astype(np.float32)
    full = (1 << (8 * width)) - 1
    masks = np.array([full if m is None else m for m in layout.masks], dtype=values.dtype)
    out = np.empty((n_events, n_channels), dtype=np.float32)
    # Mask and cast a cache-sized block at a time, flat against a tiled mask: one long inner
    # loop instead of one short loop per event.
    blocks = _blocks(n_events)
    tiled = np.tile(masks, blocks[0].stop - blocks[0].start)
    for block in blocks:
        flat = values[block].reshape(-1)
        out[block] = np.bitwise_and(flat, tiled[: flat.size]).reshape(-1, n_channels)
    return out


def _mixed_integers(data: np.ndarray, n_events: int, layout: DataLayout, order: str) -> np.ndarray:
    out = np.empty((n_events, layout.channel_count), dtype=np.float32)
    stride = layout.bytes_per_event
    starts = np.cumsum([0, *(b // 8 for b in layout.bits)])[:-1].tolist()
    machine = []
    for index, bits in enumerate(layout.bits):
        width, mask = bits // 8, layout.masks[index]
        if width in _MACHINE_BYTES:
            machine.append((index, width, mask))
            continue
        column = _odd_width_values(data, n_events, stride, starts[index], width, order)
        out[:, index] = column if mask is None else np.bitwise_and(column, mask)
    for block in _blocks(n_events):  # every channel of one block while its bytes are in cache
        for index, width, mask in machine:
            # A strided view straight onto this channel's bytes in each event: no copy.
            column = np.ndarray(
                shape=(block.stop - block.start,),
                dtype=f"{order}u{width}",
                buffer=data,
                offset=starts[index] + block.start * stride,
                strides=(stride,),
            )
            out[block, index] = column if mask is None else np.bitwise_and(column, mask)
    return out


def _blocks(n_rows: int, size: int = 1 << 16) -> list[slice]:
    return [slice(start, min(start + size, n_rows)) for start in range(0, n_rows, size)]


def _odd_width_values(
    data: np.ndarray, n_rows: int, stride: int, offset: int, width: int, order: str
) -> np.ndarray:
    """Unsigned values ``width`` bytes wide (3, 5, 6 or 7) at ``offset + i * stride``.

    Each value is read as the machine word that contains it (little-endian: starting at the
    value; big-endian: ending at it), and the neighbour's bytes in that word are masked off:
    one vectorised pass over overlapping views. The one or two rows whose word would reach
    outside ``data`` are assembled separately.
    """
    word = 4 if width < 4 else 8
    lead = word - width if order == ">" else 0  # big-endian words start before the value
    out = np.empty(n_rows, dtype=np.uint32 if word == 4 else np.uint64)
    first = -(-(lead - offset) // stride) if offset < lead else 0
    end = min(n_rows, (data.size - offset + lead - word) // stride + 1)
    if end > first:
        words = np.ndarray(
            shape=(end - first,),
            dtype=f"{order}u{word}",
            buffer=data,
            offset=offset - lead + first * stride,
            strides=(stride,),
        )
        np.bitwise_and(words, (1 << (8 * width)) - 1, out=out[first:end])
    byteorder: Literal["big", "little"] = "big" if order == ">" else "little"
    for row in [*range(min(first, n_rows)), *range(max(end, first), n_rows)]:
        at = offset + row * stride
        out[row] = int.from_bytes(data[at : at + width].tobytes(), byteorder)
    return out
