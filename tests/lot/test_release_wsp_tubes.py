"""``release --export-wsp`` holds every flow tube the decision used: the stained tube, its FMO
tube and the killing assay's two tubes, each a sample with the gates its template placed on it.
FlowKit's Workspace counts every population of every sample as we do, event for event; the
release record is the same with or without the workspace."""

from __future__ import annotations

import shutil
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cytorelease.flow.fcs import read_fcs
from cytorelease.flow.gating import GatingResult, gate_sample, load_template
from cytorelease.lot.release import release_lot
from cytorelease.potency.cytotox import load_cytotox_assay

SAMPLE_LOT = Path(__file__).resolve().parents[2] / "sample_data" / "lot-CAR-0001"
CREATED = datetime(2026, 7, 20, tzinfo=UTC)
TUBES = (
    "tube1_stained.fcs",
    "tube2_fmo_car.fcs",
    "killing_with_effectors.fcs",
    "killing_targets_alone.fcs",
)


def _population_paths(result: GatingResult) -> dict[str, tuple[str, ...]]:
    """gate id -> the population's path (gate ids) by names, as FlowKit's report names it."""
    table = result.populations
    names = dict(zip(table["gate_id"], table["name"], strict=True))
    return {
        gate_id: tuple(names[g] or g for g in path)
        for gate_id, path in zip(table["gate_id"], table["path"], strict=True)
    }


def flowkit_gating(wsp: Path) -> dict[str, Any]:
    """FlowKit's gating of each sample of the workspace (files found by their URIs)."""
    fk = pytest.importorskip("flowkit")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FlowKit warns about its own internals
        workspace = fk.Workspace(str(wsp), find_fcs_files_from_wsp=True)
        gated = {}
        for sample_id in workspace.get_sample_ids():
            workspace.analyze_samples(sample_id=sample_id, use_mp=False)
            gated[sample_id] = workspace.get_gating_results(sample_id)
    return gated


def flowkit_counts(theirs: Any) -> dict[tuple[str, ...], int]:
    report = theirs.report
    return {
        (*path[1:], name): int(count)
        for path, name, count in zip(
            report["gate_path"], report["gate_name"], report["count"], strict=True
        )
    }


def assert_flowkit_counts(wsp: Path, expected: dict[str, GatingResult]) -> dict[str, Any]:
    """The workspace's samples are ``expected``'s, and FlowKit gives every population of each
    our count and our per-event membership; returns FlowKit's gating by sample."""
    gated = flowkit_gating(wsp)
    assert set(gated) == set(expected)
    for sample_id, result in expected.items():
        theirs = gated[sample_id]
        counted = flowkit_counts(theirs)
        table = result.populations.set_index("gate_id")
        for gate_id, path in _population_paths(result).items():
            assert counted[path] == int(table.loc[gate_id, "count"]), (sample_id, path)
            membership = theirs.get_gate_membership(path[-1], gate_path=("root", *path[:-1]))
            assert np.array_equal(np.asarray(membership), result.membership[gate_id]), (
                sample_id,
                path,
            )
    return gated


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Any]:
    base = tmp_path_factory.mktemp("release-wsp-tubes")
    lot = base / SAMPLE_LOT.name
    shutil.copytree(SAMPLE_LOT, lot)
    wsp = base / "lot.wsp"
    outcome = release_lot(lot, out=base / "release", export_wsp=wsp, created_at=CREATED)
    return lot, wsp, outcome


def test_every_flow_tube_of_the_release_is_a_sample_flowkit_counts_as_we_do(
    released: tuple[Path, Path, Any],
) -> None:
    lot, wsp, outcome = released
    record = outcome.record
    (flow,) = [a for a in record["analyses"] if a["analysis"] == "flow"]
    (cytotox,) = [a for a in record["analyses"] if a["analysis"] == "potency.cytotox"]

    panel = load_template("cd19-car-t-panel")
    stained, fmo = (read_fcs(lot / name) for name in TUBES[:2])
    killing = load_template(load_cytotox_assay("potency-cytotox")[0].gating_template)
    expected = {
        TUBES[0]: gate_sample(stained, panel, control=fmo),
        # the FMO tube as a sample of its own: its thresholds from itself
        TUBES[1]: gate_sample(fmo, panel, control=fmo),
        **{name: gate_sample(read_fcs(lot / name), killing) for name in TUBES[2:]},
    }
    gated = assert_flowkit_counts(wsp, expected)

    # the stained tube: FlowKit's counts are the record's
    records = flow["summary"]["populations"]
    names = {r["gate_id"]: r["name"] or r["gate_id"] for r in records}
    counted = flowkit_counts(gated[TUBES[0]])
    for population in records:
        path = tuple(names[g] for g in population["path"].split("/"))
        assert counted[path] == population["count"], path

    # the FMO tube's control-based threshold is the one the stained tube was gated with
    thresholds = {
        p.id: p.details["threshold"]
        for p in expected[TUBES[0]].placed
        if p.kind.value == "control_percentile"
    }
    assert thresholds  # the panel has one (the CAR+ gate): the check can fail
    fmo_placed = {p.id: p.details for p in expected[TUBES[1]].placed}
    assert {g: fmo_placed[g]["threshold"] for g in thresholds} == thresholds
    recorded = {g["id"]: g["details"] for g in flow["summary"]["gates"]}
    # the record keeps six significant digits
    assert {g: recorded[g]["threshold"] for g in thresholds} == pytest.approx(thresholds, 1e-5)

    # the killing assay's tubes: FlowKit's live-target and bead counts are the record's
    tubes = cytotox["summary"]["tubes"]
    for key, name in (("with_effectors", TUBES[2]), ("targets_alone", TUBES[3])):
        paths = _population_paths(expected[name])
        counted = flowkit_counts(gated[name])
        assert tubes[key]["path"] == name
        assert counted[paths["live_targets"]] == tubes[key]["live_targets"]
        assert counted[paths["beads"]] == tubes[key]["beads"]


def test_the_record_is_the_same_without_the_workspace(
    released: tuple[Path, Path, Any], tmp_path: Path
) -> None:
    lot, _, outcome = released
    plain = release_lot(lot, out=tmp_path / "plain", created_at=CREATED)
    assert plain.record_sha256 == outcome.record_sha256
    assert plain.workspace is None
