"""Writing spec-compliant FCS 2.0 / 3.0 / 3.1 / 3.2 list-mode files.

Used by the sample-lot generator and by the reader's round-trip tests, so it covers every layout the
reader must understand: $DATATYPE I (any of 8/16/24/32/64 bits, mixed per channel), F and D, both
byte orders (FCS 2.0's short forms included), ASCII ($DATATYPE A) in fixed-width and free format,
supplemental-free TEXT with escaped delimiters, and HEADER data offsets left blank (offsets only
in TEXT, as large files must do).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

from cytorelease.flow.sample import Spill

__all__ = ["ChannelSpec", "FCSByteOrder", "FCSDatatype", "FCSVersion", "write_fcs"]

_HEADER_LENGTH = 58  # "FCS3.1" + 4 spaces + six 8-character offsets
_HEADER_OFFSET_LIMIT = 99_999_999  # HEADER offsets have 8 digits; beyond that they are written 0


class FCSVersion(StrEnum):
    V2_0 = "2.0"
    V3_0 = "3.0"
    V3_1 = "3.1"
    V3_2 = "3.2"


class FCSDatatype(StrEnum):
    INTEGER = "I"
    FLOAT = "F"
    DOUBLE = "D"
    ASCII = "A"


class FCSByteOrder(StrEnum):
    LITTLE = "little"
    BIG = "big"


@dataclass(frozen=True)
class ChannelSpec:
    """One column of the events: $PnN, $PnS, $PnR and $PnB.

    For $DATATYPE A, ``bits`` is the number of characters per value (fixed width); None there
    means as many as the column's longest value needs.
    """

    name: str
    label: str | None = None
    range: float = 262144.0
    bits: int | None = None  # None: 32 for F, 64 for D, 32 for I, the widest value for A


_INTEGER_BITS = (8, 16, 24, 32, 64)
_ASCII_DELIMITERS = " \t,\r\n"  # FCS 3.0/3.1: what may separate free-format ASCII values


def write_fcs(
    path: str | Path,
    events: np.ndarray,
    channels: Sequence[ChannelSpec],
    *,
    keywords: Mapping[str, str] | None = None,
    version: str = "3.1",
    datatype: str = "F",
    byteorder: str = "little",
    spill: Spill | None = None,
    blank_header_offsets: bool = False,
    delimiter: str = "/",
    ascii_delimiter: str | None = None,
) -> Path:
    """Write ``events`` (n_events x n_channels) as one FCS list-mode data set; returns the path.

    Integer data are rounded and must fit their channel's $PnB bits (ValueError otherwise).
    ``keywords`` add or override TEXT keywords (keys are upper-cased; a missing ``$`` is kept
    missing, so custom keywords stay custom). The spill is written as $SPILLOVER (3.1/3.2) or
    $SPILL (2.0/3.0). FCS 3.2 requires $CYT: pass it, or the file says ``unknown``.

    ``datatype="A"`` writes ASCII: whole numbers as integers, others as the shortest text that
    reads back to the same float64 (NaN and infinity raise ValueError). Fixed width by default,
    each value right-aligned in its channel's ``bits`` characters; with ``ascii_delimiter`` (one
    or more of space, tab, comma, CR, LF) free format instead: $PnB ``*`` and every value
    followed by the delimiter but the last. ``byteorder`` does not apply to ASCII ($BYTEORD is
    written 1,2,3,4).
    """
    fcs_version = FCSVersion(version)
    kind = FCSDatatype(datatype)
    order = FCSByteOrder(byteorder)
    events = np.asarray(events)
    if events.ndim != 2 or events.shape[1] != len(channels):
        raise ValueError(
            f"events must be n_events x {len(channels)} (one column per channel), "
            f"got shape {events.shape}"
        )
    if len(delimiter.encode("utf-8")) != 1:
        raise ValueError(f"the delimiter must be one single-byte character, got {delimiter!r}")
    widths: list[int | str]  # $PnB per channel
    if kind is FCSDatatype.ASCII:
        data, widths = _ascii_events(events, channels, ascii_delimiter)
    else:
        if ascii_delimiter is not None:
            raise ValueError("ascii_delimiter applies to $DATATYPE A only")
        bits = [_channel_bits(spec, kind) for spec in channels]
        data = _pack_events(events, bits, kind, order)
        widths = list(bits)

    text_keywords = _text_keywords(
        events.shape[0], channels, widths, kind, order, fcs_version, spill, keywords
    )
    with_data_offsets = fcs_version != FCSVersion.V2_0 or blank_header_offsets
    text, data_start = _layout_text(text_keywords, len(data), delimiter, with_data_offsets)
    text_start = _HEADER_LENGTH
    text_end = text_start + len(text) - 1
    data_end = data_start + len(data) - 1 if data else data_start
    if not data:
        data_start = data_end = 0
    blank_data = blank_header_offsets or data_end > _HEADER_OFFSET_LIMIT
    header = _header(
        fcs_version,
        (
            text_start,
            text_end,
            0 if blank_data else data_start,
            0 if blank_data else data_end,
            0,
            0,
        ),
    )
    out = Path(path)
    with open(out, "wb") as handle:
        handle.write(header)
        handle.write(text)
        handle.write(data)
    return out


def _channel_bits(spec: ChannelSpec, kind: FCSDatatype) -> int:
    if kind is FCSDatatype.FLOAT:
        if spec.bits not in (None, 32):
            raise ValueError(f"channel {spec.name!r}: $DATATYPE F needs 32 bits, got {spec.bits}")
        return 32
    if kind is FCSDatatype.DOUBLE:
        if spec.bits not in (None, 64):
            raise ValueError(f"channel {spec.name!r}: $DATATYPE D needs 64 bits, got {spec.bits}")
        return 64
    bits = 32 if spec.bits is None else spec.bits
    if bits not in _INTEGER_BITS:
        raise ValueError(f"channel {spec.name!r}: integer widths are {_INTEGER_BITS}, got {bits}")
    return bits


def _pack_events(
    events: np.ndarray, bits: list[int], kind: FCSDatatype, order: FCSByteOrder
) -> bytes:
    prefix = "<" if order is FCSByteOrder.LITTLE else ">"
    if kind is FCSDatatype.FLOAT:
        return np.ascontiguousarray(events, dtype=prefix + "f4").tobytes()
    if kind is FCSDatatype.DOUBLE:
        return np.ascontiguousarray(events, dtype=prefix + "f8").tobytes()
    n_events = events.shape[0]
    widths = [b // 8 for b in bits]
    out = np.empty((n_events, sum(widths)), dtype=np.uint8)
    column_start = 0
    for index, width in enumerate(widths):
        values = _as_unsigned(events[:, index], bits[index], index)
        # Each value as 8 bytes in the file's order, then keep the low-order ``width`` bytes.
        as_bytes = values.astype(prefix + "u8").view(np.uint8).reshape(n_events, 8)
        low = as_bytes[:, :width] if order is FCSByteOrder.LITTLE else as_bytes[:, 8 - width :]
        out[:, column_start : column_start + width] = low
        column_start += width
    return out.tobytes()


def _as_unsigned(column: np.ndarray, bits: int, index: int) -> np.ndarray:
    if column.dtype.kind == "f":
        if not np.all(np.isfinite(column)):
            raise ValueError(f"column {index}: integer data cannot hold NaN or infinity")
        column = np.rint(column)
    if column.size and (column.min() < 0 or column.max() > 2**bits - 1):
        raise ValueError(
            f"column {index}: values {column.min()}..{column.max()} do not fit {bits} unsigned bits"
        )
    return column.astype(np.uint64)


def _ascii_events(
    events: np.ndarray, channels: Sequence[ChannelSpec], ascii_delimiter: str | None
) -> tuple[bytes, list[int | str]]:
    """The DATA bytes of ASCII events and each channel's $PnB (characters, or ``*``)."""
    columns = [
        [_ascii_number(value, index) for value in events[:, index].tolist()]
        for index in range(events.shape[1])
    ]
    if ascii_delimiter is not None:
        if not ascii_delimiter or any(c not in _ASCII_DELIMITERS for c in ascii_delimiter):
            raise ValueError(
                f"ascii_delimiter must be made of space, tab, comma, CR and LF, got "
                f"{ascii_delimiter!r}"
            )
        fixed = [spec.name for spec in channels if spec.bits is not None]
        if fixed:
            raise ValueError(f"free-format ASCII has no fixed width; channels {fixed} set bits")
        values = [column[row] for row in range(events.shape[0]) for column in columns]
        return ascii_delimiter.join(values).encode("ascii"), ["*"] * len(channels)
    widths: list[int] = []
    for spec, column in zip(channels, columns, strict=True):
        longest = max((len(text) for text in column), default=1)
        width = longest if spec.bits is None else spec.bits
        if width < 1 or longest > width:
            raise ValueError(
                f"channel {spec.name!r}: values need {longest} characters, $PnB is {width}"
            )
        widths.append(width)
    fields = (
        column[row].rjust(width)
        for row in range(events.shape[0])
        for column, width in zip(columns, widths, strict=True)
    )
    return "".join(fields).encode("ascii"), list(widths)


