"""Mutations of real instrument files, the way damage and hostility reach a QC lab.

Every mutation is a pure function of the original bytes and a seeded ``random.Random``, so a
failing case is reproduced from its seed alone. The FCS mutations read the file's own HEADER
offsets and TEXT with a few lines of code written from the FCS 3.1 standard (never with the
reader under test), so they damage the segment they mean to damage.
"""

from __future__ import annotations

import io
import random
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

Mutation = Callable[[bytes, random.Random], bytes]


@dataclass(frozen=True)
class FcsLayout:
    """Where an FCS file's segments lie, from its HEADER (inclusive byte offsets)."""

    text: tuple[int, int]
    data: tuple[int, int]


def fcs_layout(data: bytes) -> FcsLayout | None:
    """The HEADER's TEXT and DATA offsets, or None when the HEADER is not FCS-shaped."""
    if len(data) < 58 or not data.startswith(b"FCS"):
        return None
    try:
        fields = [int(data[start : start + 8].strip() or b"0") for start in (10, 18, 26, 34)]
    except ValueError:
        return None
    text_start, text_end, data_start, data_end = fields
    if not 58 <= text_start < text_end < len(data):
        return None
    return FcsLayout((text_start, text_end), (data_start, data_end))


def parse_text(segment: bytes) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """An FCS TEXT segment's delimiter and its keyword/value pairs, in order.

    A doubled delimiter inside a keyword or value stands for one literal delimiter byte.
    """
    delimiter = segment[:1]
    fields: list[bytes] = []
    current = bytearray()
    index = 1
    while index < len(segment):
        byte = segment[index : index + 1]
        if byte == delimiter:
            if segment[index + 1 : index + 2] == delimiter:
                current += delimiter
                index += 2
                continue
            fields.append(bytes(current))
            current = bytearray()
        else:
            current += byte
        index += 1
    pairs = list(zip(fields[0::2], fields[1::2], strict=False))
    return delimiter, pairs


def build_text(delimiter: bytes, pairs: list[tuple[bytes, bytes]]) -> bytes:
    doubled = delimiter + delimiter
    out = bytearray(delimiter)
    for key, value in pairs:
        out += key.replace(delimiter, doubled) + delimiter
        out += value.replace(delimiter, doubled) + delimiter
    return bytes(out)


def _set_header_field(data: bytearray, start: int, value: int) -> None:
    data[start : start + 8] = f"{value:>8d}".encode("ascii")


def replace_text(data: bytes, layout: FcsLayout, text: bytes) -> bytes:
    """``data`` with its primary TEXT replaced: in place when it fits, else after the DATA."""
    out = bytearray(data)
    start, end = layout.text
    if len(text) <= end - start + 1:
        out[start : start + len(text)] = text
        # the bytes left between the new TEXT's end and the next segment are a gap, as allowed
        _set_header_field(out, 18, start + len(text) - 1)
        return bytes(out)
    new_start = len(out)
    out += text
    if new_start + len(text) - 1 > 99_999_999:
        return bytes(out)  # the HEADER cannot point there; the file is then damaged as well
    _set_header_field(out, 10, new_start)
    _set_header_field(out, 18, new_start + len(text) - 1)
    return bytes(out)


# Keywords whose values decide how much is read, and how: where a wrong value does the harm.
_FCS_KEYWORDS = (
    "$PAR",
    "$TOT",
    "$DATATYPE",
    "$BYTEORD",
    "$MODE",
    "$BEGINDATA",
    "$ENDDATA",
    "$NEXTDATA",
    "$P1B",
    "$P1R",
    "$P1E",
    "$P1N",
    "$P2B",
    "$P2E",
    "$P2R",
    "$SPILLOVER",
    "$SPILL",
    "SPILL",
    "$TIMESTEP",
    "$P1G",
)
_ABSURD_VALUES = (
    b"0",
    b"-1",
    b"1000000",
    b"4294967297",
    b"99999999999999999999999999",
    b"1e308",
    b"nan",
    b"inf",
    b"",
    b" ",
    b"ZZZ",
    b"1,2",
    b"0,0",
    b"3",
    b"128",
    b"4,3,2,1",
    b"9" * 5000,
    b"A" * 20000,
    b"2,A,B,1,0,0",
    b"1000000,A,B",
)


