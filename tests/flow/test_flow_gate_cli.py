"""``cytorelease flow gate``: table, JSON, plots, GatingML and membership outputs; one-line
errors with exit code 2 for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from defusedxml import ElementTree
from typer.testing import CliRunner

from cytorelease.cli.main import app
from tests.flow.gating_lots import Lot, simulated_lot

runner = CliRunner()


@pytest.fixture(scope="module")
def lot(tmp_path_factory: pytest.TempPathFactory) -> Lot:
    return simulated_lot(tmp_path_factory.mktemp("cli-lot"), 5)


@pytest.fixture(scope="module")
def outputs(lot: Lot, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:  # type: ignore[type-arg]
    out = tmp_path_factory.mktemp("out")
    result = runner.invoke(
        app,
        [
            "flow",
            "gate",
            str(lot.stained.path),
            "--template",
            "cd19-car-t-panel",
            "--control",
            str(lot.fmo.path),
            "--plots",
            str(out / "plots"),
            "--export-gatingml",
            str(out / "placed.xml"),
            "--membership",
            str(out / "m.csv"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout), out


def test_json_document(outputs: tuple[dict, Path], lot: Lot) -> None:  # type: ignore[type-arg]
    document, _ = outputs
    assert document["template"]["id"] == "cd19-car-t-panel"
    assert document["template"]["version"] == "1.0.0"
    assert len(document["template"]["sha256"]) == 64
    by_path = {p["path"]: p for p in document["populations"]}
    cd3 = by_path["qc/cells/singlets/cd45/viable/cd3"]
    viable = by_path["qc/cells/singlets/cd45/viable"]
    assert cd3["parent_count"] == viable["count"]
    assert cd3["percent_of_parent"] == pytest.approx(100 * cd3["count"] / viable["count"])
    assert cd3["percent_of_total"] == pytest.approx(100 * cd3["count"] / 30_000)
    kinds = [g["kind"] for g in document["gates"]]
    assert kinds[:4] == ["time_qc", "scatter_cluster", "singlet_band", "density_valley"]
    car = {m["attribute"]: m for m in document["measurements"]}["flow.car_pct_of_viable_cd3"]
    assert car["value"] == pytest.approx(lot.truth["flow.car_pct_of_viable_cd3"], abs=1.0)
    assert car["inputs"] == [lot.stained.sha256, lot.fmo.sha256]
    assert {f["code"] for f in document["flags"]} <= {"acquisition_qc", "fallback_rule"}


def test_membership_csv(outputs: tuple[dict, Path]) -> None:  # type: ignore[type-arg]
    document, out = outputs
    frame = pd.read_csv(out / "m.csv")
    assert frame.shape == (30_000, 11)
    assert set(frame.columns) == {p["gate_id"] for p in document["populations"]}
    counts = {p["gate_id"]: p["count"] for p in document["populations"]}
    assert frame.sum().to_dict() == counts
    assert set(frame.to_numpy().ravel()) <= {0, 1}


def test_plots_are_svg_with_counts(outputs: tuple[dict, Path]) -> None:  # type: ignore[type-arg]
    document, out = outputs
    names = sorted(p.name for p in (out / "plots").iterdir())
    assert names == sorted(
        f"{g}.svg"
        for g in ("qc", "cells", "singlets", "cd45", "viable", "cd3", "car", "cd4", "cd8", "cd19")
    )
    cd3 = {p["gate_id"]: p for p in document["populations"]}["cd3"]
    text = (out / "plots" / "cd3.svg").read_text()
    root = ElementTree.fromstring(text)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert f"CD3+: {cd3['count']:,} ({cd3['percent_of_parent']:.2f} % of viable)" in text
    assert "<polyline" in (out / "plots" / "cells.svg").read_text()


def test_exported_gatingml_as_template_reproduces_counts(
    outputs: tuple[dict, Path],
    lot: Lot,  # type: ignore[type-arg]
) -> None:
    document, out = outputs
    result = runner.invoke(
        app, ["flow", "gate", str(lot.stained.path), "-t", str(out / "placed.xml"), "--json"]
    )
    assert result.exit_code == 0, result.stderr
    again = json.loads(result.stdout)
    assert again["template"]["version"] == "GatingML 2.0"
    theirs = {p["gate_id"]: p["count"] for p in again["populations"]}
    assert {p["gate_id"]: theirs[p["gate_id"]] for p in document["populations"]} == {
        p["gate_id"]: p["count"] for p in document["populations"]
    }


def test_table_output(lot: Lot) -> None:
    result = runner.invoke(app, ["flow", "gate", str(lot.stained.path), "-t", "cd19-car-t-panel"])
    assert result.exit_code == 0, result.stderr
    assert "qc/cells/singlets/cd45/viable/cd3" in result.stdout
    assert "flow.cd3_pct_of_viable_cd45" in result.stdout
    assert "flag [not_placed] gate 'car' not placed: no control tube was given" in result.stdout


def _error(args: list[str]) -> str:
    result = runner.invoke(app, ["flow", "gate", *args])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    return lines[0]


def test_error_template_with_a_cycle(lot: Lot, tmp_path: Path) -> None:
    bad = tmp_path / "cycle.yaml"
    bad.write_text(
        "schema_version: 1\nid: c\nversion: '1'\nmarkers: [{key: a, channels: [CD3]}]\n"
        "gates:\n"
        "  - {id: x, parent: y, kind: density_valley, marker: a}\n"
        "  - {id: y, parent: x, kind: density_valley, marker: a}\n"
    )
    line = _error([str(lot.stained.path), "-t", str(bad)])
    assert line == (
        f"error: {bad}: gates[0].parent (line 6): gate 'x' is in a cycle: x -> y -> x "
        "(a gate's parent and referenced gates must not lead back to it)"
    )


def test_error_unknown_parent(lot: Lot, tmp_path: Path) -> None:
    bad = tmp_path / "orphan.yaml"
    bad.write_text(
        "schema_version: 1\nid: c\nversion: '1'\nmarkers: [{key: a, channels: [CD3]}]\n"
        "gates:\n  - {id: x, parent: cells, kind: density_valley, marker: a}\n"
    )
    line = _error([str(lot.stained.path), "-t", str(bad)])
    assert (
        line
        == f"error: {bad}: gates[0].parent (line 6): gate 'x' has unknown parent 'cells' (gates: x)"
    )


def test_error_channel_missing_lists_the_file_channels(lot: Lot, tmp_path: Path) -> None:
    bad = tmp_path / "ki67.yaml"
    bad.write_text(
        "schema_version: 1\nid: k\nversion: '1'\nmarkers: [{key: ki67, channels: [Ki-67]}]\n"
        "gates:\n  - {id: x, kind: density_valley, marker: ki67}\n"
    )
    line = _error([str(lot.stained.path), "-t", str(bad)])
    assert line.startswith(
        f"error: {lot.stained.path}: template 'k' needs markers this file lacks: ki67 (Ki-67) "
        "(the file's channels are: FSC-A, FSC-H, SSC-A, BV421-A (CD3), FITC-A (CD45)"
    )


def test_error_control_from_another_panel(lot: Lot, tmp_path: Path) -> None:
    from cytorelease.flow.fcs_write import ChannelSpec, write_fcs

    other = tmp_path / "other_panel.fcs"
    channels = [ChannelSpec(c.name, c.label, c.range) for c in lot.fmo.channels]
    swap = {"CAR": "CD19", "CD19": "CAR"}
    channels = [ChannelSpec(c.name, swap.get(c.label or "", c.label), c.range) for c in channels]
    write_fcs(other, lot.fmo.events, channels, spill=lot.fmo.spill)
    line = _error([str(lot.stained.path), "-t", "cd19-car-t-panel", "--control", str(other)])
    assert line.startswith(f"error: {other}: the control tube is from another panel than")
    assert "car: PE-A vs APC-A; cd19: APC-A vs PE-A" in line


def test_error_gatingml_takes_no_control(outputs: tuple[dict, Path], lot: Lot) -> None:  # type: ignore[type-arg]
    _, out = outputs
    line = _error(
        [str(lot.stained.path), "-t", str(out / "placed.xml"), "--control", str(lot.fmo.path)]
    )
    assert "a GatingML document holds fixed gates only; it takes no control tube" in line
