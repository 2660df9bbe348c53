"""Fixtures for the unattended side: a data folder with an allow-list, small synthetic lots."""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from cytorelease.lot.dataset import store_results
from cytorelease.provenance import content_sha256
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import Store, open_store
from cytorelease.signature_policy import Role
from cytorelease.synth.history import CAR, VCN, VIABILITY
from tests.records.lot_records import history_records
from tests.records.pg_backend import BACKENDS, backend_url

INSTRUMENTS = """\
schema: cytorelease.instruments/1
instruments:
  - {id: FACS-01, serial: V657338, kind: flow-cytometer}
  - {id: QS-01, serial: "272510034", kind: qpcr}
  - {id: PR-01, serial: SMP-9, kind: plate-reader}
"""


@pytest.fixture
def data(tmp_path: Path) -> DataDir:
    folder = DataDir.open(tmp_path / "data")
    folder.instruments_path.write_text(INSTRUMENTS, encoding="utf-8")
    return folder


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """ "" (SQLite in the data folder) or the URL of a fresh PostgreSQL database."""
    with backend_url(request.param, monkeypatch) as url:
        yield url


@pytest.fixture
def store(data: DataDir, db_url: str) -> Iterator[Store]:
    opened = open_store(data, url=db_url)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def small_lots(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """Two synthetic lots (flow tubes + manual entries only), small event counts."""
    from cytorelease.synth.lot import generate_lot
    from cytorelease.synth.manual import write_manual_entries
    from cytorelease.synth.params import LotParams
    from cytorelease.synth.tubes import write_flow_tubes

    out = tmp_path_factory.mktemp("lots")
    params = LotParams(n_events=4000, fmo_events=2000)
    return {
        seed: generate_lot(
            out, seed=seed, params=params, steps=(write_flow_tubes, write_manual_entries)
        ).lot_dir
        for seed in (11, 12)
    }


def install_manifest(data: DataDir, lot_dir: Path) -> Path:
    """Put a lot's manifest where the worker looks for it: DATA/lots/<lot id>/lot.yaml."""
    target = data.lots_dir / lot_dir.name / "lot.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(lot_dir / "lot.yaml", target)
    return target


PASSPHRASE = "service-pass-1234"  # the worker's service key's, from the environment
FLOW_TUBES = ("tube1_stained.fcs", "tube2_fmo_car.fcs")


def ready_service(
    data: DataDir, lot_dir: Path, monkeypatch: pytest.MonkeyPatch, *, role: Role = Role.SERVICE
) -> Path:
    """The service key in place (its passphrase in the environment) and the lot's manifest
    installed: what the worker needs to release the lot. Returns the manifest's path."""
    from tests.report.conftest import service_key

    monkeypatch.setenv("CYTORELEASE_SERVICE_PASSPHRASE", PASSPHRASE)
    service_key(data.keys_dir, PASSPHRASE, role=role)
    return install_manifest(data, lot_dir)


def hook_tubes(data: DataDir, store: Store, lot_dir: Path, folder: Path) -> None:
    """The lot's two flow tubes hooked from an instrument folder under ``folder``."""
    from cytorelease.hook.hook import hook_file

    for name in FLOW_TUBES:
        # the instrument names files its own way; routing uses the FCS keywords, not this name
        target = folder / "instrument" / f"{lot_dir.name}-{name}-acq.fcs"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(lot_dir / name, target)
        hook_file(data, store, target, instrument="FACS-01", stable_seconds=0.01)


def trend_history(store: Store, tmp_path: Path) -> None:
    """Store 30 earlier lots (imported records) whose CAR+ % sits near 1 %: any real lot's CAR+
    is far above them, so a baseline frozen on them flags it out of trend."""
    rng = random.Random(7)
    lines = ["lot,date,attribute,value,site,lsl,usl"]
    for i in range(30):
        day = f"2020-01-{i + 1:02d}"
        for attribute, value in ((CAR, rng.gauss(1.0, 0.1)), (VIABILITY, rng.gauss(91, 1.5)),
                                 (VCN, rng.gauss(2.6, 0.3))):  # fmt: skip
            lines.append(f"lot-P{i:03d},{day},{attribute},{value:.3f},site-1,,")
    table = tmp_path / "history.csv"
    table.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with store.write():
        for record in history_records(table, with_site=False):
            store_results(store, record, record_sha256=content_sha256(record), origin="import",
                          checked_against="none")  # fmt: skip
