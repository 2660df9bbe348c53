"""Decoding an FCS DATA segment into float32 events, with as few copies as the layout allows.

Native float32 data come back as a view of the bytes read; other float layouts cost one
``astype``. Integers are viewed in place with their width and byte order (strided per column
when widths are mixed), masked with their $PnR bit mask and cast once. Odd widths (24, 40, 48,
56 bits) are padded to the next machine width in one vectorised copy: no loop over events.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import StrEnum

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
    if not np.isfinite(range_value) or range_value < 2:
        return None
    ceiling = int(np.ceil(range_value))
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
    values = _unsigned_rows(data.reshape(-1, width), width, order).reshape(n_events, n_channels)
    if any(mask is not None for mask in layout.masks):
        full = (1 << (8 * width)) - 1
        masks = np.array([full if m is None else m for m in layout.masks], dtype=values.dtype)
        values = np.bitwise_and(values, masks)
    return values.astype(np.float32)


def _mixed_integers(data: np.ndarray, n_events: int, layout: DataLayout, order: str) -> np.ndarray:
    out = np.empty((n_events, layout.channel_count), dtype=np.float32)
    stride = layout.bytes_per_event
    rows = data.reshape(n_events, stride)
    column_start = 0
    for index, bits in enumerate(layout.bits):
        width = bits // 8
        if width in _MACHINE_BYTES:
            # A strided view straight onto this channel's bytes in every event: no copy.
            column = np.ndarray(
                shape=(n_events,),
                dtype=f"{order}u{width}",
                buffer=data,
                offset=column_start,
                strides=(stride,),
            )
        else:
            column = _unsigned_rows(rows[:, column_start : column_start + width], width, order)
        mask = layout.masks[index]
        out[:, index] = column if mask is None else np.bitwise_and(column, mask)
        column_start += width
    return out


def _unsigned_rows(byte_rows: np.ndarray, width: int, order: str) -> np.ndarray:
    """One unsigned integer per row of ``width`` bytes (rows may be a strided view)."""
    if width in _MACHINE_BYTES:
        return np.ascontiguousarray(byte_rows).view(f"{order}u{width}").reshape(-1)
    padded_width = 4 if width < 4 else 8
    padded = np.zeros((byte_rows.shape[0], padded_width), dtype=np.uint8)
    if order == "<":
        padded[:, :width] = byte_rows  # low-order bytes first; the high ones stay zero
    else:
        padded[:, padded_width - width :] = byte_rows
    return padded.view(f"{order}u{padded_width}").reshape(-1)
