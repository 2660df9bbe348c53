"""From TEXT keywords to the data model: channels ($PnN/$PnS/$PnB/$PnR/$PnE/$PnG), the DATA
layout ($DATATYPE/$BYTEORD/$MODE), and the spillover matrix ($SPILLOVER/$SPILL/SPILL)."""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from cytorelease.errors import FCSChannelNameWarning, InputError
from cytorelease.flow.fcs_data import DataLayout, Datatype, range_mask
from cytorelease.flow.fcs_text import keyword_float, keyword_int, shown
from cytorelease.flow.sample import Channel, Spill

__all__ = ["SPILL_KEYWORDS", "build_channels", "data_layout", "parse_spill"]

# Looked up in this order; FCS 3.1 made $SPILLOVER standard, BD wrote $SPILL / SPILL before.
SPILL_KEYWORDS = ("$SPILLOVER", "$SPILL", "SPILL", "SPILLOVER")

_LITTLE_ENDIAN = ("1,2,3,4", "1,2", "1")
_BIG_ENDIAN = ("4,3,2,1", "2,1")
# Channel.bits of free-format ASCII ($PnB "*"): a value has no fixed number of characters.
_FREE_FORMAT = 0
_WIDTH_KEY = re.compile(r"\$P[0-9]+B")
_RENAMES_SHOWN = 10  # a warning names this many renamed channels, then counts the rest
# An ASCII width beyond this many digits cannot fit any file; a wide but possible one is
# refused later, against the DATA segment's real length.
_MAX_ASCII_DIGITS = 18


