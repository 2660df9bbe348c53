"""Plate-reader readers against the real exports in ../shared/data/plate and generated grids."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from cytorelease.errors import InputError
from cytorelease.potency.readers import (
    PlateFormat,
    ReadingKind,
    read_plate,
    sniff_format,
)
from cytorelease.potency.readers._text import decode_text
from tests.conftest import shared_path

GEN5_NON_NUMERIC = ("plate", "240411_172731_BNCH2345883_abs450_96well_non_numeric_values.txt")
GEN5_STDCURVE = ("plate", "endpoint_stdcurve_singleplate.txt")
SMP_FULL = ("plate", "MD_SMP_absorbance_endpoint_example01.txt")
SMP_PARTIAL = ("plate", "MD_SMP_absorbance_endpoint_partial_plate_example01.txt")


def _group_well_values(path: Path) -> list[tuple[str, str, float]]:
    """(plate, well, value) from the SoftMax Pro ``Group:`` tables: the software's own copy of
    the well values (3 decimals), an independent check of the plate blocks."""
    lines = decode_text(path.read_bytes()).splitlines()
    out = []
    header: list[str] | None = None
    for line in lines:
        cells = line.split("\t")
        if line.startswith("Group:"):
            header = None
            continue
        if header is None and "Wells" in cells and "WellPlateName" in cells:
            header = cells
            continue
        if header is not None and (not line.strip() or line.startswith("Group Column")):
            header = None
        if header is not None:
            value_column = "OD" if "OD" in header else "Value"
            row = dict(zip(header, cells, strict=False))
            out.append((row["WellPlateName"], row["Wells"], float(row[value_column])))
    return out


def test_gen5_non_numeric_cells_are_flags_not_numbers() -> None:
    export = read_plate(shared_path(*GEN5_NON_NUMERIC))
    assert export.format is PlateFormat.GEN5
    (reading,) = export.readings
    assert reading.kind is ReadingKind.RAW and reading.wavelength_nm == 450.0
    assert reading.values["A1"] == 2.100 and reading.values["H12"] == 2.500
    assert reading.flags["A8"] == "OVRFLW" and reading.flags["H1"] == "OVRFLW"
    assert reading.flags["D12"] == "MISSED" and reading.flags["H8"] == "MISSED"
    assert sorted(reading.flags.values()).count("OVRFLW") == 8
    assert sorted(reading.flags.values()).count("MISSED") == 5
    assert len(reading.values) + len(reading.flags) == 96
    assert not set(reading.values) & set(reading.flags)
    assert export.metadata["Reader Type"] == "Synergy H1"


def test_gen5_results_with_blank_and_concentration_rows_and_layout() -> None:
    export = read_plate(shared_path(*GEN5_STDCURVE))
    kinds = {r.label: r for r in export.readings}
    raw = export.select(wavelength_nm=630)
    assert raw.label == "630nmAbsRead:630"
    assert raw.values["A1"] == 3.337 and raw.values["H12"] == 0.194
    blanked = kinds["Blank 630nmAbsRead:630"]
    assert blanked.kind is ReadingKind.BLANKED and blanked.values["H1"] == 0.0
    assert blanked.values["H2"] == 0.0 and blanked.values["G1"] == 0.004
    derived = kinds["[Concentration]"]
    assert derived.kind is ReadingKind.DERIVED and derived.values["A1"] == 1980.423
    assert export.layout["A1"] == "STD1" and export.layout["H3"] == "BLK"
    assert export.layout["E4"] == "SPL4:1"
    # the Conc/Dil line under each Well ID line: standards' concentrations, samples' dilutions
    assert export.layout_values["A1"] == 2000 and export.layout_values["G3"] == 2.7435
    assert export.layout_values["B4"] == 0.5 and export.layout_values["H12"] == 0.125
    assert "H1" not in export.layout_values  # a blank has neither
    assert len(export.layout_values) == 93
    # the raw reading minus the blank reading is the same plate offset everywhere
    offsets = {round(raw.values[w] - blanked.values[w], 3) for w in raw.values}
    assert offsets <= {0.0, 0.001, 0.002}


def test_softmax_plate_format_two_plates_match_the_group_tables() -> None:
    path = shared_path(*SMP_FULL)
    export = read_plate(path)
    assert export.format is PlateFormat.SOFTMAX_PRO
    assert export.plates == ("Plate01", "Plate02")
    plate1 = export.select(plate="Plate01", wavelength_nm=450)
    assert plate1.values["A1"] == pytest.approx(3.41797666666667, rel=1e-14)
    assert plate1.values["H1"] == pytest.approx(7.66666666666667e-05, rel=1e-12)
    assert len(plate1.values) == 96 and not plate1.flags
    reduced = export.select(plate="Plate02", kind=ReadingKind.REDUCED)
    assert reduced.values["H1"] == pytest.approx(-0.00054666666666666665)
    checked = _group_well_values(path)
    assert len(checked) == (7 + 24) * 3 * 2  # 7 standards, 24 samples, triplicates, 2 plates
    for plate, well, value in checked:
        reading = export.select(plate=plate, wavelength_nm=450)
        assert round(reading.values[well], 3) == pytest.approx(value, abs=1e-9), (plate, well)


def test_softmax_column_format_partial_plate_three_wavelengths() -> None:
    path = shared_path(*SMP_PARTIAL)
    export = read_plate(path)
    raw = [r for r in export.readings if r.kind is ReadingKind.RAW]
    assert [r.wavelength_nm for r in raw] == [260.0, 280.0, 340.0]
    for reading in raw:  # columns 2-11 only
        assert len(reading.values) == 80
        assert "A1" not in reading.values and "H12" not in reading.values
    assert (raw[0].values["A2"], raw[1].values["A2"], raw[2].values["A2"]) == (3.084, 1.616, 0.663)
    checked = _group_well_values(path)
    assert len(checked) == 8 * 3 + 14 * 4  # every read well appears once
    for _, well, value in checked:
        assert raw[0].values[well] == pytest.approx(value, abs=5e-4), well


def test_selecting_among_several_plates_names_them() -> None:
    export = read_plate(shared_path(*SMP_FULL))
    with pytest.raises(InputError, match=r"2 readings match 450 nm.*--plate.*Plate01.*Plate02"):
        export.select(wavelength_nm=450)
    with pytest.raises(InputError, match="no reading matches 405 nm"):
        export.select(wavelength_nm=405)


def _grid_lines(columns: int, rows: int, value: str = "0.5") -> list[str]:
    lines = ["," + ",".join(str(c) for c in range(1, columns + 1))]
    for r in range(rows):
        cells = [f"{(r + 1) / 10 + c / 1000:.3f}" for c in range(columns)]
        lines.append(chr(65 + r) + "," + ",".join(cells))
    return lines


def test_grid_csv_with_header_block_and_text_cells(tmp_path: Path) -> None:
    lines = ["Plate,My plate", "Wavelength,450", "", "450 nm", *_grid_lines(12, 8)]
    lines[6] = lines[6].replace("0.201", "OVER", 1)  # B2
    path = tmp_path / "plate.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    export = read_plate(path)
    assert export.format is PlateFormat.GRID
    (reading,) = export.readings
    assert reading.plate == "My plate" and reading.wavelength_nm == 450.0
    assert reading.values["A1"] == 0.1 and reading.values["H12"] == 0.811
    assert reading.flags == {"B2": "OVER"}
    assert len(reading.values) == 95


def test_grid_384_semicolon_decimal_comma(tmp_path: Path) -> None:
    lines = [";" + ";".join(str(c) for c in range(1, 25))]
    for r in range(16):
        lines.append(chr(65 + r) + ";" + ";".join(f"{r},{c:02d}" for c in range(24)))
    path = tmp_path / "plate384.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    (reading,) = read_plate(path).readings
    assert reading.wells == 384 and len(reading.values) == 384
    assert reading.values["P24"] == 15.23 and reading.values["A1"] == 0.0


def test_grid_xlsx(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Plate", "X1"])
    sheet.append([])
    sheet.append([None, *range(1, 13)])
    for r in range(8):
        sheet.append([chr(65 + r), *[r + c / 100 for c in range(12)]])
    sheet["C4"] = "MISSED"  # row A (4th line), column 2
    path = tmp_path / "plate.xlsx"
    book.save(path)
    assert sniff_format(path.read_bytes()) is PlateFormat.GRID
    (reading,) = read_plate(path).readings
    assert reading.plate == "X1"
    assert reading.values["H12"] == pytest.approx(7.11)
    assert reading.flags == {"A2": "MISSED"}


def test_sniffing_ignores_the_file_name(tmp_path: Path) -> None:
    disguised = tmp_path / "looks_like.csv"
    disguised.write_bytes(shared_path(*SMP_FULL).read_bytes())
    assert read_plate(disguised).format is PlateFormat.SOFTMAX_PRO
    assert math.isclose(
        read_plate(disguised).select(plate="Plate02").values["A1"], 3.43082333333333
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"hello,world\n1,2\n", "not a recognised plate-reader export"),
        ("##BLOCKS= 1\nPlate:\tP\t1.3\n~End\n".encode("utf-16"), "SoftMax Pro plate header"),
        (
            (
                "##BLOCKS= 1\nPlate:\tP\t1.3\tPlateFormat\tKinetic\tAbsorbance\tRaw\tFALSE\t1"
                "\t\t\t\t\t\t1\t450\t1\t12\t96\t1\t8\n~End\n"
            ).encode("utf-16"),
            "line 2: SoftMax Pro plate header: plate .P. is a Kinetic read; only endpoint reads",
        ),
    ],
)
def test_bad_files_are_one_line_input_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        read_plate(path)
    assert str(path) in info.value.one_line() and "\n" not in info.value.one_line()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_plate(tmp_path / "nope.txt")


def test_softmax_plate_format_wavelengths_side_by_side(tmp_path: Path) -> None:
    """Two wavelengths in plate format sit side by side, each restarting at column 1."""
    header = (
        "Plate:\tP2\t1.3\tPlateFormat\tEndpoint\tAbsorbance\tRaw\tFALSE\t1"
        + ("\t" * 6)
        + "2\t450 630 \t1\t12\t96\t1\t8"
    )
    columns = "\t".join(str(c) for c in range(1, 13))
    lines = ["##BLOCKS= 1", header, f"\tTemperature(°C)\t{columns}\t\t{columns}"]
    for r in range(8):
        first = "\t".join(f"{r + c / 100:.2f}" for c in range(12))
        second = "\t".join(f"{-r - c / 100:.2f}" for c in range(12))
        lines.append(f"\t{'21.0' if r == 0 else ''}\t{first}\t\t{second}")
    lines += ["", "~End"]
    path = tmp_path / "two_wavelengths.txt"
    path.write_bytes("\r\n".join(lines).encode("utf-16"))
    export = read_plate(path)
    at_450, at_630 = export.select(wavelength_nm=450), export.select(wavelength_nm=630)
    assert at_450.values["A1"] == 0.0 and at_450.values["H12"] == 7.11
    assert at_630.values["B3"] == -1.02 and at_630.values["H12"] == -7.11
    assert len(at_450.values) == len(at_630.values) == 96
