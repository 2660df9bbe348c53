"""Decoding an FCS DATA segment into float32 events, with as few copies as the layout allows.

Native float32 data come back as a view of the bytes read; other float layouts cost one
``astype``. Integers are viewed in place with their width and byte order (strided per column
when widths are mixed, a cache-sized block of events at a time), masked with their $PnR bit mask
and cast once. Odd widths (24, 40, 48, 56 bits) are read through overlapping machine-word views
and masked: no loop over events. ASCII data ($DATATYPE A, FCS 2.0/3.0, deprecated in 3.1) are
checked byte-wise against the characters a number may use, then parsed by numpy in one call per
column; only a failure falls back to a loop, to name the first bad field.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import numpy as np

from cytorelease.errors import InputError

__all__ = ["DataLayout", "Datatype", "count_ascii_values", "decode_events", "range_mask"]

_MACHINE_BYTES = (1, 2, 4, 8)
_NATIVE_BIG = sys.byteorder == "big"


class Datatype(StrEnum):
    INTEGER = "I"
    FLOAT = "F"
    DOUBLE = "D"
    ASCII = "A"


@dataclass(frozen=True, slots=True)
class DataLayout:
    """How one event is stored: datatype, byte order, bits per channel, integer bit masks.

    Fixed-width ASCII stores 8 bits per character ($PnB characters per value); free-format
    ASCII ($PnB ``*``) has no fixed width: ``delimited`` is set and every width is 0. Integer
    ``bits`` are whole bytes: ``padded`` numbers the parameters whose $PnB was not (rounded up,
    the value masked to its $PnB low bits).
    """

    datatype: Datatype
    big_endian: bool
    bits: tuple[int, ...]
    masks: tuple[int | None, ...]
    delimited: bool = False
    padded: tuple[int, ...] = ()

    @property
    def bytes_per_event(self) -> int:
        """Bytes of one event; 0 for free-format ASCII, whose events vary in length."""
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
    """float32 events (n_events x channels) from exactly ``n_events * bytes_per_event`` bytes
    (free-format ASCII: the whole DATA segment, which must hold ``n_events * channels`` values).

    ``data`` is a contiguous 1-D uint8 array; the result may be a view of it. ASCII that is not
    a number, or too few or too many free-format values, raise InputError (without a path).
    """
    order = ">" if layout.big_endian else "<"
    n_channels = layout.channel_count
    if n_events == 0:
        return np.empty((0, n_channels), dtype=np.float32)
    if layout.datatype is Datatype.ASCII:
        if layout.delimited:
            return _delimited_ascii(data, n_events, n_channels)
        return _fixed_ascii(data, n_events, [b // 8 for b in layout.bits])
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


# ASCII ($DATATYPE A). FCS 3.0/3.1: fixed-width fields of $PnB characters with nothing between
# them, or (all $PnB "*") values separated by space, tab, comma, CR or LF, runs of them counting
# as one. The standard says integers; decimal points, exponents and signs are accepted as well.
_NUMBER = re.compile(rb" *[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)? *")
_NUMBER_BYTES = b"0123456789+-.eE"
_DELIMITERS = b" \t,\r\n"
_FIXED_ALLOWED = np.zeros(256, dtype=bool)
_FIXED_ALLOWED[list(_NUMBER_BYTES + b" ")] = True
_FREE_ALLOWED = np.zeros(256, dtype=bool)
_FREE_ALLOWED[list(_NUMBER_BYTES + _DELIMITERS)] = True
_DELIMITERS_TO_SPACE = bytes.maketrans(_DELIMITERS, b" " * len(_DELIMITERS))


def count_ascii_values(data: np.ndarray) -> int:
    """How many free-format ASCII values ``data`` holds (delimiter runs count as one)."""
    return len(data.tobytes().translate(_DELIMITERS_TO_SPACE).split())


def _fixed_ascii(data: np.ndarray, n_events: int, widths: list[int]) -> np.ndarray:
    rows = data.reshape(n_events, sum(widths))
    out = np.empty((n_events, len(widths)), dtype=np.float32)
    bad: list[tuple[int, int, bytes]] = []  # (event, channel, field) of each column's first
    start = 0
    for index, width in enumerate(widths):
        chars = rows[:, start : start + width]
        start += width
        # Python's float() (which numpy's parser follows) also takes "nan", "inf" and "1_0":
        # only the characters of a decimal number may reach it.
        allowed = _FIXED_ALLOWED[chars].all(axis=1)
        fields = np.ascontiguousarray(chars).view(f"S{width}").reshape(n_events)
        first = int(np.argmin(allowed)) if not allowed.all() else n_events
        try:
            column = fields[:first].astype(np.float64)
        except ValueError:
            first = _first_non_number(fields[:first])
        else:
            with np.errstate(over="ignore"):  # beyond float32's range becomes +/-inf
                out[:first, index] = column
        if first < n_events:
            bad.append((first, index, chars[first].tobytes()))
    if bad:
        event, index, field = min(bad)
        offset = (event * sum(widths)) + sum(widths[:index])
        raise InputError(
            f"ASCII DATA ($DATATYPE A): event {event + 1:,} of {n_events:,}, parameter "
            f"{index + 1} ($P{index + 1}B {widths[index]} characters, bytes {offset:,}-"
            f"{offset + widths[index] - 1:,} of the DATA segment) holds {_shown(field)}, not a "
            "number"
        )
    return out


def _delimited_ascii(data: np.ndarray, n_events: int, n_channels: int) -> np.ndarray:
    raw = data.tobytes()
    allowed = _FREE_ALLOWED[data]
    if not allowed.all():
        # Only delimiters and number characters precede the first bad byte: count values there.
        at = int(np.argmin(allowed))
        head = raw[:at].translate(_DELIMITERS_TO_SPACE)
        ordinal = len(head.split()) - (0 if not head or head.endswith(b" ") else 1)
        token = raw[at:].translate(_DELIMITERS_TO_SPACE).split(b" ", 1)[0]
        field = head.rsplit(b" ", 1)[-1] + token
        raise _free_value_error(ordinal, n_channels, field)
    tokens = raw.translate(_DELIMITERS_TO_SPACE).split()
    needed = n_events * n_channels
    if len(tokens) != needed:
        fewer = "only " if len(tokens) < needed else ""
        raise InputError(
            f"free-format ASCII DATA ($PnB *) holds {fewer}{len(tokens):,} values but $TOT "
            f"{n_events:,} events x $PAR {n_channels} parameters need {needed:,}; $TOT, $PAR "
            "or the DATA offsets are wrong"
        )
    fields = np.array(tokens, dtype=bytes)
    try:
        values = fields.astype(np.float64)
    except ValueError:
        ordinal = _first_non_number(fields)
        raise _free_value_error(ordinal, n_channels, tokens[ordinal]) from None
    with np.errstate(over="ignore"):
        return values.reshape(n_events, n_channels).astype(np.float32)


def _first_non_number(fields: np.ndarray) -> int:
    for index, field in enumerate(fields.tolist()):
        if not _NUMBER.fullmatch(field):
            return index
    return len(fields)  # pragma: no cover - numpy refused a field the pattern accepts


def _free_value_error(ordinal: int, n_channels: int, field: bytes) -> InputError:
    event, index = divmod(ordinal, n_channels)
    return InputError(
        f"free-format ASCII DATA ($PnB *): value {ordinal + 1:,} (event {event + 1:,}, "
        f"parameter {index + 1}) is {_shown(field)}, not a number; values are separated by "
        "space, tab, comma, CR or LF"
    )


def _shown(field: bytes) -> str:
    return repr(field.decode("latin-1"))
