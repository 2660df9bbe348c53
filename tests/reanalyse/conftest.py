"""A data folder with a few synthetic lots released by the worker, as `reanalyse` finds them.

Built once per session (the worker's releases are the slow part) and copied for each test, so
a test that alters an archived file or stores what-if rows leaves the others a clean folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cytorelease.hook.hook import hook_file
from cytorelease.hook.worker import run_worker
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import open_store
from tests.hook.conftest import INSTRUMENTS, install_manifest
from tests.report.conftest import service_key

PASSPHRASE = "service-pass-1234"
SEEDS = (21, 22, 23)
FLOW_FILES = ("tube1_stained.fcs", "tube2_fmo_car.fcs")


def build_released(root: Path, url: str = "") -> Path:
    """A data folder under ``root`` with the lots of SEEDS hooked and released by the worker;
    its store is SQLite in the folder (``url`` "") or the PostgreSQL database at ``url``."""
    from cytorelease.synth.lot import generate_lot
    from cytorelease.synth.manual import write_manual_entries
    from cytorelease.synth.params import LotParams
    from cytorelease.synth.tubes import write_flow_tubes

    lots = root / "lots"
    params = LotParams(n_events=4000, fmo_events=2000)
    data = DataDir.open(root / "data")
    data.instruments_path.write_text(INSTRUMENTS, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CYTORELEASE_SERVICE_PASSPHRASE", PASSPHRASE)
        if url:
            patch.setenv("CYTORELEASE_DB", url)
        else:
            patch.delenv("CYTORELEASE_DB", raising=False)
        service_key(data.keys_dir, PASSPHRASE)
        store = open_store(data, url=url)
        with store:
            for seed in SEEDS:
                lot_dir = generate_lot(
                    lots, seed=seed, params=params, steps=(write_flow_tubes, write_manual_entries)
                ).lot_dir
                install_manifest(data, lot_dir)
                for name in FLOW_FILES:
                    target = root / "instrument" / lot_dir.name / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(lot_dir / name, target)
                    hook_file(data, store, target, instrument="FACS-01", stable_seconds=0.01)
            report = run_worker(data, store, once=True)
    assert len(report.releases) == len(SEEDS), report.to_dict()
    return data.root


@pytest.fixture(scope="session")
def released_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_released(tmp_path_factory.mktemp("released"))


@pytest.fixture
def data(released_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataDir:
    """A private copy of the released data folder. The store keeps each release's record by
    absolute path, so the copy's release rows are pointed at the copy's records: a test that
    edits a record or removes the manifest kept beside it leaves the shared folder alone."""
    monkeypatch.delenv("CYTORELEASE_DB", raising=False)
    copy = tmp_path / "data"
    shutil.copytree(released_data, copy, symlinks=True)
    data = DataDir.open(copy)
    store = open_store(data, url="")
    with store, store.write():
        # the copy, not the release: its append-only guard is set again when the store opens
        store.execute("DROP TRIGGER releases_no_UPDATE")
        for row in store.rows("SELECT id, result_path, report_path FROM releases"):
            moved = [str(row[k]).replace(str(released_data), str(copy), 1)
                     for k in ("result_path", "report_path")]  # fmt: skip
            assert all(Path(m).is_file() for m in moved), moved
            store.execute(
                "UPDATE releases SET result_path = ?, report_path = ? WHERE id = ?",
                (*moved, row["id"]),
            )
    return data
