"""``cytorelease flow spillover`` and ``sample-data controls`` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import Result

from cytorelease.flow.spillover_csv import read_spillover_csv
from tests.cli_contract import assert_bad_input, invoke, one_json_document, snapshot

DETECTORS = ["BV421-A", "FITC-A", "PE-A", "PerCP-Cy5-5-A", "PE-Cy7-A", "APC-A", "APC-H7-A"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("controls")
    result = run("sample-data", "controls", out, "--seed", "11", "--events", "10000", "--json")
    assert result.exit_code == 0, result.stderr
    document = one_json_document(result.stdout)
    assert document == json.loads((out / "truth.json").read_text(encoding="utf-8"))
    return out


def run(*args: object) -> Result:
    return invoke([str(a) for a in args])


def _truth(folder: Path) -> dict[str, object]:
    return json.loads((folder / "truth.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_json_rows_follow_the_order_given_and_recover_the_truth(
    folder: Path, tmp_path: Path
) -> None:
    truth = _truth(folder)
    controls = truth["controls"]
    assert isinstance(controls, list)
    order = [6, 2, 0, 4, 1, 5, 3]
    files = [folder / controls[i]["file"] for i in order]
    out = tmp_path / "matrix.csv"
    before = snapshot([folder])
    result = run(
        "flow", "spillover", *files, "--unstained", folder / "unstained.fcs", "--out", out, "--json"
    )
    assert result.exit_code == 0, result.stderr
    assert snapshot([folder]) == before  # the controls are read, never changed
    document = one_json_document(result.stdout)
    assert document["detectors"] == DETECTORS
    assert [c["path"] for c in document["controls"]] == [str(f) for f in files]
    assert [c["primary"] for c in document["controls"]] == [DETECTORS[i] for i in order]
    spill = truth["spillover"]
    assert isinstance(spill, dict)
    expected = np.array(spill["matrix"])[order]
    assert np.abs(np.array(document["spillover"]) - expected).max() < 0.005
    residuals = np.array(document["residuals"])
    assert residuals.shape == expected.shape
    assert np.abs(residuals).max() < document["tolerance"]
    assert document["written"] == {"matrix": [str(out)]}
    matrix = read_spillover_csv(out)
    assert list(matrix.detectors) == DETECTORS
    # the CSV is in the detectors' order: its row i is the control read in detector i
    inverse = np.argsort(order)
    np.testing.assert_allclose(matrix.matrix, np.array(document["spillover"])[inverse])


def test_human_output_is_a_table(folder: Path) -> None:
    controls = sorted(folder.glob("control_*.fcs"))[:2]
    result = run("flow", "spillover", *controls, "--unstained", folder / "unstained.fcs")
    assert result.exit_code == 0, result.stderr
    assert "spillover (rows: controls as given" in result.stdout
    assert "positive events" in result.stdout
    assert "converged after" in result.stdout


def test_a_refused_control_is_one_error_line(folder: Path) -> None:
    unstained = folder / "unstained.fcs"
    result = run("flow", "spillover", unstained, "--unstained", unstained, "--json")
    line = assert_bad_input(result, unstained)
    assert "no primary detector stands out" in line or "too small" in line


def test_mismatched_files_are_one_error_line(folder: Path) -> None:
    from tests.conftest import shared_path

    other = shared_path("fcs", "G11.fcs")
    control = folder / "control_CD3_BV421.fcs"
    result = run("flow", "spillover", control, "--unstained", other)
    line = assert_bad_input(result, other)
    assert "fluorescence detectors differ from control_CD3_BV421.fcs's" in line


def test_sample_data_controls_is_seeded(tmp_path: Path) -> None:
    args = ["sample-data", "controls", "--seed", "4", "--events", "500", "--json"]
    first = one_json_document(run(*args[:2], tmp_path / "a", *args[2:]).stdout)
    again = one_json_document(run(*args[:2], tmp_path / "b", *args[2:]).stdout)
    other = one_json_document(
        run("sample-data", "controls", tmp_path / "c", "--seed", "5", "--events", "500",
                "--json").stdout
    )  # fmt: skip
    assert first == again
    for a, b in zip(sorted((tmp_path / "a").iterdir()), sorted((tmp_path / "b").iterdir()),
                    strict=True):  # fmt: skip
        assert a.read_bytes() == b.read_bytes(), a.name
    assert first["spillover"]["matrix"] != other["spillover"]["matrix"]
    assert len(first["controls"]) == 7
    result = run("sample-data", "controls", tmp_path / "a", "--seed", "4")
    line = assert_bad_input(result, tmp_path / "a")
    assert "--force" in line
