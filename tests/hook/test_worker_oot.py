"""The worker's release is judged against the product's frozen trend baseline as a person's is
(issue 17 item 3): an out-of-trend value is a review flag on the stored record, the verdicts
and disposition unchanged."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from cytorelease.hook.worker import run_worker
from cytorelease.lot.dataset import store_results
from cytorelease.provenance import content_sha256
from cytorelease.records.audit import os_user
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import Store
from cytorelease.synth.history import CAR, VCN, VIABILITY
from cytorelease.trend.freeze import freeze_from_data
from cytorelease.trend.from_store import trend_from_data
from tests.records.lot_records import history_records

from .conftest import hook_tubes, ready_service


def _history(store: Store, tmp_path: Path) -> None:
    """30 earlier lots whose CAR+ % sits near 1 %: any real lot's CAR+ is far above them."""
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


def test_a_workers_release_carries_the_out_of_trend_flag(
    data: DataDir,
    store: Store,
    small_lots: dict[int, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _history(store, tmp_path)
    report = trend_from_data(data.root, (CAR,), product="cd19-car-t", baseline=20)
    (frozen,) = freeze_from_data(data.root, report, product="cd19-car-t", actor=os_user())
    ready_service(data, small_lots[11], monkeypatch)
    hook_tubes(data, store, small_lots[11], tmp_path)
    assert len(run_worker(data, store, once=True).releases) == 1
    release = store.one("SELECT record_sha256, result_path, report_path, disposition FROM releases")
    assert release is not None
    record = json.loads(Path(release["result_path"]).read_text(encoding="utf-8"))
    block = record["out_of_trend"]
    assert block["baseline"]["sha256"] == frozen.sha256
    assert [(f["flag"], f["attribute"]) for f in block["flags"]] == [("OUT_OF_TREND", CAR)]
    assert release["disposition"] == record["evaluation"]["disposition"]
    assert content_sha256(record) == release["record_sha256"]  # the stored, signed record
    assert "OUT_OF_TREND" in Path(release["report_path"]).read_text(encoding="utf-8")
