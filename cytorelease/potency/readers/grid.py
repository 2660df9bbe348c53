"""A generic plate grid in CSV (comma, semicolon or tab) or xlsx: what most readers can export.

An optional header block of ``key,value`` lines, then one or more grids: a header line of plate
column numbers ``1..12`` (96 wells) or ``1..24`` (384 wells) and a line per plate row starting
with its letter (``A..H`` / ``A..P``). The header's first cell is empty or holds a short label
(Tecan i-control writes ``<>``, Thermo SkanIt the quantity: ``Abs``, ``Blank subtracted``).

What a grid is, is read from the text around it, the same way for every vendor:

* its label: a ``Label: ...`` line (Tecan), else the header's own label, else the nearest
  single-cell line above it (``450 nm``, ``Raw Data (450 1)`` of BMG MARS, ``Results for
  A450(1)`` of PerkinElmer EnVision);
* its wavelength: in the label, else in the lines since the previous grid (``Wavelength: 450 nm``,
  ``Measurement Wavelength,450,nm``), else in the header block;
* its plate: a ``Plate,X`` line, a ``Plate N`` line, or a table whose ``Plate`` column has a value
  below it (EnVision's ``Plate information``) since the previous grid; else the previous grid's;
* its kind: blank-subtracted or derived (concentrations, ratios, dilution factors, calculated
  results) when its label or sheet says so, raw otherwise.

Grids holding no number at all (sample layouts, plate maps) are not readings. A file without any
labelled grid is searched for bare matrices (exactly 8 lines of 12 numbers, or 16 of 24, as
PerkinElmer EnVision writes them), then for a list of wells (see :mod:`.welllist`).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from cytorelease.errors import InputError
from cytorelease.potency.readers._model import (
    PlateExport,
    PlateFormat,
    PlateReading,
    ReadingKind,
    parse_value,
    reading_kind,
    wavelength_in,
)
from cytorelease.potency.readers._text import decode_text
from cytorelease.potency.readers.welllist import well_list_readings

__all__ = [
    "Grid",
    "find_bare_grids",
    "find_grids",
    "read_grid",
    "rows_from_csv",
    "rows_from_xlsx",
    "unsupported_plate_size",
]

_COLUMNS_TO_WELLS = {12: 96, 24: 384}
_ROWS = {96: 8, 384: 16}
_PLATE_KEYS = ("plate", "plate name", "plate id", "plate number")
# a line naming a plate: "Plate: X", "Plate 2", "Plate B1", or a short "<words> plate" (SkanIt
# "Sample Plate"); never a bare "Plate" or a section title such as "Plate information"
_PLATE_LINE = re.compile(
    r"^(?:plate\s*:\s*(?P<named>\S.*)|plate\s+(?P<id>[\w-]{1,4})|(?:[\w.#-]+\s+){1,3}plate)$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Grid:
    """One plate grid and what the text around it says about it."""

    label: str
    wells: int
    values: dict[str, float]
    flags: dict[str, str]
    wavelength_nm: float | None
    plate: str | None  # None: the text above does not name one
    kind: ReadingKind


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


def rows_from_xlsx(data: bytes, path: str) -> list[tuple[str, list[list[str]]]]:
    """Every sheet of a workbook: (sheet name, its rows as text).

    Opened through the qPCR readers' guard: a workbook whose members would inflate beyond its
    limits is refused before anything is inflated, and damage found while the (lazily read)
    sheets are parsed is one InputError, never a traceback.
    """
    from pathlib import Path

    from cytorelease.qpcr.readers._xlsx_table import open_workbook

    sheets = []
    with open_workbook(data, Path(path)) as book:
        for sheet in book.worksheets:
            rows = [
                ["" if v is None else _cell_text(v) for v in row]
                for row in sheet.iter_rows(values_only=True)
            ]
            sheets.append((str(sheet.title), rows))
    return sheets


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # column numbers stored as 1.0, 2.0 ...
    return str(value).strip()


def _header_columns(cells: list[str]) -> tuple[str, list[tuple[int, int]]] | None:
    """(corner label, [(cell index, column number)]) for a grid header line; None otherwise."""
    if not cells:
        return None
    corner = cells[0]
    if corner and parse_value(corner) is not None:
        return None  # a number in the corner: a data line, not a header
    numbered = [(i, c) for i, c in enumerate(cells) if c and i > 0]
    if len(numbered) not in _COLUMNS_TO_WELLS:
        return None
    try:
        columns = [(i, int(float(c))) for i, c in numbered]
    except ValueError:
        return None
    if [n for _, n in columns] != list(range(1, len(columns) + 1)):
        return None
    return corner, columns


def unsupported_plate_size(rows: list[list[str]]) -> int | None:
    """48 when the table has the column header of a 1536-well plate grid; else None."""
    for cells in rows:
        numbers = [c for c in cells[1:] if c]
        if (
            len(numbers) == 48
            and not cells[0]
            and numbers == [str(n) for n in range(1, len(numbers) + 1)]
        ):
            return len(numbers)
    return None


def _plate(context: list[list[str]]) -> str | None:
    """The plate named in the lines since the previous grid (the nearest mention wins)."""
    found: str | None = None
    for index, cells in enumerate(context):
        filled = [c for c in cells if c]
        if not filled:
            continue
        if len(filled) == 2 and cells[0].rstrip(":").lower() in _PLATE_KEYS:
            found = filled[1]  # a key-value line
        elif len(filled) == 1 and (match := _PLATE_LINE.match(filled[0])):
            number = match.group("id") or ""
            found = match.group("named") or (number if number.isdigit() else filled[0])
        elif len(filled) >= 3 and index + 1 < len(context):  # a table's header line
            below = context[index + 1]
            for position, cell in enumerate(cells):
                if cell.lower() == "plate" and position < len(below) and below[position]:
                    found = below[position]
    if found is not None and found.isdigit():
        return f"Plate {int(found)}"
    return found


def _label(corner: str, context: list[list[str]], number: int) -> str:
    filled_rows = [[c for c in cells if c] for cells in context]
    for filled in reversed(filled_rows):
        if filled and filled[0].lower().startswith("label:"):
            return filled[0].split(":", 1)[1].strip() or filled[0]
    if corner and corner != "<>":
        return corner
    nearest = [filled for filled in filled_rows if filled][-1:]
    if nearest and len(nearest[0]) == 1:
        return nearest[0][0]
    return f"grid {number}"


def _describe(
    corner: str,
    context: list[list[str]],
    number: int,
    sheet: str,
    wells: int,
    cells: tuple[dict[str, float], dict[str, str]],
) -> Grid:
    """A grid's values with what the text above it says about it."""
    label = _label(corner, context, number)
    nearest_first = [" ".join(c for c in row if c) for row in reversed(context)]
    return Grid(
        label,
        wells,
        cells[0],
        cells[1],
        wavelength_in([label, corner, *nearest_first]),
        _plate(context),
        reading_kind([label, corner, sheet]),
    )


