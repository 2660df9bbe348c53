"""``inspect_fcs`` and ``cytorelease flow inspect``: summary, stats, data sets, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.flow.fcs_write import ChannelSpec, write_fcs
from cytorelease.flow.inspect import acquisition_date, inspect_fcs
from cytorelease.flow.sample import Spill
from cytorelease.provenance import file_sha256
from tests.conftest import shared_path

runner = CliRunner()


@pytest.fixture
def small_fcs(tmp_path: Path) -> Path:
    events = np.array([[1.0, 10.0, 4.0], [3.0, 20.0, 6.0], [2.0, 30.0, 65535.0]])
    specs = [
        ChannelSpec("FSC-A", None, 1024.0, 16),
        ChannelSpec("CD3", "CD3 PE", 1024.0, 24),
        ChannelSpec("Time", None, 1024.0, 16),
    ]
    spill = Spill(("CD3",), np.array([[1.0]]))
    keywords = {"$CYT": "FACSLyric", "$DATE": "11-JUN-2024", "$BTIM": "10:32:05"}
    return write_fcs(
        tmp_path / "tube1.fcs", events, specs, datatype="I", keywords=keywords, spill=spill
    )


def test_summary_of_a_small_file(small_fcs: Path) -> None:
    summary = inspect_fcs(small_fcs, stats=True)
    assert summary["fcs_version"] == "3.1"
    assert summary["event_count"] == 3
    assert summary["cytometer"] == "FACSLyric"
    assert summary["acquisition_date"] == "2024-06-11T10:32:05"
    assert (summary["datasets"], summary["dataset"]) == (1, 0)
    assert summary["sha256"] == file_sha256(small_fcs)
    assert summary["spill"] == {"channels": ["CD3"], "matrix": [[1.0]]}
    assert summary["nonfinite_events"] == 0
    first, second, time = summary["channels"]
    assert first == {
        "name": "FSC-A",
        "label": None,
        "range": 1024.0,
        "bits": 16,
        "nonfinite": {"nan": 0, "positive_inf": 0, "negative_inf": 0},  # integers cannot
        "min": 1.0,
        "max": 3.0,
        "mean": 2.0,
    }
    assert (second["label"], second["bits"], second["mean"]) == ("CD3 PE", 24, 20.0)
    # values as stored after the $PnR 1024 mask: 65535 & 1023 = 1023
    assert time["max"] == 1023.0
    assert time["mean"] == pytest.approx((4 + 6 + 1023) / 3)


def test_without_stats_channels_have_five_keys(small_fcs: Path) -> None:
    channels = inspect_fcs(small_fcs)["channels"]
    assert all(set(c) == {"name", "label", "range", "bits", "nonfinite"} for c in channels)


def test_real_multi_data_set_file() -> None:
    path = shared_path("fcs", "coulter.lmd")
    summary = inspect_fcs(path, dataset=1, stats=True)
    assert summary["fcs_version"] == "3.0"
    assert (summary["datasets"], summary["dataset"], summary["event_count"]) == (2, 1, 18_110)
    assert summary["channels"][-1]["name"] == "TIME"


def test_real_file_with_spill() -> None:
    summary = inspect_fcs(shared_path("fcs", "G11.fcs"))
    assert summary["spill"]["channels"][0] == "BL1-A"
    assert np.asarray(summary["spill"]["matrix"]).shape == (5, 5)
    assert summary["channels"][3]["label"] == "GFP-A"


@pytest.mark.parametrize(
    ("keywords", "expected"),
    [
        ({"$BEGINDATETIME": "2024-06-11T10:32:05+02:00"}, "2024-06-11T10:32:05+02:00"),
        ({"$DATE": "11-Jun-2024"}, "2024-06-11"),
        ({"$DATE": "11-JUN-24", "$BTIM": "09:05:01:33"}, "2024-06-11T09:05:01"),
        ({"$DATE": "sometime in June"}, "sometime in June"),
        ({}, None),
    ],
)
def test_acquisition_date(keywords: dict[str, str], expected: str | None) -> None:
    assert acquisition_date(keywords) == expected


def test_cli_json(small_fcs: Path) -> None:
    result = runner.invoke(app, ["flow", "inspect", str(small_fcs), "--json", "--stats"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["event_count"] == 3
    assert document["channels"][1]["label"] == "CD3 PE"
    assert document["channels"][0]["max"] == 3.0
    assert document["sha256"] == file_sha256(small_fcs)


def test_cli_table(small_fcs: Path) -> None:
    result = runner.invoke(app, ["flow", "inspect", str(small_fcs), "--stats"])
    assert result.exit_code == 0, result.output
    assert "FACSLyric" in result.stdout
    assert "CD3 PE" in result.stdout
    assert "1023" in result.stdout


def test_cli_data_set_choice() -> None:
    path = shared_path("fcs", "coulter.lmd")
    result = runner.invoke(app, ["flow", "inspect", str(path), "--dataset", "1", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["fcs_version"] == "3.0"
    assert result.stderr == ""  # data set 1 is clean; data set 0's slip is not looked at


def test_cli_prints_tolerated_slips_as_warnings() -> None:
    path = shared_path("fcs", "test_comp_example.fcs")
    result = runner.invoke(app, ["flow", "inspect", str(path), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["event_count"] == 10_703
    assert result.stderr.startswith(f"warning: {path}: DATA segment bytes 3,318-773,934")


@pytest.mark.parametrize("case", ["missing", "directory", "empty", "not_fcs", "truncated"])
def test_cli_bad_input_is_one_line_exit_2(tmp_path: Path, small_fcs: Path, case: str) -> None:
    path = {"missing": tmp_path / "nope.fcs", "directory": tmp_path}.get(case, tmp_path / "bad.fcs")
    if case == "empty":
        path.write_bytes(b"")
    elif case == "not_fcs":
        path.write_text("Well,Sample,Cq\n")
    elif case == "truncated":
        path.write_bytes(small_fcs.read_bytes()[:-4])
    result = runner.invoke(app, ["flow", "inspect", str(path), "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: ")
    assert "Traceback" not in result.stderr


def test_cli_data_set_out_of_range(small_fcs: Path) -> None:
    result = runner.invoke(app, ["flow", "inspect", str(small_fcs), "--dataset", "4"])
    assert result.exit_code == 2
    assert "data set 4 requested but the file holds 1" in result.stderr


def test_cli_help_texts() -> None:
    result = runner.invoke(app, ["flow", "inspect", "--help"])
    assert result.exit_code == 0
    for option in ("--stats", "--dataset", "--json"):
        assert option in result.stdout
