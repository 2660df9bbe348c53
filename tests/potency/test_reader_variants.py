"""Plate-reader layout variants seen in real exports of other vendors, rebuilt with made-up values.

Each test writes a small file in the layout of one vendor's export (Thermo SkanIt, Tecan
i-control, BMG MARS, PerkinElmer EnVision, SoftMax Pro fluorescence/luminescence, Gen5 without a
read-step label, Gen5 kinetic) and checks specific parsed well values.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cytorelease.errors import InputError
from cytorelease.potency.readers import PlateFormat, ReadingKind, read_plate, sniff_format


def _value(row: int, column: int, scale: float = 1.0) -> float:
    """A made-up, well-specific value: row 0..7, column 0..11."""
    return round(scale * (0.05 + row * 0.3 + column * 0.01), 4)


def _grid(corner: str, scale: float = 1.0, sep: str = ",") -> list[str]:
    lines = [sep.join([corner, *(str(c) for c in range(1, 13))])]
    for r in range(8):
        cells = [f"{_value(r, c, scale):g}" for c in range(12)]
        lines.append(sep.join([chr(65 + r), *cells]))
    return lines


def test_skanit_like_workbook_corner_labels_sheets_and_layout(tmp_path: Path) -> None:
    """Corner label instead of an empty cell, wavelength lines above, a text-only sample
    layout grid, blank-subtracted and derived sheets."""
    from openpyxl import Workbook

    book = Workbook()
    raw = book.active
    raw.title = "Absorbance 1_01"
    for line in ["Measurement results", "run.skax", " ", "Absorbance 1", "Wavelength: 450 nm"]:
        raw.append([line])
    raw.append([" "])
    raw.append(["Plate 1"])
    raw.append([" "])
    raw.append(["Abs", *[float(c) for c in range(1, 13)]])
    for r in range(8):
        raw.append([chr(65 + r), *[_value(r, c) for c in range(12)]])
    raw.append([])
    raw.append(["Sample", *range(1, 13)])
    for r in range(8):
        raw.append([chr(65 + r), *[f"Un{r * 12 + c:04d}" for c in range(12)]])
    blank = book.create_sheet("Blank Subtraction 1_02")
    blank.append(["Wavelength: 450 nm"])
    blank.append(["Plate 1"])
    blank.append(["Blank subtracted", *range(1, 13)])
    for r in range(8):
        blank.append([chr(65 + r), *[_value(r, c) - 0.05 for c in range(12)]])
    dilution = book.create_sheet("Dilution Factor 1_04")
    dilution.append(["Wavelength: 450 nm"])
    dilution.append(["Value", *range(1, 13)])
    for r in range(8):
        dilution.append([chr(65 + r), *[_value(r, c, 10.0) for c in range(12)]])
    path = tmp_path / "skanit.xlsx"
    book.save(path)

    export = read_plate(path)
    assert export.format is PlateFormat.GRID
    assert [(r.label, r.kind) for r in export.readings] == [
        ("Abs", ReadingKind.RAW),
        ("Blank subtracted", ReadingKind.BLANKED),
        ("Value", ReadingKind.DERIVED),
    ]
    reading = export.select(wavelength_nm=450)
    assert reading.label == "Abs" and reading.plate == "Plate 1"
    assert reading.values["A1"] == 0.05 and reading.values["H12"] == 2.26
    assert len(reading.values) == 96 and not reading.flags
    assert export.select(wavelength_nm=450, kind=ReadingKind.BLANKED).values["B3"] == pytest.approx(
        0.32
    )


def test_tecan_icontrol_like_corner_marker_label_and_wavelength_row(tmp_path: Path) -> None:
    lines = [
        "Application: Tecan i-control,,,,Tecan i-control 9.9",
        "Date:,01.01.2030",
        "Plate",
        "",
        "Label: Abs450",
        "Mode,,,,Absorbance",
        "Measurement Wavelength,,,,450,nm",
        "Number of Flashes,,,,25",
        ",Temperature: 21.5 °C",
        *_grid("<>"),
        "End Time:,01.01.2030 10:00:00",
    ]
    path = tmp_path / "tecan.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (reading,) = read_plate(path).readings
    assert reading.label == "Abs450" and reading.wavelength_nm == 450.0
    assert reading.plate == "Plate 1"  # a bare "Plate" line names no plate
    assert reading.values["C4"] == 0.68 and reading.values["H1"] == 2.15


def test_bmg_mars_like_label_above_a_blank_line(tmp_path: Path) -> None:
    lines = [
        "User: X,Path: C:\\data,Test run no.: 7",
        "Test name: demo,Date: 1/1/2030,Time: 10:00:00 AM",
        "",
        "ID1: lot,ID2: Plate 1,ID3: none",
        "Absorbance",
        "",
        "Raw Data (450 1)",
        "",
        *_grid(""),
    ]
    path = tmp_path / "mars.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="latin-1")
    (reading,) = read_plate(path).readings
    assert reading.label == "Raw Data (450 1)" and reading.wavelength_nm == 450.0
    assert reading.values["E6"] == pytest.approx(1.3)


def test_envision_like_two_plates_and_calculated_results(tmp_path: Path) -> None:
    lines: list[str] = []
    for plate in (1, 2):
        lines += [
            "Plate information",
            "Plate,Repeat,Barcode,Measured height",
            f"{plate},1,,14.0",
            "",
            "Background information",
            "Plate,Label,Result,Signal",
            f"{plate},A450,0,1000",
            "",
            "Results for A450(1) - channel 1 (A)",
            *_grid("", scale=plate),
            "",
            "Calculated results: Calc 1: General = X * 2",
            *_grid("", scale=2 * plate),
            "",
        ]
    path = tmp_path / "envision.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    export = read_plate(path)
    assert export.plates == ("Plate 1", "Plate 2")
    second = export.select(plate="Plate 2", wavelength_nm=450)
    assert second.label == "Results for A450(1) - channel 1 (A)"
    assert second.values["A1"] == 0.1 and second.values["H12"] == 4.52
    derived = [r for r in export.readings if r.kind is ReadingKind.DERIVED]
    assert [r.plate for r in derived] == ["Plate 1", "Plate 2"]
    with pytest.raises(InputError, match="2 readings match 450 nm"):
        export.select(wavelength_nm=450)


def test_text_only_grids_are_not_a_plate_reading(tmp_path: Path) -> None:
    lines = [",".join(["", *(str(c) for c in range(1, 13))])]
    lines += [",".join([chr(65 + r), *(["STD"] * 12)]) for r in range(8)]
    path = tmp_path / "layout_only.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(InputError, match="no plate grid of numbers found") as info:
        read_plate(path, format="grid")
    assert str(path) in info.value.one_line()


def _softmax_block(fields: list[str], rows: list[str], columns: str) -> list[str]:
    return ["Plate:\t" + "\t".join(fields), f"\tTemperature(°C)\t{columns}", *rows, "", "~End"]


def _softmax_rows(scale: float) -> list[str]:
    return [
        f"\t{'22.0' if r == 0 else ''}\t" + "\t".join(f"{_value(r, c, scale):g}" for c in range(12))
        for r in range(8)
    ]


def test_softmax_fluorescence_and_luminescence_headers(tmp_path: Path) -> None:
    """Fluorescence headers carry one more field before the data type; luminescence without a
    filter lists wavelength 0."""
    columns = "\t".join(str(c) for c in range(1, 13))
    fluorescence = ["F1", "1.3", "PlateFormat", "Endpoint", "Fluorescence", "FALSE", "Raw"]
    fluorescence += ["FALSE", "1", "", "", "", "", "", "1", "535 ", "1", "12", "96", "485 "]
    luminescence = ["L1", "1.3", "PlateFormat", "Endpoint", "Luminescence", "Raw", "FALSE"]
    luminescence += ["1", "", "", "", "", "", "1", "0 ", "1", "12", "96", "", "", "", "", "", "1"]
    kinetic = ["K1", "1.3", "PlateFormat", "Kinetic", "Absorbance", "Raw", "FALSE", "5", "60"]
    lines = ["##BLOCKS= 3"]
    lines += _softmax_block(fluorescence, _softmax_rows(1000), columns)
    lines += _softmax_block(luminescence, _softmax_rows(10000), columns)
    lines += _softmax_block(kinetic, [], columns)  # skipped: endpoint plates sit beside it
    path = tmp_path / "smp.txt"
    path.write_bytes("\r\n".join(lines).encode("utf-16"))
    export = read_plate(path)
    assert export.plates == ("F1", "L1")
    fluor = export.select(plate="F1", wavelength_nm=535)
    assert fluor.label == "ex 485 / em 535 nm" and fluor.values["B2"] == 360.0
    lum = export.select(plate="L1")
    assert lum.wavelength_nm is None and lum.label == "luminescence"
    assert lum.values["H12"] == 22600.0


def test_softmax_spectrum_only_export_says_what_is_missing(tmp_path: Path) -> None:
    spectrum = ["S1", "1.3", "PlateFormat", "Spectrum", "Absorbance", "Raw", "FALSE", "21"]
    spectrum += ["", "", "400", "600", "10", "", "", "1", "12", "96", "1", "8"]
    path = tmp_path / "spectrum.txt"
    path.write_bytes(
        "\r\n".join(["##BLOCKS= 1", "Plate:\t" + "\t".join(spectrum), "~End"]).encode()
    )
    with pytest.raises(InputError, match="plate 'S1' is a Spectrum read; only endpoint reads"):
        read_plate(path)


def _gen5(procedure: list[str], grid_lines: list[str]) -> str:
    head = ["", "Software Version\t3.99", "", "Plate Number\tPlate 1", "Reader Type:\tX"]
    head += ["Procedure Details", "", "Plate Type\t96 WELL PLATE", *procedure, ""]
    return "\n".join([*head, "Results", *grid_lines, ""])


def _gen5_grid(labels: list[str]) -> list[str]:
    lines = ["\t" + "\t".join(str(c) for c in range(1, 13))]
    for r in range(8):
        for index, label in enumerate(labels):
            cells = "\t".join(f"{_value(r, c, index + 1):g}" for c in range(12))
            lines.append(f"{chr(65 + r) if index == 0 else ''}\t{cells}\t{label}")
    return lines


def test_gen5_bare_wavelength_labels_are_wavelengths(tmp_path: Path) -> None:
    """Without a read-step label Gen5 names an absorbance read by its wavelength alone."""
    path = tmp_path / "gen5.txt"
    procedure = ["Read\tAbsorbance Endpoint", "\tWavelengths:  450, 570"]
    path.write_text(_gen5(procedure, _gen5_grid(["450", "570"])), encoding="utf-8")
    export = read_plate(path)
    assert export.select(wavelength_nm=450).values["D5"] == pytest.approx(0.99)
    assert export.select(wavelength_nm=570).values["D5"] == pytest.approx(1.98)


def test_gen5_kinetic_export_without_endpoint_values_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gen5_kinetic.txt"
    procedure = ["Start Kinetic\tRuntime 0:10:00, Interval 0:01:00", "    Read\tOD", "End Kinetic"]
    path.write_text(_gen5(procedure, _gen5_grid(["Max V [OD:450]", "R-Squared [OD:450]"])))
    with pytest.raises(InputError, match="kinetic read and holds no endpoint values") as info:
        read_plate(path)
    assert "Max V [OD:450]" in info.value.one_line() and "\n" not in info.value.one_line()


def test_gen5_words_in_a_comma_separated_header_do_not_make_it_gen5(tmp_path: Path) -> None:
    """Other vendors' CSV headers also say 'Software Version' and 'Plate Type'."""
    lines = ["Software Version,,Other 3.0", "Plate Type Name,,96 General", "", *_grid("")]
    path = tmp_path / "other.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    assert sniff_format(path.read_bytes()) is PlateFormat.GRID
    (reading,) = read_plate(path).readings
    assert reading.values["G7"] == pytest.approx(1.91)


