"""A signed registry of people and lot folders to enter manual results into."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.double_entry import People, make_people

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "lot-CAR-0001"

MANIFEST = """\
schema: cytorelease.lot/1
lot_id: {lot}
product: cd19-car-t
chain_of_identity: {coi}
manufacturing_date: 2026-07-01
spec: cd19-car-t@2
"""


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> People:
    return make_people(tmp_path_factory.mktemp("people"))


def bare_lot(folder: Path, lot: str = "LOT-7", coi: str = "COI-7") -> Path:
    """A lot folder holding only its manifest (enough to enter manual results into)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lot.yaml").write_text(MANIFEST.format(lot=lot, coi=coi), encoding="utf-8")
    return folder


@pytest.fixture
def lot_dir(tmp_path: Path) -> Path:
    return bare_lot(tmp_path / "lot")


@pytest.fixture
def sample_copy(tmp_path: Path) -> Path:
    """A writable copy of the sample lot (raw files, lot.yaml, bench sheet)."""
    return Path(shutil.copytree(SAMPLE, tmp_path / SAMPLE.name))
