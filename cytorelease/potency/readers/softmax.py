"""SoftMax Pro (Molecular Devices) plain-text export: ``##BLOCKS=`` then ``Plate:`` blocks.

Each ``Plate:`` block starts with a header line of tab-separated fields (name, export version,
``PlateFormat`` or ``TimeFormat``, read type, read mode, data type, ..., number of wavelengths,
the wavelengths, first column, number of columns, plate wells, first row, number of rows), then
one table of raw values (its header names Temperature) and, in "Raw and Reduced" exports, a
second table of reduced values whose header's second cell is empty. ``PlateFormat`` tables are
grids (a row per plate row, a column per plate column; several wavelengths side by side);
``TimeFormat`` ("column format") tables have a column per well and a line per wavelength.
``Group:`` blocks (the software's own tables of standards and unknowns) give the export's layout
(:mod:`cytorelease.potency.readers.softmax_groups`); their computed columns are not read:
cytorelease fits its own curve from the raw values. The groups name each well's plate
(``WellPlateName``): each plate's layout is kept apart, and the export's ``layout`` is theirs
only when every plate is laid out the same.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from cytorelease.errors import InputError
from cytorelease.potency.readers._model import (
    PLATE_SHAPES,
    PlateExport,
    PlateFormat,
    PlateReading,
    ReadingKind,
    normalise_well,
    parse_value,
    well_name,
)
from cytorelease.potency.readers._text import decode_text, split_cells
from cytorelease.potency.readers.softmax_groups import GroupWell, read_groups

__all__ = ["SKIPPED_GROUPS", "SoftMaxExport", "looks_like_softmax", "read_softmax"]

# metadata key: the Group: blocks not read as layout, and why
SKIPPED_GROUPS = "skipped groups"
# plate -> (well -> well id, well -> concentration or dilution)
PlateLayouts = Mapping[str, tuple[Mapping[str, str], Mapping[str, float]]]


@dataclass(frozen=True, slots=True)
class SoftMaxExport(PlateExport):
    """A SoftMax Pro export: its layout is kept per plate, as its groups give it."""

    plate_layouts: PlateLayouts = field(default_factory=dict)

    def __post_init__(self) -> None:
        PlateExport.__post_init__(self)
        frozen = {
            plate: (MappingProxyType(dict(ids)), MappingProxyType(dict(values)))
            for plate, (ids, values) in self.plate_layouts.items()
        }
        object.__setattr__(self, "plate_layouts", MappingProxyType(frozen))

    def for_plate(self, plate: str) -> SoftMaxExport:
        """The export with the layout of one plate only (empty when no group names it)."""
        ids, values = self.plate_layouts.get(plate, ({}, {}))
        return replace(self, layout=ids, layout_values=values, plate_layouts={plate: (ids, values)})

    def layout_conflict(self) -> str | None:
        """The first well that two plates lay out differently; None when they agree."""
        plates = list(self.plate_layouts)
        wells = dict.fromkeys(w for ids, _ in self.plate_layouts.values() for w in ids)
        for well in wells:
            seen = {
                plate: (ids.get(well), values.get(well))
                for plate, (ids, values) in self.plate_layouts.items()
            }
            if len(set(seen.values())) > 1:
                return (
                    f"well {well} is "
                    + ", ".join(
                        f"{_shown(*entry)} on plate {plate}" for plate, entry in seen.items()
                    )
                    + f" (plates {', '.join(plates)} are laid out differently)"
                )
        return None


def _shown(well_id: str | None, value: float | None) -> str:
    if well_id is None:
        return "not laid out"
    return f"{well_id} ({value:g})" if value is not None else well_id


def _plate_layouts(
    wells: tuple[GroupWell, ...], sizes: Mapping[str, int], path: str
) -> dict[str, tuple[dict[str, str], dict[str, float]]]:
    plates = tuple(sizes)
    out: dict[str, tuple[dict[str, str], dict[str, float]]] = {p: ({}, {}) for p in plates}
    origin: dict[tuple[str, str], GroupWell] = {}
    for entry in wells:
        # a group that names no plate lays out every plate
        for plate in [entry.plate] if entry.plate is not None else plates:
            if plate not in out:
                continue  # a plate the export holds no reading of
            rows, columns = PLATE_SHAPES[sizes[plate]]
            if ord(entry.well[0]) - 65 >= rows or int(entry.well[1:]) > columns:
                raise InputError(
                    f"group {entry.group!r} lays out well {entry.well}, which is not on "
                    f"{sizes[plate]}-well plate {plate}",
                    path=path,
                )
            ids, values = out[plate]
            before = origin.get((plate, entry.well))
            if before is not None and (before.well_id, before.value) != (
                entry.well_id,
                entry.value,
            ):
                raise InputError(
                    f"the Group: tables give well {entry.well} of plate {plate} two roles: "
                    f"{_shown(before.well_id, before.value)} in group {before.group!r} and "
                    f"{_shown(entry.well_id, entry.value)} in group {entry.group!r}",
                    path=path,
                )
            origin[(plate, entry.well)] = entry
            ids[entry.well] = entry.well_id
            if entry.value is not None:
                values[entry.well] = entry.value
    return out


_BLOCK_END = "~End"


def looks_like_softmax(text: str) -> bool:
    return text.lstrip("\ufeff").startswith("##BLOCKS=")


@dataclass(frozen=True, slots=True)
class _PlateHeader:
    name: str
    layout: str  # PlateFormat or TimeFormat
    read_type: str
    read_mode: str  # Absorbance, Fluorescence, Luminescence ...
    data_type: str
    wavelengths: tuple[float, ...]  # emission wavelengths for fluorescence
    excitations: tuple[float, ...]  # fluorescence only
    first_column: int
    wells: int


_DATA_TYPES = ("Raw", "Reduced", "Both")


def _parse_header(cells: list[str], path: str, line_no: int) -> _PlateHeader:
    where = f"line {line_no}: SoftMax Pro plate header"

    def unexpected() -> InputError:
        return InputError(
            f"{where} has unexpected fields {cells[:21]}",
            path=path,
            hint="is this a SoftMax Pro text export?",
        )

    if len(cells) < 7:
        raise unexpected()
    name, layout, read_type, read_mode = cells[1], cells[3], cells[4], cells[5]
    if layout not in ("PlateFormat", "TimeFormat"):
        raise InputError(f"{where}: unknown export layout {layout!r}", path=path)
    # checked before the remaining fields, whose places differ for kinetic and spectrum reads
    if read_type != "Endpoint":
        raise InputError(
            f"{where}: plate {name!r} is a {read_type or 'unnamed'} read; only endpoint reads "
            "(one value per well and wavelength) are supported",
            path=path,
            hint="export the endpoint read of the plate, or reduce the read to one value per "
            "well in SoftMax Pro and export that as an endpoint plate",
        )
    # fluorescence blocks carry one more field (the scan position) before the data type;
    # every later field moves one place with it
    shift = next((i for i in (6, 7) if i < len(cells) and cells[i] in _DATA_TYPES), None)
    if shift is None:
        raise unexpected()
    offset = shift - 6
    try:
        n_wavelengths = int(cells[14 + offset])
        wavelengths = tuple(float(w) for w in cells[15 + offset].split())
        first_column, wells = int(cells[16 + offset]), int(cells[18 + offset])
        excitations = tuple(
            float(w) for w in (cells[19 + offset] if len(cells) > 19 + offset else "").split()
        )
    except (IndexError, ValueError):
        raise unexpected() from None
    if wells not in PLATE_SHAPES:
        raise InputError(
            f"{where}: plate {name!r} has {wells} wells; only 96- and 384-well plates are read",
            path=path,
        )
    if len(wavelengths) != n_wavelengths:
        raise InputError(
            f"{where}: {n_wavelengths} wavelengths listed as {cells[15 + offset]!r}", path=path
        )
    if read_mode != "Fluorescence":
        excitations = ()
    return _PlateHeader(
        name,
        layout,
        read_type,
        read_mode,
        cells[shift],
        wavelengths,
        excitations,
        first_column,
        wells,
    )


def _tables(lines: list[tuple[int, str]]) -> list[tuple[list[str], list[list[str]]]]:
    """The block's tables: (header cells, data lines); a header line starts with two tabs or
    names the temperature, and data lines run to the next header (blank lines skipped)."""
    tables: list[tuple[list[str], list[list[str]]]] = []
    for _, line in lines:
        cells = split_cells(line)
        is_header = len(cells) > 2 and (
            cells[1].startswith("Temperature")
            or (cells[0] == cells[1] == "" and _names_columns(cells[2:]))
        )
        if is_header:
            tables.append((cells, []))
        elif tables and any(c.strip() for c in cells):
            tables[-1][1].append(cells)
    return tables


def _names_columns(cells: list[str]) -> bool:
    """True for a header's column part: well ids, or consecutive plate column numbers."""
    named = [c.strip() for c in cells if c.strip()]
    if not named:
        return False
    if all(normalise_well(c) for c in named):
        return True
    if not all(c.isdigit() for c in named) or len(named) < 2:
        return False
    numbers = [int(c) for c in named]
    return all(b == a + 1 or b <= a for a, b in itertools.pairwise(numbers))