def fcs_text(data: bytes) -> tuple[FcsLayout, bytes, list[tuple[bytes, bytes]]] | None:
    """The primary TEXT's layout, delimiter and keyword pairs; None without a readable TEXT."""
    layout = fcs_layout(data)
    if layout is None:
        return None
    delimiter, pairs = parse_text(data[layout.text[0] : layout.text[1] + 1])
    return (layout, delimiter, pairs) if pairs else None


def fcs_absurd_keyword(data: bytes, rng: random.Random) -> bytes:
    text = fcs_text(data)
    if text is None:
        return flip_bytes(data, rng)
    layout, delimiter, pairs = text
    present = {key.upper(): index for index, (key, _) in enumerate(pairs)}
    keyword = rng.choice(_FCS_KEYWORDS)
    value = rng.choice(_ABSURD_VALUES)
    if keyword in present:
        index = present[keyword]
        pairs[index] = (pairs[index][0], value)
    else:
        pairs.append((keyword.encode("ascii"), value))
    return replace_text(data, layout, build_text(delimiter, pairs))


def fcs_drop_keyword(data: bytes, rng: random.Random) -> bytes:
    """A required keyword missing ($DATATYPE, $PAR, a $PnB...), as careless writers leave it."""
    text = fcs_text(data)
    if text is None:
        return truncate(data, rng)
    layout, delimiter, pairs = text
    index = rng.randrange(len(pairs))
    if rng.random() < 0.6:
        wanted = [i for i, (k, _) in enumerate(pairs) if k.upper().startswith(b"$")]
        index = rng.choice(wanted) if wanted else index
    del pairs[index]
    return replace_text(data, layout, build_text(delimiter, pairs))


def _flip_in(data: bytes, rng: random.Random, lo: int, hi: int) -> bytes:
    if hi <= lo:
        return data
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        position = rng.randrange(lo, hi)
        if rng.random() < 0.5:
            out[position] ^= 1 << rng.randrange(8)
        else:
            out[position] = rng.randrange(256)
    return bytes(out)


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    return _flip_in(data, rng, 0, len(data))


def fcs_flip_header(data: bytes, rng: random.Random) -> bytes:
    return _flip_in(data, rng, 0, min(58, len(data)))


def fcs_flip_text(data: bytes, rng: random.Random) -> bytes:
    layout = fcs_layout(data)
    if layout is None:
        return flip_bytes(data, rng)
    return _flip_in(data, rng, layout.text[0], layout.text[1] + 1)


def fcs_flip_data(data: bytes, rng: random.Random) -> bytes:
    layout = fcs_layout(data)
    if layout is None or not 0 < layout.data[0] < layout.data[1] < len(data):
        return flip_bytes(data, rng)
    return _flip_in(data, rng, layout.data[0], layout.data[1] + 1)


def truncate(data: bytes, rng: random.Random) -> bytes:
    """Cut anywhere: a copy interrupted at a random byte."""
    if len(data) < 2:
        return b""
    return data[: rng.randrange(1, len(data))]


def fcs_truncate(data: bytes, rng: random.Random) -> bytes:
    """Cut where it hurts most: inside the HEADER, the TEXT, or anywhere in the DATA."""
    layout = fcs_layout(data)
    if layout is None:
        return truncate(data, rng)
    points = [
        rng.randrange(1, 58),
        rng.randrange(layout.text[0], layout.text[1] + 1),
        layout.text[1] + 1,
    ]
    if 0 < layout.data[0] < layout.data[1] < len(data):
        points += [rng.randrange(layout.data[0], layout.data[1] + 1), layout.data[1]]
    return data[: rng.choice(points)]


# --- text exports (CSV/TSV/XML; UTF-8, Latin-1 or UTF-16 as the instrument wrote it) -----------

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.])")
_ABSURD_NUMBERS = (
    "1e308",
    "-1e308",
    "1e-320",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "0",
    "-0",
    "",
    "9" * 400,
    "99999999999",
    "-99999999999",
    "1" + "0" * 30,
)