def data_layout(keywords: Mapping[str, str], channels: tuple[Channel, ...]) -> DataLayout:
    """Datatype, byte order, widths and masks of the DATA segment; InputError when unsupported."""
    mode = keywords.get("$MODE", "L").strip().upper() or "L"  # FCS 3.2 deprecates $MODE: L
    if mode != "L":
        raise InputError(
            f"$MODE is {mode!r}: only list-mode data ($MODE L) can be read; histogram modes "
            "C and U were deprecated in FCS 3.1"
        )
    raw_type = keywords.get("$DATATYPE", "").strip().upper()
    if not raw_type:
        # required in every FCS version; guessing integers (or floats) would decode the
        # events as the wrong numbers without a word
        raise InputError(
            "TEXT lacks the required keyword $DATATYPE (I, F, D or A): how the events are "
            "stored is unknown, so they cannot be read"
        )
    try:
        datatype = Datatype(raw_type)
    except ValueError:
        raise InputError(
            f"$DATATYPE is {raw_type!r}: this reader reads I (integer), F (float) and D (double) "
            "binary values, and A (ASCII) text"
        ) from None
    if datatype is Datatype.ASCII:
        return _ascii_layout(channels)
    byteord = keywords.get("$BYTEORD", "").replace(" ", "")
    if byteord in _LITTLE_ENDIAN:
        big_endian = False
    elif byteord in _BIG_ENDIAN:
        big_endian = True
    else:
        raise InputError(
            f"$BYTEORD is {byteord!r}: expected 1,2,3,4 (little-endian) or 4,3,2,1 (big-endian)"
        )
    if datatype is Datatype.INTEGER:
        # A $PnB that is not a whole number of bytes (Beckman Coulter CXP writes $PnB 10) is
        # read as the next whole number of bytes holding the value in its low $PnB bits; the
        # DATA length then decides it, as bit-packed values would need fewer bytes.
        bits = tuple(-(-c.bits // 8) * 8 for c in channels)
        masks = tuple(
            _narrowest(range_mask(c.range, stored), range_mask(2.0**c.bits, stored))
            for c, stored in zip(channels, bits, strict=True)
        )
        padded = tuple(c.index + 1 for c in channels if c.bits % 8)
    else:
        width = 32 if datatype is Datatype.FLOAT else 64
        bits = (width,) * len(channels)
        masks = (None,) * len(channels)
        padded = ()
    return DataLayout(
        datatype=datatype, big_endian=big_endian, bits=bits, masks=masks, padded=padded
    )


def _narrowest(first: int | None, second: int | None) -> int | None:
    """The narrower of two low-bit masks (None keeps every bit)."""
    if first is None or second is None:
        return second if first is None else first
    return min(first, second)


def _ascii_layout(channels: tuple[Channel, ...]) -> DataLayout:
    """ASCII: $PnB characters per value, or free format when every $PnB is ``*``.

    $BYTEORD says nothing about text, so it is not checked; $PnR never masks ASCII values.
    """
    free = [c.index + 1 for c in channels if c.bits == _FREE_FORMAT]
    if free and len(free) != len(channels):
        fixed = [f"$P{c.index + 1}B {c.bits}" for c in channels if c.bits != _FREE_FORMAT]
        raise InputError(
            "ASCII $PnB mixes '*' (free format: "
            + ", ".join(f"$P{n}B" for n in free)
            + ") with character counts ("
            + ", ".join(fixed)
            + "); every parameter must be '*' or every one a number of characters"
        )
    bits = tuple(8 * c.bits for c in channels)  # one byte per character; 0 when free format
    return DataLayout(
        datatype=Datatype.ASCII,
        big_endian=False,
        bits=bits,
        masks=(None,) * len(channels),
        delimited=bool(free),
    )


def build_channels(keywords: Mapping[str, str], path: Path | None = None) -> tuple[Channel, ...]:
    """One Channel per parameter; empty names become ``P<n>``, duplicates get ``_P<n>``.

    ``bits`` is $PnB as written: bits for binary data, characters per value for ASCII ($DATATYPE
    A), 0 for free-format ASCII ($PnB ``*``).

    ``path`` is named in the warning about renamed channels, so the user knows which file.
    """
    n_channels = keyword_int(keywords, "$PAR")
    if n_channels < 1:
        raise InputError(f"$PAR is {n_channels}: a data set needs at least one parameter")
    _check_parameter_count(keywords, n_channels)
    datatype = keywords.get("$DATATYPE", "").strip().upper()
    names = _unique_names(keywords, n_channels, path)
    channels = []
    for index in range(n_channels):
        number = index + 1
        if f"$P{number}B" not in keywords:
            raise InputError(
                f"TEXT lacks $P{number}B ($PAR is {n_channels}): every parameter needs its "
                "$PnB, the width of its values"
            )
        if datatype == Datatype.ASCII:
            bits = _ascii_characters(keywords, number)
            widest = 10.0 ** min(bits, 308) if bits != _FREE_FORMAT else float(2**64)
        else:
            bits = _bits(keywords, number, datatype == Datatype.INTEGER)
            widest = float(2**bits) if bits < 64 else float(2**64)
        channels.append(
            Channel(
                index=index,
                name=names[index],
                label=keywords.get(f"$P{number}S") or None,
                range=_range(keywords, number, widest),
                bits=bits,
                log_decades=_log_amplification(keywords, number)[0],
                log_offset=_log_amplification(keywords, number)[1],
                gain=keyword_float(keywords, f"$P{number}G", 1.0) or 1.0,
            )
        )
    return tuple(channels)


def _check_parameter_count(keywords: Mapping[str, str], n_channels: int) -> None:
    """Refuse a $PAR the TEXT cannot describe, before any per-parameter work.

    Every parameter has its own $PnB keyword (required in every FCS version), so a TEXT with
    fewer $PnB keywords than $PAR is corrupt: without this bound a few hundred bytes claiming
    $PAR 100000 would cost 100,000 rounds of keyword look-ups (and a warning per channel).
    """
    described = sum(1 for key in keywords if _WIDTH_KEY.fullmatch(key))
    if n_channels > described:
        raise InputError(
            f"$PAR is {n_channels:,} but the TEXT segment ({len(keywords):,} keywords) holds "
            f"$PnB for {described:,} parameter{'s' if described != 1 else ''}: every parameter "
            "needs its own $PnB (and $PnN, $PnR), so $PAR is wrong or the TEXT is cut short"
        )


def _unique_names(keywords: Mapping[str, str], n_channels: int, path: Path | None) -> list[str]:
    names: list[str] = []
    taken: set[str] = set()  # a set: one look-up per candidate, not a scan of every name
    renamed: list[str] = []
    for number in range(1, n_channels + 1):
        written = keywords.get(f"$P{number}N", "")
        name = written or f"P{number}"
        candidate, suffix = name, 1
        while candidate in taken:
            candidate = f"{name}_P{number}" if suffix == 1 else f"{name}_P{number}_{suffix}"
            suffix += 1
        if candidate != written:
            renamed.append(f"$P{number}N {shown(written)} -> {shown(candidate)}")
        names.append(candidate)
        taken.add(candidate)
    if renamed:
        where = f"{path}: " if path is not None else ""
        listed = "; ".join(renamed[:_RENAMES_SHOWN])
        if len(renamed) > _RENAMES_SHOWN:
            listed += f"; and {len(renamed) - _RENAMES_SHOWN:,} more"
        warnings.warn(
            FCSChannelNameWarning(f"{where}empty or duplicate channel names made unique: {listed}"),
            stacklevel=4,
        )
    return names


def _bits(keywords: Mapping[str, str], number: int, integer: bool) -> int:
    key = f"$P{number}B"
    text = keywords.get(key, "").strip()
    if not integer:
        # F and D have fixed widths; $PnB is informational there.
        return 64 if keywords.get("$DATATYPE", "").strip().upper() == "D" else 32
    if not (text.isdecimal() and len(text) <= 2 and 1 <= int(text) <= 64):
        raise InputError(
            f"{key} is {shown(text)}: integer data need the number of bits per value (1 to 64; "
            "8, 16, 24, 32, 40, 48, 56 or 64 for whole bytes)"
        )
    return int(text)


def _ascii_characters(keywords: Mapping[str, str], number: int) -> int:
    key = f"$P{number}B"
    text = keywords.get(key, "").strip()
    if text == "*":
        return _FREE_FORMAT
    if not (text.isdecimal() and len(text) <= _MAX_ASCII_DIGITS and int(text) >= 1):
        raise InputError(
            f"{key} is {shown(text)}: ASCII data ($DATATYPE A) need the number of characters per "
            "value (1 or more), or '*' for values separated by delimiters"
        )
    return int(text)


def _range(keywords: Mapping[str, str], number: int, widest: float) -> float:
    value = keyword_float(keywords, f"$P{number}R", float("nan"))
    if value is None or not math.isfinite(value) or value <= 0:
        # Missing or unreadable $PnR: the widest range the stored width allows; no mask then.
        return widest
    return value


def _log_amplification(keywords: Mapping[str, str], number: int) -> tuple[float, float]:
    text = keywords.get(f"$P{number}E", "0,0")
    parts = [p.strip() for p in text.split(",")]
    try:
        decades, offset = (float(parts[0]), float(parts[1])) if len(parts) == 2 else (0.0, 0.0)
    except ValueError:
        return 0.0, 0.0
    return decades, offset


def parse_spill(
    keywords: Mapping[str, str], channels: tuple[Channel, ...]
) -> tuple[Spill | None, list[str]]:
    """The spillover matrix from the first spill keyword present, and any problems found.

    Channels are named by $PnN; a spill that names channels by their $PnS label is mapped back
    to $PnN. A malformed spill is dropped (a problem is returned), never fatal for the events.
    """
    for key in SPILL_KEYWORDS:
        text = keywords.get(key, "").strip()
        if text and text not in ("0", "0,"):
            return _spill_from_text(key, text, channels)
    return None, []


def _spill_from_text(
    key: str, text: str, channels: tuple[Channel, ...]
) -> tuple[Spill | None, list[str]]:
    fields = [f.strip() for f in text.split(",")]
    try:
        n = int(fields[0])
    except ValueError:
        return None, [f"{key} does not start with a channel count ({fields[0]!r}); spill ignored"]
    if n < 1 or len(fields) != 1 + n + n * n:
        return None, [
            f"{key} holds {len(fields) - 1} values after its count {n}, expected "
            f"{n} names + {n * n} coefficients; spill ignored"
        ]
    try:
        matrix = np.array([float(v) for v in fields[1 + n :]], dtype=np.float64).reshape(n, n)
    except ValueError:
        return None, [f"{key} has a coefficient that is not a number; spill ignored"]
    names, problems = _spill_channel_names(key, fields[1 : 1 + n], channels)
    return Spill(channels=tuple(names), matrix=matrix), problems


def _spill_channel_names(
    key: str, written: list[str], channels: tuple[Channel, ...]
) -> tuple[list[str], list[str]]:
    """$PnN names for the spill's channels: by $PnN, else by $PnS, else by parameter number.

    FCS 3.1 names them by $PnN; BD Accuri C6 and Beckman Coulter Kaluza/Gallios write the
    parameter numbers instead ("3,4" for $P3N and $P4N). Numbers are used only when no name
    or label matches every one of them.
    """
    by_name = {c.name: c.name for c in channels}
    by_label = {c.label: c.name for c in channels if c.label}
    names = [by_name.get(w) or by_label.get(w) or w for w in written]
    unknown = [w for w in written if w not in by_name and w not in by_label]
    if unknown and all(w.isdigit() and 1 <= int(w) <= len(channels) for w in unknown):
        by_number = {w: channels[int(w) - 1].name for w in unknown}
        names = [by_number.get(w, name) for w, name in zip(written, names, strict=True)]
        shown = ", ".join(f"{w} -> {by_number[w]!r}" for w in unknown)
        return names, [f"{key} names channels by parameter number, not $PnN: {shown}"]
    problems = []
    if unknown:
        problems.append(
            f"{key} names channels that are neither a $PnN nor a $PnS of this file: "
            + ", ".join(repr(u) for u in unknown)
        )
    return names, problems
