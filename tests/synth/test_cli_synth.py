"""``cytorelease sample-data generate``: output, JSON, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.provenance import file_sha256

runner = CliRunner()


def test_generate_json_names_files_and_truth(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sample-data", "generate", str(tmp_path), "--seed", "4", "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["lot_id"] == "lot-CAR-0004"
    assert Path(doc["lot_dir"]) == tmp_path / "lot-CAR-0004"
    paths = {
        Path(f["path"]).relative_to(tmp_path / "lot-CAR-0004").as_posix() for f in doc["files"]
    }
    assert paths == {
        "tube1_stained.fcs",
        "tube2_fmo_car.fcs",
        "labels.npz",
        "qpcr/biomark_96.96_table_results.csv",
        "qpcr/qx_manager_results.csv",
        "elisa_ifng.csv",
        "killing_with_effectors.fcs",
        "killing_targets_alone.fcs",
        "bench_sheet.yaml",
        "lot.yaml",
        "truth.json",
    }
    for item in doc["files"]:
        assert file_sha256(item["path"]) == item["sha256"]
    truth = json.loads((tmp_path / "lot-CAR-0004" / "truth.json").read_text())
    assert doc["measurements"] == truth["measurements"]
    assert doc["params"]["car_pct"] == 35.0


def test_generate_prints_paths_and_key_values(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sample-data", "generate", str(tmp_path), "--seed", "4"])
    assert result.exit_code == 0, result.stderr
    assert "lot-CAR-0004" in result.stdout
    assert "tube1_stained.fcs" in result.stdout
    assert "flow.car_pct_of_viable_cd3" in result.stdout


def test_random_params_option_changes_the_composition(tmp_path: Path) -> None:
    args = ["sample-data", "generate", str(tmp_path), "--seed", "3", "--random-params", "--json"]
    doc = json.loads(runner.invoke(app, args).stdout)
    assert doc["params"]["car_pct"] != 35.0
    assert abs(doc["measurements"]["flow.car_pct_of_viable_cd3"] - doc["params"]["car_pct"]) < 1.5


def test_existing_lot_needs_force(tmp_path: Path) -> None:
    args = ["sample-data", "generate", str(tmp_path), "--seed", "8"]
    assert runner.invoke(app, args).exit_code == 0
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2
    assert refused.stderr.strip() == (
        f"error: {tmp_path / 'lot-CAR-0008'}: the lot folder already exists and is not empty "
        "(pass --force to overwrite it, or choose another OUT)"
    )
    assert refused.stdout == ""
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0


def test_unwritable_out_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(app, ["sample-data", "generate", str(blocker / "sub")])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {blocker / 'sub' / 'lot-CAR-0001'}: cannot create")
    assert "Traceback" not in result.output


def test_out_that_is_a_lot_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "lot.yaml").write_text("lot_id: x\n")
    result = runner.invoke(app, ["sample-data", "generate", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {tmp_path}: is itself a lot folder")


def test_negative_seed_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sample-data", "generate", str(tmp_path), "--seed", "-1"])
    assert result.exit_code == 2
    assert not any(tmp_path.iterdir())