def _store(text: str, well: str, values: dict[str, float], flags: dict[str, str]) -> None:
    if not text:
        return
    value = parse_value(text)
    if value is None:
        flags[well] = text
    else:
        values[well] = value


def find_grids(rows: list[list[str]], *, sheet: str = "") -> list[Grid]:
    """Every labelled grid (column numbers above, row letters down the side) holding at least
    one number in a table of text cells."""
    grids: list[Grid] = []
    context_start = 0
    number = 0
    index = 0
    while index < len(rows):
        header = _header_columns(rows[index])
        if header is None:
            index += 1
            continue
        corner, columns = header
        wells = _COLUMNS_TO_WELLS[len(columns)]
        values: dict[str, float] = {}
        flags: dict[str, str] = {}
        matched = 0
        for offset, row in enumerate(rows[index + 1 : index + 1 + _ROWS[wells]]):
            letter = chr(ord("A") + offset)
            if not row or row[0].upper() != letter:
                break
            matched += 1
            for cell_index, column in columns:
                text = row[cell_index] if cell_index < len(row) else ""
                _store(text, f"{letter}{column}", values, flags)
        number += 1
        if values:
            context = rows[context_start:index]
            grids.append(_describe(corner, context, number, sheet, wells, (values, flags)))
        index += 1 + matched
        context_start = index
    return grids


def _bare_row(cells: list[str]) -> int | None:
    """The plate width a line of a bare matrix belongs to: 12 or 24 cells (a trailing empty
    cell allowed), every filled one a number; None for any other line."""
    width = len(cells) - 1 if len(cells) in (13, 25) and not cells[-1] else len(cells)
    if width not in _COLUMNS_TO_WELLS:
        return None
    if any(c and parse_value(c) is None for c in cells):
        return None
    return width


