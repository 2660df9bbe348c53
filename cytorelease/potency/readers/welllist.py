"""A plate exported as a list of wells: one line per well, a column per read (Tecan Magellan).

A column holds the well ids (``A1``, ``B01`` ...); the line above the first well names the
columns (``Well positions``, ``Label1``, ``Raw data``); every other column whose cells are
mostly numbers is one reading. Lines between that header and the first well (Magellan writes
the read time and temperature there) are skipped. The wavelength of a reading is read from its
column name (``A450``, ``450 nm``) or, when the file states as many measurement wavelengths as
it has reading columns (``Measurement wavelength: 450 nm``), from those, in order.
"""

from __future__ import annotations

import re

from cytorelease.potency.readers._model import (
    PLATE_SHAPES,
    PlateReading,
    normalise_well,
    parse_value,
    reading_kind,
    wavelength_in,
)

__all__ = ["find_well_list", "well_list_readings"]

# columns that place a well rather than measure it
_POSITION = re.compile(r"^(row|col|column|well|wells|index|#|no\.?|number|plate|time.*)$", re.I)
_STATED = re.compile(r"wavelength\D{0,20}?(\d{3,4})\s*nm", re.IGNORECASE)
_MIN_WELLS = 8


def find_well_list(rows: list[list[str]]) -> tuple[int, int, list[int]] | None:
    """(header line, well column, line indexes of the wells) of the first list of wells."""
    for column in range(min(8, max((len(r) for r in rows), default=0))):
        wells = [i for i, cells in enumerate(rows) if _well(cells, column)]
        if len(wells) < _MIN_WELLS:
            continue
        first = wells[0]
        # the topmost named line of the three above the first well: Magellan puts the read
        # time, the temperature and the plate size between the column names and the wells
        header = next((i for i in range(max(first - 3, 0), first) if _cell(rows[i], column)), None)
        if header is not None:
            return header, column, wells
    return None


def _cell(cells: list[str], index: int) -> str:
    return cells[index].strip() if index < len(cells) else ""


def _well(cells: list[str], column: int) -> bool:
    return normalise_well(_cell(cells, column)) is not None


def well_list_readings(rows: list[list[str]], plate: str) -> list[PlateReading]:
    """One reading per numeric column of the first list of wells; [] when there is none."""
    found = find_well_list(rows)
    if found is None:
        return []
    header_index, well_column, well_lines = found
    header = rows[header_index]
    ids = {i: normalise_well(_cell(rows[i], well_column)) or "" for i in well_lines}
    n_wells = 384 if any(w[0] > "H" or int(w[1:]) > 12 for w in ids.values()) else 96
    n_rows, n_columns = PLATE_SHAPES[n_wells]
    columns = []
    for index, name in enumerate(header):
        if index == well_column or _POSITION.match(name.strip()):
            continue
        cells = [_cell(rows[i], index) for i in well_lines]
        if sum(parse_value(c) is not None for c in cells) * 2 >= len(cells):
            columns.append(index)
    text = "\n".join(" ".join(c for c in cells if c) for cells in rows)
    stated = [float(w) for w in _STATED.findall(text)]
    readings = []
    for position, index in enumerate(columns):
        label = _cell(header, index) or f"column {index + 1}"
        wavelength = wavelength_in([label])
        if wavelength is None and len(stated) == len(columns):
            wavelength = stated[position]
        values: dict[str, float] = {}
        flags: dict[str, str] = {}
        for line in well_lines:
            well, cell = ids[line], _cell(rows[line], index)
            if not cell or ord(well[0]) - 65 >= n_rows or int(well[1:]) > n_columns:
                continue
            value = parse_value(cell)
            if value is None:
                flags[well] = cell
            else:
                values[well] = value
        if values:
            kind = reading_kind([label])
            readings.append(PlateReading(plate, label, kind, wavelength, n_wells, values, flags))
    return readings
