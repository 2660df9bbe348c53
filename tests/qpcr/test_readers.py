"""Every real export in ../shared/data/qpcr parses, with values read back from the files."""

from __future__ import annotations

import io
import math
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cytorelease.qpcr.dpcr import concentration
from cytorelease.qpcr.readers import rdml as rdml_reader
from cytorelease.qpcr.readers import read_export
from cytorelease.qpcr.table import DPCR_COLUMNS, QPCR_COLUMNS, ExportFormat
from tests.conftest import shared_path


def _row(table: pd.DataFrame, **where: str) -> pd.Series:
    mask = np.ones(len(table), bool)
    for key, value in where.items():
        mask &= table[key].to_numpy() == value
    assert mask.sum() == 1, f"{where} matched {mask.sum()} rows"
    return table[mask].iloc[0]


ALL_EXPORTS = [
    ("biomark/HTqPCR_BioMark_sample.csv", ExportFormat.BIOMARK, 2304),
    ("quantstudio/allotropy_appbio_quantstudio_example05.txt", ExportFormat.QUANTSTUDIO, 16),
    ("quantstudio/allotropy_example_quantsudio_results_only.txt", ExportFormat.QUANTSTUDIO, 24),
    (
        "quantstudio/allotropy_appbio_quantstudio_design_quantity_test.xlsx",
        ExportFormat.QUANTSTUDIO,
        24,
    ),
    ("cfx/allotropy_cfxmaestro_example01.csv", ExportFormat.CFX, 48),
    ("cfx/HTqPCR_CFX_sample.txt", ExportFormat.CFX, 330),
    ("rdml/rdmlpython_quantification_methods.rdml", ExportFormat.RDML, 180),
    ("rdml/rdmlpython_matrix_gaps.rdml", ExportFormat.RDML, 72),
    ("rdml/rdmlpython_v1.8.1_test_3_raw_data_v1.3.rdml", ExportFormat.RDML, 320),
    ("ddpcr_bio-rad/ddpcr_read_quant_quant_QXManager.csv", ExportFormat.QX, 12),
    ("ddpcr_bio-rad/ddpcr_read_v174_test_QuantaSoft174.csv", ExportFormat.QX, 4),
    ("qiacuity/allotropy_qiacuity_dpcr_example03.csv", ExportFormat.QIACUITY, 24),
    ("absoluteq/allotropy_Appbio_AbsoluteQ_example01.csv", ExportFormat.ABSOLUTEQ, 16),
]


@pytest.mark.parametrize(("name", "fmt", "rows"), ALL_EXPORTS, ids=[e[0] for e in ALL_EXPORTS])
def test_every_shared_export_is_sniffed_and_parsed(name: str, fmt: ExportFormat, rows: int) -> None:
    export = read_export(shared_path("qpcr", *name.split("/")))
    assert export.format is fmt
    assert len(export.table) == rows
    expected = DPCR_COLUMNS if export.digital else QPCR_COLUMNS
    assert tuple(export.table.columns) == expected
    assert export.table["cq"].dtype == np.float64
    assert len(export.sha256) == 64
    # Forcing the same format gives the same table.
    forced = read_export(export.path, fmt.value)
    pd.testing.assert_frame_equal(forced.table, export.table)


def test_biomark_999_is_no_ct_and_fail_with_ct_is_excluded() -> None:
    export = read_export(shared_path("qpcr", "biomark", "HTqPCR_BioMark_sample.csv"))
    table = export.table
    assert "48.48" in export.instrument and "2.1.1" in export.instrument
    first = _row(table, well="S48-A01")
    assert (first["sample"], first["target"], first["call"]) == ("no preamp", "b actin", "Pass")
    assert first["cq"] == pytest.approx(34.6154024701642)
    no_ct = _row(table, well="S48-A02")
    assert math.isnan(no_ct["cq"]) and no_ct["call"] == "Fail" and not no_ct["excluded"]
    fail_with_ct = _row(table, well="S48-A07")
    assert fail_with_ct["cq"] == pytest.approx(32.5621751261573)
    assert fail_with_ct["excluded"]
    assert _row(table, well="S22-A48")["cq"] == pytest.approx(21.6047140982225)
    assert not (table["cq"] >= 999).any()
    assert sorted(table["target"].unique()) == ["GAPDH", "HPRT", "SDHA", "b actin"]
    assert table["well"].str.extract(r"-A(\d+)$")[0].nunique() == 48  # 48 assay inlets
    assert int(table["excluded"].sum()) == 76 and int(table["cq"].isna().sum()) == 310


