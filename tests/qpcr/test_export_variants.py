"""Layout variants seen in real instrument exports, rebuilt as small synthetic files.

Each case reproduces the structure of a variant found in public exports (column names, header
rows, omitted trailing fields, footers, locale) with made-up values, and checks the parsed
values, so a reader follows the format's rules rather than one fixture.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest

from cytorelease.errors import InputError
from cytorelease.qpcr.readers import read_export
from cytorelease.qpcr.table import ExportFormat, Task


def _write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def _xlsx(sheets: dict[str, list[list[object]]]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# --- QuantStudio / ViiA 7 ------------------------------------------------------------------

QS_RESULTS_HEADER = (
    "Well\tWell Position\tOmit\tSample Name\tTarget Name\tTask\tReporter\tQuencher\tQuantity\t"
    "CT\tCt Mean\tAutomatic Ct Threshold\tCt Threshold\tComments\tCustom1\tCustom2\n"
)


def test_quantstudio_rows_without_trailing_empty_fields_are_complete(tmp_path: Path) -> None:
    # ViiA 7 leaves out a row's trailing empty fields: 12 of 16 fields here, not a truncation.
    text = (
        "* Instrument Type = ViiA 7\n\n[Results]\n"
        + QS_RESULTS_HEADER
        + "1\tA1\tfalse\tlot-7\tCAR\tUNKNOWN\tFAM\tNFQ-MGB\t\t21.402\t21.402\ttrue\n"
        + "2\tA2\tfalse\twater\tCAR\tNTC\tFAM\tNFQ-MGB\t\tUndetermined\t\ttrue\n"
        + "\n[Melt Curve Raw Data]\nWell\tReading\n1\t1\n"
    )
    export = read_export(_write(tmp_path, "viia7.txt", text))
    table = export.table
    assert export.instrument == "ViiA 7"
    assert list(table["well"]) == ["A1", "A2"]
    assert table["cq"].iloc[0] == pytest.approx(21.402)
    assert math.isnan(table["cq"].iloc[1]) and table["task"].iloc[1] == Task.NTC


def test_quantstudio_results_cut_mid_row_is_still_a_truncated_copy(tmp_path: Path) -> None:
    # [Results] is the last section and the file stops inside a row, without a line break.
    text = "* Instrument Type = ViiA 7\n\n[Results]\n" + QS_RESULTS_HEADER + "1\tA1\tfal"
    with pytest.raises(InputError, match=r"line 2 has 3 fields but the header has 16"):
        read_export(_write(tmp_path, "cut.txt", text))


def test_quantstudio_relative_threshold_crt_column_and_underscored_tasks(tmp_path: Path) -> None:
    text = (
        "* Quantification Cycle Method = Crt\n\n[Results]\n"
        "Well\tWell Position\tOmit\tSample Name\tTarget Name\tTask\tCRT\tCrt Mean\n"
        "1\tB3\tfalse\tref\tVCN\tPOSITIVE_CONTROL\t24.118\t24.2\n"
        "2\tB4\tfalse\tneg\tVCN\tNEGATIVE_CONTROL\tUndetermined\t\n"
    )
    table = read_export(_write(tmp_path, "crt.txt", text)).table
    assert table["cq"].iloc[0] == pytest.approx(24.118)
    assert list(table["task"]) == [Task.POSITIVE_CONTROL, Task.NEGATIVE_CONTROL]


def test_quantstudio_genotyping_results_are_refused_by_name(tmp_path: Path) -> None:
    text = (
        "* Experiment Type = Genotyping\n\n[Results]\n"
        "Well\tWell Position\tOmit\tSample Name\tSNP Assay Name\tTask\tCall\tAllele1 Ct\t"
        "Allele2 Ct\n1\tA1\tfalse\ts1\trs1\tUNKNOWN\tHomozygous\t27.1\tUndetermined\n"
    )
    with pytest.raises(InputError, match=r"genotyping \(SNP assay\) Results table") as info:
        read_export(_write(tmp_path, "snp.txt", text))
    assert "\n" not in str(info.value)


KV_BLOCK: list[list[object]] = [
    ["Instrument Type", "QuantStudio(TM) 7 Flex System"],
    ["Quantification Cycle Method", "Ct"],
    [],
]


def test_quantstudio_xlsx_footer_after_blank_row_is_not_wells(tmp_path: Path) -> None:
    rows = [
        *KV_BLOCK,
        ["Well", "Well Position", "Omit", "Sample Name", "Target Name", "Task", "CT"],
        [1, "A1", "false", "lot-7", "CAR", "UNKNOWN", 22.5],
        [2, "A2", "false", "lot-7", "RPP30", "UNKNOWN", 24.25],
        [],
        ["Analysis Type", "Singleplex"],
        ["Endogenous Control", "RPP30"],
        ["Reference Sample", "lot-7"],
    ]
    data = _xlsx({"Sample Setup": [["Well"]], "Results": rows})
    table = read_export(_write(tmp_path, "qs.xlsx", data)).table
    assert list(table["well"]) == ["A1", "A2"]
    assert list(table["cq"]) == [22.5, 24.25]


def test_quantstudio_primary_analysis_xlsx_without_target_uses_reporter(tmp_path: Path) -> None:
    rows = [
        ["Software Name and Version", "Design & Analysis Software v2.6.0"],
        ["Instrument Type", "QuantStudio 7 Pro System"],
        [],
        ["Well Position", "Task", "Reporter", "Cq", "Threshold"],
        ["A1", "STANDARD", "FAM", 18.04, 0.02],
        ["H12", "NTC", "FAM", "Undetermined", 0.02],
    ]
    export = read_export(_write(tmp_path, "primary.xlsx", _xlsx({"Results": rows})))
    table = export.table
    assert export.instrument == "QuantStudio 7 Pro System"
    assert list(table["well"]) == ["A1", "H12"]
    assert list(table["target"]) == ["FAM", "FAM"]
    assert list(table["task"]) == [Task.STANDARD, Task.NTC]
    assert table["cq"].iloc[0] == pytest.approx(18.04) and math.isnan(table["cq"].iloc[1])


def test_diomni_primary_result_sheet_with_positions_in_well(tmp_path: Path) -> None:
    rows = [
        ["Instrument Type", "QuantStudio 7 Pro System"],
        ["Software name", "Diomni"],
        [],
        ["Well", "Omit", "Sample", "Target", "Task", "Reporter", "Cq"],
        ["B02", "FALSE", "lot-9", "CAR", "UNKNOWN", "FAM", 30.5],
        ["B02", "TRUE", "lot-9", "RPP30", "UNKNOWN", "VIC", "UNDETERMINED"],
    ]
    data = _xlsx({"Primary_result": rows, "Target Call": [["Well"]]})
    table = read_export(_write(tmp_path, "diomni.xlsx", data)).table
    assert list(table["well"]) == ["B02", "B02"]
    assert list(table["target"]) == ["CAR", "RPP30"]
    assert table["cq"].iloc[0] == pytest.approx(30.5) and math.isnan(table["cq"].iloc[1])
    assert list(table["excluded"]) == [False, True]


# --- Bio-Rad QX / QuantaSoft ----------------------------------------------------------------

QUANTASOFT_HEADER = (
    "Well,ExptType,Experiment,Sample,TargetType,Target,Status,Concentration,Supermix,"
    "Positives,Negatives,AcceptedDroplets,ExperimentComments,MergedWells"
)


def test_quantasoft_no_call_and_merged_wells(tmp_path: Path) -> None:
    text = "\n".join(
        [
            QUANTASOFT_HEADER,
            '"A01",Absolute Quantification,"ABS","lot-3",Ch1Unknown,"CAR","OK",412,Probes,'
            '5210,9870,15080,""',
            '"B01",Absolute Quantification,"ABS","NTC",Ch1Unknown,"CAR","CHECK",No Call,'
            'Probes,0,14001,14001,""',
            '"C01",Absolute Quantification,"ABS","lot-4",Ch1Unknown,"CAR",,No Call,Probes,'
            '0,9000,9000,""',
            '"M01",Absolute Quantification,"ABS","lot-3",Ch1Unknown,"CAR",,398,Probes,'
            '10400,19800,30200,"","(A01,D01)"',
        ]
    )
    table = read_export(_write(tmp_path, "qs.csv", text + "\n")).table
    assert list(table["well"]) == ["A01", "B01", "C01"]  # the merged well M01 is a summary
    assert table["concentration"].iloc[0] == 412.0
    assert math.isnan(table["concentration"].iloc[1]) and table["call"].iloc[1] == "CHECK"
    assert math.isnan(table["concentration"].iloc[2]) and table["call"].iloc[2] == "No Call"
    assert table["task"].iloc[1] == Task.NTC
    assert table["partitions"].iloc[1] == 14001.0


def test_old_quantasoft_assay_columns_and_bare_cr_line_ends(tmp_path: Path) -> None:
    # QuantaSoft before 1.7: "TypeAssay"/"Assay"; a Mac export ends lines with CR alone; the
    # empty last field (MergedWells) is left out of each row.
    header = (
        "Well,ExptType,Experiment,Sample,TypeAssay,Assay,Status,Concentration,Positives,"
        "Negatives,AcceptedDroplets,MergedWells"
    )
    rows = [
        header,
        '"A01",Absolute Quantification,"","d1",Ch1Unknown,"CAR","Manual",88.5,1100,13500,14600',
        '"A01",Absolute Quantification,"","d1",Ch2NTC,"RPP30","Manual",0,0,14600,14600',
    ]
    export = read_export(_write(tmp_path, "old.csv", "\r".join(rows) + "\r"))
    table = export.table
    assert export.format is ExportFormat.QX
    assert list(table["target"]) == ["CAR", "RPP30"]
    assert list(table["task"]) == [Task.UNKNOWN, Task.NTC]
    assert list(table["concentration"]) == [88.5, 0.0]
    assert list(table["partitions"]) == [14600.0, 14600.0]


def test_quantasoft_last_row_cut_without_line_break_is_truncated(tmp_path: Path) -> None:
    text = (
        QUANTASOFT_HEADER
        + '\n"A01",Absolute Quantification,"ABS","x",Ch1Unknown,"CAR","OK",4'
        + "12,Probes,5210,9870,15080"
    )
    with pytest.raises(InputError, match=r"line 2 has 12 fields but the header has 14"):
        read_export(_write(tmp_path, "cut.csv", text))


# --- QIAGEN QIAcuity ------------------------------------------------------------------------


def test_qiacuity_software_3_layout(tmp_path: Path) -> None:
    header = (
        '"Plate name","Plate type","Well","Sample/NTC/Control","Type","Reaction Mix",'
        '"Target (Name)","Target (Control)","Conc. [cp/µL] (dPCR reaction)",'
        '"Conc. [cp/mL] (dPCR reaction)","Conc. [cp/µL] (undiluted sample)",'
        '"Partitions (Valid)","Partitions (Positive)","Partitions (Negative)",'
        '"Volume per well [µl]"'
    )
    rows = [
        '"run 5","Nanoplate 26K 24-well","A1","lot-2","Sample","mix","CAR","-","150.5",'
        '"150500.0","3010.0","24010","3200","20810","13.1"',
        '"","","B1","water","Non Template Control","mix","CAR","-","0.000","0.0","0.0",'
        '"25500","0","25500","13.0"',
    ]
    data = "\ufeffsep=,\n" + "\n".join([header, *rows]) + "\n"
    export = read_export(_write(tmp_path, "qiacuity.csv", data))
    table = export.table
    assert export.format is ExportFormat.QIACUITY
    assert list(table["well"]) == ["A1", "B1"]
    assert list(table["target"]) == ["CAR", "CAR"]
    assert list(table["concentration"]) == [150.5, 0.0]  # per µL of reaction
    assert list(table["task"]) == [Task.UNKNOWN, Task.NTC]
    # 26K plate from "Plate type": 13.1 µL / 26,000 partitions.
    assert table["volume_nl"].iloc[0] == pytest.approx(13.1 * 1000 / 26_000)


# --- Thermo Fisher Absolute Q ---------------------------------------------------------------

ABSQ_GROUP = "Target,Conc.,SD,CV%,Lambda (cp/Rxn),Positives,Threshold"


def test_absoluteq_summary_with_dye_header_row(tmp_path: Path) -> None:
    text = "\n".join(
        [
            ",,,,,,,FAM,,,,,,,VIC,,,,,,,,",
            "Run name,Group,Sample,Well,DF,QC,Total,"
            + ABSQ_GROUP
            + ","
            + ABSQ_GROUP
            + ",MeanQC,QC Message",
            ",G1,,Average,,,20100.5,CAR,210.2,10.1,4.8,,2000,,RPP30,101.0,2.0,2.0,,900,,,",
            "run-1,G1,lot-5,A1,1/1,PASS,20111,CAR,205.11,,,0.0886,1706,9100,RPP30,100.2,,,"
            "0.0433,852,1400,0.9,PASS",
            "run-1,G1,NTC,A2,1/1,PASS,20090,CAR,0,,,0,0,9100,RPP30,0,,,0,0,1400,0.9,PASS",
        ]
    )
    export = read_export(_write(tmp_path, "summary.csv", text + "\r\n"))
    table = export.table
    assert export.format is ExportFormat.ABSOLUTEQ
    assert list(table["well"]) == ["A1", "A1", "A2", "A2"]  # the Average row is skipped
    assert list(table["target"]) == ["CAR", "RPP30", "CAR", "RPP30"]
    assert list(table["concentration"]) == [205.11, 100.2, 0.0, 0.0]
    assert list(table["positives"]) == [1706.0, 852.0, 0.0, 0.0]
    assert list(table["partitions"]) == [20111.0, 20111.0, 20090.0, 20090.0]
    assert table["task"].iloc[2] == Task.NTC
    assert table["call"].iloc[0] == "PASS"
    assert (table["volume_nl"] == 0.432).all()


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            "Run,Date,Instrument,Plate,Well ID,Sample,Index,Reject,ROX,FAM,FAM_pos,FAM_target",
            "Absolute Q per-microchamber fluorescence export",
        ),
        (
            "Run,Date,Instrument,Plate,Sample,Channels,Count,Copies per microliter,Total",
            "Absolute Q multichannel count export",
        ),
    ],
)
def test_absoluteq_exports_without_well_results_are_refused(
    tmp_path: Path, header: str, message: str
) -> None:
    path = _write(tmp_path, "absq.csv", header + "\nr,d,i,p,A1,s,1,False,1,2,True,CAR\n")
    with pytest.raises(InputError, match=message) as info:
        read_export(path)
    assert "not per-well results" in str(info.value) and "\n" not in str(info.value)


# --- Bio-Rad CFX ----------------------------------------------------------------------------


def test_cfx_semicolon_export_with_decimal_commas(tmp_path: Path) -> None:
    text = (
        ";Well;Fluor;Target;Content;Sample;Cq;Starting Quantity (SQ)\n"
        ";A01;FAM;CAR;Std-01;std1;18,25;1.000,5\n"
        ";A02;FAM;CAR;Unkn-01;lot-1;27,5;NaN\n"
        ";A03;FAM;CAR;NTC;water;NaN;NaN\n"
    )
    table = read_export(_write(tmp_path, "cfx.csv", text)).table
    assert list(table["cq"].iloc[:2]) == [18.25, 27.5]
    assert math.isnan(table["cq"].iloc[2])
    assert table["quantity"].iloc[0] == 1000.5
    assert list(table["task"]) == [Task.STANDARD, Task.UNKNOWN, Task.NTC]


def test_cfx_workbook_export_is_detected_and_read(tmp_path: Path) -> None:
    # CFX saves the Cq results as an xlsx (sheet "0") with the CSV's columns; numbers are cells.
    header = ["", "Well", "Fluor", "Target", "Content", "Sample", "Cq", "Starting Quantity (SQ)"]
    rows = [
        header,
        [None, "A01", "FAM", "CAR", "Std-01", 206.0, 17.75, 10000.0],
        [None, "A02", "FAM", "CAR", "Unkn-01", "lot-1", 26.5, "NaN"],
        [None, "A03", "FAM", "CAR", "NTC", "water", "NaN", "NaN"],
        [],
        ["footer", "not a well"],
    ]
    export = read_export(_write(tmp_path, "cfx.xlsx", _xlsx({"0": rows})))
    table = export.table
    assert export.format is ExportFormat.CFX
    assert list(table["well"]) == ["A01", "A02", "A03"]
    assert list(table["sample"]) == ["206", "lot-1", "water"]
    assert table["cq"].iloc[0] == 17.75 and math.isnan(table["cq"].iloc[2])
    assert table["quantity"].iloc[0] == 10000.0
    assert list(table["task"]) == [Task.STANDARD, Task.UNKNOWN, Task.NTC]


def test_workbook_without_cq_results_still_goes_to_quantstudio(tmp_path: Path) -> None:
    path = _write(tmp_path, "other.xlsx", _xlsx({"Sheet1": [["Plate", "Value"], ["A", 1]]}))
    with pytest.raises(InputError, match=r"xlsx has no 'Results' sheet \(sheets: Sheet1\)"):
        read_export(path)