def _decode(data: bytes) -> tuple[str, str, bytes]:
    for bom, encoding in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace"), encoding, bom
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8", b"\xef\xbb\xbf"
    try:
        return data.decode("utf-8"), "utf-8", b""
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1", b""


def _encode(text: str, encoding: str, bom: bytes) -> bytes:
    return bom + text.encode(encoding, errors="replace")


def absurd_numbers(data: bytes, rng: random.Random) -> bytes:
    """A few numbers in the export replaced by ones no instrument writes (huge, NaN, empty)."""
    text, encoding, bom = _decode(data)
    matches = list(_NUMBER.finditer(text))
    if not matches:
        return flip_bytes(data, rng)
    chosen = sorted(
        rng.sample(matches, min(len(matches), rng.randint(1, 6))), key=lambda m: m.start()
    )
    out = []
    last = 0
    for match in chosen:
        out.append(text[last : match.start()])
        out.append(rng.choice(_ABSURD_NUMBERS))
        last = match.end()
    out.append(text[last:])
    return _encode("".join(out), encoding, bom)


def edit_lines(data: bytes, rng: random.Random) -> bytes:
    """A line deleted, duplicated, or the file cut at a line boundary (a half-written export)."""
    text, encoding, bom = _decode(data)
    lines = text.splitlines(keepends=True)
    if len(lines) < 2:
        return truncate(data, rng)
    index = rng.randrange(len(lines))
    choice = rng.random()
    if choice < 0.4:
        del lines[index]
    elif choice < 0.7:
        lines.insert(index, lines[index])
    else:
        lines = lines[: max(1, index)]
    return _encode("".join(lines), encoding, bom)


def text_truncate(data: bytes, rng: random.Random) -> bytes:
    """Cut at a random character (for UTF-16, at any byte: an odd cut included)."""
    return truncate(data, rng)


# --- zip containers (xlsx, zipped RDML) -------------------------------------------------------


def is_zip(data: bytes) -> bool:
    return data.startswith(b"PK\x03\x04")


def zip_member_numbers(data: bytes, rng: random.Random) -> bytes:
    """One XML member's numbers made absurd, the container rebuilt intact around it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as source:
            members = [(info, source.read(info)) for info in source.infolist()]
    except (zipfile.BadZipFile, OSError, ValueError):
        return flip_bytes(data, rng)
    xml = [i for i, (info, _) in enumerate(members) if info.filename.endswith((".xml", ".rdml"))]
    if not xml:
        return flip_bytes(data, rng)
    index = rng.choice(xml)
    mutate = absurd_numbers if rng.random() < 0.7 else edit_lines
    info, body = members[index]
    members[index] = (info, mutate(body, rng))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info, body in members:
            target.writestr(info.filename, body)
    return buffer.getvalue()


def zip_flip_member(data: bytes, rng: random.Random) -> bytes:
    """Bytes flipped past the first local header: a corrupt compressed stream or CRC."""
    return _flip_in(data, rng, min(64, len(data)), len(data))


FCS_MUTATIONS: dict[str, Mutation] = {
    "truncate": fcs_truncate,
    "flip-header": fcs_flip_header,
    "flip-text": fcs_flip_text,
    "flip-data": fcs_flip_data,
    "absurd-keyword": fcs_absurd_keyword,
    "drop-keyword": fcs_drop_keyword,
}
TEXT_MUTATIONS: dict[str, Mutation] = {
    "truncate": text_truncate,
    "flip": flip_bytes,
    "absurd-numbers": absurd_numbers,
    "edit-lines": edit_lines,
}
ZIP_MUTATIONS: dict[str, Mutation] = {
    "truncate": truncate,
    "flip": zip_flip_member,
    "member-numbers": zip_member_numbers,
}


def mutations_for(data: bytes) -> dict[str, Mutation]:
    if fcs_layout(data) is not None:
        return FCS_MUTATIONS
    if is_zip(data):
        return ZIP_MUTATIONS
    return TEXT_MUTATIONS