def test_quantstudio_text_undetermined_and_thousands() -> None:
    table = read_export(
        shared_path("qpcr", "quantstudio", "allotropy_appbio_quantstudio_example05.txt")
    ).table
    ntc = _row(table, well="A1")
    assert ntc["task"] == "ntc" and ntc["target"] == "TGF-B" and math.isnan(ntc["cq"])
    lung = _row(table, well="D1")
    assert (lung["sample"], lung["task"]) == ("Lung", "unknown")
    assert lung["cq"] == pytest.approx(30.155)

    export = read_export(
        shared_path("qpcr", "quantstudio", "allotropy_example_quantsudio_results_only.txt")
    )
    table = export.table
    std = _row(table, well="A1")
    assert std["task"] == "standard" and std["quantity"] == 100_000_000.0
    assert std["sample"] == "Standard 1 (1e8)" and std["cq"] == pytest.approx(16.484)
    assert _row(table, well="B1")["quantity"] == 10_000_000.0
    unknown = _row(table, well="A4")
    assert unknown["sample"] == "5000018696625" and unknown["cq"] == pytest.approx(25.711)
    assert export.instrument == "QuantStudio(TM) 7 Flex System"


def test_quantstudio_design_and_analysis_xlsx() -> None:
    export = read_export(
        shared_path("qpcr", "quantstudio", "allotropy_appbio_quantstudio_design_quantity_test.xlsx")
    )
    table = export.table
    k3 = _row(table, well="K3", target="ABC")
    assert k3["sample"] == "Std 9" and k3["task"] == "standard" and k3["quantity"] == 5.0
    assert k3["cq"] == pytest.approx(31.707809438603107)
    m3 = _row(table, well="M3", target="DEF")
    assert m3["sample"] == "Std 10" and math.isnan(m3["cq"]) and m3["call"] == "No Amp"
    assert m3["quantity"] == 2.5
    assert export.instrument == "QuantStudio™ 7 Pro System"


def test_cfx_maestro_and_manager() -> None:
    maestro = read_export(shared_path("qpcr", "cfx", "allotropy_cfxmaestro_example01.csv"))
    assert maestro.instrument == "Bio-Rad CFX Maestro/Manager"
    # Blank targets are named after the dye, so the two channels of a well stay apart.
    a01 = _row(maestro.table, well="A01", target="FAM")
    assert a01["sample"] == "M3905 R Ctx"
    assert a01["cq"] == pytest.approx(21.1877528266099)
    assert _row(maestro.table, well="A01", target="VIC")["cq"] == pytest.approx(21.1590717001335)

    manager = read_export(shared_path("qpcr", "cfx", "HTqPCR_CFX_sample.txt"))
    assert manager.instrument == "Bio-Rad CFX Manager"
    table = manager.table
    assert _row(table, well="A01")["cq"] == pytest.approx(37.42)
    neg = _row(table, well="A07")
    assert neg["task"] == "negative_control" and math.isnan(neg["cq"])
    assert _row(table, well="P22")["cq"] == pytest.approx(36.14)


def test_rdml_exported_cq_and_standard_quantities() -> None:
    export = read_export(shared_path("qpcr", "rdml", "rdmlpython_quantification_methods.rdml"))
    assert export.metadata["RDML version"] == "1.4"
    assert export.instrument == "QuantStudio Dx"
    a4 = _row(export.table, well="A4")
    assert a4["sample"] == "genomic DNA 7ng" and a4["target"] == "FSTL_1_A_047"
    assert a4["cq"] == pytest.approx(24.748472) and a4["quantity"] == 260.0
    assert set(export.table["quantity"]) == {260.0, 75.0, 26.0}


