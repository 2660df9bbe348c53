"""The worker's release stores its record's rows in the lots dataset, in the transaction of its
release row (issue 17 item 1): the release id, the instrument the files came from."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cytorelease.hook.hook import hook_file
from cytorelease.hook.worker import run_worker
from cytorelease.lot.dataset_import import import_records
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import Store
from tests.report.conftest import service_key

from .conftest import install_manifest

PASSPHRASE = "service-pass-1234"


def test_a_workers_release_stores_its_rows(
    data: DataDir,
    store: Store,
    small_lots: dict[int, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CYTORELEASE_SERVICE_PASSPHRASE", PASSPHRASE)
    service_key(data.keys_dir, PASSPHRASE)
    install_manifest(data, small_lots[11])
    for name in ("tube1_stained.fcs", "tube2_fmo_car.fcs"):
        target = tmp_path / "instrument" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(small_lots[11] / name, target)
        hook_file(data, store, target, instrument="FACS-01", stable_seconds=0.01)
    assert len(run_worker(data, store, once=True).releases) == 1
    release = store.one("SELECT id, record_sha256, result_path FROM releases")
    assert release is not None
    rows = store.rows("SELECT * FROM lot_results")
    assert rows and {r["release_id"] for r in rows} == {release["id"]}
    assert {r["record_sha256"] for r in rows} == {release["record_sha256"]}
    assert {r["origin"] for r in rows} == {"worker"}
    record = json.loads(Path(release["result_path"]).read_text(encoding="utf-8"))
    flow = [m["attribute"] for m in record["measurements"] if m["attribute"].startswith("flow.")]
    assert flow and {r["instrument"] for r in rows if r["attribute"] in flow} == {"FACS-01"}
    # the stored release folder, imported, is the record the release row names: nothing added
    report = import_records(data.root, [data.releases_dir])
    assert report.imported == () and len(report.already) == 1
    assert store.scalar("SELECT COUNT(*) FROM lot_results") == len(rows)
