"""``cytorelease qpcr read`` and ``qpcr vcn``: JSON contract, tables, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.synth.qpcr_exports import write_qpcr_exports
from tests.conftest import shared_path

runner = CliRunner()


def test_read_json_biomark_undetermined_is_null() -> None:
    path = shared_path("qpcr", "biomark", "HTqPCR_BioMark_sample.csv")
    result = runner.invoke(app, ["qpcr", "read", str(path), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["format"] == "biomark" and "48.48" in doc["instrument"]
    assert len(doc["rows"]) == 2304
    rows = {r["well"]: r for r in doc["rows"]}
    assert set(rows["S48-A01"]) == {
        *("well", "sample", "target", "task", "cq", "call", "run", "cq_source", "quantity")
    }
    assert rows["S48-A01"]["run"] is None and rows["S48-A01"]["cq_source"] == "export"
    assert rows["S48-A01"]["cq"] == pytest.approx(34.6154024701642)
    assert rows["S48-A02"]["cq"] is None and rows["S48-A02"]["call"] == "Fail"


def test_read_json_dpcr_counts() -> None:
    path = shared_path("qpcr", "qiacuity", "allotropy_qiacuity_dpcr_example03.csv")
    result = runner.invoke(app, ["qpcr", "read", str(path), "--json", "--format", "qiacuity"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    h3 = next(r for r in doc["rows"] if r["well"] == "H3")
    assert h3 == {
        "well": "H3",
        "sample": "CD3_Digested",
        "target": "CD3",
        "task": "unknown",
        "cq": None,
        "call": "",
        "run": None,
        "cq_source": "export",
        "partitions": 25248,
        "positives": 6107,
        "volume_nl": None,  # the short layout does not say the partition volume
        "concentration": 373.3,
        "quantity": None,
    }


def test_read_table_output() -> None:
    path = shared_path("qpcr", "cfx", "allotropy_cfxmaestro_example01.csv")
    result = runner.invoke(app, ["qpcr", "read", str(path)])
    assert result.exit_code == 0
    assert "M3905 R Ctx" in result.stdout and "21.188" in result.stdout


def test_read_unknown_format_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("hello,world\n", encoding="utf-8")
    result = runner.invoke(app, ["qpcr", "read", str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {path}: unrecognised qPCR/dPCR export (tried biomark, quantstudio, cfx, rdml, "
        "qx, qiacuity, absoluteq) (check the file is a results export, or pass --format)"
    )
    assert result.stdout == ""


@pytest.fixture(scope="module")
def lot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lot")
    write_qpcr_exports(folder, seed=4, vcn_truth=3.0)
    return folder


def test_vcn_json_contract(lot: Path) -> None:
    path = lot / "qpcr" / "qx_manager_results.csv"
    args = ["qpcr", "vcn", str(path), "--assay", "vcn-car-rpp30", "--car-fraction", "0.3"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["format"] == "qx" and doc["instrument"] == "Bio-Rad QX Manager"
    assert doc["run_acceptance"]["passed"] is True
    for check in doc["run_acceptance"]["checks"]:
        assert {"check", "value", "limit", "passed"} <= set(check)
    dp = next(s for s in doc["samples"] if s["sample"] == "DP")
    assert {"sample", "vcn", "ci_low", "ci_high", "replicates"} <= set(dp)
    assert dp["vcn"] == pytest.approx(3.0, rel=0.05)
    assert dp["ci_low"] < dp["vcn"] < dp["ci_high"]
    attributes = {(m["attribute"], m["details"]["sample"]) for m in doc["measurements"]}
    assert ("qpcr.vcn_per_transduced_cell", "DP") in attributes
    table = runner.invoke(app, args)
    assert table.exit_code == 0 and "run PASSED" in table.stdout


def test_vcn_failed_acceptance_exit_1(lot: Path, tmp_path: Path) -> None:
    text = (lot / "qpcr" / "qx_manager_results.csv").read_text(encoding="utf-8")
    # Contaminate the first NTC well's CAR channel: 40 positive droplets.
    lines = text.splitlines()
    index = next(i for i, ln in enumerate(lines) if ",NTC," in ln and ",CAR," in ln)
    fields = lines[index].split(",")
    accepted = int(fields[20])
    fields[21], fields[22] = "40", str(accepted - 40)
    lines[index] = ",".join(fields)
    path = tmp_path / "contaminated.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["qpcr", "vcn", str(path), "--assay", "vcn-car-rpp30", "--json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["run_acceptance"]["passed"] is False
    ntc = next(c for c in doc["run_acceptance"]["checks"] if c["check"] == "NTC (CAR)")
    assert ntc["value"] == 40 and ntc["passed"] is False
    assert doc["samples"] == []
    text_result = runner.invoke(app, ["qpcr", "vcn", str(path), "--assay", "vcn-car-rpp30"])
    assert text_result.exit_code == 1 and "run FAILED: NTC (CAR): 40" in text_result.stdout


def test_vcn_missing_reference_exit_2() -> None:
    path = shared_path("qpcr", "absoluteq", "allotropy_Appbio_AbsoluteQ_example01.csv")
    result = runner.invoke(app, ["qpcr", "vcn", str(path), "--assay", "vcn-car-rpp30"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path}: transgene target CAR is not in the export")


def test_vcn_unknown_assay_exit_2(lot: Path) -> None:
    path = lot / "qpcr" / "qx_manager_results.csv"
    result = runner.invoke(app, ["qpcr", "vcn", str(path), "--assay", "no-such-assay"])
    assert result.exit_code == 2
    assert "error: no-such-assay: no such file, and no such name in assays/" in result.stderr
