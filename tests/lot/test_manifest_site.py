"""A lot manifest may name the site that made the lot (issue 17: the lots dataset's ``site``):
it is carried into the release record and the dataset's rows; a manifest without one gives the
record it always gave."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cytorelease.errors import ManifestError
from cytorelease.lot.manifest import load_manifest
from cytorelease.lot.release import release_lot
from cytorelease.records.store import open_data
from cytorelease.records.trail import Trail
from tests.cli_contract import SAMPLE_LOT


def _lot_with(tmp_path: Path, line: str) -> Path:
    lot = tmp_path / "lot"
    shutil.copytree(SAMPLE_LOT, lot)
    manifest = lot / "lot.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("spec: cd19-car-t@2\n", f"spec: cd19-car-t@2\n{line}\n"),
                        encoding="utf-8")  # fmt: skip
    return lot


def test_the_site_reaches_the_record_and_the_lots_dataset(tmp_path: Path) -> None:
    lot = _lot_with(tmp_path, "site: Leiden GMP-2")
    data = tmp_path / "data"
    outcome = release_lot(lot, out=tmp_path / "out", trail=Trail(data, "aanalyst"))
    assert outcome.record["lot"]["site"] == "Leiden GMP-2"
    _, store = open_data(data)
    with store:
        sites = {r["site"] for r in store.rows("SELECT site FROM lot_results")}
    assert sites == {"Leiden GMP-2"}


def test_a_manifest_without_a_site_names_none() -> None:
    assert load_manifest(SAMPLE_LOT).site is None


@pytest.mark.parametrize("value", ['""', '" leading"', '"trailing "', '"two\\nlines"',
                                   "x" * 65, "[a, b]"])  # fmt: skip
def test_a_site_that_is_no_name_is_refused_at_its_line(tmp_path: Path, value: str) -> None:
    lot = _lot_with(tmp_path, f"site: {value}")
    with pytest.raises(ManifestError) as raised:
        load_manifest(lot)
    assert "site (line 7)" in str(raised.value)
