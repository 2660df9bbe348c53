"""Damage that used to escape a reader as a bare exception (and was then disguised as "not a
readable export" by a catch-all) is now refused where it is found, naming the place.

Each file is a real reference export with the one damage the fuzz campaign produced written
into it: RDML react ids and pcrFormat sizes, amplification points that are not numbers, a zip
member name flagged UTF-8 that is not, and xlsx sheets whose shared-string index or XML
encoding is impossible.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest

from cytorelease.errors import InputError
from cytorelease.qpcr.readers import read_export
from tests.conftest import shared_path

MATRIX_GAPS = ("qpcr", "rdml", "rdmlpython_matrix_gaps.rdml")
DESIGN_XLSX = ("qpcr", "quantstudio", "allotropy_appbio_quantstudio_design_quantity_test.xlsx")


def _rewrite_zip(source: Path, target: Path, edit: dict[str, object]) -> None:
    """A copy of the zip with members' text changed by ``edit[name](text) -> text``."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = old.read(info.filename)
            change = edit.get(info.filename)
            if callable(change):
                data = change(data.decode("utf-8")).encode("utf-8")
            new.writestr(info.filename, data)


def _rdml_with(tmp_path: Path, change: object) -> Path:
    path = tmp_path / "damaged.rdml"
    _rewrite_zip(shared_path(*MATRIX_GAPS), path, {"rdml_data.xml": change})
    return path


def _refused(path: Path, pattern: str) -> str:
    with pytest.raises(InputError, match=pattern) as info:
        read_export(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and "\n" not in text
    return text


def test_rdml_react_id_beyond_the_plate(tmp_path: Path) -> None:
    # the fuzz mutant: a react id of 30 digits made chr() overflow
    path = _rdml_with(
        tmp_path, lambda x: x.replace('<react id="241">', f'<react id="{"9" * 30}">', 1)
    )
    _refused(path, r"run 'Run 1': react id 9{20} is not a well of its 16 x 24 pcrFormat")


def test_rdml_react_id_past_the_last_row(tmp_path: Path) -> None:
    # 16 x 24: react 385 would be row Q, a row the plate does not have
    path = _rdml_with(tmp_path, lambda x: x.replace('<react id="241">', '<react id="385">', 1))
    _refused(path, r"react id 385 is not a well of its 16 x 24 pcrFormat")


@pytest.mark.parametrize("columns", ["twenty-four", "0", "-24", "99999999999"])
def test_rdml_pcr_format_that_is_not_a_plate_size(tmp_path: Path, columns: str) -> None:
    path = _rdml_with(
        tmp_path, lambda x: x.replace("<columns>24</columns>", f"<columns>{columns}</columns>", 1)
    )
    _refused(path, rf"run 'Run 1': pcrFormat columns '{re.escape(columns)}' is not a plate size")


def test_rdml_amplification_point_that_is_not_a_number(tmp_path: Path) -> None:
    path = _rdml_with(
        tmp_path, lambda x: x.replace("<fluor>2.06</fluor>", "<fluor>2.O6</fluor>", 1)
    )
    _refused(path, r"react \d+ target \S+: amplification point \d+ has no numeric cycle")


def test_zip_member_name_flagged_utf8_that_is_not(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("rdml_data.xml", b"<rdml/>")
        archive.writestr("caf\u00e9.txt", b"x")  # a non-ASCII name: zipfile sets the UTF-8 flag
    data = buffer.getvalue()
    name = "caf\u00e9.txt".encode()
    central = data.rindex(name)  # the central directory's copy of the name
    data = data[:central] + b"caf\xff\xfe.txt" + data[central + len(name) :]
    path = tmp_path / "badname.rdml"
    path.write_bytes(data)
    _refused(path, r"a member name flagged UTF-8 is not UTF-8 at byte \d+")


def test_xlsx_shared_string_index_past_any_table(tmp_path: Path) -> None:
    # openpyxl indexes its shared strings with the cell's number: an IndexError inside openpyxl
    huge = "9" * 30
    path = tmp_path / "design.xlsx"
    sheets = {
        f"xl/worksheets/sheet{n}.xml": lambda x: re.sub(
            r'(t="s"><v>)\d+(</v>)', rf"\g<1>{huge}\g<2>", x
        )
        for n in range(1, 7)
    }
    _rewrite_zip(shared_path(*DESIGN_XLSX), path, sheets)
    _refused(path, r"not a readable xlsx workbook \(IndexError: ")


def test_xlsx_sheet_xml_in_an_unknown_encoding(tmp_path: Path) -> None:
    path = tmp_path / "design.xlsx"
    sheets = {
        f"xl/worksheets/sheet{n}.xml": lambda x: x.replace('encoding="UTF-8"', 'encoding="UTF-99"')
        for n in range(1, 7)
    }
    _rewrite_zip(shared_path(*DESIGN_XLSX), path, sheets)
    _refused(path, r"not a readable xlsx workbook \(LookupError: unknown encoding")


def _encrypted_copy(source: Path, target: Path) -> bytes:
    """The RDML rewritten with its member stored, then flagged encrypted (general-purpose bit 0)
    in both its local header and its central-directory entry, as a password-protected zip is;
    Python's zipfile cannot write encrypted members."""
    with zipfile.ZipFile(source) as old:
        xml = old.read("rdml_data.xml")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as new:
        new.writestr("rdml_data.xml", xml)
    data = bytearray(buffer.getvalue())
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    for flags_at in (local + 6, central + 8):  # flag bits: offset 6 (local), 8 (central)
        data[flags_at] |= 0x01
    target.write_bytes(bytes(data))
    return bytes(data)


def test_rdml_with_an_encrypted_member_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "protected.rdml"
    _encrypted_copy(shared_path(*MATRIX_GAPS), path)
    with zipfile.ZipFile(path) as archive:  # the copy is what zipfile sees as encrypted
        assert archive.infolist()[0].flag_bits & 0x1
    _refused(path, r"zip member 'rdml_data\.xml' is encrypted \(password-protected\)")


def test_cli_reads_an_encrypted_rdml_as_one_error_line(tmp_path: Path) -> None:
    from tests.cli_contract import invoke

    path = tmp_path / "protected.rdml"
    _encrypted_copy(shared_path(*MATRIX_GAPS), path)
    result = invoke(["qpcr", "read", path, "--json"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: zip member"), lines
    assert "Traceback" not in result.stderr and result.stdout == ""
