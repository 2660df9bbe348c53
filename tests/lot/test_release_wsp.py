"""``release --export-wsp``: the lot's gated tube as a FlowJo workspace whose every population
FlowKit counts as the release record does; a target that cannot be written stops the release
before any analysis runs."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

from cytorelease.errors import InputError
from cytorelease.lot.release import release_lot
from tests.cli_contract import assert_bad_input, invoke

SAMPLE_LOT = Path(__file__).resolve().parents[2] / "sample_data" / "lot-CAR-0001"


@pytest.fixture
def lot(tmp_path: Path) -> Path:
    copy = tmp_path / SAMPLE_LOT.name
    shutil.copytree(SAMPLE_LOT, copy)
    return copy


def test_the_workspace_holds_the_release_tube_as_the_record_counts_it(
    lot: Path, tmp_path: Path
) -> None:
    fk = pytest.importorskip("flowkit")
    out = tmp_path / "lot.wsp"
    outcome = release_lot(lot, out=tmp_path / "release", export_wsp=out)
    assert outcome.to_dict()["workspace"] == str(out)
    (flow,) = [a for a in outcome.record["analyses"] if a["analysis"] == "flow"]
    records = flow["summary"]["populations"]
    names = {r["gate_id"]: r["name"] for r in records}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        workspace = fk.Workspace(str(out), find_fcs_files_from_wsp=True)
        assert "tube1_stained.fcs" in workspace.get_sample_ids()  # with the lot's other tubes
        workspace.analyze_samples(sample_id="tube1_stained.fcs", use_mp=False)
        report = workspace.get_gating_results("tube1_stained.fcs").report
    theirs = {
        (*path[1:], name): int(count)
        for path, name, count in zip(
            report["gate_path"], report["gate_name"], report["count"], strict=True
        )
    }
    for record in records:
        path = tuple(names[g] for g in record["path"].split("/"))
        assert theirs[path] == record["count"], path
    assert (lot / "tube1_stained.fcs").resolve().as_uri()[len("file://") :] in out.read_text(
        encoding="utf-8"
    )


def test_a_folder_as_the_workspace_stops_the_release_before_it_runs(
    lot: Path, tmp_path: Path
) -> None:
    out = tmp_path / "release"
    with pytest.raises(InputError, match="is a folder where the FlowJo workspace"):
        release_lot(lot, out=out, export_wsp=tmp_path)
    assert not out.exists()


def test_an_existing_workspace_stops_the_release_before_it_runs(lot: Path, tmp_path: Path) -> None:
    existing = tmp_path / "reviewed.wsp"
    existing.write_text("analyst's work\n", encoding="utf-8")
    out = tmp_path / "release"
    with pytest.raises(InputError, match="never overwritten"):
        release_lot(lot, out=out, export_wsp=existing)
    assert not out.exists()
    assert existing.read_text(encoding="utf-8") == "analyst's work\n"


def test_release_cli_names_the_workspace(lot: Path, tmp_path: Path) -> None:
    line = assert_bad_input(
        invoke(["release", str(lot), "--out", str(tmp_path / "r"), "--export-wsp", str(tmp_path)]),
        tmp_path,
    )
    assert "FlowJo workspace" in line
