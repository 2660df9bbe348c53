"""Plate-reader exports, sniffed by content: SoftMax Pro text, Gen5 text, generic CSV/xlsx grids
(labelled or bare matrices, any vendor) and lists of wells (xlsx, or CSV given ``format="grid"``).

>>> export = read_plate("plate.txt")            # doctest: +SKIP
>>> export.select(wavelength_nm=450).values["A1"]  # doctest: +SKIP
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Callable
from pathlib import Path

from cytorelease.errors import CytoreleaseError, InputError, note_input
from cytorelease.potency.readers._model import (
    PlateExport,
    PlateFormat,
    PlateReading,
    ReadingKind,
)
from cytorelease.potency.readers._text import decode_text
from cytorelease.potency.readers.gen5 import looks_like_gen5, read_gen5
from cytorelease.potency.readers.grid import (
    find_bare_grids,
    find_grids,
    read_grid,
    rows_from_csv,
    unsupported_plate_size,
)
from cytorelease.potency.readers.softmax import looks_like_softmax, read_softmax

__all__ = [
    "PlateExport",
    "PlateFormat",
    "PlateReading",
    "ReadingKind",
    "read_plate",
    "sniff_format",
]

_READERS: dict[PlateFormat, Callable[..., PlateExport]] = {
    PlateFormat.SOFTMAX_PRO: read_softmax,
    PlateFormat.GEN5: read_gen5,
    PlateFormat.GRID: read_grid,
}


def sniff_format(data: bytes) -> PlateFormat | None:
    """The export format, decided by the bytes alone (never by the file name)."""
    if data.startswith(b"PK\x03\x04"):
        return PlateFormat.GRID  # an xlsx workbook
    text = decode_text(data[:65536])
    if looks_like_softmax(text):
        return PlateFormat.SOFTMAX_PRO
    if looks_like_gen5(text):
        return PlateFormat.GEN5
    try:
        rows = rows_from_csv(text)
    except InputError:
        return None  # not delimited text either: no known format
    if find_grids(rows) or find_bare_grids(rows) or unsupported_plate_size(rows):
        return PlateFormat.GRID
    return None


def read_plate(path: str | Path, *, format: PlateFormat | str | None = None) -> PlateExport:
    """Read a plate-reader export; its format is sniffed from content unless given."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError("no such file", path=path) from None
    except IsADirectoryError:
        raise InputError("is a folder, not a plate-reader export", path=path) from None
    if not data.strip():
        raise InputError("the file is empty", path=path)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and len(data) % 2:
        # UTF-16 text is whole 2-byte units; an odd count is a copy cut short
        raise InputError(
            f"UTF-16 text of {len(data):,} bytes, an odd number: the file is cut short "
            "(truncated copy?)",
            path=path,
        )
    try:
        return _read(data, path, format)
    except CytoreleaseError as exc:
        exc.with_path(path)  # a shared helper's refusal learns the file it was reading
        raise
    except Exception as exc:
        # anything else escaping a reader is a bug in it, not a bad file: it keeps its type
        # and traceback, with a note naming the file (the CLI's internal-error line shows it)
        note_input(exc, path, "plate-reader export reader")
        raise


def _read(data: bytes, path: Path, format: PlateFormat | str | None) -> PlateExport:
    chosen = PlateFormat(format) if format else sniff_format(data)
    if chosen is None:
        raise InputError(
            "not a recognised plate-reader export",
            path=path,
            hint="cytorelease reads SoftMax Pro text, BioTek Gen5 text, and 96/384-well grids "
            "in CSV or xlsx (xlsx also as a list of wells)",
        )
    # the hash of the bytes parsed, not of a second read that could see a changed file
    return _READERS[chosen](data, path=str(path), sha256=hashlib.sha256(data).hexdigest())