def _ascii_number(value: float, index: int) -> str:
    if isinstance(value, int):
        return str(value)
    if not np.isfinite(value):
        raise ValueError(f"column {index}: ASCII data cannot hold NaN or infinity")
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def _byteord(
    order: FCSByteOrder, version: FCSVersion, kind: FCSDatatype, bits: Sequence[int | str]
) -> str:
    little = order is FCSByteOrder.LITTLE or kind is FCSDatatype.ASCII
    if version is FCSVersion.V2_0 and kind is FCSDatatype.INTEGER and set(bits) == {16}:
        return "1,2" if little else "2,1"  # FCS 2.0's short form for 16-bit data
    return "1,2,3,4" if little else "4,3,2,1"


def _text_keywords(
    n_events: int,
    channels: Sequence[ChannelSpec],
    bits: Sequence[int | str],
    kind: FCSDatatype,
    order: FCSByteOrder,
    version: FCSVersion,
    spill: Spill | None,
    extra: Mapping[str, str] | None,
) -> dict[str, str]:
    keywords: dict[str, str] = {
        "$BYTEORD": _byteord(order, version, kind, bits),
        "$DATATYPE": kind.value,
        "$MODE": "L",
        "$NEXTDATA": "0",
        "$PAR": str(len(channels)),
        "$TOT": str(n_events),
    }
    if version is not FCSVersion.V2_0:
        keywords.update(
            {"$BEGINANALYSIS": "0", "$ENDANALYSIS": "0", "$BEGINSTEXT": "0", "$ENDSTEXT": "0"}
        )
    for number, (spec, width) in enumerate(zip(channels, bits, strict=True), start=1):
        keywords[f"$P{number}N"] = spec.name
        if spec.label:
            keywords[f"$P{number}S"] = spec.label
        keywords[f"$P{number}B"] = str(width)
        keywords[f"$P{number}E"] = "0,0"
        keywords[f"$P{number}R"] = _number(spec.range)
    if version is FCSVersion.V3_2:
        keywords["$CYT"] = "unknown"  # required by FCS 3.2; callers name the real cytometer
    if spill is not None:
        key = "$SPILLOVER" if version in (FCSVersion.V3_1, FCSVersion.V3_2) else "$SPILL"
        keywords[key] = _spill_text(spill)
    for key, value in (extra or {}).items():
        keywords[key.upper()] = str(value)
    return keywords


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _spill_text(spill: Spill) -> str:
    values = [_number(float(v)) for v in np.asarray(spill.matrix, dtype=np.float64).ravel()]
    return ",".join([str(len(spill.channels)), *spill.channels, *values])


