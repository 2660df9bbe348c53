"""A generic plate grid in CSV (comma, semicolon or tab) or xlsx: what most readers can export.

An optional header block of ``key,value`` lines, then one or more grids: a header line of plate
column numbers ``1..12`` (96 wells) or ``1..24`` (384 wells) and a line per plate row starting
with its letter (``A..H`` / ``A..P``). The line just above a grid, when it holds a single label
(``450 nm``, ``Read 1``), names the reading; a wavelength in it is recorded.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile

from cytorelease.errors import InputError
from cytorelease.potency.readers._model import (
    PlateExport,
    PlateFormat,
    PlateReading,
    ReadingKind,
    parse_value,
)
from cytorelease.potency.readers._text import decode_text

__all__ = ["find_grids", "read_grid", "rows_from_csv", "rows_from_xlsx"]

_COLUMNS_TO_WELLS = {12: 96, 24: 384}
_WAVELENGTH = re.compile(r"(\d{3})(?:\.\d+)?\s*nm|:\s*(\d{3})\s*$", re.IGNORECASE)


def rows_from_csv(text: str, *, path: str | None = None) -> list[list[str]]:
    """The cells of delimited text; :class:`InputError` when the csv module cannot split it."""
    sample = "\n".join(text.splitlines()[:50])
    counts = {d: sample.count(d) for d in ("\t", ";", ",")}
    delimiter = max(counts, key=lambda d: counts[d])
    # newline="" lets the csv module see bare CR line ends instead of failing on them.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return [[c.strip() for c in row] for row in reader]
    except csv.Error as exc:
        raise InputError(
            f"not readable as delimited text: line {reader.line_num}: {exc}",
            path=path,
            hint="is this really a plate-reader export? binary files are not",
        ) from None


def rows_from_xlsx(data: bytes, path: str) -> list[list[str]]:
    """Every sheet's rows as text, sheets one after another (a blank row between them)."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        raise InputError(f"unreadable xlsx workbook: {exc}", path=path) from None
    rows: list[list[str]] = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows(values_only=True):
            rows.append(["" if v is None else str(v).strip() for v in row])
        rows.append([])
    book.close()
    return rows


def _header_columns(cells: list[str]) -> list[tuple[int, int]] | None:
    """(cell index, column number) for a grid header line; None for any other line."""
    numbered = [(i, c) for i, c in enumerate(cells) if c]
    if len(numbered) not in _COLUMNS_TO_WELLS or cells[0]:
        return None
    try:
        columns = [(i, int(float(c))) for i, c in numbered]
    except ValueError:
        return None
    if [n for _, n in columns] != list(range(1, len(columns) + 1)):
        return None
    return columns


def find_grids(rows: list[list[str]]) -> list[tuple[str, int, dict[str, float], dict[str, str]]]:
    """(label, wells, values, flags) for every grid in a table of text cells."""
    grids: list[tuple[str, int, dict[str, float], dict[str, str]]] = []
    for index, cells in enumerate(rows):
        columns = _header_columns(cells)
        if columns is None:
            continue
        wells = _COLUMNS_TO_WELLS[len(columns)]
        n_rows = 8 if wells == 96 else 16
        above = [c for c in rows[index - 1] if c] if index > 0 else []
        label = above[0] if len(above) == 1 else f"grid {len(grids) + 1}"
        values: dict[str, float] = {}
        flags: dict[str, str] = {}
        for offset, row in enumerate(rows[index + 1 : index + 1 + n_rows]):
            letter = chr(ord("A") + offset)
            if not row or row[0].upper() != letter:
                break
            for cell_index, column in columns:
                text = row[cell_index] if cell_index < len(row) else ""
                if not text:
                    continue
                value = parse_value(text)
                if value is None:
                    flags[f"{letter}{column}"] = text
                else:
                    values[f"{letter}{column}"] = value
        grids.append((label, wells, values, flags))
    return grids


def _metadata(rows: list[list[str]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for cells in rows:
        if _header_columns(cells) is not None:
            break
        filled = [c for c in cells if c]
        if len(filled) == 2 and cells[0]:
            found[filled[0].rstrip(":")] = filled[1]
    return found


def read_grid(data: bytes, *, path: str, sha256: str) -> PlateExport:
    """Every grid in a CSV or xlsx file, one reading each (raw values)."""
    is_xlsx = data.startswith(b"PK\x03\x04")
    rows = rows_from_xlsx(data, path) if is_xlsx else rows_from_csv(decode_text(data), path=path)
    grids = find_grids(rows)
    if not grids:
        raise InputError(
            "no plate grid found: expected a header line of column numbers 1-12 (96 wells) or "
            "1-24 (384 wells) with a line per plate row starting A, B, C ...",
            path=path,
        )
    metadata = _metadata(rows)
    plate = metadata.get("Plate") or metadata.get("Plate name") or "Plate 1"
    readings = []
    for label, wells, values, flags in grids:
        match = _WAVELENGTH.search(label) or _WAVELENGTH.search(metadata.get("Wavelength", ""))
        wavelength = float(match.group(1) or match.group(2)) if match else None
        if wavelength is None and metadata.get("Wavelength", "").strip().isdigit():
            wavelength = float(metadata["Wavelength"])
        readings.append(
            PlateReading(plate, label, ReadingKind.RAW, wavelength, wells, values, flags)
        )
    return PlateExport(path, PlateFormat.GRID, sha256, tuple(readings), metadata=metadata)
