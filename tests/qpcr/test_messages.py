"""Every reader and assay error message, each with the input that provokes it."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from cytorelease.errors import AssayError, InputError
from cytorelease.qpcr.assay import load_assay
from cytorelease.qpcr.readers import read_export
from cytorelease.qpcr.readers import sniff as sniff_module
from cytorelease.qpcr.table import ExportFormat, QpcrExport, make_table
from cytorelease.qpcr.vcn import compute_vcn

BIOMARK_HEAD = (
    "Export Type,Table Results\n\n"
    "Experiment Information,Experiment Information,Experiment Information,"
    "Experiment Information,Experiment Information,Experiment Information,FAM,FAM,FAM,FAM\n"
    "Chamber,Sample,Sample,Sample,FAM,FAM,Ct,Ct,Ct,Ct\n"
    "ID,Name,Type,rConc,Name,Type,Value,Quality,Call,Threshold\n"
)


def _zip(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


CASES: list[tuple[str, bytes, str, str]] = [
    ("bm1.csv", BIOMARK_HEAD.encode(), "auto", "the Table Results export has no chamber rows"),
    (
        "bm2.csv",
        (BIOMARK_HEAD + "A1,x,Unknown,1,CAR,Test,20,0.9,Pass,0.1\n").encode(),
        "auto",
        "chamber id 'A1' is not of the form S<n>-A<n>",
    ),
    (
        "bm3.csv",
        (BIOMARK_HEAD + "S300-A01,x,Unknown,1,CAR,Test,20,0.9,Pass,0.1\n").encode(),
        "auto",
        "no Biomark chip has sample 300 and assay 1",
    ),
    (
        "bm4.csv",
        BIOMARK_HEAD.replace("ID,Name,Type,rConc,Name", "ID,Name,Type,rConc,Label").encode()
        + b"S01-A01,x,Unknown,1,CAR,Test,20,0.9,Pass,0.1\n",
        "auto",
        "Table Results header lacks target (expected Chamber/ID",
    ),
    (
        "qs.txt",
        b"* Instrument Type = QS\n\n[Results]\nWell\tSample Name\tCT\n1\tx\t20\n",
        "auto",
        "Results table lacks the well, target column(s)",
    ),
    (
        "cfx.csv",
        b",Well,Fluor,Target,Content,Sample,Cq\n,A01,FAM,,Unkn,x,abc\n",
        "auto",
        "line 2: Cq 'abc' is not a number",
    ),
    (
        "root.xml",
        b'<?xml version="1.0"?><rdml version="1.4"><x/></rdml>',
        "auto",
        "RDML file has no reactions with data",
    ),
    ("notrdml.xml", b"<other/>", "rdml", "root element is <other>, not <rdml>"),
    (
        "book.xlsx",
        _zip("xl/workbook.xml", b"<workbook/>"),
        "auto",
        "not a readable xlsx workbook",
    ),
    (
        "qx.csv",
        b"Well,Sample,Target,Concentration,AcceptedDroplets\nA01,x,CAR,12,15000\n",
        "auto",
        "no Positives column (looked for positives)",
    ),
    (
        "qx2.csv",
        b"Well,Sample,Target,Concentration,AcceptedDroplets,Positives\nA01,x,CAR,12,lots,5\n",
        "auto",
        "line 2: accepted droplets 'lots' is not a number",
    ),
]


@pytest.mark.parametrize(("name", "data", "fmt", "message"), CASES, ids=[c[0] for c in CASES])
def test_reader_messages(tmp_path: Path, name: str, data: bytes, fmt: str, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(InputError) as info:
        read_export(path, fmt)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and message in text, text


def test_ambiguous_content_asks_for_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    modules = sniff_module._modules()
    monkeypatch.setattr(modules[ExportFormat.QX], "sniff", lambda head: True)
    monkeypatch.setattr(modules[ExportFormat.ABSOLUTEQ], "sniff", lambda head: True)
    path = tmp_path / "two.csv"
    path.write_text("x\n", encoding="utf-8")
    with pytest.raises(
        InputError, match=r"matches several formats \(qx, absoluteq\); pass --format"
    ):
        read_export(path)


def test_a_reader_bug_is_not_disguised_as_a_bad_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception a reader did not mean (a bug) keeps its type, with a note naming the file."""
    module = sniff_module.reader_for(ExportFormat.CFX)

    def broken(data: bytes, *, path: Path, sha256: str) -> QpcrExport:
        raise IndexError("list index out of range")

    monkeypatch.setattr(module, "read", broken)
    path = tmp_path / "x.csv"
    path.write_text(",Well,Fluor,Target,Content,Sample,Cq\n", encoding="utf-8")
    with pytest.raises(IndexError) as info:
        read_export(path)
    assert f"while reading {path} (qPCR export reader)" in info.value.__notes__


def test_assay_messages(tmp_path: Path) -> None:
    potency = tmp_path / "potency.yaml"
    potency.write_text("id: p\nkind: potency-elisa\n", encoding="utf-8")
    with pytest.raises(AssayError, match=r"not a qPCR VCN assay \(it has no 'transgene' section\)"):
        load_assay(potency)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(AssayError, match="an assay file must be a YAML mapping"):
        load_assay(listing)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00id")
    with pytest.raises(AssayError, match="not UTF-8 text"):
        load_assay(binary)


def test_no_standards_for_a_target() -> None:
    rows = [
        dict(well="A1", sample="DP", target="CAR", task="unknown", cq=25.0),
        dict(well="A2", sample="DP", target="RPP30", task="unknown", cq=24.0),
    ]
    export = QpcrExport(
        format=ExportFormat.CFX,
        instrument="t",
        table=make_table(rows, digital=False),
        path=Path("run.csv"),
        sha256="0" * 64,
        digital=False,
    )
    with pytest.raises(AssayError, match=r"^run.csv: no standards for target CAR in the export$"):
        compute_vcn(export, load_assay("vcn-car-rpp30"))


def test_oversized_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import cytorelease.qpcr.readers as readers

    monkeypatch.setattr(readers, "MAX_EXPORT_BYTES", 10)
    path = tmp_path / "big.csv"
    path.write_text("Well,Sample,Target\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"19 bytes is larger than any qPCR export \(10 limit\)"):
        read_export(path)


def test_rdml_non_numeric_cq(tmp_path: Path) -> None:
    xml = (
        b'<rdml xmlns="http://www.rdml.org" version="1.4"><experiment id="e"><run id="r">'
        b'<react id="1"><sample id="s"/><data><tar id="CAR"/><cq>late</cq></data></react>'
        b"</run></experiment></rdml>"
    )
    path = tmp_path / "x.rdml"
    path.write_bytes(_zip("rdml_data.xml", xml))
    with pytest.raises(InputError, match="react 1 target CAR: cq 'late' is not a number"):
        read_export(path)