def _escape(text: str, delimiter: str) -> str:
    if not text:
        text = " "  # FCS forbids empty values (two delimiters in a row mean an escaped one)
    if text.startswith(delimiter):
        # After the separator, a doubled delimiter could not be told from an escaped one.
        raise ValueError(
            f"keyword or value {text!r} starts with the delimiter {delimiter!r}; "
            "choose another delimiter"
        )
    return text.replace(delimiter, delimiter * 2)


def _encode_text(keywords: Mapping[str, str], delimiter: str) -> bytes:
    parts = [delimiter]
    for key, value in keywords.items():
        parts.extend((_escape(key, delimiter), delimiter, _escape(value, delimiter), delimiter))
    return "".join(parts).encode("utf-8")


def _layout_text(
    keywords: dict[str, str], data_length: int, delimiter: str, with_data_offsets: bool
) -> tuple[bytes, int]:
    """TEXT bytes and the DATA start; $BEGINDATA's own digits move DATA, so iterate to a fixpoint."""
    if not with_data_offsets:
        text = _encode_text(keywords, delimiter)
        return text, _HEADER_LENGTH + len(text)
    data_start = 0
    for _ in range(10):
        data_end = data_start + data_length - 1 if data_length else 0
        keywords["$BEGINDATA"] = str(data_start if data_length else 0)
        keywords["$ENDDATA"] = str(data_end)
        text = _encode_text(keywords, delimiter)
        if _HEADER_LENGTH + len(text) == data_start:
            return text, data_start
        data_start = _HEADER_LENGTH + len(text)
    raise AssertionError("TEXT layout did not converge")  # pragma: no cover - digits only grow


def _header(version: FCSVersion, offsets: tuple[int, ...]) -> bytes:
    header = f"FCS{version.value}    " + "".join(f"{offset:>8d}" for offset in offsets)
    return header.encode("ascii")