def _plate_format(
    header: _PlateHeader, table: tuple[list[str], list[list[str]]], kind: ReadingKind
) -> list[PlateReading]:
    head, rows = table
    n_rows, _ = PLATE_SHAPES[header.wells]
    # wavelengths sit side by side; each group's columns restart at the first column number
    groups: list[list[tuple[int, int]]] = []
    for index, cell in enumerate(head[2:], start=2):
        if not cell.strip().isdigit():
            continue
        column = int(cell) - 1
        if not groups or column <= groups[-1][-1][1]:
            groups.append([])
        groups[-1].append((index, column))
    labels = header.wavelengths if kind is ReadingKind.RAW else (None,) * len(groups)
    readings = []
    for group, wavelength in zip(groups, labels, strict=False):
        values: dict[str, float] = {}
        flags: dict[str, str] = {}
        for row_index, cells in enumerate(rows[:n_rows]):
            for cell_index, column in group:
                text = cells[cell_index] if cell_index < len(cells) else ""
                _store(well_name(row_index, column), text, values, flags)
        readings.append(_reading(header, kind, wavelength, values, flags))
    return readings


def _time_format(
    header: _PlateHeader, table: tuple[list[str], list[list[str]]], kind: ReadingKind
) -> list[PlateReading]:
    head, rows = table
    wells = [(i, normalise_well(c)) for i, c in enumerate(head) if i >= 2 and normalise_well(c)]
    labels = header.wavelengths if kind is ReadingKind.RAW else (None,) * len(rows)
    readings = []
    for cells, wavelength in zip(rows, labels, strict=False):
        values: dict[str, float] = {}
        flags: dict[str, str] = {}
        for index, well in wells:
            assert well is not None
            _store(well, cells[index] if index < len(cells) else "", values, flags)
        readings.append(_reading(header, kind, wavelength, values, flags))
    return readings


