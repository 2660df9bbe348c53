"""Damaged plate-reader exports are one-line input errors, never a traceback or a partial plate.

The xlsx cases are workbooks written by openpyxl (a 96-well grid, as the generic grid reader
reads them) whose members are then rewritten the way a bad copy or a crafted file has them:
sheet XML with a broken tag, sheet XML cut in half, the zip cut short, and a sheet padded with
whitespace until it inflates at more than the limit ratio (a 5.5 MB xlsx that inflated to
1.9 GB ran for minutes before the guard). The text cases cut the real exports in
../shared/data/plate at many places.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from cytorelease.errors import InputError
from cytorelease.potency.readers import read_plate
from tests.conftest import shared_path

_SHEET = "xl/worksheets/sheet1.xml"


def _grid_workbook() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append([None, *range(1, 13)])
    for r in range(8):
        sheet.append([chr(65 + r), *[round(0.05 + 0.01 * (r * 12 + c), 3) for c in range(12)]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _rewrite(data: bytes, member: str, change: Callable[[bytes], bytes]) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            target.writestr(info.filename, change(content) if info.filename == member else content)
    return out.getvalue()


def _broken_tag(xml: bytes) -> bytes:
    middle = xml.index(b"<c ", len(xml) // 2)
    return xml[:middle] + b"<c <" + xml[middle + 3 :]


def _padded(xml: bytes) -> bytes:
    # whitespace between elements is well-formed XML: only the size and ratio give it away
    at = xml.index(b"<sheetData>")
    return xml[:at] + b" " * (8 * 1024 * 1024) + xml[at:]


def test_the_intact_workbook_reads(tmp_path: Path) -> None:
    path = tmp_path / "plate.xlsx"
    path.write_bytes(_grid_workbook())
    (reading,) = read_plate(path).readings
    assert len(reading.values) == 96 and reading.values["H12"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: _rewrite(d, _SHEET, _broken_tag), "not a readable xlsx workbook .ParseError"),
        (
            lambda d: _rewrite(d, _SHEET, lambda x: x[: len(x) // 2]),
            "not a readable xlsx workbook .ParseError",
        ),
        (lambda d: d[: len(d) // 2], "not a readable zip archive"),
        (lambda d: d[:-40], "not a readable zip archive"),
        (
            lambda d: _rewrite(d, _SHEET, _padded),
            "compression ratio of .*refused as a possible zip bomb",
        ),
    ],
    ids=["broken-tag", "sheet-cut", "zip-cut-half", "zip-cut-end", "inflates-too-far"],
)
def test_damaged_xlsx_is_one_input_error(
    tmp_path: Path, damage: Callable[[bytes], bytes], message: str
) -> None:
    path = tmp_path / "plate.xlsx"
    path.write_bytes(damage(_grid_workbook()))
    with pytest.raises(InputError, match=message) as info:
        read_plate(path)
    assert info.value.one_line().startswith(str(path)) and "\n" not in info.value.one_line()


REAL_TEXT = [
    "endpoint_stdcurve_singleplate.txt",
    "240411_172731_BNCH2345883_abs450_96well_non_numeric_values.txt",
    "MD_SMP_absorbance_endpoint_example01.txt",
    "MD_SMP_absorbance_endpoint_partial_plate_example01.txt",
]


@pytest.mark.parametrize("name", REAL_TEXT)
def test_real_text_exports_cut_anywhere_are_refused(tmp_path: Path, name: str) -> None:
    """Cut at 40 places (odd and even byte counts: SoftMax Pro writes UTF-16), every copy is
    refused with the reason, or (cut after the last plate grid) reads every plate whole."""
    source = shared_path("plate", name)
    whole = [r.to_dict() for r in read_plate(source).readings]
    data = source.read_bytes()
    path = tmp_path / name
    refused = 0
    for step in range(1, 41):
        cut = len(data) * step // 41 + step % 2
        path.write_bytes(data[:cut])
        try:
            export = read_plate(path)
        except InputError as error:
            info = error
        else:
            assert [r.to_dict() for r in export.readings] == whole, cut
            continue
        refused += 1
        line = info.one_line()
        assert "\n" not in line, cut
        assert any(
            why in line
            for why in (
                "truncated copy?",
                "has no plate grid",
                "no Plate: blocks",
                "not a recognised plate-reader export",
            )
        ), (cut, line)
    assert refused >= 20  # the plate blocks are most of each file


def _csv_grid() -> bytes:
    lines = [",1,2,3,4,5,6,7,8,9,10,11,12"]
    lines += [
        f"{chr(65 + r)}," + ",".join(f"0.{r * 12 + c:03d}" for c in range(12)) for r in range(8)
    ]
    return ("\n".join(lines) + "\n").encode()


def test_csv_grid_cut_inside_its_last_row_is_refused(tmp_path: Path) -> None:
    data = _csv_grid()
    path = tmp_path / "plate.csv"
    path.write_bytes(data.rstrip(b"\n"))  # no final line break, but the row is whole
    assert len(read_plate(path).readings[0].values) == 96
    for cut in (len(data) - 9, len(data) - 40):
        path.write_bytes(data[:cut])
        with pytest.raises(
            InputError, match=r"line 9: the last plate row has \d+ cells, its grid 13"
        ):
            read_plate(path)
