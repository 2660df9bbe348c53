"""``cytorelease flow cluster`` (JSON shape, table, one-line errors for bad input) and the
sample-level clustering it calls."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.flow.cluster import ClusterTransform, cluster_sample, sample_matrix
from cytorelease.flow.compensation import compensate, sample_spillover
from cytorelease.flow.fcs import read_fcs
from cytorelease.flow.fcs_write import write_fcs
from cytorelease.flow.transforms import AsinhTransform
from cytorelease.provenance import file_sha256
from cytorelease.synth import LotParams, simulate_tube

runner = CliRunner()


@pytest.fixture(scope="module")
def tube_fcs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tube = simulate_tube(6000, seed=21, params=LotParams(car_pct=30.0))
    path = tmp_path_factory.mktemp("cluster") / "tube.fcs"
    return write_fcs(path, tube.events, tube.channels, spill=tube.spill)


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["flow", "cluster", *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_document(tube_fcs: Path) -> None:
    code, out, err = _run(str(tube_fcs), "--grid", "6x5", "--metaclusters", "4", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["sha256"] == file_sha256(tube_fcs) == doc["input"]["sha256"]
    assert doc["grid"] == [6, 5] and doc["seed"] == 0 and doc["transform"] == "logicle"
    # default markers: the $PnS-labelled fluorescence channels, in file order
    assert doc["markers"] == ["CD3", "CD45", "CAR", "Viability", "CD8", "CD19", "CD4"]
    assert doc["channels"][0] == "BV421-A" and doc["compensated"] is True
    clusters = doc["metaclusters"]
    assert [m["id"] for m in clusters] == [0, 1, 2, 3]
    assert sum(m["size"] for m in clusters) == doc["events"] == 6000
    assert sum(m["percent"] for m in clusters) == pytest.approx(100.0)
    assert sum(m["nodes"] for m in clusters) == 30
    assert [m["size"] for m in clusters] == sorted((m["size"] for m in clusters), reverse=True)
    assert all(set(m["medians"]) == set(doc["markers"]) for m in clusters)
    assert all(0.0 <= v <= 1.0 for m in clusters for v in m["medians"].values())


def test_markers_and_seed(tube_fcs: Path) -> None:
    args = (str(tube_fcs), "--markers", "cd3, CAR,FSC-A", "--grid", "5x5", "--seed", "3")
    first = json.loads(_run(*args, "--json")[1])
    again = json.loads(_run(*args, "--json")[1])
    assert first == again  # same seed, same document
    assert first["markers"] == ["cd3", "CAR", "FSC-A"]
    assert first["channels"] == ["BV421-A", "PE-A", "FSC-A"] and first["seed"] == 3


def test_auto_metaclusters(tube_fcs: Path) -> None:
    code, out, _ = _run(str(tube_fcs), "--grid", "6x6", "--metaclusters", "auto", "--json")
    assert code == 0 and 2 <= len(json.loads(out)["metaclusters"]) <= 20


def test_table(tube_fcs: Path) -> None:
    code, out, _ = _run(str(tube_fcs), "--grid", "4x4", "--metaclusters", "3")
    assert code == 0
    flat = " ".join(out.split())  # rich wraps the title where the temporary path is long
    assert "6,000 events" in flat and "4x4 map" in flat and "CD19" in flat


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--markers", "CD3,CD99"),
            "{path}: no channel named 'CD99' (channels: FSC-A, FSC-H, SSC-A, BV421-A (CD3), "
            "FITC-A (CD45), PE-A (CAR), PerCP-Cy5-5-A (Viability), PE-Cy7-A (CD8), "
            "APC-A (CD19), APC-H7-A (CD4), Time)",
        ),
        (("--grid", "10by10"), "--grid: bad grid '10by10': expected ROWSxCOLUMNS, e.g. 10x10"),
        (
            ("--grid", "0x4"),
            "--grid: bad grid 0x4: each side must be 1-100 and the map needs at least 2 nodes",
        ),
        (
            ("--metaclusters", "many"),
            "--metaclusters: bad metacluster count 'many': expected a whole number (2 or more) "
            "or 'auto'",
        ),
        (
            ("--grid", "3x3", "--metaclusters", "12"),
            "metaclusters: 12 metaclusters asked for; a map of 9 nodes allows 2-9",
        ),
        (("--markers", "CD3,BV421-A"), "{path}: markers CD3, BV421-A name the same channel twice"),
    ],
)
def test_bad_input_is_one_line(tube_fcs: Path, args: tuple[str, ...], message: str) -> None:
    code, out, err = _run(str(tube_fcs), *args)
    assert code == 2 and out == ""
    assert err.splitlines() == [f"error: {message.format(path=tube_fcs)}"]


def test_missing_file(tmp_path: Path) -> None:
    code, _, err = _run(str(tmp_path / "absent.fcs"))
    assert code == 2 and err.startswith(f"error: {tmp_path / 'absent.fcs'}: ")


def test_sample_matrix_scales(tube_fcs: Path) -> None:
    sample = read_fcs(tube_fcs)
    rows = np.arange(0, 6000, 3)
    data, channels, compensated = sample_matrix(
        sample, ["FSC-A", "cd3"], transform=ClusterTransform.ASINH, events=rows
    )
    assert channels == ("FSC-A", "BV421-A") and compensated and data.dtype == np.float32
    # scatter: linear over the channel's range; fluorescence: compensated, then asinh
    np.testing.assert_allclose(data[:, 0], sample.events[rows, 0] / 262144.0, rtol=1e-6)
    spill = sample_spillover(sample)
    assert spill is not None
    true = compensate(sample.events[rows], sample.channel_names, spill)[:, 3]
    expected = AsinhTransform(T=262144.0, M=4.5, A=0.0).apply(true)
    np.testing.assert_allclose(data[:, 1], expected, rtol=1e-5, atol=1e-6)


def test_cluster_sample_on_selected_events(tube_fcs: Path) -> None:
    sample = read_fcs(tube_fcs)
    mask = np.zeros(sample.event_count, dtype=bool)
    mask[::2] = True
    clustering = cluster_sample(sample, ["CD3", "CD8"], events=mask, grid=(4, 4), metaclusters=3)
    assert clustering.result.n_events == 3000
    np.testing.assert_array_equal(clustering.events, np.flatnonzero(mask))
    assert clustering.to_dict()["markers"] == ["CD3", "CD8"]