def _store(well: str, text: str, values: dict[str, float], flags: dict[str, str]) -> None:
    if not text.strip():
        return  # an empty cell: the well was not read (partial plate)
    value = parse_value(text)
    if value is None:
        flags[well] = text.strip()
    else:
        values[well] = value


def _reading(
    header: _PlateHeader,
    kind: ReadingKind,
    wavelength: float | None,
    values: dict[str, float],
    flags: dict[str, str],
) -> PlateReading:
    if wavelength is not None and wavelength <= 0:
        wavelength = None  # luminescence read without a filter: "0"
    if kind is not ReadingKind.RAW:
        label = "reduced"
    elif wavelength is None:
        label = header.read_mode.lower() or "raw"
    elif header.excitations and wavelength in header.wavelengths:
        excitation = header.excitations[header.wavelengths.index(wavelength)]
        label = f"ex {excitation:g} / em {wavelength:g} nm"
    else:
        label = f"{wavelength:g} nm"
    return PlateReading(header.name, label, kind, wavelength, header.wells, values, flags)


def _blocks(text: str, path: str) -> list[list[tuple[int, str]]]:
    blocks: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if current is None:
            if line.startswith("Plate:"):
                current = [(number, line)]
            continue
        if line.strip().startswith(_BLOCK_END):
            blocks.append(current)
            current = None
        else:
            current.append((number, line))
    if current is not None:
        # every block the software writes ends with ~End: the file stops inside this one
        line_no, first = current[0]
        name = (split_cells(first)[1:2] or [""])[0]
        raise InputError(
            f"line {line_no}: plate block {name!r} has no '{_BLOCK_END}' line before the end "
            "of the file (truncated copy?)",
            path=path,
        )
    return blocks


def read_softmax(data: bytes, *, path: str, sha256: str) -> PlateExport:
    """Every ``Plate:`` block's raw readings (one per wavelength) and reduced readings."""
    text = decode_text(data)
    if not looks_like_softmax(text):
        raise InputError("not a SoftMax Pro text export (no '##BLOCKS=' first line)", path=path)
    readings: list[PlateReading] = []
    refused: InputError | None = None
    for block in _blocks(text, path):
        line_no, first = block[0]
        cells = split_cells(first)
        if len(cells) > 4 and cells[4] != "Endpoint":
            # a kinetic or spectrum plate next to endpoint plates is skipped; alone, refused
            try:
                _parse_header(cells, path, line_no)
            except InputError as error:
                refused = refused or error
            continue
        header = _parse_header(cells, path, line_no)
        tables = _tables(block[1:])
        if not tables:
            raise InputError(f"line {line_no}: plate {header.name!r} has no data table", path=path)
        for index, table in enumerate(tables):
            reduced = index > 0 or header.data_type == "Reduced"
            kind = ReadingKind.REDUCED if reduced else ReadingKind.RAW
            parse = _plate_format if header.layout == "PlateFormat" else _time_format
            readings.extend(parse(header, table, kind))
    if not readings:
        raise refused or InputError("the SoftMax Pro export has no Plate: blocks", path=path)
    groups = read_groups(text, path)
    layouts = _plate_layouts(groups.wells, {r.plate: r.wells for r in readings}, path)
    distinct = {
        tuple(sorted(ids.items())) + tuple(sorted(v.items())) for ids, v in layouts.values()
    }
    ids, values = next(iter(layouts.values())) if len(distinct) == 1 else ({}, {})
    metadata = {SKIPPED_GROUPS: "; ".join(groups.skipped)} if groups.skipped else {}
    return SoftMaxExport(
        path,
        PlateFormat.SOFTMAX_PRO,
        sha256,
        tuple(readings),
        layout=ids,
        layout_values=values,
        metadata=metadata,
        plate_layouts=layouts,
    )
