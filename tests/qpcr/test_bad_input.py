"""Bad input gives one clear line (InputError / AssayError), never a traceback or a silent NaN."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cytorelease.errors import InputError
from cytorelease.qpcr.readers import _zip, read_export
from tests.conftest import shared_path

FORMATS_TRIED = "tried biomark, quantstudio, cfx, rdml, qx, qiacuity, absoluteq"


def _rdml_zip(xml: bytes, *, level: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=level) as archive:
        archive.writestr("rdml_data.xml", xml)
    return buffer.getvalue()


def test_unknown_format_lists_the_formats_tried(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    path.write_text("Name,Value\nfoo,1\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_export(path)
    assert str(info.value) == (
        f"{path}: unrecognised qPCR/dPCR export ({FORMATS_TRIED}) "
        "(check the file is a results export, or pass --format)"
    )


def test_file_name_is_never_trusted(tmp_path: Path) -> None:
    """A QX export renamed to look like an RDML file is still read as QX."""
    source = shared_path("qpcr", "ddpcr_bio-rad", "ddpcr_read_quant_quant_QXManager.csv")
    path = tmp_path / "run.rdml"
    path.write_bytes(source.read_bytes())
    assert read_export(path).format.value == "qx"


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.csv: the file is empty"):
        read_export(empty)
    with pytest.raises(InputError, match=r"nope\.csv: no such file"):
        read_export(tmp_path / "nope.csv")


def test_unknown_forced_format(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\n", encoding="utf-8")
    with pytest.raises(
        InputError, match="unknown format 'lightcycler'; choose one of auto, biomark"
    ):
        read_export(path, "lightcycler")


def test_forced_wrong_format_is_one_line(tmp_path: Path) -> None:
    source = shared_path("qpcr", "cfx", "allotropy_cfxmaestro_example01.csv")
    with pytest.raises(InputError, match="RDML XML is not well-formed"):
        read_export(source, "rdml")
    with pytest.raises(InputError, match="no 'Experiment Information' header rows"):
        read_export(source, "biomark")


def _truncate(source: Path, tmp_path: Path, fraction: float) -> Path:
    data = source.read_bytes()
    path = tmp_path / f"cut-{source.name}"
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "biomark/HTqPCR_BioMark_sample.csv",
            r"(fields but the header has|chambers but the export has)",
        ),
        ("ddpcr_bio-rad/ddpcr_read_quant_quant_QXManager.csv", r"fields but the header has 73"),
        ("absoluteq/allotropy_Appbio_AbsoluteQ_example01.csv", r"fields but the header has 15"),
        ("rdml/rdmlpython_matrix_gaps.rdml", r"not a readable zip archive"),
        ("quantstudio/allotropy_appbio_quantstudio_design_quantity_test.xlsx", r"not a readable"),
    ],
)
def test_truncated_exports(tmp_path: Path, name: str, message: str) -> None:
    path = _truncate(shared_path("qpcr", *name.split("/")), tmp_path, 0.63)
    with pytest.raises(InputError, match=message) as info:
        read_export(path)
    assert str(info.value).startswith(str(path))


def test_truncated_biomark_at_a_line_end_is_caught_by_chamber_count(tmp_path: Path) -> None:
    source = shared_path("qpcr", "biomark", "HTqPCR_BioMark_sample.csv")
    lines = source.read_bytes().split(b"\r\n")
    path = tmp_path / "cut.csv"
    path.write_bytes(b"\r\n".join(lines[:1000]) + b"\r\n")
    with pytest.raises(
        InputError, match=r"a 48\.48 chip has 2,304 chambers but the export has 988"
    ):
        read_export(path)


def test_quantstudio_without_results_section(tmp_path: Path) -> None:
    source = shared_path("qpcr", "quantstudio", "allotropy_appbio_quantstudio_example05.txt")
    text = source.read_text(encoding="utf-8")
    path = tmp_path / "qs.txt"
    path.write_text(text[: text.index("[Results]")], encoding="utf-8")
    with pytest.raises(InputError, match=r"no \[Results\] section"):
        read_export(path)


def test_rdml_external_entity_is_refused(tmp_path: Path) -> None:
    xml = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rdml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        b'<rdml xmlns="http://www.rdml.org" version="1.4"><sample id="&xxe;"/></rdml>'
    )
    path = tmp_path / "xxe.rdml"
    path.write_bytes(_rdml_zip(xml))
    with pytest.raises(InputError) as info:
        read_export(path)
    assert "refused (external-entity and entity-expansion protection)" in str(info.value)
    assert "root:" not in str(info.value)


def test_rdml_entity_expansion_is_refused(tmp_path: Path) -> None:
    xml = (
        b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>\n'
        b'<rdml xmlns="http://www.rdml.org" version="1.4">&lol2;</rdml>'
    )
    path = tmp_path / "laughs.xml"
    path.write_bytes(xml)  # bare XML is accepted too, and hardened the same way
    with pytest.raises(InputError, match="declares a DTD or entities"):
        read_export(path)


def test_rdml_zip_bomb_by_ratio(tmp_path: Path) -> None:
    xml = b'<rdml xmlns="http://www.rdml.org" version="1.4">' + b" " * 8_000_000 + b"</rdml>"
    path = tmp_path / "bomb.rdml"
    path.write_bytes(_rdml_zip(xml))
    assert path.stat().st_size < 50_000
    with pytest.raises(InputError, match=r"compression ratio of [\d,]+:1 \(limit 200:1\); refused"):
        read_export(path)


def test_rdml_zip_bomb_by_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_zip, "MAX_MEMBER_BYTES", 10_000)
    source = shared_path("qpcr", "rdml", "rdmlpython_matrix_gaps.rdml")
    with pytest.raises(InputError, match=r"would expand to 135,800 bytes \(limit 10,000\)"):
        read_export(source)


def test_rdml_zip_without_data_member(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("rdml_data.xml.bak", b"<rdml/>")
    path = tmp_path / "odd.rdml"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(InputError, match=r"zip has no member 'rdml_data\.xml'"):
        read_export(path, "rdml")


def test_rdml_unsupported_version(tmp_path: Path) -> None:
    path = tmp_path / "old.rdml"
    path.write_bytes(_rdml_zip(b'<rdml xmlns="http://www.rdml.org" version="1.0"></rdml>'))
    with pytest.raises(
        InputError, match=r"RDML version 1\.0 is not supported; this release reads 1\.1"
    ):
        read_export(path)


def test_non_numeric_ct_names_the_line(tmp_path: Path) -> None:
    source = shared_path("qpcr", "biomark", "HTqPCR_BioMark_sample.csv")
    data = source.read_bytes().replace(
        b"S48-A01,no preamp,Unknown,0.05,b actin,Test,34.6154024701642",
        b"S48-A01,no preamp,Unknown,0.05,b actin,Test,abc",
    )
    path = tmp_path / "bm.csv"
    path.write_bytes(data)
    with pytest.raises(InputError, match=r"line 13: Ct 'abc' is not a number"):
        read_export(path)


ROBUSTNESS_FILES = [
    "biomark/HTqPCR_BioMark_sample.csv",
    "quantstudio/allotropy_appbio_quantstudio_example05.txt",
    "quantstudio/allotropy_example_quantsudio_results_only.txt",
    "cfx/allotropy_cfxmaestro_example01.csv",
    "cfx/HTqPCR_CFX_sample.txt",
    "rdml/rdmlpython_matrix_gaps.rdml",
    "ddpcr_bio-rad/ddpcr_read_quant_quant_QXManager.csv",
    "ddpcr_bio-rad/ddpcr_read_v174_test_QuantaSoft174.csv",
    "qiacuity/allotropy_qiacuity_dpcr_example03.csv",
    "absoluteq/allotropy_Appbio_AbsoluteQ_example01.csv",
    "quantstudio/allotropy_appbio_quantstudio_design_quantity_test.xlsx",
]


@pytest.mark.parametrize("name", ROBUSTNESS_FILES)
def test_damaged_copies_give_a_table_or_one_input_error(tmp_path: Path, name: str) -> None:
    """Cut anywhere or with bytes overwritten: a table or an InputError, never anything else."""
    data = shared_path("qpcr", *name.split("/")).read_bytes()
    rng = np.random.default_rng(len(data))
    damaged = [data[: int(len(data) * f)] for f in (0.05, 0.3, 0.55, 0.8, 0.97)]
    for _ in range(8):
        copy = bytearray(data)
        for at in rng.integers(0, len(data), 12):
            copy[at] = int(rng.integers(0, 256))
        damaged.append(bytes(copy))
    for index, blob in enumerate(damaged):
        path = tmp_path / f"damaged-{index}"
        path.write_bytes(blob)
        try:
            export = read_export(path)
        except InputError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc)
        else:
            assert len(export.table) > 0


def test_non_ascii_garbage_in_a_ct_cell(tmp_path: Path) -> None:
    """A damaged byte inside a number (seen to crash pandas.to_numeric) is one clear line."""
    source = shared_path("qpcr", "biomark", "HTqPCR_BioMark_sample.csv")
    data = source.read_bytes().replace(b",31.8665573090649,", b",31.8\xe365573090649,")
    path = tmp_path / "bm.csv"
    path.write_bytes(data)
    with pytest.raises(InputError, match=r"line 20: Ct '31\.8ã65573090649' is not a number"):
        read_export(path)
