"""FCS HEADER and TEXT segments: offsets, delimiter-escaped keyword/value pairs, typed look-ups.

The functions here work on bytes already in memory and raise :class:`InputError` without a path;
:mod:`cytorelease.flow.fcs` attaches the file. Offsets are absolute byte positions in the file
(the data set's own offset already added).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cytorelease.errors import InputError

__all__ = [
    "HEADER_LENGTH",
    "SUPPORTED_VERSIONS",
    "Header",
    "keyword_float",
    "keyword_int",
    "parse_header",
    "parse_text",
    "shown",
]

HEADER_LENGTH = 58
SUPPORTED_VERSIONS = ("2.0", "3.0", "3.1", "3.2")
_MAX_DIGITS = 40  # 10**40 bytes or events: far past any file; longer values are refused
_FIELD_NAMES = (
    "TEXT start",
    "TEXT end",
    "DATA start",
    "DATA end",
    "ANALYSIS start",
    "ANALYSIS end",
)


@dataclass(frozen=True, slots=True)
class Header:
    """The HEADER of one data set; offsets are absolute (``base`` added); DATA's None when blank."""

    base: int
    version: str
    text_start: int
    text_end: int
    data_start: int | None
    data_end: int | None


def parse_header(raw: bytes, base: int) -> Header:
    """Parse the 58-byte HEADER found at file offset ``base``."""
    if len(raw) < HEADER_LENGTH:
        raise InputError(
            f"the file has {base + len(raw):,} bytes: too short for the {HEADER_LENGTH}-byte FCS "
            f"HEADER{_at(base)}"
        )
    if not raw.startswith(b"FCS"):
        raise InputError(
            f"not an FCS file: it starts with {raw[:10]!r}{_at(base)} instead of 'FCS3.1' "
            "or another FCS version"
        )
    version = raw[3:6].decode("ascii", errors="replace")
    if version not in SUPPORTED_VERSIONS:
        raise InputError(
            f"FCS version {version!r}{_at(base)} is not one this reader knows "
            f"({', '.join(SUPPORTED_VERSIONS)})"
        )
    offsets = [_header_offset(raw[10 + 8 * i : 18 + 8 * i], i, base) for i in range(4)]
    text_start, text_end, data_start, data_end = offsets
    if text_start == 0 or text_end < text_start:
        raise InputError(
            f"HEADER{_at(base)} gives no usable TEXT segment (bytes {text_start:,}-{text_end:,})"
        )
    return Header(
        base=base,
        version=version,
        text_start=base + text_start,
        text_end=base + text_end,
        data_start=base + data_start if data_end else None,
        data_end=base + data_end if data_end else None,
    )


def _at(base: int) -> str:
    return f" (data set at byte {base:,})" if base else ""


def _header_offset(field: bytes, index: int, base: int) -> int:
    text = field.decode("ascii", errors="replace").strip()
    if not text:
        return 0  # blank: large files leave DATA offsets to TEXT
    if not text.isdigit():
        raise InputError(
            f"HEADER{_at(base)} {_FIELD_NAMES[index]} offset is {text!r}, not a number "
            "(is this an FCS file?)"
        )
    return int(text)


def parse_text(raw: bytes) -> dict[str, str]:
    """Keyword/value pairs of one TEXT segment; keys upper-cased, values stripped of blanks.

    The first byte is the delimiter; a doubled delimiter inside a keyword or value is a literal
    delimiter (FCS forbids empty values, so two in a row can only mean that). Later duplicates of
    a keyword are ignored: the first one written wins.
    """
    if len(raw) < 2:
        return {}
    delimiter = raw[:1]
    body = raw[1:]
    escaped = delimiter * 2
    placeholder = b""
    if escaped in body:
        placeholder = _unused_byte(body)
        body = body.replace(escaped, placeholder)
    tokens = body.split(delimiter)
    if tokens and not tokens[-1].strip(b" \x00\r\n\t"):
        tokens.pop()  # the closing delimiter (and any padding after it)
    keywords: dict[str, str] = {}
    for index in range(0, len(tokens) - 1, 2):
        key = _decode(tokens[index], placeholder, delimiter).strip().upper()
        if key and key not in keywords:
            keywords[key] = _decode(tokens[index + 1], placeholder, delimiter).strip()
    return keywords


def _unused_byte(body: bytes) -> bytes:
    present = set(body)
    for value in range(1, 256):
        if value not in present:
            return bytes([value])
    # Every byte value occurs: fall back to a multi-byte marker that cannot collide after split.
    return b"\x00\xff\x00\xfe\x00"  # pragma: no cover - TEXT using all 255 byte values


def _decode(token: bytes, placeholder: bytes, delimiter: bytes) -> str:
    if placeholder:
        token = token.replace(placeholder, delimiter)
    try:
        return token.decode("utf-8")
    except UnicodeDecodeError:
        return token.decode("latin-1")  # FCS 2.0/3.0 TEXT predates the UTF-8 rule


def keyword_int(keywords: Mapping[str, str], key: str, *, default: int | None = None) -> int:
    """An integer keyword (blanks and leading zeros tolerated); InputError when missing/invalid."""
    value = keywords.get(key)
    if value is None or not value.strip():
        if default is not None:
            return default
        raise InputError(f"TEXT lacks the required keyword {key}")
    text = value.strip()
    if len(text) > _MAX_DIGITS:
        # no count or offset in a file needs this many digits (and int() of thousands of
        # digits is refused by Python itself): say so instead of converting
        raise InputError(f"{key} is {shown(text)}: {len(text):,} characters, not a usable number")
    try:
        return int(text)
    except ValueError:
        try:
            as_float = float(text)
        except ValueError:
            as_float = float("nan")
        if as_float.is_integer():
            return int(as_float)
        raise InputError(f"{key} is {shown(value)}, not a whole number") from None


def shown(value: str, limit: int = 40) -> str:
    """``value`` quoted for a message, cut to ``limit`` characters (a hostile TEXT value can be
    megabytes long)."""
    return (
        repr(value) if len(value) <= limit else f"{value[:limit]!r}... ({len(value):,} characters)"
    )


def keyword_float(keywords: Mapping[str, str], key: str, default: float) -> float | None:
    """A float keyword; ``default`` when missing, None when present but not a number."""
    value = keywords.get(key)
    if value is None or not value.strip():
        return default
    try:
        return float(value)
    except ValueError:
        return None