def test_rdml_1_3_tasks_and_cq_from_curves() -> None:
    export = read_export(shared_path("qpcr", "rdml", "rdmlpython_v1.8.1_test_3_raw_data_v1.3.rdml"))
    table = export.table
    assert export.metadata["RDML version"] == "1.3"
    assert set(table.loc[table["sample"] == "H2O", "task"]) == {"ntc"}
    assert (table["call"] == rdml_reader.CQ_FROM_CURVE).all()
    # Water mostly fails to amplify; template wells all do for the abundant GAPDH.
    water = table[(table["sample"] == "H2O") & (table["target"] == "GAPDH")]
    assert water["cq"].isna().all()
    gapdh = table[(table["sample"] == "AAA") & (table["target"] == "GAPDH")]
    assert gapdh["cq"].notna().all() and gapdh["cq"].between(10, 35).all()


def test_rdml_curve_cq_tracks_exported_cq() -> None:
    """Cq from the curves differs from the exported Cq by one threshold offset per target."""
    data = shared_path("qpcr", "rdml", "rdmlpython_quantification_methods.rdml").read_bytes()
    xml = zipfile.ZipFile(io.BytesIO(data)).read("rdml_data.xml")
    without_cq = re.sub(rb"<cq>[^<]*</cq>", b"", xml)
    exported = rdml_reader.read(data, path=Path("a.rdml"), sha256="").table
    computed = rdml_reader.read(without_cq, path=Path("b.xml"), sha256="").table
    assert (computed["call"] == rdml_reader.CQ_FROM_CURVE).all()
    offset = (computed["cq"] - exported["cq"]).groupby(exported["target"])
    assert offset.std().max() < 0.2
    assert offset.mean().between(0.0, 2.5).all()


def test_qx_manager_and_quantasoft_same_quantities() -> None:
    qx = read_export(shared_path("qpcr", "ddpcr_bio-rad", "ddpcr_read_quant_quant_QXManager.csv"))
    assert qx.instrument == "Bio-Rad QX Manager"
    a01 = _row(qx.table, well="A01", target="1")
    assert a01["sample"] == "SMN2 Control 2 copies" and a01["call"] == "OK"
    assert a01["concentration"] == pytest.approx(898.375854492188)
    assert (a01["partitions"], a01["positives"]) == (20486, 10940)
    assert a01["task"] == "positive_control"

    soft = read_export(
        shared_path("qpcr", "ddpcr_bio-rad", "ddpcr_read_v174_test_QuantaSoft174.csv")
    )
    assert soft.instrument == "Bio-Rad QuantaSoft"
    assert list(soft.table["target"]) == ["t1.fw", "t2.fw", "t1.rev", "t2.rev"]
    assert set(soft.table["call"]) == {"Manual"}
    assert soft.table["concentration"].isna().all()


def test_qiacuity_sep_line_and_misencoded_micro() -> None:
    export = read_export(shared_path("qpcr", "qiacuity", "allotropy_qiacuity_dpcr_example03.csv"))
    f1 = _row(export.table, well="F1")
    assert (f1["sample"], f1["target"]) == ("CD3_Digested", "CD3")
    assert f1["concentration"] == pytest.approx(129.6)
    assert (f1["partitions"], f1["positives"]) == (25405, 2306)
    assert export.metadata["layout"] == "short"
    assert export.table["volume_nl"].isna().all()  # the short layout carries no volume
    # The exported concentrations imply a 26K-nanoplate partition of about 0.73 nL.
    t = export.table[export.table["positives"] >= 50]
    implied = -np.log1p(-t["positives"] / t["partitions"]) / t["concentration"] * 1e3
    assert implied.between(0.69, 0.77).all()


