"""BioTek / Agilent Gen5 plain-text export: a key-value header, then titled plate grids.

A grid section is a title line (``Layout``, ``Results`` or a read name), a header line of plate
column numbers, and one line per plate row: the row letter, a value per column and, in the last
cell, the label of what the line holds (``abs450:450``, ``Blank 630nmAbsRead:630``,
``[Concentration]``, ``Well ID``). Further lines for the same row start with an empty cell.
Cells may hold text instead of a number (``OVRFLW``, ``MISSED``, ``?????``): they are kept as
flags, never read as zero.
"""

from __future__ import annotations

import re

from cytorelease.errors import InputError
from cytorelease.potency.readers._model import (
    PLATE_SHAPES,
    PlateExport,
    PlateFormat,
    PlateReading,
    ReadingKind,
    parse_value,
)
from cytorelease.potency.readers._text import decode_text, split_cells

__all__ = ["looks_like_gen5", "read_gen5"]

# "abs450:450", "Blank 630nmAbsRead:630", or a bare "450" when the read step has no label
_WAVELENGTH = re.compile(r"(?:^|[:\s])(\d{3,4}(?:\.\d+)?)\s*$")
# a summary of a kinetic, spectrum or area read: "Max V [Blank OD600:450]", "Mean V [420]"
_SUMMARY = re.compile(r"^[^:\[]+\[.+\]$")
_PLATE_TYPE = re.compile(r"(\d+)\s*WELL", re.IGNORECASE)
_LAYOUT_TITLES = ("Layout",)
# the layout line under each "Well ID" line: a standard's concentration or a sample's dilution
# (Gen5 3.x writes one "Conc/Dil" line; older exports may split it)
_LAYOUT_NUMBERS = ("Conc/Dil", "Conc", "Dil", "Concentration", "Dilution")


def looks_like_gen5(text: str) -> bool:
    head = text[:4000]
    # tab-separated key-value header lines; other vendors' CSV headers use the same words
    return "\nSoftware Version\t" in "\n" + head and ("Plate Type" in head or "Reader Type" in head)


def _is_column_header(cells: list[str]) -> bool:
    numbers = [c.strip() for c in cells[1:] if c.strip()]
    return (
        not cells[0].strip()
        and len(numbers) >= 2
        and all(c.isdigit() for c in numbers)
        and [int(c) for c in numbers] == list(range(1, len(numbers) + 1))
    )


def _kind(label: str) -> ReadingKind:
    if label.startswith("[") or _SUMMARY.match(label):
        return ReadingKind.DERIVED
    if label.lower().startswith("blank "):
        return ReadingKind.BLANKED
    return ReadingKind.RAW


def read_gen5(data: bytes, *, path: str, sha256: str) -> PlateExport:
    """Every grid of every plate: raw reads, blank-subtracted reads, derived values, layout."""
    text = decode_text(data)
    if not looks_like_gen5(text):
        raise InputError(
            "not a Gen5 text export (no 'Software Version' / 'Plate Type' header)", path=path
        )
    lines = [split_cells(line) for line in text.splitlines()]
    metadata: dict[str, str] = {}
    wells = 96
    plate = "Plate 1"
    readings: list[PlateReading] = []
    layout: dict[str, str] = {}
    layout_values: dict[str, float] = {}
    index = 0
    while index < len(lines):
        cells = lines[index]
        key = cells[0].strip().rstrip(":")
        if key and len(cells) > 1 and not _is_column_header(cells) and cells[1].strip():
            metadata.setdefault(key, cells[1].strip())
            if key == "Plate Number":
                plate = cells[1].strip()
            if key == "Plate Type" and (match := _PLATE_TYPE.search(cells[1])):
                wells = int(match.group(1))
        if index + 1 < len(lines) and _is_column_header(lines[index + 1]) and key:
            if wells not in PLATE_SHAPES:
                raise InputError(
                    f"line {index + 1}: plate type {metadata.get('Plate Type')!r} is not a "
                    "96- or 384-well plate",
                    path=path,
                )
            grids, index = _read_grid(lines, index + 1, key, wells)
            if index >= len(lines) and not text.endswith(("\n", "\r")):
                # Gen5 ends every line with a line break: a grid running into the end of the
                # file without one was cut, and its last value may be cut mid-number
                raise InputError(
                    f"line {len(lines)}: the file ends inside the {key!r} plate grid without "
                    "a line break (truncated copy?)",
                    path=path,
                )
            for label, (values, flags) in grids.items():
                if key in _LAYOUT_TITLES:
                    if label == "Well ID":
                        layout.update(flags)
                    elif label in _LAYOUT_NUMBERS:
                        if flags:
                            well, cell = next(iter(flags.items()))
                            raise InputError(
                                f"Layout: well {well}: {label} {cell!r} is not a number",
                                path=path,
                            )
                        layout_values.update(values)
                    continue
                wavelength = _WAVELENGTH.search(label)
                readings.append(
                    PlateReading(
                        plate,
                        label,
                        _kind(label),
                        float(wavelength.group(1)) if wavelength else None,
                        wells,
                        values,
                        flags,
                    )
                )
            continue
        index += 1
    kinetic = "Start Kinetic" in metadata or "\nStart Kinetic\t" in text
    if kinetic and not any(r.kind is ReadingKind.RAW for r in readings):
        summaries = ", ".join(dict.fromkeys(r.label for r in readings)) or "none"
        raise InputError(
            "the Gen5 export is of a kinetic read and holds no endpoint values "
            f"(one value per well); its plate grids are kinetic summaries: {summaries}",
            path=path,
            hint="export an endpoint read, or cytorelease cannot analyse the plate",
        )
    if not readings:
        raise InputError("the Gen5 export has no plate grid of results", path=path)
    return PlateExport(
        path,
        PlateFormat.GEN5,
        sha256,
        tuple(readings),
        layout=layout,
        layout_values=layout_values,
        metadata=metadata,
    )


def _read_grid(
    lines: list[list[str]], header_index: int, title: str, wells: int
) -> tuple[dict[str, tuple[dict[str, float], dict[str, str]]], int]:
    """The grids under one column header, keyed by their line label; and the next line index."""
    header = lines[header_index]
    columns = [(i, int(c)) for i, c in enumerate(header) if i > 0 and c.strip().isdigit()]
    label_index = columns[-1][0] + 1
    n_rows, _ = PLATE_SHAPES[wells]
    grids: dict[str, tuple[dict[str, float], dict[str, str]]] = {}
    row_letter = ""
    index = header_index + 1
    while index < len(lines):
        cells = lines[index]
        if not any(c.strip() for c in cells):
            break
        first = cells[0].strip()
        if first:
            if len(first) != 1 or not first.isalpha() or ord(first.upper()) - 65 >= n_rows:
                break
            row_letter = first.upper()
        elif not row_letter:
            break
        label = cells[label_index].strip() if label_index < len(cells) else ""
        values, flags = grids.setdefault(label or title, ({}, {}))
        for cell_index, column in columns:
            text = cells[cell_index].strip() if cell_index < len(cells) else ""
            if not text:
                continue
            well = f"{row_letter}{column}"
            value = parse_value(text)
            if value is None:
                flags[well] = text
            else:
                values[well] = value
        index += 1
    return grids, index