def find_bare_grids(rows: list[list[str]], *, sheet: str = "") -> list[Grid]:
    """Matrices without row letters or column numbers (PerkinElmer EnVision writes them):
    exactly 8 lines of 12 numbers or 16 lines of 24, set off from the lines around them."""
    grids: list[Grid] = []
    context_start = 0
    index = 0
    while index < len(rows):
        width = _bare_row(rows[index])
        if width is None:
            index += 1
            continue
        end = index
        while end < len(rows) and _bare_row(rows[end]) == width:
            end += 1
        n_rows = _ROWS[_COLUMNS_TO_WELLS[width]]
        values: dict[str, float] = {}
        flags: dict[str, str] = {}
        if end - index == n_rows:
            for offset, row in enumerate(rows[index:end]):
                for column, text in enumerate(row[:width]):
                    _store(text, f"{chr(ord('A') + offset)}{column + 1}", values, flags)
        if values:
            context = rows[context_start:index]
            wells = _COLUMNS_TO_WELLS[width]
            grids.append(_describe("", context, len(grids) + 1, sheet, wells, (values, flags)))
            context_start = end
        index = end
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


def _refuse_cut_last_row(rows: list[list[str]], path: str) -> None:
    """A file without a final line break may have been cut: its last line, when it is a grid
    row, must reach the grid's last column (the rule the qPCR text readers apply)."""
    last = next((i for i in range(len(rows) - 1, -1, -1) if any(rows[i])), None)
    if last is None or len(rows[last][0]) != 1 or not rows[last][0].isalpha():
        return
    for index in range(last - 1, max(last - 17, -1), -1):
        header = _header_columns(rows[index])
        if header is not None:
            needed = header[1][-1][0] + 1
            if len(rows[last]) < needed:
                raise InputError(
                    f"line {last + 1}: the last plate row has {len(rows[last])} cells, its "
                    f"grid {needed}, and the file ends without a line break (truncated copy?)",
                    path=path,
                )
            return


def read_grid(data: bytes, *, path: str, sha256: str) -> PlateExport:
    """Every numeric grid in a CSV or xlsx file, one reading each."""
    if data.startswith(b"PK\x03\x04"):
        sections = rows_from_xlsx(data, path)
    else:
        text = decode_text(data)
        sections = [("", rows_from_csv(text, path=path))]
        if not text.endswith(("\n", "\r")):
            _refuse_cut_last_row(sections[0][1], path)
    grids = [grid for sheet, rows in sections for grid in find_grids(rows, sheet=sheet)]
    if not grids:  # only then: a labelled grid is the surer reading of a file
        grids = [grid for sheet, rows in sections for grid in find_bare_grids(rows, sheet=sheet)]
    if not grids:
        for _, rows in sections:
            plate = _metadata(rows).get("Plate") or "Plate 1"
            if listed := well_list_readings(rows, plate):
                return PlateExport(path, PlateFormat.GRID, sha256, tuple(listed))
    sizes = [unsupported_plate_size(rows) for _, rows in sections]
    if not grids and (columns := next((n for n in sizes if n), None)):
        raise InputError(
            f"a 1536-well plate ({columns} plate columns): only 96- and 384-well plates are read",
            path=path,
        )
    if not grids:
        raise InputError(
            "no plate grid of numbers found: expected a header line of column numbers 1-12 "
            "(96 wells) or 1-24 (384 wells) with a line per plate row starting A, B, C ..., "
            "or a list of wells (a column of well ids, a column of numbers per read)",
            path=path,
        )
    metadata = _metadata([row for _, rows in sections for row in rows])
    plate = metadata.get("Plate") or metadata.get("Plate name") or "Plate 1"
    fallback = wavelength_in([metadata.get("Wavelength", "")])
    if fallback is None and metadata.get("Wavelength", "").strip().isdigit():
        fallback = float(metadata["Wavelength"])
    readings = []
    for grid in grids:
        plate = grid.plate or plate
        wavelength = grid.wavelength_nm if grid.wavelength_nm is not None else fallback
        readings.append(
            PlateReading(
                plate, grid.label, grid.kind, wavelength, grid.wells, grid.values, grid.flags
            )
        )
    return PlateExport(path, PlateFormat.GRID, sha256, tuple(readings), metadata=metadata)