def test_absoluteq_skips_group_averages() -> None:
    export = read_export(
        shared_path("qpcr", "absoluteq", "allotropy_Appbio_AbsoluteQ_example01.csv")
    )
    assert "Average" not in set(export.table["well"])
    d3 = _row(export.table, well="D3")
    assert (d3["sample"], d3["target"]) == ("Cell Lysate B", "Gene B")
    assert (d3["partitions"], d3["positives"]) == (20409, 13963)
    assert d3["concentration"] == pytest.approx(2667.86)
    assert export.instrument == "Thermo Fisher Absolute Q (Absolute Q 0140)"


DPCR_EXPORTS = [
    "ddpcr_bio-rad/ddpcr_read_quant_quant_QXManager.csv",
    "absoluteq/allotropy_Appbio_AbsoluteQ_example01.csv",
]


@pytest.mark.parametrize("name", DPCR_EXPORTS)
def test_dpcr_concentration_recomputed_within_half_percent(name: str) -> None:
    table = read_export(shared_path("qpcr", *name.split("/"))).table
    table = table[table["positives"] > 0]
    assert len(table) >= 10
    recomputed = concentration(table["positives"], table["partitions"], table["volume_nl"])
    relative = np.abs(recomputed / table["concentration"] - 1)
    # Exported concentrations are rounded to 2-3 significant digits at low counts.
    tolerance = np.maximum(0.005, 0.006 / table["concentration"])
    assert (relative <= tolerance).all(), relative.max()


def test_qiacuity_long_layout_volume_per_well(tmp_path: Path) -> None:
    """Partition volume = volume per well / nominal partitions (8,500 on the 8.5K plate)."""
    rows = [("A1", "DP", "CAR", 8123, 1500, 2.83), ("B1", "DP", "RPP30", 7990, 900, 2.79)]
    lines = [
        "sep=,",
        '"Well","Sample/NTC/Control","Target","Control type","Conc. [copies/µL]",'
        '"Partitions (valid)","Partitions (positive)","Partitions (negative)",'
        '"Volume per well [µL]"',
    ]
    for well, sample, target, valid, positive, volume_ul in rows:
        conc = -math.log1p(-positive / valid) / (volume_ul / 8500)  # copies/µL
        lines.append(
            f'"{well}","{sample}","{target}","-","{conc:.3f}","{valid}","{positive}",'
            f'"{valid - positive}","{volume_ul}"'
        )
    path = tmp_path / "run.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode("utf-8"))
    export = read_export(path)
    assert export.format is ExportFormat.QIACUITY and export.metadata["layout"] == "long"
    t = export.table
    assert t["volume_nl"].tolist() == pytest.approx([2830 / 8500, 2790 / 8500])
    recomputed = concentration(t["positives"], t["partitions"], t["volume_nl"])
    assert np.allclose(recomputed, t["concentration"], rtol=0.005)


def _evagreen_export(tmp_path: Path) -> Path:
    """A 192.24 EvaGreen Table Results export (app 4.x) with melt columns, built by the rules."""
    lines = [
        "Chip Run Filename,C:\\runs\\1690000001\\ChipRun.bml",
        "Application Version,4.1.3",
        "Export Type,Table Results",
        "Number of Chambers,4608",
        "",
        ",".join(["Experiment Information"] * 6 + ["EvaGreen"] * 4 + ["Tm In Range"] * 2),
        "Chamber,Sample,Sample,Sample,EvaGreen,EvaGreen,Ct,Ct,Ct,Ct,Tm In Range,Tm In Range",
        "ID,Name,Type,rConc,Name,Type,Value,Quality,Call,Threshold,Peak Value,Call",
    ]
    for s in range(1, 193):
        for a in range(1, 25):
            target = "CAR" if a <= 12 else "ALB"
            ct, tm = (f"{20 + (s % 7) * 0.5 + a * 0.01:.3f}", "81.25") if s % 50 else ("999", "")
            lines.append(
                f"S{s:03d}-A{a:02d},cell{s},Unknown,1,{target},Test,{ct},0.9,Pass,0.02,{tm},Pass"
            )
    path = tmp_path / "evagreen.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