def test_magellan_like_list_of_wells_two_reads(tmp_path: Path) -> None:
    """A line per well: time and temperature lines under the header, the wavelengths stated
    once per measurement at the end, in the order of the read columns."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Well positions", "Label1", "Label2", "Sample"])
    sheet.append([None, "0s", "0s"])
    sheet.append(["96 well", "24.0 °C", "24.1 °C"])  # not the column names
    for r in range(8):
        for c in range(12):
            sheet.append([f"{chr(65 + r)}{c + 1}", _value(r, c), _value(r, c, 0.1), f"S{c}"])
    sheet["B5"] = "OVER"  # A2 at the first wavelength
    sheet.append([])
    sheet.append(["Measurement 1:"])
    sheet.append(["Measurement wavelength: 450 nm"])
    sheet.append(["Measurement 2:"])
    sheet.append(["Measurement wavelength: 620 nm"])
    path = tmp_path / "magellan.xlsx"
    book.save(path)
    export = read_plate(path)
    assert [(r.label, r.wavelength_nm) for r in export.readings] == [
        ("Label1", 450.0),
        ("Label2", 620.0),
    ]
    at_450 = export.select(wavelength_nm=450)
    assert at_450.wells == 96 and len(at_450.values) == 95 and at_450.flags == {"A2": "OVER"}
    assert at_450.values["H12"] == 2.26 and at_450.values["B1"] == 0.35
    assert export.select(wavelength_nm=620).values["H12"] == pytest.approx(0.226)


def test_a_list_of_384_wells_with_the_read_column_first(tmp_path: Path) -> None:
    lines = ["Raw data;Well positions;Plate"]
    lines += [
        f"{r * 100 + c},{c % 10};{chr(65 + r)}{c}; P" for r in range(16) for c in range(1, 25)
    ]
    path = tmp_path / "list384.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    (reading,) = read_plate(path, format="grid").readings
    assert reading.wells == 384 and len(reading.values) == 384
    assert reading.values["P24"] == 1524.4 and reading.values["C7"] == 207.7


def _bare_lines(scale: float, trailing: str = ",") -> list[str]:
    return [",".join(f"{_value(r, c, scale):g}" for c in range(12)) + trailing for r in range(8)]


def test_envision_like_bare_matrices_one_per_plate(tmp_path: Path) -> None:
    """Matrices without row letters or column numbers: 8 lines of 12 numbers are plate rows
    A-H, columns 1-12; the Plate information table above names the plate."""
    lines: list[str] = []
    for plate in (1, 2):
        lines += ["Plate information", "Plate,Repeat,Barcode", f"{plate},1,X", ""]
        lines += ["Background information", "Plate,Label,Result", f"{plate},A450,0", ""]
        lines += [*_bare_lines(plate), ""]
    path = tmp_path / "bare.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    assert sniff_format(path.read_bytes()) is PlateFormat.GRID
    export = read_plate(path)
    assert export.plates == ("Plate 1", "Plate 2")
    first = export.select(plate="Plate 1")
    assert first.values["A1"] == 0.05 and first.values["H12"] == 2.26
    assert first.values["C2"] == pytest.approx(0.66) and len(first.values) == 96
    assert export.select(plate="Plate 2").values["H12"] == 4.52


def test_a_bare_block_of_the_wrong_height_is_not_a_plate(tmp_path: Path) -> None:
    path = tmp_path / "seven_rows.csv"
    path.write_text("\n".join(["Results", *_bare_lines(1.0)[:7], ""]), encoding="utf-8")
    assert sniff_format(path.read_bytes()) is None
    with pytest.raises(InputError, match="no plate grid of numbers found"):
        read_plate(path, format="grid")


def test_named_plates_in_single_lines(tmp_path: Path) -> None:
    """SkanIt names each plate on its own line above the grid: "Blank plate", "Sample Plate"."""
    lines = ["Absorbance 1", "Wavelength: 260 nm", "Blank plate", *_grid("Abs", 0.1), ""]
    lines += ["Wavelength: 260 nm", "Sample Plate", *_grid("Abs"), ""]
    lines += ["Plate information", *_grid("Abs", 2.0)]  # a section title names no plate
    path = tmp_path / "named.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    export = read_plate(path)
    assert export.plates == ("Blank plate", "Sample Plate")
    sample = export.select(plate="Sample Plate", wavelength_nm=260)
    assert sample.values["F9"] == pytest.approx(1.63)
    last = export.readings[-1]
    assert (last.plate, last.wavelength_nm) == ("Sample Plate", None)  # carried over
    assert last.values["H12"] == pytest.approx(4.52)


def test_a_1536_well_grid_is_refused_by_its_size(tmp_path: Path) -> None:
    lines = ["Raw Data (No filter)", "," + ",".join(str(c) for c in range(1, 49))]
    lines += [chr(65 + r) + "," + ",".join("100" for _ in range(48)) for r in range(26)]
    path = tmp_path / "plate1536.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(
        InputError, match=r"a 1536-well plate \(48 plate columns\): only 96- and 384"
    ):
        read_plate(path)
