"""``cytorelease potency elisa``: JSON contract, tables, plots, exit codes, error lines."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

from typer.testing import CliRunner

from cytorelease.cli.main import app
from tests.potency.conftest import edit_csv_cells

runner = CliRunner()


def test_json_document_keys(example_plate: Path) -> None:
    result = runner.invoke(
        app, ["potency", "elisa", str(example_plate), "--assay", "potency-ifng-elisa", "--json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document["curve"]) >= {"model", "params", "r_squared"}
    assert document["curve"]["model"] == "4PL" and set(document["curve"]["params"]) == set("ABCD")
    assert document["acceptance"]["passed"] is True
    assert {c["name"] for c in document["acceptance"]["checks"]} >= {
        "r_squared",
        "standard_recovery",
    }
    samples = {s["sample"]: s for s in document["samples"]}
    assert samples["CD19+ targets alone"]["flag"] == "< LLOQ"
    assert samples["CD19+ targets alone"]["concentration"] is None
    assert samples["CAR-T + CD19+ targets"]["flag"] == ""
    attributes = [m["attribute"] for m in document["measurements"]]
    assert attributes == ["potency.ifng_pg_ml", "potency.ifng_fold_over_negative"]
    assert document["inputs"]["assay"]["id"] == "potency-ifng-elisa"
    assert len(document["inputs"]["plate"]["sha256"]) == 64


def test_tables_and_svg_plot(example_plate: Path, tmp_path: Path) -> None:
    plots = tmp_path / "plots"
    result = runner.invoke(
        app,
        [
            "potency",
            "elisa",
            str(example_plate),
            "--assay",
            "potency-ifng-elisa",
            "--plots",
            str(plots),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Standards (pg/mL)" in result.stdout and "recovery %" in result.stdout
    assert "< LLOQ" in result.stdout and "run PASSED acceptance" in result.stdout
    svg = plots / "elisa_ifng_curve.svg"
    root = ElementTree.fromstring(svg.read_text(encoding="utf-8"))
    ns = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f"{ns}circle")) == 7  # the standards
    assert len(root.findall(f"{ns}path")) == 1  # the fitted curve
    # squares: the two samples inside the working range (the rest are < LLOQ), plus the range
    assert len(root.findall(f"{ns}rect")) == 3


def test_failed_acceptance_exits_1(example_plate: Path) -> None:
    edit_csv_cells(example_plate, {"A1": "OVRFLW"})
    result = runner.invoke(
        app, ["potency", "elisa", str(example_plate), "--assay", "potency-ifng-elisa", "--json"]
    )
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["acceptance"]["passed"] is False
    assert document["measurements"][0]["value"] is None


def test_bad_input_is_one_error_line_and_exit_2(example_plate: Path) -> None:
    edit_csv_cells(example_plate, {"C3": ""})
    result = runner.invoke(
        app, ["potency", "elisa", str(example_plate), "--assay", "potency-ifng-elisa"]
    )
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {example_plate}: the plate does not match the layout")
    assert result.stdout == ""


def test_unknown_assay_exit_2(example_plate: Path) -> None:
    result = runner.invoke(app, ["potency", "elisa", str(example_plate), "--assay", "nope"])
    assert result.exit_code == 2 and result.stderr.startswith(
        "error: nope: no such file, and no such name in assays/"
    )


def test_plots_into_a_file_is_a_one_line_error(example_plate: Path, tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("x", encoding="utf-8")
    result = runner.invoke(
        app,
        [
            "potency",
            "elisa",
            str(example_plate),
            "--assay",
            "potency-ifng-elisa",
            "--plots",
            str(target),
        ],
    )
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {target}: is a file, not a folder for the plots"