def test_biomark_192_24_evagreen_with_melt_columns(tmp_path: Path) -> None:
    export = read_export(_evagreen_export(tmp_path))
    assert export.format is ExportFormat.BIOMARK
    assert "192.24" in export.instrument and "4.1.3" in export.instrument
    table = export.table
    assert len(table) == 192 * 24
    assert tuple(table.columns) == (*QPCR_COLUMNS, "tm")
    row = _row(table, well="S001-A13")
    assert (row["sample"], row["target"]) == ("cell1", "ALB")
    assert row["cq"] == pytest.approx(20.63) and row["tm"] == 81.25
    no_ct = _row(table, well="S050-A01")
    assert math.isnan(no_ct["cq"]) and math.isnan(no_ct["tm"])


QX_NAME = "ddpcr_bio-rad/ddpcr_read_quant_quant_QXManager.csv"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda text: text.encode("cp1252"),  # µ as the single byte 0xB5
        lambda text: text.replace("µ", "Âµ").encode("utf-8"),  # UTF-8 read as cp1252, re-saved
        lambda text: text.replace("µ", "\ufffd").encode("utf-8"),  # replacement character
        lambda text: b"\xef\xbb\xbf" + text.encode("utf-8"),  # BOM
    ],
    ids=["cp1252", "double-encoded", "replacement", "bom"],
)
def test_qx_micro_sign_however_encoded(tmp_path: Path, mangle) -> None:
    source = shared_path("qpcr", *QX_NAME.split("/"))
    path = tmp_path / "qx.csv"
    path.write_bytes(mangle(source.read_text(encoding="utf-8")))
    expected = read_export(source).table
    pd.testing.assert_frame_equal(read_export(path).table, expected)


def test_quantasoft_names_give_the_same_quantities(tmp_path: Path) -> None:
    """QuantaSoft 1.7.4 writes Sample / Concentration / AcceptedDroplets for the same values."""
    source = shared_path("qpcr", *QX_NAME.split("/"))
    lines = source.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    renamed = {
        "Sample description 1": "Sample",
        "Conc(copies/µL)": "Concentration",
        "Accepted Droplets": "AcceptedDroplets",
        "Copies/20µLWell": "CopiesPer20uLWell",
    }
    lines[0] = ",".join(renamed.get(h, h) for h in header)
    path = tmp_path / "quantasoft.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    export = read_export(path)
    assert export.instrument == "Bio-Rad QuantaSoft"
    pd.testing.assert_frame_equal(export.table, read_export(source).table)
    t = export.table
    recomputed = concentration(t["positives"], t["partitions"], t["volume_nl"])
    assert np.allclose(recomputed, t["concentration"], rtol=0.005)


def test_rdml_quantity_only_when_in_copies(tmp_path: Path) -> None:
    xml = (
        b'<rdml xmlns="http://www.rdml.org" version="1.2">'
        b'<sample id="S1"><type>std</type><quantity><value>1000</value><unit>cop</unit>'
        b'</quantity></sample><sample id="S2"><type>std</type><quantity><value>5</value>'
        b"<unit>ng</unit></quantity></sample>"
        b'<experiment id="e"><run id="r"><pcrFormat><rows>8</rows><columns>12</columns>'
        b"<rowLabel>ABC</rowLabel><columnLabel>123</columnLabel></pcrFormat>"
        b'<react id="13"><sample id="S1"/><data><tar id="CAR"/><cq>27.5</cq></data></react>'
        b'<react id="14"><sample id="S2"/><data><tar id="CAR"/><cq>-1</cq></data></react>'
        b"</run></experiment></rdml>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("rdml_data.xml", xml)
    path = tmp_path / "run.rdml"
    path.write_bytes(buffer.getvalue())
    table = read_export(path).table
    s1, s2 = _row(table, sample="S1"), _row(table, sample="S2")
    assert (s1["well"], s1["quantity"], s1["cq"]) == ("B1", 1000.0, 27.5)
    assert s2["well"] == "B2" and math.isnan(s2["quantity"])
    assert math.isnan(s2["cq"])  # RDML writes -1 for no amplification
